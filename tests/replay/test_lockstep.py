"""Lock-step replay: a consumer whose result depends on time (a debouncer reading the replay's
clock) gives the same result at "max" speed under lock-step as at 1x on a virtual clock, in
100 of 100 generated recordings, whether it handles events in the publishing thread or in its
own worker thread acknowledging each one. Without lock-step it does not (the control test)."""
from __future__ import annotations

import json
import queue
import random
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from evlog.cli import cli
from evlog.replay import RealClock, VirtualClock
from evlog.replay.lockstep import Lockstep, LockstepError, as_lockstep
from evlog.replayer import EventReplayer
from evlog.segments import Log

QUIET_NS = 100_000_000   # a burst ends after 100 ms without a tick


class Debouncer:
    """Groups ticks into bursts separated by QUIET_NS of silence, on the time `now()` gives
    when a tick is handled: [(burst start, ticks)]."""

    def __init__(self, now) -> None:
        self.now = now
        self.bursts: list[list[int]] = []
        self.last: int | None = None

    def on_tick(self, name, event, source) -> None:
        t = self.now()
        if self.last is None or t - self.last >= QUIET_NS:
            self.bursts.append([t, 0])
        self.bursts[-1][1] += 1
        self.last = t


class WorkerDebouncer:
    """The same debouncer fed from a queue by its own thread (an asynchronous consumer): the
    bus handler only enqueues; the worker takes a little time, then handles the tick, then acks."""

    def __init__(self, now, ack=None, seed: int = 0) -> None:
        self.inner = Debouncer(now)
        self.ack = ack
        self.q: queue.Queue = queue.Queue()
        self.rng = random.Random(seed)
        self.thread = threading.Thread(target=self._run, daemon=True)

    def publish(self, name, event, source="") -> None:
        self.q.put((name, event, source))

    def _run(self) -> None:
        while True:
            item = self.q.get()
            if item is None:
                return
            time.sleep(self.rng.random() / 2000)       # up to 0.5 ms of work
            self.inner.on_tick(*item)
            if self.ack is not None:
                self.ack()

    def finish(self) -> list:
        self.q.put(None)
        self.thread.join(10)
        return self.inner.bursts


def _recording(path, gaps_ms) -> str:
    with Log.create(path, "ticks", fsync="never") as log:
        mono = 0
        for i, gap in enumerate(gaps_ms):
            mono += gap * 1_000_000
            log.append("Tick", {"i": i}, "feed", monotonic=mono)
    return str(path)


def at_1x_on_a_virtual_clock(path) -> list:
    clock = VirtualClock()
    deb = Debouncer(clock.now)
    EventReplayer(path).replay(deb.on_tick, 1.0, clock=clock)
    return deb.bursts


@settings(max_examples=100)
@given(gaps=st.lists(st.integers(0, 250), min_size=1, max_size=25), seed=st.integers(0, 1000))
def test_lockstep_at_max_speed_equals_1x(tmp_path_factory, gaps, seed):
    path = _recording(tmp_path_factory.mktemp("ls") / "rec", gaps)
    reference = at_1x_on_a_virtual_clock(path)

    sync = Lockstep()                                   # handlers in the publishing thread
    deb = Debouncer(sync.clock.now)
    EventReplayer(path).replay(deb.on_tick, "max", lockstep=sync)
    assert deb.bursts == reference

    step = Lockstep(ack=True, timeout=10)              # a worker thread acknowledging each tick
    worker = WorkerDebouncer(step.clock.now, step.ack, seed)
    worker.thread.start()
    result = EventReplayer(path).replay(worker, "max", lockstep=step)
    assert worker.finish() == reference
    assert result.published == len(gaps) and result.speed == float("inf")


def test_without_lockstep_the_same_consumer_sees_another_time(tmp_path):
    """The control: the consumer really depends on time. At max speed without lock-step its
    worker reads whatever the clock says when it gets to a tick."""
    path = _recording(tmp_path / "rec", [0, 200, 200, 200, 200])
    reference = at_1x_on_a_virtual_clock(path)
    assert [n for _, n in reference] == [1, 1, 1, 1, 1]
    clock = VirtualClock()
    worker = WorkerDebouncer(clock.now)
    EventReplayer(path).replay(worker, "max", clock=clock)   # the clock never moves at max speed
    worker.thread.start()
    assert [n for _, n in worker.finish()] == [5]


def test_the_clock_stands_at_each_events_recorded_time(tmp_path):
    path = _recording(tmp_path / "rec", [5, 10, 0, 1000])
    step = Lockstep()
    seen = []
    EventReplayer(path).replay(lambda n, e, s: seen.append(step.clock.now()), "max", lockstep=step)
    assert seen == [5_000_000, 15_000_000, 15_000_000, 1_015_000_000]
    clock = VirtualClock(start_ns=7)
    seen.clear()
    EventReplayer(path).replay(lambda n, e, s: seen.append(clock.now()), 3.0, lockstep=True, clock=clock)
    assert seen == [7 + 5_000_000, 7 + 15_000_000, 7 + 15_000_000, 7 + 1_015_000_000]   # whatever the speed


def test_a_consumer_that_does_not_ack_ends_the_replay(tmp_path):
    path = _recording(tmp_path / "rec", [0, 1, 1])
    got = []
    with pytest.raises(LockstepError, match="did not acknowledge the event at offset 0 within 0.2s"):
        EventReplayer(path).replay(lambda *a: got.append(a), "max", lockstep=Lockstep(ack=True, timeout=0.2))
    assert len(got) == 1          # nothing more was sent
    step = Lockstep(ack=True, timeout=5)
    failing = EventReplayer(path).replay(lambda *a: 1 / 0, "max", lockstep=step)   # a raising publish needs no ack
    assert failing.failed == 3


def test_lockstep_options():
    with pytest.raises(LockstepError, match="virtual clock"):
        Lockstep(clock=RealClock())
    with pytest.raises(LockstepError, match="lockstep must be"):
        as_lockstep("yes")
    assert as_lockstep(False) is None and as_lockstep("ack").wants_ack
    clock = VirtualClock()
    assert as_lockstep(True, clock).clock is clock
    with pytest.raises(LockstepError, match="give the clock to the Lockstep"):
        as_lockstep(Lockstep(), clock)


class _Collector(BaseHTTPRequestHandler):
    def do_POST(self) -> None:   # noqa: N802 - http.server's name
        server = self.server
        with server.lock:
            server.in_flight += 1
            server.max_in_flight = max(server.max_in_flight, server.in_flight)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        time.sleep(0.002)
        server.got.append(json.loads(body))
        with server.lock:
            server.in_flight -= 1
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


def test_cli_lockstep_to_an_http_consumer(tmp_path):
    path = _recording(tmp_path / "rec", [0, 30_000, 30_000, 30_000])   # 90 s of recorded time
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Collector)
    server.got, server.lock, server.in_flight, server.max_in_flight = [], threading.Lock(), 0, 0
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/events"
        started = time.monotonic()
        r = CliRunner().invoke(cli, ["replay", path, "--lockstep", "--to-url", url])
        assert r.exit_code == 0, r.output
        assert time.monotonic() - started < 30            # the virtual clock: no waiting for 90 s
        assert [e["event_data"]["i"] for e in server.got] == [0, 1, 2, 3] and server.max_in_flight == 1
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("args", [["--lockstep"], ["--lockstep", "--to-url", "http://x/", "--batch", "5"]])
def test_cli_lockstep_needs_a_consumer_that_answers(tmp_path, args):
    path = _recording(tmp_path / "rec", [0])
    r = CliRunner().invoke(cli, ["replay", path, *args])
    assert r.exit_code == 2 and "--lockstep needs a consumer that answers" in r.stderr
