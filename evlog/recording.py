"""One way to open a recording, whatever its format: evlog's directory or the original JSON file.

`open_recording(path)` returns a `Recording`: an abstract class both formats implement in full
(as MCAP's readers implement its `McapReader` and `make_reader` picks one), so the replayer, the
operations, the CLI and the dashboard read either format through one interface and never ask
which format they hold. What differs is what is cheap: `capabilities` says so (`INDEX`: counts
and the summary come from an index, no event read; `RAW`: raw reads are the stored bytes, not
encoded on the fly; `REVERSE`: reading backwards holds nothing; `FOLLOW`: a writer's new events
can be followed). A caller may choose the cheaper of two ways by a capability; every method
works on every recording.
"""
from __future__ import annotations

import datetime as _dt
import os
from abc import ABC, abstractmethod
from collections import Counter, deque
from typing import Any, Callable, Iterable, Iterator, Mapping, NamedTuple

from . import legacy
from .closing import Closing
from .segments import NO_HEADERS, EvlogError, Log, RawRecord, Record, SegmentSummary, decode_headers, encode_headers
from .segments.codec import decode_data, encode_json
from .segments.errors import NotARecordingError, RecordingNotFoundError
from .segments.keylookup import key_test
from .segments.manifest import is_recording
from .segments.query import Query
from .segments.reader import name_predicate

__all__ = ["BlockInfo", "EvlogRecording", "FOLLOW", "INDEX", "LegacyRecording", "Query", "RAW", "REVERSE",
           "Recording", "as_raw", "decode_raw", "open_recording", "raw_where"]

INDEX = "index"       # summary(), len() and counts per name/source without reading events
RAW = "raw"           # read(raw=True) yields the stored bytes (elsewhere: encoded on the fly)
REVERSE = "reverse"   # read(reverse=True) streams (elsewhere: holds the selection)
FOLLOW = "follow"     # follow() yields a writer's new events


class BlockInfo(NamedTuple):
    """One block of a recording, from its index: first offset, event count, time range (mono ns)."""
    first_offset: int
    count: int
    first_mono: int
    last_mono: int


_PAGE = 4096   # records per page when scanning header columns


class Recording(Closing, ABC):
    """A recording opened for reading (`open_recording`), whatever its format.

    `read(query)` streams records: a `Query`, or its arguments as keywords (`read(start, end,
    names=..., raw=True)`). Raw reads (`RawRecord`: data, types and headers still encoded) work
    on every format."""

    path: str
    format: str                       # "evlog" or "legacy-json": for display, not to branch on
    session_name: str
    start_time_ns: int
    metadata: dict
    capabilities: frozenset[str] = frozenset()
    header_duration_ms: float | None = None   # a duration the file states (the original format's)

    # reading -----------------------------------------------------------------------------------
    def read(self, query: Query | int | None = None, end: int | None = None, /, **kwargs: Any) -> Iterator[Any]:
        """The selected records: `read(Query(...))`, `read(query, raw=True)` (a query with some
        arguments replaced) or `read(start, end, **Query fields)`."""
        if end is not None:
            kwargs["end"] = end
        if isinstance(query, Query):
            return self.read_query(query.but(**kwargs))
        if query is not None:
            kwargs["start"] = query
        return self.read_query(Query(**kwargs))

    @abstractmethod
    def read_query(self, query: Query) -> Iterator[Any]:
        """The records `query` selects (`Record`s, or `RawRecord`s for `query.raw`)."""

    def raw(self, query: Query | None = None, **kwargs: Any) -> Iterator[RawRecord]:
        """The selected records as `RawRecord`s, whatever the format (`read(..., raw=True)`)."""
        return self.read(query or Query(), raw=True, **kwargs)

    def last(self, n: int, query: Query | None = None) -> list[Any]:
        """The last `n` selected records, in order (holding at most `n`)."""
        if n <= 0:
            return []
        return list(deque(self.read(query or Query()), maxlen=n))

    def follow(self, start: int | None = None, *, poll_interval: float = 0.1,
               stop: Callable[[], bool] | None = None, query: Query | None = None) -> Iterator[Record]:
        """Events appended by a writer from offset `start` (default: the end), like `tail -f`."""
        raise EvlogError(f"{self.path} is a {self.format} recording: it cannot be followed")

    # what it holds -----------------------------------------------------------------------------
    @abstractmethod
    def summary(self) -> SegmentSummary:
        """Counts per name and source, time range and sizes."""

    def __len__(self) -> int:
        return self.summary().count

    @property
    @abstractmethod
    def start_offset(self) -> int:
        """The offset of the first event (0 unless retention dropped older segments)."""

    @property
    def end_offset(self) -> int:
        """The offset after the last event."""
        return self.start_offset + len(self)

    @abstractmethod
    def blocks(self) -> Iterator[BlockInfo]:
        """The recording's blocks in order (a format without blocks: one per event)."""

    def segments(self) -> list[tuple[str, int, int]]:
        """(file name, first offset, event count) of each segment file (none for one file)."""
        return []

    def any_headers(self) -> bool:
        """Whether some event has per-event headers."""
        return any(r.headers for r in self.read())

    def indexed_count(self, query: Query | None = None) -> int | None:
        """How many events `query` selects when the index says it without reading events
        (everything, a name or a source filter, an offset range), else None."""
        return None

    def count(self, query: Query | None = None) -> int:
        """How many events `query` selects: from the index when it can, else by a read (raw
        where that decodes nothing)."""
        query = query or Query()
        n = self.indexed_count(query)
        if n is not None:
            return n
        raw = RAW in self.capabilities and query.where is None
        return sum(1 for _ in self.read_query(query.but(raw=raw, reverse=False)))

    @property
    def start_time(self) -> _dt.datetime:
        return _dt.datetime.fromtimestamp(self.start_time_ns / 1e9, tz=_dt.timezone.utc)

    @property
    def duration_ms(self) -> float:
        """Milliseconds from the recording's start to its last event (the original's duration_ms)."""
        s = self.summary()
        return (s.last_mono or 0) / 1e6 if s.count else 0.0


class EvlogRecording(Recording):
    """An evlog recording directory (read-only)."""

    format = "evlog"
    capabilities = frozenset({INDEX, RAW, REVERSE, FOLLOW})

    def __init__(self, path: str) -> None:
        self.path = path
        self.log = Log.open(path)
        self.session_name = self.log.session_name
        self.start_time_ns = self.log.manifest.start_time_ns
        self.metadata = self.log.manifest.metadata

    def read_query(self, query: Query) -> Iterator[Any]:
        return self.log.read(**query.kwargs())

    def last(self, n: int, query: Query | None = None) -> list[Any]:
        """Read backwards from the end: only the last blocks are decoded."""
        found = []
        if n > 0:
            for r in self.read_query((query or Query()).but(reverse=True)):
                found.append(r)
                if len(found) >= n:
                    break
        found.reverse()
        return found

    def follow(self, start: int | None = None, *, poll_interval: float = 0.1,
               stop: Callable[[], bool] | None = None, query: Query | None = None) -> Iterator[Record]:
        kwargs = (query or Query()).but(start=None, end=None, reverse=False, raw=False).kwargs()
        return self.log.follow(self.log.end_offset if start is None else start, poll_interval=poll_interval,
                               stop=stop, **kwargs)

    def any_headers(self) -> bool:
        """The header columns are scanned page by page (no data decoded, no record built) up
        to the first event that has some; a format version 1 recording has none."""
        if self.log.format_version < 2:
            return False
        log = self.log
        end = log.end_offset
        for first in range(log.start_offset, end, _PAGE):
            if any(log.read_columns(first, min(end, first + _PAGE)).headers or ()):
                return True
        return False

    def read_columns(self, start: int, end: int, decoded: bool = False) -> Any:
        """The records of offsets [start, end) as columns of encoded data (`Log.read_columns`:
        no object per record), for bulk readers such as a max-speed replay; with `decoded`,
        the data decoded (a chunk of a block per decoder call)."""
        return self.log.read_columns(start, end, decoded)

    def summary(self) -> SegmentSummary:
        return self.log.summary()

    def __len__(self) -> int:
        return len(self.log)

    @property
    def start_offset(self) -> int:
        return self.log.start_offset

    @property
    def end_offset(self) -> int:
        return self.log.end_offset

    def blocks(self) -> Iterator[BlockInfo]:
        for _segment, e in self.log.index_entries():
            yield BlockInfo(e.first_offset, e.count, e.first_mono, e.last_mono)

    def segments(self) -> list[tuple[str, int, int]]:
        return self.log.segments()

    def indexed_count(self, query: Query | None = None) -> int | None:
        q = query or Query()
        if q.where is not None or (q.names is not None and q.sources is not None):
            return None
        if any(x is not None for x in (q.start_time, q.end_time, q.start_mono, q.end_mono)):
            return None
        lo, hi = self.start_offset, self.start_offset + len(self)
        first = lo if q.start is None else max(q.start, lo)
        end = hi if q.end is None else min(q.end, hi)
        for spec, counts in ((q.names, "names"), (q.sources, "sources")):
            if spec is not None:
                if first != lo or end != hi:
                    return None
                wanted = name_predicate(spec)
                assert wanted is not None
                return sum(n for name, n in getattr(self.summary(), counts).items() if wanted(name))
        return max(0, end - first)

    def close(self) -> None:
        self.log.close()


class LegacyRecording(Recording):
    """A recording of the original tool (one JSON file), read as a stream; raw reads encode
    each event's data as they go."""

    format = "legacy-json"
    capabilities: frozenset[str] = frozenset()

    def __init__(self, path: str) -> None:
        self.path = path
        header = legacy.read_header(path)
        self.session_name = header.session_name
        self.start_time_ns = header.start_time_ns
        self.metadata = header.extra
        self.header_duration_ms = header.duration_ms   # the file's own duration_ms (EventReplayer's)
        self._summary: SegmentSummary | None = None

    @property
    def start_offset(self) -> int:
        return 0

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

    def read_query(self, query: Query) -> Iterator[Any]:
        q = query
        where = q.where
        if q.raw and where is not None:
            # a raw predicate made from a decoded one (`raw_where`) tests the decoded record first
            decoded = getattr(where, "on_record", None)
            where = decoded if decoded is not None else None
            raw_test = None if decoded is not None else q.where
        else:
            raw_test = None
        if q.key is not None:   # no key index in this format: `key` is a test of each record
            key_ok = key_test(q.key)
            where = key_ok if where is None else (lambda r, a=key_ok, b=where: a(r) and b(r))
        start, end, start_time, end_time = q.start, q.end, q.start_time, q.end_time
        start_mono, end_mono = q.start_mono, q.end_mono
        name_ok, source_ok = name_predicate(q.names), name_predicate(q.sources)

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
        records: Iterator[Any] = selected()
        if q.raw:
            records = as_raw(records)
            if raw_test is not None:
                records = filter(raw_test, records)
        if q.reverse:  # the old format has no index: reversing means holding the selection
            return iter(list(records)[::-1])
        return records

    def follow(self, start: int | None = None, *, poll_interval: float = 0.1,
               stop: Callable[[], bool] | None = None, query: Query | None = None) -> Iterator[Record]:
        raise EvlogError(f"{self.path} is a JSON file of the original format: it cannot be followed")

    def blocks(self) -> Iterator[BlockInfo]:
        """No blocks: one per event (a pass over the file)."""
        for r in self._records():
            yield BlockInfo(r.offset, 1, r.monotonic, r.monotonic)

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
    `where` of a filter for `read(raw=True)`. Its `on_record` is `where` itself, for a format
    whose raw records are encoded from decoded ones (tested before encoding)."""
    def test(r: RawRecord) -> bool:
        return where(decode_raw(r))
    test.on_record = where  # type: ignore[attr-defined]
    return test


def open_recording(path: str | os.PathLike) -> Recording:
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
