"""The replay schedule, checked on a virtual clock (no test sleeps), and replay control."""
from __future__ import annotations

import threading

from hypothesis import given, settings
from hypothesis import strategies as st

from evlog.replay import ReplayControl, VirtualClock
from evlog.replay.stats import LatencyHistogram
from evlog.replayer import EventReplayer

from .conftest import EVENTS, write_evlog


class ClockBus:
    """Notes (name, clock time) at each publish."""

    def __init__(self, clock: VirtualClock, on=None) -> None:
        self.clock, self.on, self.seen = clock, on, []

    def publish(self, name, event, source):
        self.seen.append((name, self.clock._now, event))
        if self.on:
            self.on(len(self.seen), name)


MONOS = [e[3] * 10**6 for e in EVENTS]


def test_events_are_due_at_start_plus_offset_over_speed(recording) -> None:
    for speed in (0.5, 1.0, 7.0, 100.0):
        clock = VirtualClock(start_ns=10**12)
        bus = ClockBus(clock)
        res = EventReplayer(recording).replay(bus, speed_multiplier=speed, clock=clock)
        assert [t for _, t, _ in bus.seen] == [10**12 + int(m / speed) for m in MONOS]
        assert res.lateness_max_ms == 0 and res.span_ns == res.ideal_span_ns == int(MONOS[-1] / speed)


def test_no_error_accumulates_when_work_takes_time(tmp_path) -> None:
    events = [("E", {"i": i}, "", i * 10) for i in range(200)]  # every 10 ms
    path = write_evlog(tmp_path / "r", events)
    clock = VirtualClock(step_ns=300_000)  # each clock reading costs 0.3 ms of "work"
    bus = ClockBus(clock)
    EventReplayer(path).replay(bus, clock=clock)
    times = [t for _, t, _ in bus.seen]
    # each publish happens within a fixed bound of its own due time: no drift over 200 events
    lateness = [t - (times[0] + i * 10_000_000) for i, t in enumerate(times)]
    assert max(lateness) - min(lateness) <= 1_000_000
    assert len(clock.sleeps) == 199  # it waited for every event after the first


def test_a_late_replay_catches_up_without_sleeping(tmp_path) -> None:
    events = [("E", {"i": i}, "", i) for i in range(100)]  # every 1 ms
    path = write_evlog(tmp_path / "r", events)
    clock = VirtualClock(step_ns=5_000_000)  # work is 5x slower than the recording
    res = EventReplayer(path).replay(ClockBus(clock), clock=clock)
    assert clock.sleeps == []  # behind from the start: never sleeps
    assert res.published == 100 and res.lateness_max_ms > 100


@settings(max_examples=40)
@given(gaps=st.lists(st.integers(0, 5 * 10**9), min_size=1, max_size=30),
       speed=st.floats(0.1, 100.0))
def test_relative_timing_is_preserved(tmp_path_factory, gaps, speed) -> None:
    monos, t = [], 0
    for g in gaps:
        t += g
        monos.append(t)
    from evlog.segments import Log
    path = tmp_path_factory.mktemp("t") / "r"
    with Log.create(path, "t", fsync="never") as log:
        for m in monos:
            log.append("E", None, "", monotonic=m)
    clock = VirtualClock()
    bus = ClockBus(clock)
    EventReplayer(path).replay(bus, speed_multiplier=speed, clock=clock)
    times = [t for _, t, _ in bus.seen]
    for i in range(1, len(monos)):
        ideal = (monos[i] - monos[i - 1]) / speed
        assert abs((times[i] - times[i - 1]) - ideal) <= 1
    assert all(b >= a for a, b in zip(times, times[1:]))


def test_speed_change_on_the_fly(recording) -> None:
    clock = VirtualClock()
    control = ReplayControl()
    bus = ClockBus(clock, on=lambda n, name: control.set_speed(2.0) if n == 4 else None)
    EventReplayer(recording).replay(bus, speed_multiplier=1.0, clock=clock, control=control)
    times = [t for _, t, _ in bus.seen]
    assert times[:4] == MONOS[:4]
    for i in range(4, len(MONOS)):
        assert times[i] - times[i - 1] == (MONOS[i] - MONOS[i - 1]) // 2
    assert control.speed == 2.0


def test_seek_by_offset_and_by_time(recording) -> None:
    clock = VirtualClock()
    control = ReplayControl()
    bus = ClockBus(clock, on=lambda n, name: control.seek(offset=6) if n == 2 else None)
    res = EventReplayer(recording).replay(bus, clock=clock, control=control)
    assert [name for name, _, _ in bus.seen] == [EVENTS[i][0] for i in (0, 1, 6, 7)]
    assert bus.seen[2][1] == bus.seen[1][1]  # an offset seek plays its first event at once
    assert res.published == 4 and res.filtered_out == 0

    clock = VirtualClock()
    control = ReplayControl()
    bus = ClockBus(clock, on=lambda n, name: control.seek(time="1.2s") if n == 1 else None)
    EventReplayer(recording).replay(bus, clock=clock, control=control)
    assert [name for name, _, _ in bus.seen] == [EVENTS[0][0]] + [e[0] for e in EVENTS if e[3] >= 1200]
    # the first event after the seek is due (1500 - 1200) ms after the seek
    assert bus.seen[1][1] - bus.seen[0][1] == 300 * 10**6


def test_stop_from_a_handler(recording) -> None:
    control = ReplayControl()
    bus = ClockBus(VirtualClock(), on=lambda n, name: control.stop() if n == 3 else None)
    res = EventReplayer(recording).replay(bus, speed_multiplier="max", control=control, loop=True)
    assert res.stopped and res.published == 3


def test_pause_step_resume_from_another_thread(recording) -> None:
    clock = VirtualClock()
    control = ReplayControl()
    bus = ClockBus(clock, on=lambda n, name: control.pause() if n == 2 else None)
    handle = EventReplayer(recording).start_replay(bus, 1.0, control=control, clock=clock)
    assert control.waiting.wait(30)
    assert len(bus.seen) == 2 and control.paused
    paused_at = clock._now
    control.step()
    assert _wait_for(lambda: len(bus.seen) == 3 and control.waiting.is_set())
    assert bus.seen[2][1] == paused_at  # a stepped event goes at once
    control.step(2)
    assert _wait_for(lambda: len(bus.seen) == 5 and control.waiting.is_set())
    control.resume()
    result = handle.join(30)
    assert result is not None and result.published == 8
    times = [t for _, t, _ in bus.seen]
    # after resume the remaining gaps are the recorded ones again
    assert [b - a for a, b in zip(times[5:], times[6:])] == [MONOS[i + 1] - MONOS[i] for i in range(5, 7)]


def _wait_for(cond, timeout: float = 30.0) -> bool:
    done = threading.Event()
    for _ in range(int(timeout * 1000)):
        if cond():
            return True
        done.wait(0.001)
    return cond()


def test_latency_histogram_quantiles() -> None:
    h = LatencyHistogram()
    for us in range(1, 1001):
        h.add(us * 1000)
    h.add(7_000_000_000)
    assert 499_000 <= h.quantile(0.5) <= 502_000
    assert 990_000 <= h.quantile(0.99) <= 1_001_000
    assert h.max_ns == 7_000_000_000 and h.quantile(1.0) == 7_000_000_000
    assert LatencyHistogram().quantile(0.5) == 0
