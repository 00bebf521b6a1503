"""Upcasting: chains compose (v_n -> v_current is each step applied in turn, and going through
any intermediate version gives the same), on every read path: `EventReplayer.events`,
`replay` into a bus (dicts and models), record-level raw replays; bad chains and headers are
one-line errors."""
from __future__ import annotations

from functools import reduce

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from evlog.bus import CollectingBus
from evlog.recording import open_recording
from evlog.replay import run_replay
from evlog.replay.harness import HarnessOptions
from evlog.replay.upcast import VERSION_HEADER, UpcastError, Upcasters
from evlog.replayer import EventReplayer
from evlog.segments import Log, decode_headers
from evlog.segments.codec import decode_data

KEYS = ["a", "b", "c", "d"]


def make_step(op: tuple):
    """A pure step function from a description: ("add", key, value), ("rename", old, new),
    ("scale", key, factor)."""
    kind, x, y = op

    def step(data: dict) -> dict:
        out = dict(data)
        if kind == "add":
            out[x] = y
        elif kind == "rename":
            if x in out:
                out[y] = out.pop(x)
        elif isinstance(out.get(x), int):
            out[x] = out[x] * y
        return out
    return step


ops = st.one_of(st.tuples(st.just("add"), st.sampled_from(KEYS), st.integers(-5, 5)),
                st.tuples(st.just("rename"), st.sampled_from(KEYS), st.sampled_from(KEYS)),
                st.tuples(st.just("scale"), st.sampled_from(KEYS), st.integers(-3, 3)))
data_st = st.dictionaries(st.sampled_from(KEYS), st.integers(-100, 100), max_size=4)


@st.composite
def chains(draw):
    """(first version, step descriptions): steps first, first+1, ... of one name."""
    first = draw(st.integers(1, 3))
    return first, draw(st.lists(ops, min_size=1, max_size=6))


def upcasters_of(name: str, first: int, descs: list) -> tuple[Upcasters, list]:
    steps = [make_step(d) for d in descs]
    return Upcasters({(name, first + i): f for i, f in enumerate(steps)}), steps


@settings(max_examples=200)
@given(chain=chains(), data=data_st, start=st.integers(0, 10), middle=st.integers(0, 10))
def test_chains_compose(chain, data, start, middle):
    first, descs = chain
    up, steps = upcasters_of("PositionSold", first, descs)
    current = first + len(steps)
    assert up.current == {"PositionSold": current}
    n = first + start % (len(steps) + 1)                 # any version from the first to the current
    expected = reduce(lambda d, f: f(d), steps[n - first:], data)
    assert up.upcast("PositionSold", data, n) == (expected, current)
    m = n + middle % (current - n + 1)                   # through any version in between
    halfway, reached = up.upcast("PositionSold", data, n, to=m)
    assert reached == m
    assert up.upcast("PositionSold", halfway, m) == (expected, current)
    assert up.upcast("Other", data, n) == (data, n)      # names without steps are left alone
    assert up.upcast("PositionSold", data, current + 1) == (data, current + 1)   # newer: as is


def _write_versions(path, events) -> str:
    """events: (name, data, version or None)."""
    with Log.create(path, "s", fsync="never") as log:
        for i, (name, data, version) in enumerate(events):
            log.append(name, data, "src", monotonic=i * 1_000_000,
                       headers=None if version is None else {VERSION_HEADER: str(version), "k": "v"})
    return str(path)


@settings(max_examples=60)
@given(chain=chains(), items=st.lists(st.tuples(data_st, st.integers(0, 10), st.booleans()), min_size=1, max_size=8))
def test_every_read_path_upcasts_the_same(tmp_path_factory, chain, items):
    first, descs = chain
    up, steps = upcasters_of("PositionSold", first, descs)
    current = first + len(steps)
    events = []
    for data, k, other in items:
        version = first + k % (len(steps) + 1)
        events.append(("Other" if other else "PositionSold", data,
                       None if version == 1 else version))   # v1 without the header, as old recordings are
    path = _write_versions(tmp_path_factory.mktemp("up") / "rec", events)

    def expected(name, data, version):
        if name != "PositionSold":
            return data
        return reduce(lambda d, f: f(d), steps[(version or 1) - first:], data)
    want = [expected(*e) for e in events]

    replayer = EventReplayer(path, upcasters=up)
    assert [e["event_data"] for e in replayer.events] == want
    assert [replayer.events[i]["event_data"] for i in range(len(events))] == want
    assert replayer.events.last()["event_data"] == want[-1]

    bus = CollectingBus()
    result = replayer.replay(bus, "max")
    assert result.failed == 0 and [e[1] for e in bus.events] == want

    got, headers = [], []
    with open_recording(path) as rec:
        run_replay(rec, on_record=lambda r: (got.append(decode_data(r.data, r.flags, r.types)),
                                             headers.append(decode_headers(r.headers))),
                   raw=True, speed="max", harness=HarnessOptions.of(upcasters=up))
    assert got == want
    for (name, _d, version), h in zip(events, headers):
        if name == "PositionSold":
            assert h[VERSION_HEADER] == str(current)
            assert h.get("k") == ("v" if version is not None else None)   # other headers kept


class SoldV3(BaseModel):
    pair: str
    pnl: float
    fee: float


def test_upcast_then_model_from_the_registry(tmp_path):
    path = _write_versions(tmp_path / "rec", [("PositionSold", {"pair": "BTC", "profit": 2.5}, None),
                                              ("PositionSold", {"pair": "ETH", "pnl": 1.0}, 2),
                                              ("PositionSold", {"pair": "SOL", "pnl": 3.0, "fee": 0.1}, 3)])
    up = {("PositionSold", 1): lambda d: {"pair": d["pair"], "pnl": d["profit"]},
          ("PositionSold", 2): lambda d: {**d, "fee": 0.0}}
    bus = CollectingBus()
    result = EventReplayer(path, registry={"PositionSold": SoldV3}, upcasters=up).replay(bus, "max")
    assert result.failed == 0
    assert [e[1] for e in bus.events] == [SoldV3(pair="BTC", pnl=2.5, fee=0.0), SoldV3(pair="ETH", pnl=1.0, fee=0.0),
                                          SoldV3(pair="SOL", pnl=3.0, fee=0.1)]
    # the replay's own upcasters win over the replayer's; without any, the v1 event fails validation
    plain = EventReplayer(path, registry={"PositionSold": SoldV3}).replay(CollectingBus(), "max")
    assert plain.failed == 2 and "ValidationError" in plain.errors[0]


def test_a_failing_step_or_version_is_counted_like_a_failing_publish(tmp_path):
    path = _write_versions(tmp_path / "rec", [("PositionSold", {"x": 1}, None), ("PositionSold", {"x": 2}, "zz"),
                                              ("PositionSold", {}, None)])
    up = {("PositionSold", 1): lambda d: {"x": d["x"] * 2}}
    bus = CollectingBus()
    result = EventReplayer(path, upcasters=up).replay(bus, "max")
    assert [e[1] for e in bus.events] == [{"x": 2}]
    assert result.failed == 2
    assert "UpcastError" in result.errors[0] and "type_version='zz'" in result.errors[0]
    assert result.errors[1].startswith("offset 2 PositionSold: KeyError")


@pytest.mark.parametrize("steps, message", [
    ({("A", 1): str, ("A", 3): str}, "skip version 2"),
    ({("A", 0): str}, "is not (event name, version >= 1)"),
    ({"A": str}, "is not (event name, version >= 1)"),
    ({("A", 1): 3}, "not callable"),
    ([("A", 1)], "must be a mapping"),
])
def test_bad_chains_are_refused(steps, message):
    with pytest.raises(UpcastError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Upcasters(steps)


def test_a_version_below_the_first_step_is_an_error():
    up = Upcasters({("A", 2): lambda d: d})
    with pytest.raises(UpcastError, match="no upcaster for A v1: its steps start at v2"):
        up.upcast("A", {}, 1)
