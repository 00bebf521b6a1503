"""`export`: a recording (or a selection of it) as the original JSON format, JSON Lines,
CSV, Parquet or CloudEvents JSON Lines, streamed (never more than a block of events in memory)."""
from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any, BinaryIO

from ..recording import INDEX
from .common import (
    OpError,
    Progress,
    Selection,
    iso,
    open_input,
    progress_or_noop,
    raw_records,
    redacted,
)
from .cloudevents import CloudEventEncoder
from .jsonl import LineEncoder
from .legacy_json import write_legacy
from .output import open_output
from .tabular import Row, flat_columns, write_csv, write_parquet

FORMATS = ("json", "jsonl", "csv", "parquet", "cloudevents")


def export(path: str | os.PathLike, out: str | os.PathLike | BinaryIO | None = None, *,
           format: str = "jsonl", selection: Selection | None = None, event_name: str | None = None,
           progress: Progress | None = None, redact: Any = None) -> int:
    """Write the selected events of `path` to `out` (a file path, a binary stream, or None
    for stdout) in `format`; returns the number of events written.

    `event_name` (CSV): keep only that event name and flatten its data into dotted columns;
    without it, a recording holding a single event name is flattened too, others get one
    JSON `data` column. `redact`: a redaction policy (evlog.redact) applied to every event
    written (and tested by the filter after it).
    """
    if format not in FORMATS:
        raise OpError(f"unknown export format {format!r} (choose from {', '.join(FORMATS)})")
    tick = progress_or_noop(progress)
    with open_input(path) as opened:
        rec = redacted(opened, redact)
        if format == "csv" and event_name is None and (selection is None or selection.filter is None):
            names = list(rec.summary().names) if INDEX in rec.capabilities else []   # no pass over a file
            if len(names) == 1:
                event_name = names[0]
        if event_name is not None and format in ("csv", "parquet"):
            selection = _with_name(selection, event_name)
        with open_output(out) as f:
            if format == "jsonl":
                return _lines(LineEncoder().lines(raw_records(rec, selection)), f, tick)
            if format == "cloudevents":
                encoder = CloudEventEncoder(rec.session_name, rec.start_time_ns)
                return _lines(encoder.lines(raw_records(rec, selection)), f, tick)
            if format == "json":
                return _legacy(rec, f, selection, tick)
            if format == "csv" and event_name is not None:
                columns, headers = flat_columns(_rows(rec, selection, None))
                return write_csv(f, _rows(rec, selection, tick), columns, headers)
            headers = _any_headers(rec, selection)
            if format == "csv":
                return write_csv(f, _rows(rec, selection, tick), None, headers)
            return write_parquet(f, _rows(rec, selection, tick), headers)


def _with_name(selection: Selection | None, name: str) -> Selection:
    text = f"name == {_quote(name)}"
    if selection is not None and selection.filter is not None:
        text = f"({selection.filter}) and {text}"
    base = selection or Selection()
    return Selection(text, base.start, base.end, base.offsets)


def _quote(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


_TICK = 4096


def _any_headers(rec: Any, selection: Selection | None) -> bool:
    """Whether some selected event has headers (a table then gets a `headers` column): the
    recording's header columns are scanned up to the first event with headers (cheap: no data
    decoded), then for a selection its events up to the first selected one with headers."""
    if not rec.any_headers():
        return False
    if selection is None or selection.empty:
        return True
    return any(r.headers for r in raw_records(rec, selection))


def _rows(rec: Any, selection: Selection | None, tick: Progress | None) -> Iterator[Row]:
    n = 0
    for r in raw_records(rec, selection):
        yield r.offset, r.timestamp, r.name, r.source, r.data, r.headers
        n += 1
        if tick is not None and n == _TICK:
            tick(n)
            n = 0
    if tick is not None and n:
        tick(n)


def _lines(lines: Iterator[bytes], f: BinaryIO, tick: Progress) -> int:
    """Write `lines` in runs of _TICK; returns how many."""
    buf: list[bytes] = []
    count = 0
    write = f.write
    for line in lines:
        buf.append(line)
        if len(buf) == _TICK:
            write(b"".join(buf))
            buf.clear()
            count += _TICK
            tick(_TICK)
    if buf:
        write(b"".join(buf))
        count += len(buf)
        tick(len(buf))
    return count


def _legacy(rec: Any, f: BinaryIO, selection: Selection | None, tick: Progress) -> int:
    duration = total = None
    if (selection is None or selection.empty) and INDEX in rec.capabilities:
        s = rec.summary()
        duration, total = round(rec.duration_ms, 6), s.count

    def events() -> Iterator[tuple[int, str, str, bytes, bytes]]:
        n = 0
        for _o, _t, mono, name, source, data, _f, _ty, headers in raw_records(rec, selection):
            yield mono, name, source, data, headers
            n += 1
            if n == _TICK:
                tick(n)
                n = 0
        tick(n)
    count, _ = write_legacy(f, rec.session_name, iso(rec.start_time_ns), events(),
                            duration_ms=duration, total_events=total)
    return count
