"""merge and slice: properties (slices merged give the original; merge output sorted and
complete, ties in input order) and provenance."""
from __future__ import annotations

import gc
import heapq
import importlib
import os
import struct
from itertools import accumulate

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evlog import ops
from evlog.ops import OpError, Selection
from evlog.recording import open_recording
from evlog.segments import Log, RawRecord

from .helpers import START, event_lists, make_recording, read_all, trading

merge_mod = importlib.import_module("evlog.ops.merge")   # the module (evlog.ops.merge is the function)


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


# the batched merge against the classic one-head-per-input merge -----------------------------
def _heap_merge(streams: list[list]) -> list[tuple[int, object]]:
    """The reference: a heap of one head per input, by (timestamp, input index)."""
    iters = [iter(s) for s in streams]
    heap = [(r.timestamp, i, r) for i, r in ((i, next(it, None)) for i, it in enumerate(iters)) if r is not None]
    heapq.heapify(heap)
    out = []
    while heap:
        _ts, i, rec = heapq.heappop(heap)
        out.append((i, rec))
        nxt = next(iters[i], None)
        if nxt is not None:
            heapq.heappush(heap, (nxt.timestamp, i, nxt))
    return out


def _raw(i: int, k: int, ts: int) -> RawRecord:
    return RawRecord(k, ts, k, "E", f"s{i}", b"%d" % k, 0, b"")


# timestamps with ties, long runs and wall clock steps back inside one input
_times = st.lists(st.one_of(st.integers(0, 3), st.integers(-40, 40)), max_size=40).map(
    lambda steps: list(accumulate(steps, initial=100))[1:])


@settings(max_examples=200)
@given(inputs=st.lists(_times, min_size=1, max_size=4), size=st.sampled_from([1, 2, 3, 7, 64]))
def test_batched_merge_equals_the_heap_merge(inputs, size):
    streams = [[_raw(i, k, t) for k, t in enumerate(times)] for i, times in enumerate(inputs)]
    got = []
    for recs, starts, which, taken in merge_mod.merge_batches([merge_mod._chunks(s, size=size) for s in streams]):
        assert starts[0] == 0 and len(starts) == len(which)
        assert all(a != b for a, b in zip(which, which[1:]))           # one entry per change of input
        assert sum(c for _, c in taken) == len(recs)
        for a, b, i in zip(starts, starts[1:] + [len(recs)], which):
            got += [(i, r) for r in recs[a:b]]
    assert got == _heap_merge(streams)
    assert list(merge_mod.merge_streams(streams)) == got


def test_runs_are_packed_like_one_struct_per_run():
    starts = list(range(0, 300, 3))
    inputs = [i % 3 for i in range(100)]
    for skip in (0, 1, 70, 90):
        want = b"".join(struct.pack("<QI", 1000 + s, i) for s, i in list(zip(starts, inputs))[skip:])
        assert merge_mod.pack_runs(1000, starts, inputs, skip) == want


def test_merge_of_interleaved_recordings_keeps_origins_times_and_tags(tmp_path):
    """Three fully interleaved inputs (one run per event, several batches), later starts
    shifted, sources tagged: every event checked against the model."""
    n = 3 * merge_mod._CHUNK + 17
    paths, model = [], []
    for i in range(3):
        start = START + i * 1000
        rows = [("E", {"i": i, "k": k}, f"src{k % 2}", 3000 * k) for k in range(n)]
        paths.append(make_recording(str(tmp_path / f"in{i}"), rows, start_ns=start, session=f"in{i}"))
        model += [(start + mono, i, k, f"in{i}/{src}", mono + i * 1000) for k, (_n, _d, src, mono) in enumerate(rows)]
    model.sort(key=lambda m: (m[0], m[1]))
    collecting = gc.isenabled()
    assert ops.merge(paths, str(tmp_path / "m"), tag_sources=True) == 3 * n
    assert gc.isenabled() == collecting       # the collector's pauses are undone
    with open_recording(str(tmp_path / "m")) as rec:
        got = [(r.timestamp, r.data["i"], r.data["k"], r.source, r.monotonic) for r in rec.read()]
        meta = rec.metadata["merged_from"]
    assert got == model
    assert [m["events"] for m in meta] == [n] * 3
    runs = ops.origins(str(tmp_path / "m"))
    assert runs == [(off, g[1]) for off, g in enumerate(got)]     # interleaved: a run per event
    assert ops.origin_of(str(tmp_path / "m"), 3 * n - 1, runs)["label"] == "in2"


def test_merge_orders_a_wall_clock_stepping_back_like_the_heap_merge(tmp_path):
    """A wall clock stepping back inside an input: its events keep their order and the
    merge is the one-head-per-input merge (a later event never passes an earlier one)."""
    walls = [[0, 50, 10, 20, 60, 5, 70], [15, 15, 55, 65, 66, 1, 80]]
    paths, streams = [], []
    for i, ws in enumerate(walls):
        with Log.create(str(tmp_path / f"w{i}"), f"w{i}", start_time_ns=START, fsync="never") as log:
            for k, w in enumerate(ws):
                log.append("E", {"i": i, "k": k}, "s", timestamp=START + w, monotonic=k)
        paths.append(str(tmp_path / f"w{i}"))
        streams.append([_raw(i, k, START + w) for k, w in enumerate(ws)])
    ops.merge(paths, str(tmp_path / "m"))
    with open_recording(str(tmp_path / "m")) as rec:
        got = [(r.data["i"], r.data["k"]) for r in rec.read()]
    assert got == [(i, r.offset) for i, r in _heap_merge(streams)]


def test_merge_leaves_a_disabled_collector_disabled(tmp_path):
    a = trading(50, str(tmp_path / "a"))
    gc.disable()
    try:
        ops.merge([a, a], str(tmp_path / "m"))
        assert not gc.isenabled()
    finally:
        gc.enable()


@pytest.mark.parametrize("fmt", ["evlog", "json"])
def test_slice_keeps_chosen_offsets_rebased_and_is_the_dashboards_slice(tmp_path, fmt):
    from evlog.web.slicing import SliceRequest, slice_to
    src = make_recording(str(tmp_path / "src"), [("A", {"i": i}, "s", i * 1_000_000) for i in range(10)])
    if fmt == "json":
        ops.export(src, str(tmp_path / "src.json"), format="json")
        src = str(tmp_path / "src.json")
    n = ops.slice_recording(src, tmp_path / "ops", Selection(offsets=(3, 8)), keep=lambda o: o % 2 == 1,
                            rebase=True, metadata={"from": "test"})
    req = SliceRequest(offsets=[3, 5], ranges=[(7, 7)])
    assert n == slice_to(src, str(tmp_path / "web"), "web", req, metadata={"from": "test"}) == 3
    for out in ("ops", "web"):
        with open_recording(tmp_path / out) as rec:
            assert [(r.offset, r.monotonic, r.data["i"]) for r in rec.read()] == \
                [(0, 0, 3), (1, 2_000_000, 5), (2, 4_000_000, 7)]
            assert rec.start_time_ns == START + 3_000_000 and rec.metadata == {"from": "test"}
    assert slice_to(src, str(tmp_path / "none"), "x", SliceRequest(all_matching=True, filter="B")) == 0
    assert not os.path.exists(tmp_path / "none")


def test_a_cancelled_slice_leaves_nothing(tmp_path):
    src = make_recording(str(tmp_path / "src"), [("A", {"i": i}, "s", i) for i in range(10_000)])
    with pytest.raises(importlib.import_module("evlog.ops.slice").SliceCancelled):
        ops.slice_recording(src, tmp_path / "out", cancelled=lambda: True)
    assert not os.path.exists(tmp_path / "out")
