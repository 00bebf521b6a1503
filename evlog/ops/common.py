"""Helpers shared by the log operations: selecting records, JSON forms, times.

Every operation opens its inputs with `open_recording` (evlog recordings and the original
tool's JSON files alike) and reads them as a stream through `select`.
"""
from __future__ import annotations

import datetime as _dt
import os
from collections.abc import Callable, Iterator
from typing import Any

from ..recording import RAW, Query, open_recording, raw_where  # noqa: F401 - raw_where: shared
from ..selection import Selection
from ..segments import EvlogError, RawRecord
from ..segments.errors import RecordingNotFoundError

_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)

Progress = Callable[[int], None]
"""A progress callback: called with the number of events processed since the last call."""


class OpError(EvlogError):
    """A log operation that cannot be done as asked (bad option, bad input)."""


def _noop(_n: int) -> None:
    pass


def parse_offsets(text: str) -> tuple[int | None, int | None]:
    """`A:B` (B exclusive), `A:` or `:B` -> (first, end)."""
    first, sep, end = text.partition(":")
    if not sep:
        raise OpError(f"bad offset range {text!r}: expected A:B, A: or :B")
    try:
        a = int(first) if first.strip() else None
        b = int(end) if end.strip() else None
    except ValueError:
        raise OpError(f"bad offset range {text!r}: offsets are whole numbers") from None
    if (a is not None and a < 0) or (b is not None and b < 0):
        raise OpError(f"bad offset range {text!r}: offsets are not negative")
    return a, b


def select(recording: Any, selection: Selection | None = None, *, raw: bool = False,
           **extra: Any) -> Iterator[Any]:
    """Stream the selected records of an open recording (`raw`: as `RawRecord`s); `extra`:
    more `Query` arguments (e.g. `reverse=True`)."""
    query = (selection or Selection()).query(recording.start_time_ns, raw)
    return recording.read(query, **extra)


def supports_raw(recording: Any) -> bool:
    """Whether raw reads of `recording` are its stored bytes (not encoded on the fly)."""
    return RAW in recording.capabilities


def raw_records(recording: Any, selection: Selection | None = None, **extra: Any) -> Iterator[RawRecord]:
    """The selected records as raw records (data, type map and headers as stored bytes), whatever
    the format: an evlog recording's as read, without decoding; the original format's encoded
    from their decoded (plain JSON) values by the recording."""
    return select(recording, selection, raw=True, **extra)


def redacted(recording: Any, redact: Any) -> Any:
    """`recording` read through the redaction policy `redact` (evlog.redact: a policy, a
    Redactor or a policy file), or itself when None: what every operation with a `redact=`
    option reads, raw copies included (they then decode, redact and encode again)."""
    if redact is None:
        return recording
    from ..redact import as_redactor
    return as_redactor(redact).recording(recording)


def redaction_metadata(redact: Any) -> dict:
    """`{"redaction": {...}}` for the metadata of a recording written through `redact`."""
    if redact is None:
        return {}
    from ..redact import as_redactor
    return {"redaction": as_redactor(redact).metadata()}


def json_records(recording: Any, selection: Selection | None = None,
                 **extra: Any) -> Iterator[tuple[Any, bytes]]:
    """(record, JSON bytes of its data) for each selected record (`raw_records`)."""
    for r in raw_records(recording, selection, **extra):
        yield r, r.data


def iso(ns: int) -> str:
    """ISO-8601 UTC text of a wall-clock time in ns (microsecond precision)."""
    return (_EPOCH + _dt.timedelta(microseconds=ns // 1000)).isoformat()


def total_events(recording: Any) -> int | None:
    """The event count when it is cheap to know (an index: evlog's), else None."""
    return recording.indexed_count()


def selected_count(recording: Any, selection: Selection | None = None) -> int | None:
    """How many events `selection` selects, when the index says it without reading events
    (evlog recordings: everything, a name or a source filter from the counts per name and
    source, an offset range), else None (a data filter, a time range, the original format)."""
    if selection is None or selection.empty:
        return recording.indexed_count()
    if selection.start is not None or selection.end is not None:
        return None
    return recording.indexed_count(selection.query(recording.start_time_ns))


class InputError(OpError):
    """An input of an operation cannot be read (the message names the input)."""


def _naming(path: str, exc: BaseException) -> InputError:
    text = " ".join((str(exc) or type(exc).__name__).split())
    return InputError(text if path in text else f"{path}: {text}")


def open_input(path: str | os.PathLike) -> Any:
    """Open a recording of either format, read-only (a context manager); an error names the input."""
    path = os.fspath(path)
    try:
        return open_recording(path)
    except RecordingNotFoundError:
        raise   # "no such recording: PATH" already
    except (EvlogError, OSError) as exc:
        raise _naming(path, exc) from exc


def named_input(path: str | os.PathLike, items: Iterator[Any]) -> Iterator[Any]:
    """`items` (read from the input `path`), with any read error naming that input: an
    operation reading several recordings (merge, diff) says which one is damaged."""
    path = os.fspath(path)
    try:
        yield from items
    except InputError:
        raise
    except (EvlogError, OSError) as exc:
        raise _naming(path, exc) from exc


def progress_or_noop(progress: Progress | None) -> Progress:
    return progress or _noop
