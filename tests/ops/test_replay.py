"""replay: drift-free schedule (virtual clock), speed, loop, JSON Lines and HTTP sinks."""
from __future__ import annotations

import io
import json
import math
import urllib.error

import pytest

from evlog import ops
from evlog.ops import OpError, Selection
from evlog.replay import DeliveryError, VirtualClock

from .helpers import make_recording

URL = "http://127.0.0.1:9/events"


def _rec(tmp_path, monos=(0, 1_000_000_000, 1_500_000_000, 4_000_000_000)):
    return make_recording(str(tmp_path / "r"), [(f"E{i}", {"i": i}, "s", m) for i, m in enumerate(monos)])


def test_events_are_due_at_start_plus_offset_over_speed(tmp_path):
    src = _rec(tmp_path)
    fc = VirtualClock(start_ns=100_000_000_000)
    buf = io.BytesIO()
    sent_at: list[int] = []
    n = ops.replay(src, ops.JsonLinesSink(buf), speed=2.0, clock=fc,
                   on_event=lambda k, r: sent_at.append(fc.now()))
    assert n == 4
    assert [(t - 100_000_000_000) / 1e9 for t in sent_at] == [0.0, 0.5, 0.75, 2.0]
    lines = [json.loads(x) for x in buf.getvalue().splitlines()]
    assert [x["event_name"] for x in lines] == ["E0", "E1", "E2", "E3"]


def test_slow_sink_does_not_accumulate_drift(tmp_path):
    src = _rec(tmp_path, monos=[i * 100_000_000 for i in range(10)])
    fc = VirtualClock()

    class SlowSink(ops.JsonLinesSink):
        def send(self, r):          # each send costs 30 ms of the 100 ms between events
            fc.advance(30_000_000)
            super().send(r)
    ops.replay(src, SlowSink(io.BytesIO()), speed=1.0, clock=fc)
    assert fc.sleeps == [k * 100_000_000 for k in range(1, 10)]   # due times, not gaps: no drift


def test_max_speed_never_sleeps_and_loop_repeats(tmp_path):
    src = _rec(tmp_path)
    fc = VirtualClock()
    count = {"n": 0}
    n = ops.replay(src, ops.JsonLinesSink(io.BytesIO()), speed=math.inf, loop=True, clock=fc,
                   stop=lambda: count["n"] >= 10, on_event=lambda k, r: count.__setitem__("n", k))
    assert fc.sleeps == [] and n == 10


def test_replay_selection(tmp_path):
    src = _rec(tmp_path)
    buf = io.BytesIO()
    ops.replay(src, ops.JsonLinesSink(buf), speed=math.inf, selection=Selection(filter="E1 or E3", start="1s"))
    assert [json.loads(x)["event_name"] for x in buf.getvalue().splitlines()] == ["E1", "E3"]
    with pytest.raises(OpError):
        ops.replay(src, ops.JsonLinesSink(buf), speed=0)


class FakeOpener:
    """Stands for urlopen (the real server tests are in tests/replay/test_sinks.py): notes the
    bodies and answers 503 to the first `fail_first` requests."""

    def __init__(self, fail_first: int = 0) -> None:
        self.bodies: list = []
        self.fail_first = fail_first

    def __call__(self, req, timeout):
        if self.fail_first > 0:
            self.fail_first -= 1
            raise urllib.error.HTTPError(req.full_url, 503, "Service Unavailable", {}, None)
        self.bodies.append(json.loads(req.data))
        return io.BytesIO(b"")


def test_http_sink_posts_each_event_with_retries(tmp_path):
    src = _rec(tmp_path)
    opener = FakeOpener(fail_first=2)
    sink = ops.HttpSink(URL, retries=3, backoff=0.001, opener=opener)
    ops.replay(src, sink, speed=math.inf)
    assert [b["event_name"] for b in opener.bodies] == ["E0", "E1", "E2", "E3"]
    assert opener.bodies[1]["event_data"] == {"i": 1} and "timestamp" in opener.bodies[1]  # export's JSON Lines shape
    assert sink.retried == 2 and sink.sent == 4


def test_http_sink_batches(tmp_path):
    src = _rec(tmp_path)
    opener = FakeOpener()
    ops.replay(src, ops.HttpSink(URL, batch=3, opener=opener), speed=math.inf)
    assert [[e["event_name"] for e in b] for b in opener.bodies] == [["E0", "E1", "E2"], ["E3"]]


def test_http_sink_gives_up_with_a_clear_error(tmp_path):
    src = _rec(tmp_path)
    with pytest.raises(DeliveryError, match="after 2 attempts"):
        ops.replay(src, ops.HttpSink(URL, retries=1, backoff=0.001, opener=FakeOpener(100)), speed=math.inf)
    with pytest.raises(OpError, match="http"):
        ops.HttpSink("ftp://x")
