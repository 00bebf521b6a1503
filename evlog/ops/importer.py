"""`import`: make an evlog recording from the original tool's JSON file, a JSON Lines file
(the lines `export --format jsonl` writes, or any lines with an `event_name`) or CloudEvents
JSON Lines (structured mode, as `export --format cloudevents` writes them)."""
from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from typing import IO, Any

import msgspec

from ..chunks import chunked
from ..legacy import looks_like_legacy
from ..segments import EncodedRows, EvlogError, Log, encode_headers
from ..segments.codec import encode_json
from .common import OpError, Progress, open_input, progress_or_noop
from .output import check_new_recording, creating
from .cloudevents import parse_cloudevent
from .jsonl import ParsedEvent, Stamper, append_parsed, parse_event

_decode = msgspec.json.decode
_TICK = 4096


FORMATS = ("auto", "json", "jsonl", "cloudevents")
_LINE_PARSERS: dict[str, Callable[[Any, str], ParsedEvent]] = {"jsonl": parse_event, "cloudevents": parse_cloudevent}


def import_recording(src: str | os.PathLike, out: str | os.PathLike | None = None, *,
                     session_name: str | None = None, progress: Progress | None = None,
                     format: str = "auto") -> str:
    """Import `src` into a new evlog recording; returns its path (default: `src` without its
    extension). `format`: "json" (the original tool's), "jsonl", "cloudevents" (JSON Lines
    of CloudEvents), or "auto" (the default): told by the first line."""
    if format not in FORMATS:
        raise OpError(f"unknown import format {format!r} (choose from {', '.join(FORMATS)})")
    src = os.fspath(src)
    if not os.path.exists(src):
        raise OpError(f"no such file: {src}")
    if os.path.isdir(src):
        raise OpError(f"{src} is a directory; import reads a .json or .jsonl file")
    out = check_new_recording(out if out is not None else os.path.splitext(src)[0])
    tick = progress_or_noop(progress)
    if format == "auto":
        format = _sniff(src)
    if format in _LINE_PARSERS:
        with open(src, "rb") as f, creating(out):
            name = session_name or os.path.splitext(os.path.basename(src))[0]
            write_lines(f, out, name, tick, where=src, parse=_LINE_PARSERS[format])
        return out
    if not looks_like_legacy(src):
        raise OpError(f"{src} is neither a JSON recording of the original format nor JSON Lines")
    with open_input(src) as rec, creating(out):
        name = session_name or rec.session_name
        metadata = {"imported_from": os.path.basename(src), **dict(rec.metadata or {})}
        with Log.create(out, name, start_time_ns=rec.start_time_ns, metadata=metadata) as log:
            for batch in chunked(rec.read(), _TICK):
                headers = [encode_headers(r.headers) for r in batch]
                log.append_rows(EncodedRows([r.name for r in batch], [r.source for r in batch], [0] * len(batch),
                                            [encode_json(r.data) for r in batch], [b""] * len(batch),
                                            headers if any(headers) else None,
                                            [r.timestamp for r in batch], [r.monotonic for r in batch]))
                tick(len(batch))
    return out


def _sniff(path: str) -> str:
    """The format of an input told by its first non-blank line: a complete JSON object on its
    own is JSON Lines ("cloudevents" when it has a `specversion`), anything else "json"."""
    with open(path, "rb") as f:
        for line in f:
            if line.strip():
                try:
                    obj = _decode(line)
                except msgspec.DecodeError:
                    return "json"
                if isinstance(obj, dict) and "specversion" in obj and "events" not in obj:
                    return "cloudevents"
                if isinstance(obj, dict) and ("event_name" in obj or "name" in obj) and "events" not in obj:
                    return "jsonl"
                return "json"
    return "jsonl"  # an empty file: zero events


def iter_lines(f: IO[bytes], where: str,
               parse: Callable[[Any, str], ParsedEvent] = parse_event) -> Iterator[tuple[ParsedEvent, str]]:
    """The parsed events of a JSON Lines stream, each with where it was read ("FILE, line N")."""
    for lineno, line in enumerate(f, 1):
        if not line.strip():
            continue
        at = f"{where}, line {lineno}"
        try:
            obj: Any = _decode(line)
        except msgspec.DecodeError as exc:
            raise OpError(f"{at}: invalid JSON ({exc})") from None
        yield parse(obj, at), at


def write_lines(f: IO[bytes], out: str, session_name: str, tick: Progress, *, where: str,
                parse: Callable[[Any, str], ParsedEvent] = parse_event) -> int:
    """Append the events of a JSON Lines stream (read with `parse`: `parse_event`, or
    `parse_cloudevent` for CloudEvents) to a new recording; returns the count."""
    return write_parsed(iter_lines(f, where, parse), out, session_name, tick)


def write_parsed(events: Iterator[tuple[ParsedEvent, str]], out: str, session_name: str, tick: Progress) -> int:
    """Make the recording `out` from parsed events (each with where it was read), in batches;
    the recording starts at the first event's time. An event the log refuses is an error
    naming where it was read. Returns the count."""
    first = next(events, None)
    stamper = Stamper()
    start = stamper.first_start(first[0], time.time_ns()) if first is not None else time.time_ns()
    stamper.start_time_ns = start
    with Log.create(out, session_name, start_time_ns=start) as log:
        if first is None:
            return 0
        count = 0
        for batch in chunked(_chain(first, events), _TICK):
            stamped = [(ev, *stamper.stamp(ev, time.time_ns())) for ev, _at in batch]
            try:
                append_parsed(log, stamped)
            except EvlogError:   # checked before anything is appended: find the line to name
                for (_ev, at), row in zip(batch, stamped):
                    try:
                        append_parsed(log, [row])
                    except EvlogError as exc:
                        raise OpError(f"{at}: {exc}") from None
                raise
            count += len(batch)
            tick(len(batch))
        return count


def _chain(first: Any, rest: Iterator[Any]) -> Iterator[Any]:
    yield first
    yield from rest
