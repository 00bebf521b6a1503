"""Where replayed events go.

Event-level (`publish(name, event, source)`): a bus, a callable, or `StdoutSink`.
Record-level (`run_replay(..., on_record=sink.send, on_idle=sink.idle)`, then `sink.close()`):
`JsonLinesSink` (a binary stream) and `HttpSink` (POST per event or batched, retries with
back-off, a report of failures). Both take `encode(record) -> bytes`, one JSON object without
newline (default `record_json`).

Per-event headers travel with the event: an event-level target whose `publish` takes a
`headers` keyword gets them (`accepts_headers`; others are called as before), and the
record-level JSON has a `headers` key (in the body of an HTTP POST, not as HTTP headers: a
batch carries many events in one request).
"""
from __future__ import annotations

import inspect
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from types import FunctionType, MethodType
from typing import Any, BinaryIO, Mapping, TextIO

from ..segments import encode_headers
from ..segments.block import RawRecord
from ..segments.codec import encode_json, to_json_mode
from ..segments.errors import EvlogError

__all__ = [
    "DeliveryError",
    "HttpSink",
    "JsonLinesSink",
    "Publish",
    "SinkConfigError",
    "SinkError",
    "StdoutSink",
    "accepts_headers",
    "as_publish",
    "record_json",
]

Publish = Callable[[str, Any, str], Any]
MAX_FAILURES_KEPT = 20


class SinkError(EvlogError, TypeError):
    """A replay target that is neither a bus (with publish) nor a callable."""


class SinkConfigError(EvlogError, ValueError):
    """A sink option that cannot work (a URL that is not http(s), a batch size < 1...)."""


class DeliveryError(EvlogError):
    """Events a sink could not deliver (HttpSink with `on_failure="raise"`)."""


def accepts_headers(publish: Callable[..., Any]) -> bool:
    """Whether `publish` takes a `headers` keyword (a parameter of that name; `**kwargs` alone
    does not count, so a bus that does not know headers never gets them). A wrapper that
    sets `__wrapped__` (functools.wraps) is judged by what it wraps.

    A plain function or method is answered from its code object (every replay asks: the
    signature `inspect` builds costs ~0.1 ms, a tenth of a seek); anything else, and a
    function with `__wrapped__` or `__signature__`, by `inspect.signature`."""
    answer = _headers_by_code(publish)
    return _headers_by_signature(publish) if answer is None else answer


def _headers_by_code(publish: Any) -> bool | None:
    """`accepts_headers` read from a plain function's (or a bound method's) code object:
    the names of its parameters that can be passed by keyword. None when the callable is of
    another kind, or its signature could differ from its code (`__wrapped__`, `__signature__`)."""
    method = publish.__class__ is MethodType
    func = publish.__func__ if method else publish
    if func.__class__ is not FunctionType or hasattr(func, "__wrapped__") or hasattr(func, "__signature__"):
        return None
    code = func.__code__
    positional = code.co_argcount
    skip = code.co_posonlyargcount   # positional-only parameters cannot be passed by keyword
    if method:
        if positional == 0:   # `self` in *args, or an invalid method: as inspect says
            return None
        skip = max(skip, 1)   # the bound first parameter
    names = code.co_varnames
    return "headers" in names[skip:positional] or "headers" in names[positional:positional + code.co_kwonlyargcount]


def _headers_by_signature(publish: Callable[..., Any]) -> bool:
    try:
        param = inspect.signature(publish).parameters.get("headers")
    except (TypeError, ValueError):
        return False
    return param is not None and param.kind in (param.POSITIONAL_OR_KEYWORD, param.KEYWORD_ONLY)


def as_publish(target: Any) -> Publish:
    """The function the replayer calls for each event: `target.publish`, or `target` itself."""
    publish = getattr(target, "publish", None)
    if callable(publish):
        return publish
    if callable(target):
        return target
    raise SinkError(f"cannot replay into a {type(target).__name__}: give an object with a publish "
                    f"method or a callable(name, event, source)")


class StdoutSink:
    """Writes each event as one JSON line: {"event_name", "source", "event_data"}, and
    "headers" for an event replayed with headers."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout

    def publish(self, event_name: str, event: Any = None, source: str = "",
                headers: Mapping[str, str] | None = None) -> None:
        if hasattr(event, "model_dump"):
            event = event.model_dump(mode="json")
        line: dict[str, Any] = {"event_name": event_name, "source": source, "event_data": to_json_mode(event)}
        if headers:
            line["headers"] = dict(headers)
        self.stream.write(encode_json(line).decode("utf-8") + "\n")


def record_json(r: Any) -> bytes:
    """A record as one JSON object: offset, timestamp_ns, monotonic_ns, event_name, source,
    event_data (a raw record's stored JSON as is), and headers when the event has some."""
    raw = isinstance(r, RawRecord)
    data = r.data if raw else encode_json(to_json_mode(r.data))
    headers = r.headers if raw else encode_headers(r.headers)
    head = encode_json({"offset": r.offset, "timestamp_ns": r.timestamp, "monotonic_ns": r.monotonic,
                        "event_name": r.name, "source": r.source})
    return head[:-1] + b',"event_data":' + data + (b',"headers":' + headers if headers else b"") + b"}"


class JsonLinesSink:
    """One JSON line per record on a binary stream, buffered; flushed whenever the replay waits."""

    def __init__(self, stream: BinaryIO, encode: Callable[[Any], bytes] = record_json, buffer: int = 1024) -> None:
        self.stream = stream
        self.encode = encode
        self.buffer = buffer
        self._buf: list[bytes] = []

    def send(self, record: Any) -> None:
        self._buf.append(self.encode(record))
        if len(self._buf) >= self.buffer:
            self.idle()

    def idle(self, wait_ns: int = 0) -> None:
        if self._buf:
            self._buf.append(b"")
            self.stream.write(b"\n".join(self._buf))
            self._buf.clear()
        self.stream.flush()

    def close(self) -> None:
        self.idle()


class HttpSink:
    """POSTs records as JSON to `url`: one object per request (`batch=1`), or arrays of up to
    `batch` events, a batch leaving earlier when its oldest event has waited `max_delay` seconds
    (checked at each event and before each wait of the replay; 0: whenever the replay waits).

    A request that fails with a connection error, a timeout, a 5xx or 429 is retried `retries`
    times, waiting `backoff` seconds then twice as long each time; a 4xx is not retried.
    `on_failure="report"` counts what could not be delivered (`failed`, `failures`: the first
    errors with their offsets; `report()`) and goes on; "raise" raises `DeliveryError`.
    `now`: the clock batch ages are measured on (ns), the replay's when it is a virtual one.
    """

    def __init__(self, url: str, *, batch: int = 1, max_delay: float = 1.0, retries: int = 3,
                 backoff: float = 0.2, timeout: float = 10.0, headers: dict[str, str] | None = None,
                 encode: Callable[[Any], bytes] = record_json, on_failure: str = "report",
                 max_failures: int = MAX_FAILURES_KEPT, opener: Callable[..., Any] | None = None,
                 now: Callable[[], int] = time.monotonic_ns) -> None:
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise SinkConfigError(f"an HTTP sink needs an http:// or https:// URL, not {url!r}")
        if not isinstance(batch, int) or batch < 1 or retries < 0 or max_delay < 0 or timeout <= 0:
            raise SinkConfigError("HTTP sink: batch must be >= 1, retries and max_delay >= 0, timeout > 0")
        if on_failure not in ("report", "raise"):
            raise SinkConfigError(f"on_failure must be 'report' or 'raise', not {on_failure!r}")
        self.url, self.batch, self.max_delay = url, batch, max_delay
        self.retries, self.backoff, self.timeout = retries, backoff, timeout
        self.headers = {"Content-Type": "application/json", **(headers or {})}
        self.encode = encode
        self.raise_on_failure = on_failure == "raise"
        self.max_failures = max_failures
        self._now = now                  # ns; give the replay's clock's `now` with a virtual clock
        self._max_delay_ns = int(max_delay * 1e9)
        self._open = opener or urllib.request.urlopen
        self._buf: list[bytes] = []
        self._first_offset: int | None = None
        self._since = 0
        self.sent = 0         # events delivered
        self.requests = 0     # successful requests
        self.retried = 0      # retries made
        self.failed = 0       # events not delivered
        self.failures: list[dict] = []   # the first max_failures: {"offset", "events", "error"}

    def send(self, record: Any) -> None:
        self.send_bytes(self.encode(record), record.offset)

    def send_bytes(self, body: bytes, offset: int) -> None:
        """Queue one already encoded event (a JSON object)."""
        if not self._buf:
            self._first_offset, self._since = offset, self._now()
        self._buf.append(body)
        if len(self._buf) >= self.batch or (self.max_delay and self._now() - self._since >= self._max_delay_ns):
            self.flush()

    def idle(self, wait_ns: int = 0) -> None:
        """The replay will wait `wait_ns`: post the batch if it would wait past `max_delay`."""
        if self._buf and self._now() - self._since + wait_ns >= self._max_delay_ns:
            self.flush()

    def close(self) -> None:
        self.flush()

    def flush(self) -> None:
        if not self._buf:
            return
        body = self._buf[0] if self.batch == 1 else b"[" + b",".join(self._buf) + b"]"
        count, offset = len(self._buf), self._first_offset
        self._buf = []
        error = self._post(body)
        if error is None:
            self.requests += 1
            self.sent += count
            return
        self.failed += count
        if len(self.failures) < self.max_failures:
            self.failures.append({"offset": offset, "events": count, "error": error})
        if self.raise_on_failure:
            raise DeliveryError(error)

    def _post(self, body: bytes) -> str | None:
        """None when delivered, else the one-line reason."""
        delay = self.backoff
        for attempt in range(self.retries + 1):
            try:
                req = urllib.request.Request(self.url, data=body, headers=self.headers, method="POST")
                with self._open(req, timeout=self.timeout) as resp:
                    resp.read()
                return None
            except urllib.error.HTTPError as exc:
                if exc.code < 500 and exc.code != 429:
                    return f"{self.url} refused the events: HTTP {exc.code} {exc.reason}"
                error = f"HTTP {exc.code} {exc.reason}"
            except (urllib.error.URLError, OSError, ValueError) as exc:
                error = str(getattr(exc, "reason", exc)).splitlines()[0] if str(exc) else type(exc).__name__
            if attempt < self.retries:
                self.retried += 1
                time.sleep(delay)
                delay *= 2
        return f"could not POST to {self.url} after {self.retries + 1} attempts: {error}"

    def report(self) -> dict:
        return {"url": self.url, "sent": self.sent, "failed": self.failed, "requests": self.requests,
                "retried": self.retried, "failures": list(self.failures)}
