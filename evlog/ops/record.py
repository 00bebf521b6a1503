"""`record`: make a recording from JSON Lines read from a stream (standard input), one event
a line (`{"event_name", "event_data", "source", optional "timestamp"}`, see evlog.ops.jsonl),
flushing as it goes, until the end of the stream (or an interruption).

`record_stream_snapshot` (`evlog record --snapshot 60s`) reads the same lines into a flight
recorder instead (evlog.flight): the last KEEP in memory, a recording written only when a
trigger fires (SIGUSR1, a `trigger_on` filter); at the end of the input the windows being
collected end there, and nothing is written if nothing triggered. `FlightLog` is what the
NATS capture writes to in that mode."""
from __future__ import annotations

import datetime as _dt
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

import msgspec

from ..flight import FlightRecorder
from ..log import Log
from ..segments.manifest import Manifest
from .common import OpError
from .output import check_new_recording
from .jsonl import ParsedEvent, Stamper, append_parsed, parse_event

_decode = msgspec.json.decode


@dataclass
class RecordResult:
    path: str
    events: int = 0
    skipped: int = 0            # lines that were not events (with on_error="skip")
    errors: list[str] = field(default_factory=list)   # the first few of them
    interrupted: bool = False


def default_path(out_dir: str | os.PathLike, name: str) -> str:
    stamp = _dt.datetime.now().strftime("%Y%m%d_%H%M%S")
    base = os.path.join(os.fspath(out_dir), f"{name}_{stamp}")
    path, n = base, 1
    while os.path.exists(path):
        n += 1
        path = f"{base}_{n}"
    return path


def record_stream(stream: IO[bytes], path: str | os.PathLike, *, session_name: str | None = None,
                  on_error: str = "skip", flush_interval: float = 0.2,
                  on_event: Callable[[int], None] | None = None, redact: Any = None) -> RecordResult:
    """Append each JSON line of `stream` to the new recording `path` until EOF.

    Events are flushed (written and fsynced) at least every `flush_interval` seconds while
    lines arrive, and at the end; KeyboardInterrupt stops recording cleanly (the result says
    so). `on_error`: "skip" bad lines (counted, the first 10 messages kept) or "fail".
    Events without a time get the time they were read. `redact`: a redaction policy
    (evlog.redact) applied to every event before it is stored.
    """
    _check_on_error(on_error)
    path = check_new_recording(path)
    name = session_name or os.path.basename(os.path.abspath(path))
    result = RecordResult(path)
    stamper = Stamper(time.time_ns())
    log = Log.create(path, name, start_time_ns=stamper.start_time_ns, fsync="always", redact=redact)
    try:
        last_flush = time.monotonic()
        try:
            for ev in _events(stream, on_error, result):
                ts, mono = stamper.stamp(ev, time.time_ns())
                append_parsed(log, [(ev, ts, mono)])
                result.events += 1
                if on_event is not None:
                    on_event(result.events)
                now = time.monotonic()
                if now - last_flush >= flush_interval:
                    log.flush()
                    last_flush = now
        except KeyboardInterrupt:
            result.interrupted = True
    finally:
        log.close()
    return result


def _check_on_error(on_error: str) -> None:
    if on_error not in ("skip", "fail"):
        raise OpError(f"on_error must be 'skip' or 'fail', not {on_error!r}")


def _events(stream: IO[bytes], on_error: str, result: Any) -> Iterator[ParsedEvent]:
    """The events of the JSON lines of `stream`; bad lines skipped (counted in `result`, the
    first 10 messages kept) or, with on_error="fail", an OpError."""
    lineno = 0
    for line in stream:
        lineno += 1
        if not line.strip():
            continue
        try:
            obj: Any = _decode(line)
            ev = parse_event(obj, f"line {lineno}")
        except (msgspec.DecodeError, OpError) as exc:
            msg = str(exc) if isinstance(exc, OpError) else f"line {lineno}: invalid JSON ({exc})"
            if on_error == "fail":
                raise OpError(msg) from None
            result.skipped += 1
            if len(result.errors) < 10:
                result.errors.append(msg)
            continue
        yield ev


# snapshot mode ----------------------------------------------------------------------------
@dataclass
class SnapshotResult:
    """What `record_stream_snapshot` (or a NATS capture with a snapshot) did."""

    recordings: list[str] = field(default_factory=list)
    events: int = 0
    skipped: int = 0
    errors: list[str] = field(default_factory=list)
    interrupted: bool = False
    triggers: int = 0
    evicted: int = 0

    def lines(self) -> list[str]:
        if not self.recordings:
            return [f"read {self.events} events; no trigger: nothing written"]
        return [f"read {self.events} events; {self.triggers} trigger(s) wrote {len(self.recordings)} recording(s):"] \
            + [f"  {p}" for p in self.recordings]


def flight_recorder(session_name: str, out_dir: str | os.PathLike, keep: Any, after: Any, keep_bytes: Any = "256MiB",
                    trigger_on: str | None = None) -> FlightRecorder:
    """The flight recorder of a snapshot-mode capture (bad options: an EvlogError)."""
    return FlightRecorder(session_name, keep=keep, keep_bytes=keep_bytes, after=after, output_dir=out_dir,
                          trigger_on=trigger_on)


def finish_snapshot(flight: FlightRecorder, result: SnapshotResult, reason: str) -> SnapshotResult:
    """End the windows being collected (`reason`), write them, close the recorder."""
    flight.end_windows(reason)
    flight.close()
    result.recordings = [str(p) for p in flight.recordings]
    info = flight.info()
    result.triggers, result.evicted = info["triggers"], info["evicted"]
    return result


def record_stream_snapshot(stream: IO[bytes], out_dir: str | os.PathLike, *, session_name: str = "stdin",
                           keep: Any = "60s", after: Any = "10s", keep_bytes: Any = "256MiB",
                           trigger_on: str | None = None, on_error: str = "skip",
                           handle_signals: bool = True) -> SnapshotResult:
    """Read the JSON lines of `stream` into a flight recorder (events stamped when read)
    until EOF or KeyboardInterrupt; SIGUSR1 (`handle_signals`, main thread) and `trigger_on`
    write `out_dir/<session>_flight_<time>` recordings. At the end, the windows being
    collected end; nothing is written when nothing triggered."""
    _check_on_error(on_error)
    flight = flight_recorder(session_name, out_dir, keep, after, keep_bytes, trigger_on)
    result = SnapshotResult()
    flight.start_recording(None)
    try:
        if handle_signals:
            flight.install_signal_handler()
        try:
            for ev in _events(stream, on_error, result):
                flight.record_encoded(ev.name, ev.source, ev.flags, ev.data, ev.types, ev.headers)
                result.events += 1
        except KeyboardInterrupt:
            result.interrupted = True
    finally:
        finish_snapshot(flight, result, "interrupted" if result.interrupted else "end of input")
    return result


class FlightLog:
    """The part of `Log` a NATS capture writes to, feeding a flight recorder's ring instead:
    an event is "durable" once it is in the ring (in memory)."""

    def __init__(self, flight: FlightRecorder) -> None:
        self.flight = flight
        self.path = str(flight.output_dir)
        self.manifest = Manifest(session_name=flight.session_name, start_time_ns=time.time_ns())
        self.session_name = flight.session_name
        self._count = 0
        flight.start_recording(None)

    @property
    def end_offset(self) -> int:
        return self._count

    durable_offset = end_offset

    def append_encoded(self, name: str, source: str, flags: int, data: bytes, types: bytes = b"",
                       timestamp: int | None = None, monotonic: int | None = None, *, validate: bool = True,
                       headers: bytes = b"") -> int:
        self.flight.record_encoded(name, source, flags, data, types, headers)
        self._count += 1
        return self._count - 1

    def append(self, name: str, data: Any = None, source: str = "", timestamp: int | None = None,
               monotonic: int | None = None, *, headers: Any = None) -> int:
        self.flight.record(name, data, source, headers)
        self._count += 1
        return self._count - 1

    def flush(self, sync: bool = True) -> int:
        self.flight.flush()
        return self._count

    def roll(self) -> None:
        """No segments in memory: nothing to roll."""

    def set_metadata(self, **values: Any) -> None:
        self.manifest.metadata.update(values)

    def close(self) -> None:
        """The capture's end: `finish_snapshot` ends the windows and closes the recorder."""


__all__ = ["RecordResult", "record_stream", "SnapshotResult", "record_stream_snapshot", "FlightLog",
           "flight_recorder", "finish_snapshot", "default_path"]
