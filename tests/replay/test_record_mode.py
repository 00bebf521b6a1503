"""run_replay's record-level mode: whole records, raw records, markers, anchor, on_idle."""
from __future__ import annotations

import itertools
import json
import math

import pytest

from evlog.recorder import EventRecorder
from evlog.recording import open_recording
from evlog.replay import ReplayControl, ReplayError, Selection, VirtualClock, run_replay
from evlog.segments import RawRecord, Record
from evlog.segments.codec import FLAG_UNSERIALIZABLE

from .conftest import EVENTS, START_NS, write_evlog


def _replay(path, **kw):
    got = []
    with open_recording(path) as rec:
        res = run_replay(rec, on_record=got.append, **kw)
    return got, res


def test_on_record_gets_whole_records_on_schedule(recording) -> None:
    clock = VirtualClock(start_ns=10**12)
    times = []
    with open_recording(recording) as rec:
        res = run_replay(rec, on_record=lambda r: times.append((r, clock.now())), speed=2.0, clock=clock)
    assert [r.name for r, _ in times] == [e[0] for e in EVENTS]
    assert all(isinstance(r, Record) for r, _ in times)
    assert [t for _, t in times] == [10**12 + e[3] * 10**6 // 2 for e in EVENTS]
    assert [r.offset for r, _ in times] == list(range(len(EVENTS)))
    assert times[3][0].data == EVENTS[3][1] and times[3][0].timestamp == START_NS + 1000 * 10**6
    assert res.published == len(EVENTS)


def test_raw_records_with_a_where_filter(tmp_path) -> None:
    path = write_evlog(tmp_path / "r", block_max_records=3)
    got, res = _replay(path, raw=True, speed=math.inf,
                       selection=Selection.of('source == "OrderExecutor" and data.pair == "BTC/USDT"'))
    assert all(isinstance(r, RawRecord) for r in got)
    assert [json.loads(r.data)["pair"] for r in got] == ["BTC/USDT", "BTC/USDT"]
    assert res.filtered_out == len(EVENTS) - 2


def test_markers_are_skipped_unless_asked_for(tmp_path) -> None:
    recorder = EventRecorder("m", output_dir=tmp_path)
    recorder.record("A", {"x": 1})
    recorder.record("B", object())
    recorder.record("C", {"x": 2})
    path = recorder.save()
    got, res = _replay(path, speed=math.inf)
    assert [r.name for r in got] == ["A", "C"] and res.unserializable == 1
    got, res = _replay(path, speed=math.inf, markers=True)
    assert [r.name for r in got] == ["A", "B", "C"] and got[1].flags & FLAG_UNSERIALIZABLE


def test_anchor_first_plays_the_first_selected_event_at_once(recording) -> None:
    clock = VirtualClock()
    times = []
    with open_recording(recording) as rec:
        run_replay(rec, on_record=lambda r: times.append(clock.now()), clock=clock, anchor="first",
                   selection=Selection.of("PositionPurchased or PositionSold"))
    assert times == [0, 1_500_000_000]


def test_on_idle_is_called_before_each_wait(recording) -> None:
    clock = VirtualClock()
    waits = []
    with open_recording(recording) as rec:
        run_replay(rec, on_record=lambda r: None, on_idle=waits.append, clock=clock)
    gaps = [b[3] - a[3] for a, b in itertools.pairwise(EVENTS)]
    assert waits == [g * 10**6 for g in gaps]


def test_an_empty_selection_does_not_loop_forever(recording) -> None:
    got, res = _replay(recording, loop=True, speed=math.inf, selection=Selection.of("NoSuchEvent"))
    assert got == [] and res.passes == 1


def test_control_and_loop_in_record_mode(recording) -> None:
    control = ReplayControl()
    got = []

    def on_record(r):
        got.append(r.offset)
        if len(got) == 12:
            control.stop()
    with open_recording(recording) as rec:
        res = run_replay(rec, on_record=on_record, loop=True, speed=math.inf, control=control)
    assert got == list(range(8)) + list(range(4)) and res.stopped


def test_publish_or_on_record(recording) -> None:
    with open_recording(recording) as rec:
        with pytest.raises(ReplayError):
            run_replay(rec)
        with pytest.raises(ReplayError):
            run_replay(rec, print, on_record=print)
        with pytest.raises(ReplayError):
            run_replay(rec, on_record=print, anchor="middle")
