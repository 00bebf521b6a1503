"""replay: drift-free schedule (fake clock), speed, loop, JSON Lines and HTTP sinks."""
from __future__ import annotations

import io
import json
import math
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from evlog import ops
from evlog.ops import OpError, Selection

from .helpers import make_recording


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, s: float) -> None:
        self.sleeps.append(s)
        self.now += s


def _rec(tmp_path, monos=(0, 1_000_000_000, 1_500_000_000, 4_000_000_000)):
    return make_recording(str(tmp_path / "r"), [(f"E{i}", {"i": i}, "s", m) for i, m in enumerate(monos)])


def test_events_are_due_at_start_plus_offset_over_speed(tmp_path):
    src = _rec(tmp_path)
    fc = FakeClock()
    buf = io.BytesIO()
    sent_at: list[float] = []
    n = ops.replay(src, ops.JsonLinesSink(buf), speed=2.0, clock=fc.clock, sleep=fc.sleep,
                   on_event=lambda k, r: sent_at.append(fc.now))
    assert n == 4
    assert [round(t - 100.0, 6) for t in sent_at] == [0.0, 0.5, 0.75, 2.0]
    lines = [json.loads(x) for x in buf.getvalue().splitlines()]
    assert [x["event_name"] for x in lines] == ["E0", "E1", "E2", "E3"]


def test_slow_sink_does_not_accumulate_drift(tmp_path):
    src = _rec(tmp_path, monos=[i * 100_000_000 for i in range(10)])
    fc = FakeClock()

    class SlowSink(ops.JsonLinesSink):
        def send(self, r, data):          # each send costs 30 ms of the 100 ms between events
            fc.now += 0.03
            super().send(r, data)
    ops.replay(src, SlowSink(io.BytesIO()), speed=1.0, clock=fc.clock, sleep=fc.sleep)
    assert [round(s, 6) for s in fc.sleeps] == [0.07] * 9


def test_max_speed_never_sleeps_and_loop_repeats(tmp_path):
    src = _rec(tmp_path)
    fc = FakeClock()
    count = {"n": 0}
    n = ops.replay(src, ops.JsonLinesSink(io.BytesIO()), speed=math.inf, loop=True, clock=fc.clock,
                   sleep=fc.sleep, stop=lambda: count["n"] >= 10,
                   on_event=lambda k, r: count.__setitem__("n", k))
    assert fc.sleeps == [] and n == 10


def test_replay_selection(tmp_path):
    src = _rec(tmp_path)
    buf = io.BytesIO()
    ops.replay(src, ops.JsonLinesSink(buf), speed=math.inf, selection=Selection(filter="E1 or E3", start="1s"))
    assert [json.loads(x)["event_name"] for x in buf.getvalue().splitlines()] == ["E1", "E3"]
    with pytest.raises(OpError):
        ops.replay(src, ops.JsonLinesSink(buf), speed=0)


class _Handler(BaseHTTPRequestHandler):
    bodies: list = []
    fail_first = 0

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if type(self).fail_first > 0:
            type(self).fail_first -= 1
            self.send_response(503)
            self.end_headers()
            return
        type(self).bodies.append(json.loads(body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def server():
    _Handler.bodies = []
    _Handler.fail_first = 0
    httpd = HTTPServer(("127.0.0.1", 0), _Handler)
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{httpd.server_port}/events"
    httpd.shutdown()
    httpd.server_close()


def test_http_sink_posts_each_event_with_retries(tmp_path, server):
    src = _rec(tmp_path)
    _Handler.fail_first = 2
    sink = ops.HttpSink(server, retries=3, backoff=0.001)
    ops.replay(src, sink, speed=math.inf)
    assert [b["event_name"] for b in _Handler.bodies] == ["E0", "E1", "E2", "E3"]
    assert sink.retried == 2 and sink.sent == 4


def test_http_sink_batches(tmp_path, server):
    src = _rec(tmp_path)
    ops.replay(src, ops.HttpSink(server, batch=3), speed=math.inf)
    assert [[e["event_name"] for e in b] for b in _Handler.bodies] == [["E0", "E1", "E2"], ["E3"]]


def test_http_sink_gives_up_with_a_clear_error(tmp_path, server):
    src = _rec(tmp_path)
    _Handler.fail_first = 100
    with pytest.raises(OpError, match="after 2 attempts"):
        ops.replay(src, ops.HttpSink(server, retries=1, backoff=0.001), speed=math.inf)
    with pytest.raises(OpError, match="http"):
        ops.HttpSink("ftp://x")
