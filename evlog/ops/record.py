"""`record`: make a recording from JSON Lines read from a stream (standard input), one event
a line (`{"event_name", "event_data", "source", optional "timestamp"}`, see evlog.ops.jsonl),
flushing as it goes, until the end of the stream (or an interruption)."""
from __future__ import annotations

import datetime as _dt
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, Any

import msgspec

from ..log import Log
from .common import OpError
from .output import check_new_recording
from .jsonl import Stamper, append_parsed, parse_event

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
    if on_error not in ("skip", "fail"):
        raise OpError(f"on_error must be 'skip' or 'fail', not {on_error!r}")
    path = check_new_recording(path)
    name = session_name or os.path.basename(os.path.abspath(path))
    result = RecordResult(path)
    stamper = Stamper(time.time_ns())
    log = Log.create(path, name, start_time_ns=stamper.start_time_ns, fsync="always", redact=redact)
    try:
        last_flush = time.monotonic()
        lineno = 0
        try:
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
