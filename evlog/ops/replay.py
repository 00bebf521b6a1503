"""`replay`: send the events of a recording to a sink at the recorded pace (or faster), run by
the shared scheduler (`evlog.replay.run_replay`, record-level mode) into the shared sinks.

Scheduling is drift-free: the first event goes at once, event k is due at
`t0 + (monotonic_k - monotonic_first) / speed` on the monotonic clock. `speed=math.inf` sends
as fast as the sink takes them. Records reach the sinks undecoded (the stored JSON), as the
JSON Lines of `evlog export`: `JsonLinesSink` (a binary stream, e.g. stdout) and `HttpSink`
(POST per event or batched, with retries and back-off; a failure ends the replay).
"""
from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, BinaryIO, Protocol

from ..replay import sinks
from ..replay.clock import Clock
from ..replay.control import ReplayControl
from ..replay.harness import HarnessOptions
from ..replay.facade import ReplayOptions, play
from ..replay.options import ReplayError
from ..replay.scheduler import ReplayResult
from ..segments import RawRecord, encode_headers
from ..segments.codec import encode_json
from .common import OpError, Selection, open_input
from .jsonl import LineEncoder


class Sink(Protocol):
    def send(self, record: Any) -> None: ...
    def idle(self, wait_ns: int = 0) -> None: ...   # the replay is about to wait: flush
    def close(self) -> None: ...


def line_encoder() -> Callable[[Any], bytes]:
    """`encode(record)` giving the JSON object of `evlog export --jsonl` (raw records: stored JSON)."""
    line = LineEncoder().line

    def encode(r: Any) -> bytes:
        if isinstance(r, RawRecord):
            return line(r.offset, r.timestamp, r.monotonic, r.name, r.source, r.data, r.flags, r.types,
                        r.headers)[:-1]
        return line(r.offset, r.timestamp, r.monotonic, r.name, r.source, encode_json(r.data), r.flags,
                    b"", encode_headers(r.headers))[:-1]
    return encode


class JsonLinesSink(sinks.JsonLinesSink):
    """One JSON line per event on a binary stream; flushed whenever the replay waits."""

    def __init__(self, stream: BinaryIO) -> None:
        super().__init__(stream, line_encoder())


class HttpSink(sinks.HttpSink):
    """POSTs events to `url` as JSON: one object per request, or arrays of up to `batch`
    events (sent when full or when the replay waits). A failed request (connection error, 5xx,
    429) is retried `retries` times with exponential back-off from `backoff` seconds; other 4xx
    and exhausted retries raise `DeliveryError`."""

    def __init__(self, url: str, *, batch: int = 1, retries: int = 3, backoff: float = 0.2,
                 timeout: float = 10.0, headers: dict[str, str] | None = None,
                 opener: Callable[..., Any] | None = None) -> None:
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise OpError(f"--to-url needs an http:// or https:// URL, not {url!r}")
        super().__init__(url, batch=max(1, batch), max_delay=0, retries=retries, backoff=backoff,
                         timeout=timeout, headers=headers, encode=line_encoder(), on_failure="raise",
                         opener=opener)


class _Delivering:
    """`sink` with `send` counting and checking for a stop (the record sink `play` is given)."""

    def __init__(self, send: Callable[[Any], None], sink: Sink) -> None:
        self.send = send
        self.idle = sink.idle


def replay(path: str | os.PathLike, sink: Sink, *, speed: float | str = 1.0, selection: Selection | None = None,
           loop: bool = False, on_event: Callable[[int, Any], None] | None = None,
           stop: Callable[[], bool] | None = None, clock: Clock | None = None,
           harness: HarnessOptions | None = None,
           on_result: Callable[[ReplayResult], Any] | None = None) -> int:
    """Replay the selected events of `path` into `sink`; returns the number sent.

    `speed`: 1.0 real time, 10 ten times faster, math.inf or "max" as fast as possible
    (`evlog.replay.parse_speed`). `loop`: start
    again at the end (until `stop()` says so or the process is interrupted). `on_event(n,
    record)` is called after each event (progress). `clock`: an injected clock (tests:
    `evlog.replay.VirtualClock`). A sink's error ends the replay and is raised.
    `harness`: lock-step, faults, upcasting (`HarnessOptions`; under lock-step each `send`
    must deliver before it returns: an HttpSink of batch 1). `on_result(result)` gets the
    scheduler's `ReplayResult` (e.g. its `faults`) when the replay ends.
    """
    try:
        options = ReplayOptions(speed=speed, selection=selection or Selection(), anchor="first", markers=True,
                                raw=True, loop=loop, stop_on_error=True, clock=clock, harness=harness)
    except ReplayError as exc:   # an operation's bad option is an OpError
        raise OpError(str(exc)) from None
    control = ReplayControl() if stop is not None else None
    sent = 0
    failure: list[BaseException] = []

    def deliver(r: Any) -> None:
        nonlocal sent
        try:
            sink.send(r)
        except Exception as exc:
            failure.append(exc)
            raise
        sent += 1
        if on_event is not None:
            on_event(sent, r)
        if control is not None and stop():  # type: ignore[misc]
            control.stop()

    try:
        if stop is not None and stop():
            return 0
        with open_input(path) as rec:
            result = play(rec, _Delivering(deliver, sink), options, control=control)
        if on_result is not None:
            on_result(result)
        if failure:
            raise failure[0]
        return sent
    finally:
        sink.close()
