"""merge and slice: properties (slices merged give the original; merge output sorted and
complete, ties in input order) and provenance."""
from __future__ import annotations

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evlog import ops
from evlog.ops import OpError, Selection
from evlog.recording import open_recording

from .helpers import START, event_lists, make_recording, read_all, trading


def _strictly_increasing(events: list[tuple]) -> list[tuple]:
    return [(n, d, s, m + i) for i, (n, d, s, m) in enumerate(events)]


@settings(max_examples=40)
@given(events=event_lists(max_size=25), cuts=st.lists(st.integers(0, 25), max_size=3))
def test_merge_of_offset_slices_gives_the_original(tmp_path_factory, events, cuts):
    d = tmp_path_factory.mktemp("m")
    src = make_recording(str(d / "src"), events)
    bounds = sorted({0, len(events), *[min(c, len(events)) for c in cuts]})
    parts = []
    for k, (a, b) in enumerate(zip(bounds, bounds[1:] or [len(events)])):
        p = str(d / f"part{k}")
        ops.slice_recording(src, p, Selection(offsets=(a, b)))
        parts.append(p)
    if len(parts) < 2:
        parts.append(str(d / "empty"))
        ops.slice_recording(src, parts[-1], Selection(offsets=(0, 0)))
    ops.merge(parts, str(d / "merged"))
    assert read_all(str(d / "merged")) == read_all(src)


@settings(max_examples=40)
@given(events=event_lists(max_size=25))
def test_merge_of_slices_by_name_gives_the_original(tmp_path_factory, events):
    events = _strictly_increasing(events)   # ties across slices are ordered by input, not by original offset
    d = tmp_path_factory.mktemp("n")
    src = make_recording(str(d / "src"), events)
    names = sorted({e[0] for e in events})
    parts = []
    for k, name in enumerate(names or ["A"]):
        p = str(d / f"p{k}")
        ops.slice_recording(src, p, Selection(filter=f'name == "{name}"'))
        parts.append(p)
    parts.reverse()
    ops.merge(parts, str(d / "merged"))
    assert read_all(str(d / "merged")) == read_all(src)


@settings(max_examples=40)
@given(inputs=st.lists(st.lists(st.tuples(st.integers(0, 20), st.sampled_from("xyz")), max_size=12),
                       min_size=1, max_size=4))
def test_merge_output_is_sorted_complete_and_stable(tmp_path_factory, inputs):
    d = tmp_path_factory.mktemp("s")
    paths, expected = [], []
    for i, evs in enumerate(inputs):
        ts = sorted(t for t, _ in evs)
        rows = [(name, {"input": i, "k": k}, f"s{i}", t * 1000) for k, (t, (_, name)) in enumerate(zip(ts, evs))]
        # different starts per input: wall time = start + mono
        start = START + i * 500
        paths.append(make_recording(str(d / f"in{i}"), rows, start_ns=start, session=f"in{i}"))
        expected += [(start + mono, i, k, name) for k, (name, _d, _s, mono) in enumerate(rows)]
    n = ops.merge(paths, str(d / "out"))
    expected.sort(key=lambda e: (e[0], e[1]))    # by timestamp, ties: input order (stable within an input)
    with open_recording(str(d / "out")) as rec:
        got = [(r.timestamp, r.data["input"], r.data["k"], r.name) for r in rec.read()]
        s = rec.summary()
        meta = rec.metadata["merged_from"]
    assert n == len(expected) == s.count
    assert got == expected
    assert [m["events"] for m in meta] == [len(e) for e in inputs]
    assert sum(s.names.values()) == n
    # every event knows its input
    runs = ops.origins(str(d / "out"))
    for offset, (_t, i, _k, _n) in enumerate(got):
        assert ops.origin_of(str(d / "out"), offset, runs)["label"] == meta[i]["label"]
        assert meta[i]["session_name"] == f"in{i}"


def test_merge_keeps_relative_times_and_tags_sources(tmp_path):
    a = make_recording(str(tmp_path / "a"), [("A", 1, "x", 0), ("A", 2, "x", 10)], start_ns=START, session="a")
    b = make_recording(str(tmp_path / "b"), [("B", 1, "y", 0)], start_ns=START + 5, session="b")
    ops.merge([a, b], str(tmp_path / "m"), tag_sources=True)
    got = [(n, s, t - START, m) for n, s, t, m, _d, _f in read_all(str(tmp_path / "m"))]
    assert got == [("A", "a/x", 0, 0), ("B", "b/y", 5, 5), ("A", "a/x", 10, 10)]


def test_merge_of_the_original_format_and_evlog(tmp_path):
    src = trading(200, str(tmp_path / "r"))
    ops.export(src, str(tmp_path / "old.json"), format="json", selection=Selection(offsets=(100, None)))
    ops.slice_recording(src, str(tmp_path / "head"), Selection(offsets=(0, 100)))
    ops.merge([str(tmp_path / "head"), str(tmp_path / "old.json")], str(tmp_path / "m"))
    assert ops.diff(src, str(tmp_path / "m")).equal


def test_merge_refuses_an_existing_output(tmp_path):
    a = trading(10, str(tmp_path / "a"))
    with pytest.raises(OpError, match="exists"):
        ops.merge([a, a], a)


def test_slice_by_time_and_filter_matches_a_filtered_read(tmp_path):
    src = trading(600, str(tmp_path / "r"))
    sel = Selection(filter="Position* or data.pair == \"BTC/USDT\"", start="2s", end="10s")
    n = ops.slice_recording(src, str(tmp_path / "s"), sel)
    with open_recording(src) as rec:
        want = [(r.name, r.timestamp, r.data) for r in rec.read(start_mono=2_000_000_000, end_mono=10_000_000_000)
                if r.name.startswith("Position") or (isinstance(r.data, dict) and r.data.get("pair") == "BTC/USDT")]
    with open_recording(str(tmp_path / "s")) as rec:
        got = [(r.name, r.timestamp, r.data) for r in rec.read()]
        assert rec.metadata["sliced_from"]["selection"]["filter"].startswith("Position*")
    assert got == want and n == len(want) > 0


def test_slice_of_nothing_is_an_empty_recording(tmp_path):
    src = trading(20, str(tmp_path / "r"))
    assert ops.slice_recording(src, str(tmp_path / "s"), Selection(filter="Nope")) == 0
    assert read_all(str(tmp_path / "s")) == []
    assert os.path.isdir(tmp_path / "s")


def test_slice_and_merge_copy_full_size_blocks(tmp_path):
    """Blocks of the default size (1 MiB, decompressed in chunks by the engine) copy raw too."""
    rows = [("E", {"i": i, "pad": "x" * 400}, "s", i * 1000) for i in range(6000)]
    src = make_recording(str(tmp_path / "src"), rows)
    assert ops.slice_recording(src, str(tmp_path / "s1"), Selection(offsets=(0, 3000))) == 3000
    assert ops.slice_recording(src, str(tmp_path / "s2"), Selection(offsets=(3000, None))) == 3000
    ops.merge([str(tmp_path / "s1"), str(tmp_path / "s2")], str(tmp_path / "m"))
    assert read_all(str(tmp_path / "m")) == read_all(src)
