"""Seeded fault injection: the same seed gives the same faults; the faulted stream is exactly
the original stream transformed by the faults listed (checked against a plain sort of every
delivery, independent of the injector's streaming heap); the replay and the CLI report them."""
from __future__ import annotations

import json
from collections import Counter
from typing import NamedTuple

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from evlog.bus import CollectingBus
from evlog.cli import cli
from evlog.replay import VirtualClock
from evlog.replay.faults import Fault, FaultError, FaultInjector, parse_faults
from evlog.replayer import EventReplayer
from evlog.segments import Log


class Rec(NamedTuple):
    offset: int
    monotonic: int
    name: str


def reference(records: list, faults: list[Fault]) -> list:
    """The stream the listed faults make of `records` (see evlog/replay/faults.py): every
    delivery with its key, sorted."""
    by_offset = {f.offset: f for f in faults}
    assert len(by_offset) == len(faults), "at most one fault per event"
    out = []
    for i, r in enumerate(records):
        f = by_offset.get(r.offset)
        if f is None:
            out.append(((r.monotonic, i, 0, i), r))
        elif f.kind == "drop":
            pass
        elif f.kind == "dup":
            out += [((r.monotonic, i, 0, i), r), ((r.monotonic, i, 1, i), r)]
        elif f.kind == "delay":
            out.append(((r.monotonic + f.params["delay_ns"], i, 0, i), r))
        else:
            slot = i + f.params["after"]
            out.append(((records[slot].monotonic, slot, 2, i), r))
    return [r._replace(monotonic=key[0]) for key, r in sorted(out)]


probabilities = st.sampled_from([0.0, 0.05, 0.1, 0.25])


@st.composite
def specs(draw) -> str:
    drop, dup, delay, reorder = (draw(probabilities) for _ in range(4))
    parts = [f"drop={drop}", f"dup={dup}", f"delay={draw(st.integers(1, 400))}ms@{delay}",
             f"reorder={draw(st.integers(1, 6))}@{reorder}"]
    return ",".join(draw(st.permutations(parts))[:draw(st.integers(1, 4))])


@st.composite
def streams(draw) -> list:
    gaps = draw(st.lists(st.integers(0, 200_000_000), max_size=80))
    out, mono = [], 0
    for i, g in enumerate(gaps):
        mono += g
        out.append(Rec(i, mono, f"E{i % 3}"))
    return out


@settings(max_examples=300)
@given(records=streams(), spec=specs(), seed=st.integers(0, 2**32))
def test_faults_are_reproducible_and_exactly_what_is_listed(records, spec, seed):
    a = FaultInjector(spec, seed)
    got = list(a.apply(records))
    b = FaultInjector(spec, seed)
    assert list(b.apply(records)) == got and b.faults == a.faults          # the same seed: the same faults
    assert got == reference(records, a.faults)                              # nothing else happened
    assert a.extra == len(got) - len(records)
    kinds = Counter(f.kind for f in a.faults)
    assert len(got) == len(records) - kinds["drop"] + kinds["dup"]
    for f in a.faults:
        if f.kind == "reorder":
            assert 0 <= f.params["after"] <= parse_faults(spec).reorder_n


def test_the_probabilities_are_those_asked_for():
    records = [Rec(i, i * 1_000_000, "E") for i in range(20_000)]
    inj = FaultInjector("drop=0.1,dup=0.05,delay=5ms@0.2,reorder=2@0.15", seed=7)
    list(inj.apply(records))
    kinds = Counter(f.kind for f in inj.faults)
    for kind, p in (("drop", 0.1), ("dup", 0.05), ("delay", 0.2), ("reorder", 0.15)):
        assert abs(kinds[kind] / len(records) - p) < 0.015, (kind, kinds[kind])
    assert _faults_of(records, "drop=0.1", 8) != _faults_of(records, "drop=0.1", 9)   # another seed


def _faults_of(records, spec, seed):
    inj = FaultInjector(spec, seed)
    list(inj.apply(records))
    return inj.faults


def test_a_delay_and_a_reorder_by_hand():
    records = [Rec(i, i * 10, "E") for i in range(6)]
    faults = [Fault(1, "delay", {"delay_ns": 25}), Fault(3, "reorder", {"after": 2})]
    assert [(r.offset, r.monotonic) for r in reference(records, faults)] == \
        [(0, 0), (2, 20), (1, 35), (4, 40), (5, 50), (3, 50)]


@pytest.mark.parametrize("text, message", [
    ("drop", "expected drop=P"), ("boom=0.1", "expected drop=P"), ("drop=2", "not a probability"),
    ("drop=0.6,dup=0.6", "add up to 1.2"), ("delay=0.1", "delay takes DURATION@P"),
    ("delay=fast@0.1", "not a positive duration"), ("reorder=0@0.1", "whole number of events >= 1"),
    ("drop=0.1,drop=0.2", "given twice"),
])
def test_bad_specs_are_one_line_errors(text, message):
    with pytest.raises(FaultError, match=message):
        parse_faults(text)


def test_parse():
    s = parse_faults("drop=0.01, dup=0.005,delay=50ms@0.02,reorder=3@0.01")
    assert (s.drop, s.dup, s.delay_ns, s.delay_p, s.reorder_n, s.reorder_p) == (0.01, 0.005, 50_000_000, 0.02, 3, 0.01)
    assert parse_faults("").empty


def _recording(path, n=300) -> str:
    with Log.create(path, "s", fsync="never") as log:
        for i in range(n):
            log.append(f"E{i % 4}", {"i": i}, "src", monotonic=i * 10_000_000)
    return str(path)


def test_the_replay_delivers_the_faulted_stream_and_lists_the_faults(tmp_path):
    path = _recording(tmp_path / "rec")
    spec = "drop=0.05,dup=0.05,delay=35ms@0.05,reorder=3@0.05"
    clock = VirtualClock()
    seen = []
    result = EventReplayer(path).replay(lambda n, e, s: seen.append((e["i"], clock.now())), 1.0,
                                        clock=clock, faults=spec, seed=42)
    originals = [Rec(i, i * 10_000_000, f"E{i % 4}") for i in range(300)]
    want = reference(originals, result.faults)
    assert seen == [(r.offset, r.monotonic) for r in want]     # order and the times they arrived at
    assert len(result.faults) > 30 and result.published == len(want) and result.filtered_out == 0
    again = EventReplayer(path).replay(CollectingBus(), "max", faults=spec, seed=42)
    assert again.faults == result.faults
    other = EventReplayer(path).replay(CollectingBus(), "max", faults=spec, seed=43)
    assert other.faults != result.faults
    assert f"{len(result.faults)} faults injected" in str(result)


def test_faults_apply_to_the_selected_events_only(tmp_path):
    path = _recording(tmp_path / "rec", 100)
    result = EventReplayer(path).replay(CollectingBus(), "max", event_filter="E1", faults="drop=0.5", seed=1)
    assert {f.offset % 4 for f in result.faults} == {1}
    assert result.published == 25 - len(result.faults) and result.filtered_out == 75


def test_cli_replay_with_faults(tmp_path):
    path = _recording(tmp_path / "rec", 200)
    runner = CliRunner()
    args = ["replay", path, "--speed", "max", "--faults", "drop=0.1,dup=0.1,reorder=2@0.1", "--seed", "42"]
    one, two = runner.invoke(cli, args), runner.invoke(cli, args)
    assert one.exit_code == 0, one.output
    assert one.stdout == two.stdout and one.stderr == two.stderr
    offsets = [json.loads(line)["offset"] for line in one.stdout.splitlines()]
    faults = [line for line in one.stderr.splitlines() if line.startswith("fault: ")]
    kinds = Counter(line.split()[3] for line in faults)
    assert len(offsets) == 200 - kinds["drop"] + kinds["dup"]
    assert f"{len(faults)} faults injected" in one.stderr
    bad = runner.invoke(cli, ["replay", path, "--faults", "drop=7"])
    assert bad.exit_code == 2 and "not a probability" in bad.stderr and "Traceback" not in bad.output
