"""Per-event headers through the replay layer: `EventReplayer.events` items, buses whose
publish takes a `headers` keyword (and buses that do not), a recorded bus, the record-level
sinks (JSON Lines, HTTP body) and `evlog replay`."""
from __future__ import annotations

import functools
import inspect
import io
import json
import math
from pathlib import Path

import pytest

from evlog import EventRecorder, EventReplayer, Log, ops
from evlog.bus import CollectingBus
from evlog.recording import open_recording
from evlog.replay import JsonLinesSink, StdoutSink, run_replay
from evlog.replay.sinks import _headers_by_code, _headers_by_signature, accepts_headers

from .conftest import START_NS

HEADERS = [{"correlation_id": "c-1", "traceparent": "00-ab-cd-01"}, {}, {"correlation_id": "c-1", "causation_id": "e-0"}]


def _recording(tmp_path: Path, **kw) -> Path:
    path = tmp_path / "h"
    with Log.create(path, "h", start_time_ns=START_NS, fsync="never", **kw) as log:
        for i, headers in enumerate(HEADERS):
            log.append("Order", {"i": i}, "Api", timestamp=START_NS + i * 1000, monotonic=i * 1000,
                       headers=headers or None)
    return path


class HeaderBus:
    def __init__(self) -> None:
        self.events: list[tuple] = []

    def publish(self, event_name, event=None, source="", headers=None):
        self.events.append((event_name, event, source, headers))


class KeywordOnlyBus(HeaderBus):
    def publish(self, event_name, event=None, source="", *, headers=None):   # type: ignore[override]
        self.events.append((event_name, event, source, headers))


class KwargsBus:
    """A publish(*args, **kwargs) wrapper: it may not know headers, so it gets none."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def publish(self, *args, **kwargs):
        self.calls.append((args, kwargs))


def test_events_items_have_headers_when_present(tmp_path) -> None:
    with EventReplayer(_recording(tmp_path)) as rp:
        items = list(rp.events)
        assert [e.get("headers") for e in items] == [HEADERS[0], None, HEADERS[2]]
        assert "headers" not in items[1]
        assert rp.events[2]["headers"] == HEADERS[2] and rp.events[-1] == items[-1]
        assert rp.events[0:2] == items[:2]
        # a filter callable on the whole event sees them too
        only = rp.filter_events(lambda name, ev: ev.get("headers", {}).get("causation_id") == "e-0")
        assert [e["offset"] for e in only.events] == [2]


@pytest.mark.parametrize("bus_class", [HeaderBus, KeywordOnlyBus])
@pytest.mark.parametrize("registry", [False, True])
def test_a_bus_that_takes_headers_gets_them(tmp_path, bus_class, registry) -> None:
    from pydantic import BaseModel

    class Order(BaseModel):
        i: int
    bus = bus_class()
    with EventReplayer(_recording(tmp_path)) as rp:   # with a registry the raw path is taken
        rp.replay(bus, speed_multiplier=math.inf, registry={"Order": Order} if registry else None)
    assert [h for *_, h in bus.events] == [HEADERS[0], None, HEADERS[2]]
    assert [e.i if registry else e["i"] for _n, e, _s, _h in bus.events] == [0, 1, 2]


def test_buses_that_do_not_take_headers_are_called_as_before(tmp_path) -> None:
    plain, kwargs = CollectingBus(), KwargsBus()
    with EventReplayer(_recording(tmp_path)) as rp:
        rp.replay(plain, speed_multiplier=math.inf)
        rp.replay(kwargs, speed_multiplier=math.inf)
        rp.replay(lambda name, event, source: None, speed_multiplier=math.inf)
    assert [(n, e) for n, e, _s in plain.events] == [("Order", {"i": i}) for i in range(3)]
    assert all(kw == {} and len(args) == 3 for args, kw in kwargs.calls)


def test_accepts_headers() -> None:
    assert accepts_headers(HeaderBus().publish) and accepts_headers(KeywordOnlyBus().publish)
    assert not accepts_headers(CollectingBus().publish) and not accepts_headers(KwargsBus().publish)
    assert not accepts_headers(print)   # a builtin without a signature


class _Shapes:
    def plain(self, name, event, source): ...
    def named(self, name, event=None, source="", headers=None): ...
    def keyword_only(self, name, *args, headers=None): ...
    def positional_only(self, name, event, source, headers, /): ...
    def self_only_positional(self, /, headers=None): ...
    def first_is_headers(headers, name): ...   # noqa: N805 - `headers` is the bound parameter
    def star(*args, **kwargs): ...             # noqa: N805
    def star_headers(*args, headers=None): ...   # noqa: N805
    def kwargs_only(**kwargs): ...             # noqa: N805 - an invalid method: inspect refuses it

    @classmethod
    def cls_headers(cls, name, headers=None): ...

    @staticmethod
    def static_headers(name, headers=None): ...

    def __call__(self, name, event, source, headers=None): ...


def _wrapped_by_signature(name, *, headers=None): ...


def _wrapper(*args, **kwargs): ...


_wrapper.__wrapped__ = _wrapped_by_signature   # type: ignore[attr-defined]


def _with_signature(*args): ...


_with_signature.__signature__ = inspect.signature(_wrapped_by_signature)   # type: ignore[attr-defined]


@pytest.mark.parametrize("target", [
    *(getattr(_Shapes(), m) for m in ("plain", "named", "keyword_only", "positional_only", "self_only_positional",
                                      "first_is_headers", "star", "star_headers", "kwargs_only", "cls_headers",
                                      "static_headers")),
    _Shapes.named, _Shapes.first_is_headers, _Shapes(), lambda name, event, source: None,
    lambda name, event=None, source="", headers=None: None, lambda *a, headers: None,
    lambda name, /, headers=None: None, lambda headers, /: None, _wrapper, _with_signature,
    functools.partial(_Shapes.named, None), print, dict.get, "not callable"])
def test_accepts_headers_from_code_agrees_with_the_signature(target) -> None:
    """The answer read from a code object is the one `inspect.signature` gives, for every
    kind of parameter list (and the callables it leaves to inspect get inspect's)."""
    assert accepts_headers(target) == _headers_by_signature(target)


def test_accepts_headers_reads_plain_functions_from_their_code() -> None:
    assert _headers_by_code(_Shapes().named) is True and _headers_by_code(_Shapes().plain) is False
    assert _headers_by_code(lambda name, /, headers=None: None) is True
    assert _headers_by_code(lambda headers, /: None) is False
    for other in (_wrapper, _with_signature, _Shapes(), print, _Shapes().star):
        assert _headers_by_code(other) is None   # left to inspect


def test_a_recorded_bus_passes_headers_on_only_if_its_publish_takes_them(tmp_path) -> None:
    src = _recording(tmp_path)
    for bus, kept in ((HeaderBus(), True), (CollectingBus(), False)):
        recorder = EventRecorder("again", output_dir=str(tmp_path / f"out_{kept}"), fsync="never")
        recorder.start_recording(bus)
        with EventReplayer(src) as rp:
            result = rp.replay(bus, speed_multiplier=math.inf)
        recorder.stop_recording()
        path = recorder.save()
        assert result.published == 3 and result.failed == 0
        with open_recording(str(path)) as rec:
            assert [dict(r.headers) for r in rec.read()] == (HEADERS if kept else [{}, {}, {}])


def test_stdout_sink_prints_headers(tmp_path) -> None:
    out = io.StringIO()
    with EventReplayer(_recording(tmp_path)) as rp:
        rp.replay(StdoutSink(out), speed_multiplier=math.inf)
    lines = [json.loads(x) for x in out.getvalue().splitlines()]
    assert [x.get("headers") for x in lines] == [HEADERS[0], None, HEADERS[2]]


@pytest.mark.parametrize("raw", [False, True])
def test_record_level_json_has_a_headers_key(tmp_path, raw) -> None:
    buf = io.BytesIO()
    sink = JsonLinesSink(buf)
    with open_recording(_recording(tmp_path)) as rec:
        run_replay(rec, on_record=sink.send, on_idle=sink.idle, speed=math.inf, raw=raw)
    sink.close()
    lines = [json.loads(x) for x in buf.getvalue().splitlines()]
    assert [x.get("headers") for x in lines] == [HEADERS[0], None, HEADERS[2]]


def test_evlog_replay_lines_and_http_bodies_carry_headers(tmp_path) -> None:
    src = _recording(tmp_path)
    buf = io.BytesIO()
    ops.replay(src, ops.JsonLinesSink(buf), speed=math.inf)
    lines = [json.loads(x) for x in buf.getvalue().splitlines()]
    assert [x.get("headers") for x in lines] == [HEADERS[0], None, HEADERS[2]]
    bodies: list[bytes] = []

    class Resp:
        def __enter__(self):
            return self

        def __exit__(self, *a):
            return False

        def read(self):
            return b""

    def opener(req, timeout):
        bodies.append(req.data)
        assert not any(k.lower().startswith("x-evlog-header") for k in req.headers)
        return Resp()
    ops.replay(src, ops.HttpSink("http://127.0.0.1:9/e", batch=2, opener=opener), speed=math.inf)
    events = [e for body in bodies for e in json.loads(body)]
    assert [e.get("headers") for e in events] == [HEADERS[0], None, HEADERS[2]]
