"""`replay`: send the events of a recording to a sink at the recorded pace (or faster).

Scheduling is drift-free: event k is due at `t0 + (monotonic_k - monotonic_first) / speed`
on the monotonic clock, computed from the start, so per-event overheads never accumulate.
`speed=math.inf` sends as fast as the sink takes them.

Sinks receive `(record, data_json_bytes)`: `JsonLinesSink` (a binary stream, e.g. stdout) and
`HttpSink` (POST per event or batched, with retries and back-off).
"""
from __future__ import annotations

import math
import os
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any, BinaryIO, Protocol

from .common import OpError, Selection, json_records, open_input
from .jsonl import LineEncoder


class Sink(Protocol):
    def send(self, record: Any, data: bytes) -> None: ...
    def idle(self) -> None: ...      # nothing is due right now: flush what is buffered
    def close(self) -> None: ...


class JsonLinesSink:
    """One JSON line per event on a binary stream; flushed whenever the replay waits."""

    def __init__(self, stream: BinaryIO) -> None:
        self.stream = stream
        self._enc = LineEncoder()
        self._buf: list[bytes] = []

    def send(self, r: Any, data: bytes) -> None:
        self._buf.append(self._enc.line(r.offset, r.timestamp, r.monotonic, r.name, r.source, data,
                                        r.flags, getattr(r, "types", b"")))
        if len(self._buf) >= 1024:
            self.idle()

    def idle(self) -> None:
        if self._buf:
            self.stream.write(b"".join(self._buf))
            self._buf.clear()
        self.stream.flush()

    def close(self) -> None:
        self.idle()


class HttpSink:
    """POSTs events to `url` as JSON: one object per request, or arrays of up to `batch`
    events. A failed request (connection error, 5xx, 429) is retried `retries` times with
    exponential back-off from `backoff` seconds; other 4xx and exhausted retries raise OpError."""

    def __init__(self, url: str, *, batch: int = 1, retries: int = 3, backoff: float = 0.2,
                 timeout: float = 10.0, headers: dict[str, str] | None = None,
                 opener: Callable[..., Any] | None = None) -> None:
        if not url.startswith(("http://", "https://")):
            raise OpError(f"--to-url needs an http:// or https:// URL, not {url!r}")
        self.url, self.batch, self.retries, self.backoff, self.timeout = url, max(1, batch), retries, backoff, timeout
        self.headers = {"Content-Type": "application/json", **(headers or {})}
        self._open = opener or urllib.request.urlopen
        self._enc = LineEncoder()
        self._buf: list[bytes] = []
        self.sent = 0
        self.requests = 0
        self.retried = 0

    def send(self, r: Any, data: bytes) -> None:
        self._buf.append(self._enc.line(r.offset, r.timestamp, r.monotonic, r.name, r.source, data,
                                        r.flags, getattr(r, "types", b"")).rstrip(b"\n"))
        if len(self._buf) >= self.batch:
            self._post()

    def idle(self) -> None:
        if self._buf:
            self._post()

    def close(self) -> None:
        self.idle()

    def _post(self) -> None:
        body = self._buf[0] if self.batch == 1 else b"[" + b",".join(self._buf) + b"]"
        count = len(self._buf)
        self._buf = []
        delay = self.backoff
        for attempt in range(self.retries + 1):
            try:
                req = urllib.request.Request(self.url, data=body, headers=self.headers, method="POST")
                with self._open(req, timeout=self.timeout) as resp:
                    resp.read()
                self.requests += 1
                self.sent += count
                return
            except urllib.error.HTTPError as exc:
                if exc.code < 500 and exc.code != 429:
                    raise OpError(f"{self.url} refused the events: HTTP {exc.code} {exc.reason}") from None
                error = f"HTTP {exc.code} {exc.reason}"
            except (urllib.error.URLError, OSError) as exc:
                error = str(getattr(exc, "reason", exc))
            if attempt < self.retries:
                self.retried += 1
                time.sleep(delay)
                delay *= 2
        raise OpError(f"could not POST to {self.url} after {self.retries + 1} attempts: {error}")


def replay(path: str | os.PathLike, sink: Sink, *, speed: float = 1.0, selection: Selection | None = None,
           loop: bool = False, on_event: Callable[[int, Any], None] | None = None,
           stop: Callable[[], bool] | None = None, clock: Callable[[], float] = time.monotonic,
           sleep: Callable[[float], None] = time.sleep) -> int:
    """Replay the selected events of `path` into `sink`; returns the number sent.

    `speed`: 1.0 real time, 10 ten times faster, math.inf as fast as possible. `loop`: start
    again at the end (until `stop()` says so or the process is interrupted). `on_event(n,
    record)` is called after each event (progress).
    """
    if not (speed > 0):
        raise OpError(f"speed must be positive, not {speed}")
    sent = 0
    try:
        while True:
            n_pass = 0
            with open_input(path) as rec:
                t0 = clock()
                first_mono: int | None = None
                for r, data in json_records(rec, selection):
                    if stop is not None and stop():
                        return sent
                    if first_mono is None:
                        first_mono = r.monotonic
                    if not math.isinf(speed):
                        due = t0 + (r.monotonic - first_mono) / 1e9 / speed
                        wait = due - clock()
                        if wait > 0:
                            sink.idle()
                            sleep(wait)
                    sink.send(r, data)
                    sent += 1
                    n_pass += 1
                    if on_event is not None:
                        on_event(sent, r)
            if not loop or n_pass == 0 or (stop is not None and stop()):
                return sent
    finally:
        sink.close()
