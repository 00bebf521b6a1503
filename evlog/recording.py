"""One way to open a recording, whatever its format: evlog's directory or the original JSON file.

`open_recording(path)` returns an object with the same reading interface for both, so the
replayer, the CLI and the dashboard accept either format everywhere.
"""
from __future__ import annotations

import datetime as _dt
import os
from collections import Counter
from typing import Any, Callable, Iterable, Iterator, Mapping, Protocol

from . import legacy
from .closing import Closing
from .segments import NO_HEADERS, EvlogError, Log, RawRecord, Record, SegmentSummary, decode_headers, encode_headers
from .segments.codec import decode_data, encode_json
from .segments.errors import NotARecordingError, RecordingNotFoundError
from .segments.keylookup import key_test
from .segments.manifest import is_recording
from .segments.reader import NameFilter, name_predicate


class Recording(Protocol):
    path: str
    format: str
    session_name: str
    start_time_ns: int

    def read(self, start: int | None = None, end: int | None = None, **kwargs: Any) -> Iterator[Record]: ...
    def summary(self) -> SegmentSummary: ...
    def any_headers(self) -> bool: ...
    def __len__(self) -> int: ...
    def close(self) -> None: ...


_PAGE = 4096   # records per page when scanning header columns


class _Base(Closing):
    path: str
    start_time_ns: int

    @property
    def start_time(self) -> _dt.datetime:
        return _dt.datetime.fromtimestamp(self.start_time_ns / 1e9, tz=_dt.timezone.utc)

    @property
    def duration_ms(self) -> float:
        """Milliseconds from the recording's start to its last event (the original's duration_ms)."""
        s = self.summary()  # type: ignore[attr-defined]
        return (s.last_mono or 0) / 1e6 if s.count else 0.0


class EvlogRecording(_Base):
    """An evlog recording directory (read-only)."""

    format = "evlog"

    def __init__(self, path: str) -> None:
        self.path = path
        self.log = Log.open(path)
        self.session_name = self.log.session_name
        self.start_time_ns = self.log.manifest.start_time_ns
        self.metadata = self.log.manifest.metadata

    def any_headers(self) -> bool:
        """Whether some event has per-event headers: the header columns are scanned page by
        page (no data decoded, no record built) up to the first event that has some; a format
        version 1 recording has none."""
        if self.log.format_version < 2:
            return False
        log = self.log
        end = log.end_offset
        for first in range(log.start_offset, end, _PAGE):
            if any(log.read_columns(first, min(end, first + _PAGE)).headers or ()):
                return True
        return False

    def read(self, start: int | None = None, end: int | None = None, **kwargs: Any) -> Iterator[Record]:
        return self.log.read(start, end, **kwargs)

    def summary(self) -> SegmentSummary:
        return self.log.summary()

    def __len__(self) -> int:
        return len(self.log)

    @property
    def start_offset(self) -> int:
        return self.log.start_offset

    def close(self) -> None:
        self.log.close()


class LegacyRecording(_Base):
    """A recording of the original tool (one JSON file), read as a stream."""

    format = "legacy-json"

    def __init__(self, path: str) -> None:
        self.path = path
        header = legacy.read_header(path)
        self.session_name = header.session_name
        self.start_time_ns = header.start_time_ns
        self.metadata = header.extra
        self.header_duration_ms = header.duration_ms   # the file's own duration_ms (EventReplayer's)
        self._summary: SegmentSummary | None = None
        self.start_offset = 0

    def _records(self) -> Iterator[Record]:
        start = self.start_time_ns
        last_mono = 0
        for i, ev in enumerate(legacy.iter_events(self.path)):
            offset_ms = ev.get("timestamp_offset_ms", 0)
            if not isinstance(offset_ms, (int, float)):
                raise legacy.LegacyFormatError(f"{self.path}: event {i} has a non-numeric timestamp_offset_ms")
            mono = max(last_mono, int(round(offset_ms * 1_000_000)))
            last_mono = mono
            headers = ev.get("headers")
            yield Record(i, start + mono, mono, str(ev.get("event_name")), str(ev.get("source") or ""),
                         ev.get("event_data"), 0, NO_HEADERS if headers is None else self._headers(i, headers))

    def _headers(self, i: int, headers: Any) -> Mapping[str, str]:
        """An event's `headers` (evlog's export writes them for events that have some; the
        original tool had none), checked as `Log.append` checks them."""
        try:
            if not isinstance(headers, dict):
                raise EvlogError(f"not an object but {type(headers).__name__}")
            encode_headers(headers)
        except EvlogError as exc:
            raise legacy.LegacyFormatError(f"{self.path}: event {i} has bad \"headers\": {exc}") from None
        return headers or NO_HEADERS

    def read(self, start: int | None = None, end: int | None = None, *, start_time: int | None = None,
             end_time: int | None = None, start_mono: int | None = None, end_mono: int | None = None,
             names: NameFilter = None, sources: NameFilter = None,
             where: Callable[[Record], bool] | None = None, reverse: bool = False,
             raw: bool = False, key: Any = None) -> Iterator[Record]:
        if raw:
            raise NotImplementedError("raw records exist only for evlog recordings")
        name_ok, source_ok = name_predicate(names), name_predicate(sources)
        if key is not None:   # no key index in this format: `key=` is a test of each record
            where = key_test(key) if where is None else (lambda r, a=key_test(key), b=where: a(r) and b(r))

        def selected() -> Iterator[Record]:
            for r in self._records():
                if end is not None and r.offset >= end:
                    return
                if end_mono is not None and r.monotonic > end_mono:
                    return
                if start is not None and r.offset < start:
                    continue
                if start_mono is not None and r.monotonic < start_mono:
                    continue
                if start_time is not None and r.timestamp < start_time:
                    continue
                if end_time is not None and r.timestamp > end_time:
                    continue
                if name_ok and not name_ok(r.name):
                    continue
                if source_ok and not source_ok(r.source):
                    continue
                if where is not None and not where(r):
                    continue
                yield r
        if reverse:  # the old format has no index: reversing means holding the selection
            return iter(list(selected())[::-1])
        return selected()

    def any_headers(self) -> bool:
        """Whether some event has headers (the key evlog's export adds): a pass over the file
        up to the first such event."""
        return any(r.headers for r in self._records())

    def summary(self) -> SegmentSummary:
        if self._summary is None:
            s = SegmentSummary()
            names: Counter = Counter()
            sources: Counter = Counter()
            first = last = None
            n = 0
            for r in self._records():
                names[r.name] += 1
                sources[r.source] += 1
                if first is None:
                    first = r
                last = r
                n += 1
            s.count, s.names, s.sources = n, names, sources
            if first is not None and last is not None:
                s.first_ts, s.last_ts = first.timestamp, last.timestamp
                s.min_ts, s.max_ts = first.timestamp, last.timestamp
                s.first_mono, s.last_mono = first.monotonic, last.monotonic
            s.stored_bytes = s.raw_bytes = os.path.getsize(self.path)
            self._summary = s
        return self._summary

    def __len__(self) -> int:
        return self.summary().count

    def close(self) -> None:
        pass


def decode_raw(raw: RawRecord) -> Record:
    """The `Record` of a raw record: its data and headers decoded (what `read()` would give)."""
    return Record(raw.offset, raw.timestamp, raw.monotonic, raw.name, raw.source,
                  decode_data(raw.data, raw.flags, raw.types), raw.flags, decode_headers(raw.headers))


def as_raw(records: Iterable[Record]) -> Iterator[RawRecord]:
    """Decoded records of plain JSON data (the original format's) as raw records: data and
    headers in their stored form, so one loop serves both formats."""
    for r in records:
        yield RawRecord(r.offset, r.timestamp, r.monotonic, r.name, r.source, encode_json(r.data), r.flags, b"",
                        encode_headers(r.headers))


def raw_where(where: Callable[[Record], bool]) -> Callable[[RawRecord], bool]:
    """A predicate on decoded records made to test raw records (decodes only to test): the
    `where` of a filter for `read(raw=True)`."""
    def test(r: RawRecord) -> bool:
        return where(decode_raw(r))
    return test


def open_recording(path: str | os.PathLike) -> EvlogRecording | LegacyRecording:
    """Open an evlog recording directory or an original-format JSON file, read-only."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise RecordingNotFoundError(f"no such recording: {path}")
    if os.path.isdir(path):
        if not is_recording(path):
            raise NotARecordingError(f"{path} is not an evlog recording (no manifest.json)")
        return EvlogRecording(path)
    if legacy.looks_like_legacy(path):
        return LegacyRecording(path)
    raise NotARecordingError(f"{path} is neither an evlog recording nor a JSON recording of the original format")
