"""The shared record-level sinks: JSON Lines and HTTP (against a local server in a thread)."""
from __future__ import annotations

import io
import json
import math
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import ClassVar

import pytest

from evlog.recording import open_recording
from evlog.replay import (
    DeliveryError,
    HttpSink,
    JsonLinesSink,
    SinkConfigError,
    VirtualClock,
    run_replay,
)
from evlog.segments import EvlogError

from .conftest import EVENTS


class _Handler(BaseHTTPRequestHandler):
    bodies: ClassVar[list] = []
    fail_first: ClassVar[int] = 0
    status: ClassVar[int] = 503

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if type(self).fail_first > 0:
            type(self).fail_first -= 1
            self.send_response(type(self).status)
            self.end_headers()
            return
        type(self).bodies.append(json.loads(body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def server():
    _Handler.bodies, _Handler.fail_first, _Handler.status = [], 0, 503
    httpd = HTTPServer(("127.0.0.1", 0), _Handler)
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{httpd.server_port}/events"
    httpd.shutdown()
    httpd.server_close()


def _run(recording, sink, **kw):
    with open_recording(recording) as rec:
        res = run_replay(rec, on_record=sink.send, on_idle=sink.idle, **kw)
    sink.close()
    return res


def test_posts_each_event(recording, server) -> None:
    sink = HttpSink(server)
    _run(recording, sink, speed=math.inf)
    assert [b["event_name"] for b in _Handler.bodies] == [e[0] for e in EVENTS]
    assert _Handler.bodies[3]["event_data"] == EVENTS[3][1] and _Handler.bodies[3]["offset"] == 3
    assert sink.sent == sink.requests == len(EVENTS) and sink.failed == 0


def test_retries_after_503(recording, server) -> None:
    _Handler.fail_first = 2
    sink = HttpSink(server, retries=3, backoff=0.001)
    _run(recording, sink, speed=math.inf)
    assert len(_Handler.bodies) == len(EVENTS) and sink.retried == 2 and sink.failed == 0


def test_permanent_failure_is_reported_and_the_replay_goes_on(recording, server) -> None:
    _Handler.fail_first = 2          # the first event: 2 attempts, both 503
    sink = HttpSink(server, retries=1, backoff=0.001)
    res = _run(recording, sink, speed=math.inf)
    assert res.published == len(EVENTS) and len(_Handler.bodies) == len(EVENTS) - 1
    report = sink.report()
    assert report["sent"] == len(EVENTS) - 1 and report["failed"] == 1
    assert report["failures"][0]["offset"] == 0 and "after 2 attempts: HTTP 503" in report["failures"][0]["error"]
    assert "\n" not in report["failures"][0]["error"]


def test_a_4xx_is_not_retried_and_raise_mode_raises(recording, server) -> None:
    _Handler.fail_first, _Handler.status = 1, 400
    sink = HttpSink(server, retries=3, backoff=0.001, on_failure="raise")
    with pytest.raises(DeliveryError, match="refused the events: HTTP 400"):
        sink.send(next(iter(open_recording(recording).read())))
    assert sink.retried == 0


def test_connection_refused_is_a_one_line_failure() -> None:
    sink = HttpSink("http://127.0.0.1:9/x", retries=1, backoff=0.001, timeout=2, on_failure="raise")
    with pytest.raises(DeliveryError, match="after 2 attempts") as info:
        sink.send_bytes(b"{}", 0)
    assert "\n" not in str(info.value) and sink.failures[0]["offset"] == 0


def test_batches_by_size(recording, server) -> None:
    sink = HttpSink(server, batch=3)
    _run(recording, sink, speed=math.inf)
    assert [len(b) for b in _Handler.bodies] == [3, 3, 2]
    assert [e["event_name"] for b in _Handler.bodies for e in b] == [e[0] for e in EVENTS]
    assert sink.requests == 3 and sink.sent == len(EVENTS)


def test_batches_leave_before_a_wait_longer_than_max_delay(recording, server) -> None:
    # recording gaps (ms): 523 77 400 500 200 800 500; with max_delay 0.45 s a batch is posted
    # before any wait that would take its oldest event past it
    clock = VirtualClock()
    sink = HttpSink(server, batch=100, max_delay=0.45, now=clock.now)
    _run(recording, sink, clock=clock)
    assert [[e["offset"] for e in b] for b in _Handler.bodies] == [[0], [1, 2], [3], [4, 5], [6], [7]]


def test_max_delay_on_send(server) -> None:
    sink = HttpSink(server, batch=100, max_delay=0.05)
    sink.send_bytes(b'{"a": 1}', 0)
    time.sleep(0.06)
    sink.send_bytes(b'{"a": 2}', 1)
    assert _Handler.bodies == [[{"a": 1}, {"a": 2}]]


@pytest.mark.parametrize("url", ["ftp://x", "", None, "localhost:8000"])
def test_bad_url_is_a_one_line_error(url) -> None:
    with pytest.raises(SinkConfigError, match="http:// or https://") as info:
        HttpSink(url)
    assert isinstance(info.value, EvlogError) and "\n" not in str(info.value)
    with pytest.raises(SinkConfigError):
        HttpSink("http://x", batch=0)


def test_json_lines_sink_flushes_when_the_replay_waits(recording) -> None:
    class Stream(io.BytesIO):
        flushes = 0

        def flush(self):
            type(self).flushes += 1
    out = Stream()
    _run(recording, JsonLinesSink(out), clock=VirtualClock())
    lines = [json.loads(x) for x in out.getvalue().splitlines()]
    assert [x["event_name"] for x in lines] == [e[0] for e in EVENTS]
    assert Stream.flushes == len(EVENTS)      # one per wait (7) and one at close
