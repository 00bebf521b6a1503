"""`import`: make an evlog recording from the original tool's JSON file or a JSON Lines file
(the lines `export --format jsonl` writes, or any lines with an `event_name`)."""
from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import IO, Any

import msgspec

from ..legacy import looks_like_legacy
from ..segments import Log
from ..segments.codec import encode_json
from .common import OpError, Progress, open_input, progress_or_noop
from .output import check_new_recording, creating
from .jsonl import ParsedEvent, Stamper, parse_event

_decode = msgspec.json.decode
_TICK = 4096


def import_recording(src: str | os.PathLike, out: str | os.PathLike | None = None, *,
                     session_name: str | None = None, progress: Progress | None = None) -> str:
    """Import `src` (original JSON or JSON Lines) into a new evlog recording; returns its path
    (default: `src` without its extension)."""
    src = os.fspath(src)
    if not os.path.exists(src):
        raise OpError(f"no such file: {src}")
    if os.path.isdir(src):
        raise OpError(f"{src} is a directory; import reads a .json or .jsonl file")
    out = check_new_recording(out if out is not None else os.path.splitext(src)[0])
    tick = progress_or_noop(progress)
    if _is_jsonl(src):
        with open(src, "rb") as f, creating(out):
            name = session_name or os.path.splitext(os.path.basename(src))[0]
            write_lines(f, out, name, tick, where=src)
        return out
    if not looks_like_legacy(src):
        raise OpError(f"{src} is neither a JSON recording of the original format nor JSON Lines")
    with open_input(src) as rec, creating(out):
        name = session_name or rec.session_name
        metadata = {"imported_from": os.path.basename(src), **dict(rec.metadata or {})}
        with Log.create(out, name, start_time_ns=rec.start_time_ns, metadata=metadata) as log:
            n = 0
            for r in rec.read():
                log.append_encoded(r.name, r.source, 0, encode_json(r.data), b"",
                                   timestamp=r.timestamp, monotonic=r.monotonic)
                n += 1
                if n == _TICK:
                    tick(n)
                    n = 0
            tick(n)
    return out


def _is_jsonl(path: str) -> bool:
    """JSON Lines: the first non-blank line is a complete JSON object on its own."""
    with open(path, "rb") as f:
        for line in f:
            if line.strip():
                try:
                    obj = _decode(line)
                except msgspec.DecodeError:
                    return False
                return isinstance(obj, dict) and ("event_name" in obj or "name" in obj) and "events" not in obj
    return True  # an empty file: zero events


def iter_lines(f: IO[bytes], where: str) -> Iterator[ParsedEvent]:
    for lineno, line in enumerate(f, 1):
        if not line.strip():
            continue
        try:
            obj: Any = _decode(line)
        except msgspec.DecodeError as exc:
            raise OpError(f"{where}, line {lineno}: invalid JSON ({exc})") from None
        yield parse_event(obj, f"{where}, line {lineno}")


def write_lines(f: IO[bytes], out: str, session_name: str, tick: Progress, *, where: str) -> int:
    """Append the events of a JSON Lines stream to a new recording; returns the count."""
    events = iter_lines(f, where)
    first = next(events, None)
    stamper = Stamper()
    start = stamper.first_start(first, time.time_ns()) if first is not None else time.time_ns()
    stamper.start_time_ns = start
    with Log.create(out, session_name, start_time_ns=start) as log:
        if first is None:
            return 0
        count = 0
        for ev in _chain(first, events):
            ts, mono = stamper.stamp(ev, time.time_ns())
            log.append_encoded(ev.name, ev.source, ev.flags, ev.data, ev.types, timestamp=ts, monotonic=mono)
            count += 1
            if count % _TICK == 0:
                tick(_TICK)
        tick(count % _TICK)
        return count


def _chain(first: ParsedEvent, rest: Iterator[ParsedEvent]) -> Iterator[ParsedEvent]:
    yield first
    yield from rest
