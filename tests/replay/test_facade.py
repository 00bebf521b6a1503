"""evlog.replay.play: the one replay entry over the scheduler, with explicit options; the API,
the CLI's operation, the dashboard and the pytest plugin all go through it."""
from __future__ import annotations

import io
import math
import threading

import pytest

from evlog import ops
from evlog.recording import open_recording
from evlog.replay import ReplayError, ReplayOptions, Selection, VirtualClock, facade, parse_speed, play
from evlog.replayer import EventReplayer
from evlog.segments import RawRecord

from .conftest import EVENTS


@pytest.mark.parametrize("text, speed", [("1", 1.0), ("2.5", 2.5), ("10x", 10.0), ("max", math.inf),
                                         ("inf", math.inf), (math.inf, math.inf), (3, 3.0)])
def test_one_speed_parser(text, speed):
    assert parse_speed(text) == speed == ReplayOptions(speed=text).speed


@pytest.mark.parametrize("bad", [0, "0", -1, "nan", "fast", True, None])
def test_zero_negative_and_nonsense_speeds_are_refused_everywhere(bad):
    with pytest.raises(ReplayError):
        ReplayOptions(speed=bad)


def test_options_are_checked():
    with pytest.raises(ReplayError, match="anchor"):
        ReplayOptions(anchor="middle")
    assert ReplayOptions(selection="PositionSold").selection == Selection(filter="PositionSold")


class Records:
    def __init__(self, clock):
        self.got, self.clock = [], clock

    def send(self, r):
        self.got.append((r, self.clock.now()))


def test_anchor_start_waits_for_the_first_event_and_first_does_not(recording):
    times = {}
    for anchor in ("start", "first"):
        clock = VirtualClock(start_ns=0)
        sink = Records(clock)
        with open_recording(recording) as rec:
            play(rec, sink, ReplayOptions(speed=1.0, anchor=anchor, clock=clock, selection=Selection(start="500ms")))
        times[anchor] = [t for _, t in sink.got]
    assert times["start"][0] == (EVENTS[1][3] - 500) * 10**6 and times["first"][0] == 0
    assert [b - a for a, b in zip(times["start"], times["start"][1:])] == \
        [b - a for a, b in zip(times["first"], times["first"][1:])]


def test_a_record_sink_gets_raw_records_on_both_formats_and_a_bus_gets_events(recording):
    sink = Records(VirtualClock())
    with open_recording(recording) as rec:
        res = play(rec, sink, ReplayOptions(speed="max", raw=True, selection=Selection(filter="Position*")))
        assert res.published == 2 and all(isinstance(r, RawRecord) for r, _ in sink.got)
        published = []
        play(rec, lambda name, event, source: published.append(name), ReplayOptions(speed="max"))
        assert published == [e[0] for e in EVENTS]


def _calls(monkeypatch) -> list[dict]:
    """Every run of the scheduler, with the options the façade gave it."""
    seen: list[dict] = []
    real = facade.run_replay

    def spy(recording, publish, selection, **kw):
        seen.append(dict(kw, selection=selection, publish=publish))
        return real(recording, publish, selection, **kw)
    monkeypatch.setattr(facade, "run_replay", spy)
    return seen


def test_every_entry_point_goes_through_the_facade_with_its_explicit_options(recording, monkeypatch):
    seen = _calls(monkeypatch)
    with EventReplayer(recording) as r:   # the API (and the NATS replay, which runs through it)
        r.replay(lambda *a: None, "max", event_filter="PositionSold")
    ops.replay(str(recording), ops.JsonLinesSink(io.BytesIO()), speed="max")   # evlog replay
    from evlog.web.replays import Replay   # the dashboard
    replay = Replay("r", lambda: open_recording(recording), len(EVENTS), speed=100.0, clock=VirtualClock())
    replay.join(10)
    assert [(c["anchor"], c["markers"]) for c in seen] == [("start", False), ("first", True), ("start", False)]
    assert seen[0]["publish"] is not None and seen[1]["on_record"] is not None and seen[2]["on_record"] is not None
    assert replay.status()["delivered"] == len(EVENTS)


def test_a_bounded_selection_is_the_replays_bounds(recording):
    sink = Records(VirtualClock())
    with open_recording(recording) as rec:
        play(rec, sink, ReplayOptions(speed="max", selection=Selection(offsets=(2, 5))))
        assert [r.offset for r, _ in sink.got] == [2, 3, 4]
        with pytest.raises(ReplayError):
            facade.run_replay(rec, None, Selection(offsets=(1, 2)), on_record=sink.send, start=0)


def test_a_control_steers_a_facade_replay(recording):
    from evlog.replay import ReplayControl
    control = ReplayControl()
    control.pause()
    sink = Records(VirtualClock())
    with open_recording(recording) as rec:
        t = threading.Thread(target=play, args=(rec, sink, ReplayOptions(speed="max")), kwargs={"control": control})
        t.start()
        control.stop()
        t.join(10)
    assert not t.is_alive() and len(sink.got) < len(EVENTS)
