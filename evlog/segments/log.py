"""`Log`: the storage engine's public API. The rest of evlog uses only this."""
from __future__ import annotations

import os
import time
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

from . import chain
from .block import RawColumns, Record
from .codec import encode_data
from .errors import LogClosedError, LogWriteError, NotARecordingError, RecordingExistsError
from .fsio import DEFAULT_FS, FileSystem
from .headers import check_encoded_headers, encode_headers
from .index import SegmentSummary
from .manifest import FORMAT_VERSION, Manifest, is_recording, read_manifest, write_manifest
from .blockcache import DEFAULT_CACHE_BYTES
from .keyindex import check_key_paths
from .reader import KeySpec, LogReader, NameFilter
from .recovery import RecoveryReport
from .retention import RetentionResult
from .rows import EncodedRows, check_encoded
from .segment import BlockEntry
from .writer import LogWriter, WriterOptions

Encoder = Callable[[Any], "tuple[bytes, int, bytes]"]


class Log:
    """An append-only event log stored as a directory of segments.

    Open one with `Log.create(path)` (new, for writing), `Log.open(path)` (reading) or
    `Log.open(path, "a")` (appending; recovers a crashed recording first, see
    `recovery_report`). Only one writer at a time holds a recording; readers are unlimited.

    `encoder` turns an event's data into (JSON bytes, flags, type-map bytes) for `append`
    and `append_batch`: here `codec.encode_data` (plain JSON and the format's typed values);
    `evlog.Log` replaces it with one that knows application objects (pydantic models...).
    """

    encoder: Encoder = staticmethod(encode_data)

    def __init__(self, path: str, manifest: Manifest, writer: LogWriter | None, fs: FileSystem,
                 block_cache_bytes: int = DEFAULT_CACHE_BYTES) -> None:
        self.path = path
        self._cache_bytes = block_cache_bytes
        self.manifest = manifest
        self._writer = writer
        self._fs = fs
        self._reader: LogReader | None = None
        self._closed = False

    # opening --------------------------------------------------------------------
    @classmethod
    def create(cls, path: str | os.PathLike, session_name: str | None = None, *,
               start_time_ns: int | None = None, metadata: dict | None = None, exist_ok: bool = False,
               fs: FileSystem | None = None, chain_key: bytes | None = None, keys: Sequence[str] = (),
               block_cache_bytes: int = DEFAULT_CACHE_BYTES, **options: Any) -> "Log":
        """Create a new recording at `path` (format version 2) and open it for appending.

        `options` are WriterOptions fields (fsync="always"|"interval"|"never", block_max_age, ...).
        `chain_key` (1 to 64 bytes) makes the blocks' hash chain a keyed one (a MAC): only
        the key's holders can append, and `verify(..., chain=True, key=...)` proves that
        nobody without it altered, removed or reordered a block. `keys`: key paths to index
        (`data.<field>[.<field>]`, `headers.<name>`, `source`, `name`; see `lookup`); such a
        recording writes 64 KiB blocks unless `block_max_bytes` says otherwise.
        `block_cache_bytes`: the bound of this Log's cache of decoded blocks (point reads).
        """
        path = os.fspath(path)
        fs = fs or DEFAULT_FS
        key = chain.check_key(chain_key)
        key_paths = check_key_paths(keys)
        opts = _writer_options(options, key_paths)
        if os.path.exists(path):
            if is_recording(path):
                if exist_ok:
                    return cls.open(path, "a", fs=fs, chain_key=key, block_cache_bytes=block_cache_bytes, **options)
                raise RecordingExistsError(f"a recording already exists at {path}")
            if not os.path.isdir(path) or os.listdir(path):
                raise NotARecordingError(f"{path} exists and is not an empty directory")
        parent = os.path.dirname(os.path.abspath(path))
        os.makedirs(path, exist_ok=True)
        name = session_name or os.path.basename(os.path.abspath(path))
        start = start_time_ns if start_time_ns is not None else time.time_ns()
        manifest = Manifest(session_name=name, start_time_ns=start, format_version=FORMAT_VERSION,
                            metadata=dict(metadata or {}), chain=chain.new_record(name, start, key),
                            keys=key_paths)
        write_manifest(fs, path, manifest)
        fs.fsync_dir(parent)
        writer = LogWriter(path, opts, fs, manifest, key)
        return cls(path, manifest, writer, fs, block_cache_bytes)

    @classmethod
    def open(cls, path: str | os.PathLike, mode: str = "r", *, fs: FileSystem | None = None,
             chain_key: bytes | None = None, block_cache_bytes: int = DEFAULT_CACHE_BYTES,
             **options: Any) -> "Log":
        """Open a recording for reading (`"r"`) or appending (`"a"`; a keyed chain needs its
        `chain_key`). A format version 1 recording is appended to in version 1: its events
        cannot have headers (UnsupportedFormatError)."""
        path = os.fspath(path)
        fs = fs or DEFAULT_FS
        if mode not in ("r", "a"):
            raise ValueError(f"mode must be 'r' or 'a', not {mode!r}")
        manifest = read_manifest(path)
        if mode == "r":
            log = cls(path, manifest, None, fs, block_cache_bytes)
            log._reader = LogReader(path, manifest, block_cache_bytes)
            return log
        writer = LogWriter(path, _writer_options(options, manifest.keys), fs, manifest, chain_key)
        return cls(path, manifest, writer, fs, block_cache_bytes)

    # properties ------------------------------------------------------------------
    @property
    def session_name(self) -> str:
        return self.manifest.session_name

    @property
    def writable(self) -> bool:
        return self._writer is not None

    @property
    def recovery_report(self) -> RecoveryReport:
        """What opening for append repaired (empty for readers and clean recordings)."""
        return self._writer.report if self._writer else RecoveryReport()

    @property
    def format_version(self) -> int:
        """The recording's format version (1 or 2): what its new blocks are written in."""
        return self.manifest.format_version

    @property
    def durable_offset(self) -> int:
        """Events with offsets below this are on stable storage (fsynced), never more: after a
        failed write or fsync it stays at the last successful fsync."""
        if self._writer is None:
            return self._read().end_offset
        return self._writer.durable_offset

    @property
    def lost_count(self) -> int:
        """Events this log accepted (gave an offset) but may not have stored, because the
        writer failed: those from `durable_offset` on. 0 while writing works."""
        return 0 if self._writer is None else self._writer.lost_count

    @property
    def start_offset(self) -> int:
        return self._read().start_offset

    @property
    def end_offset(self) -> int:
        """The offset the next event gets."""
        if self._writer is not None:
            return self._writer.next_offset
        return self._read().end_offset

    def __len__(self) -> int:
        if self._writer is None:
            return len(self._read())   # both ends from one refresh of the reader
        return self.end_offset - self.start_offset

    # writing ---------------------------------------------------------------------
    def _w(self) -> LogWriter:
        if self._closed:
            raise LogClosedError("the log is closed")
        if self._writer is None:
            raise LogClosedError("the log is open for reading only (use Log.open(path, 'a'))")
        return self._writer

    def monotonic_now(self) -> int:
        """Ns since the recording's start on the writer's monotonic clock: what it would stamp
        an event appended now (a recorder stamps events at publish with it)."""
        return self._w().monotonic_now()

    def append(self, name: str, data: Any = None, source: str = "", timestamp: int | None = None,
               monotonic: int | None = None, *, headers: Mapping[str, str] | None = None) -> int:
        """Append one event; returns its offset. `timestamp`: wall clock ns (default: the
        block's wall-clock base + the monotonic time); `monotonic`: ns since the recording's
        start (default: measured now); `headers`: a str -> str map stored beside the data."""
        writer = self._writer
        if writer is None or self._closed:
            writer = self._w()   # raises the right error
        raw, flags, types = self.encoder(data)
        return writer.append_row(name, source, flags, raw, types, encode_headers(headers) if headers else b"",
                                 timestamp, monotonic)

    def append_batch(self, events: Iterable[tuple | dict], *, atomic: bool = False) -> range:
        """Append many events: tuples `(name, data[, source[, timestamp[, monotonic[, headers]]]])`
        or dicts with keys name, data, source, timestamp, monotonic, headers. Returns their
        offsets. Events without times share one clock read.

        With `atomic=True` the batch is stored within one block (never split across two):
        after a crash it is entirely in the log or entirely absent (at most 65,535 events
        and 16 MiB).
        """
        writer = self._w()
        events = events if events.__class__ is list else list(events)
        if not events:
            return range(writer.next_offset, writer.next_offset)
        if set(map(type, events)) == {tuple} and len(set(map(len, events))) == 1 and 1 <= len(events[0]) <= 6:
            columns = list(zip(*events))   # the common batch: tuples of one shape, transposed in C
            n = len(events)
            for field in range(len(columns), 6):   # the fields the tuples leave out
                columns.append(((None, "", None, None, None)[field - 1],) * n)
            names, datas, sources, ts, mono, headers = columns
        else:
            names, datas, sources, ts, mono, headers = zip(*map(_event_fields, events))
        raws, flags, types = zip(*map(self.encoder, datas))
        if None in sources:
            sources = [s or "" for s in sources]
        rows = EncodedRows(names, sources, flags, raws, types, _headers_column(headers), _times_column(ts),
                           _mono_column(mono, writer))
        first = writer.append_rows(rows, atomic=atomic)
        return range(first, first + len(names))

    def append_rows(self, rows: EncodedRows, *, atomic: bool = False, validate: bool = True) -> range:
        """Append events already encoded, given as columns (`EncodedRows`): the one entry for
        encoded data (the recorder, imports, raw copies). Checked column by column;
        `validate` also decodes each row's data and headers: pass False only for bytes the
        codec produced or copied from verified blocks (`EncodedRows.from_raw`). With
        `atomic=True` the rows share one block (all or nothing after a crash). Returns their
        offsets."""
        writer = self._w()
        first = writer.append_rows(rows, atomic=atomic, validate=validate)
        return range(first, first + len(rows.names))

    def append_batch_encoded(self, rows: Iterable[tuple[str, str, int, bytes, bytes, int | None, int | None]],
                             *, atomic: bool = False, validate: bool = True) -> range:
        """`append_rows` of rows given as tuples `(name, source, flags, data, types, timestamp,
        monotonic)` (the older form)."""
        rows = rows if rows.__class__ is list else list(rows)
        writer = self._w()
        if not rows:
            return range(writer.next_offset, writer.next_offset)
        names, sources, flags, datas, types, ts, mono = zip(*rows)
        return self.append_rows(EncodedRows(names, sources, flags, datas, types, None, _times_column(ts),
                                            _mono_column(mono, writer)), atomic=atomic, validate=validate)

    def append_encoded(self, name: str, source: str, flags: int, data: bytes, types: bytes = b"",
                       timestamp: int | None = None, monotonic: int | None = None, *,
                       validate: bool = True, headers: bytes = b"") -> int:
        """`append_rows` of one event, without building columns: data already encoded (see
        `codec.encode_data`), `headers` too (`encode_headers`). `validate` decodes the bytes
        first, so invalid JSON cannot make a block unreadable; pass False only for bytes that
        the codec produced."""
        if validate:
            check_encoded(data, flags, types)
            check_encoded_headers(headers)
        return self._w().append_row(name, source, flags, data, types, headers, timestamp, monotonic)

    def flush(self, sync: bool = True) -> int:
        """Write buffered events, fsync them with `sync`. Returns the offset reached."""
        return self._w().flush(sync)

    def roll(self) -> None:
        """Start a new segment with the next block."""
        self._w().roll()

    def retain(self, max_age_seconds: float | None = None, max_bytes: int | None = None) -> "RetentionResult":
        """Delete whole old segments to stay within an age and/or a size (see retention.py)."""
        from .retention import retain
        if self._closed:
            raise LogClosedError("the log is closed")
        return retain(self.path, max_age_seconds, max_bytes, fs=self._fs)

    def set_metadata(self, **values: Any) -> None:
        """Update the manifest's free-form metadata (atomically)."""
        self._w().update_metadata(values)

    # reading ---------------------------------------------------------------------
    def _read(self, refresh: bool = True) -> LogReader:
        if self._closed:
            raise LogClosedError("the log is closed")
        if self._writer is not None and self._writer.failed is None:
            try:
                self._writer.flush(sync=False)
            except LogWriteError:
                pass   # append/flush/close report the failure; what was written stays readable
        if self._reader is None:
            self._reader = LogReader(self.path, block_cache_bytes=self._cache_bytes)
        elif refresh:
            self._reader.refresh()
        return self._reader

    def read(self, start: int | None = None, end: int | None = None, *, start_time: int | None = None,
             end_time: int | None = None, start_mono: int | None = None, end_mono: int | None = None,
             names: NameFilter = None, sources: NameFilter = None,
             where: Callable[[Record], bool] | None = None, reverse: bool = False,
             raw: bool = False, key: KeySpec = None) -> Iterator[Any]:
        """Stream records; see LogReader.read for the bounds and filters. `key=(path, values)`
        (or `{path: values}`) selects the records whose value for the key path is one of
        `values`, through the key index when the path has one (`keys`)."""
        # LogReader.read refreshes itself: no second listing of the directory here
        return self._read(refresh=False).read(start, end, start_time=start_time, end_time=end_time,
                                              start_mono=start_mono, end_mono=end_mono, names=names,
                                              sources=sources, where=where, reverse=reverse, raw=raw, key=key)

    def lookup(self, path: str, values: Iterable[Any], *, raw: bool = False, **bounds: Any) -> Iterator[Any]:
        """The records whose value for key path `path` is one of `values`, in offset order:
        `read(key=(path, values))`."""
        return self.read(key=(path, values), raw=raw, **bounds)

    @property
    def keys(self) -> list[str]:
        """The key paths this recording indexes."""
        return list(self.manifest.keys)

    def read_columns(self, start: int, end: int, decoded: bool = False) -> RawColumns:
        """Records of offsets [start, end) as columns of encoded data (`RawColumns`: offsets,
        names, sources, data, flags, types), for bulk readers that want no object per record;
        with `decoded`, `data` holds the decoded values (type maps applied, `types` empty)."""
        return self._read(refresh=False).read_columns(start, end, decoded)   # it refreshes itself

    def __iter__(self) -> Iterator[Record]:
        return self.read()

    def read_at(self, offsets: Iterable[int], *, raw: bool = False) -> list[Any]:
        """The records at `offsets` that exist, in offset order: point reads, each block
        decoded once (through the bounded cache of decoded blocks) and only the wanted
        records built."""
        return self._read(refresh=False).read_at(offsets, raw=raw)

    def get(self, offset: int) -> Record:
        """The record at `offset` (IndexError if there is none)."""
        for record in self.read(offset, offset + 1):
            return record
        raise IndexError(f"no event at offset {offset}")

    def follow(self, start: int | None = None, *, poll_interval: float = 0.1,
               stop: Callable[[], bool] | None = None, **filters: Any) -> Iterator[Record]:
        """Yield events from `start` (default: the end) as they are written, like `tail -f`."""
        return self._read().follow(start, poll_interval=poll_interval, stop=stop, **filters)

    def summary(self) -> SegmentSummary:
        """Counts per name, source and flag, time range and sizes, from the index alone."""
        return self._read().summary()

    def index_entries(self) -> list[tuple[str, BlockEntry]]:
        """(segment file name, block entry) for every block, from the index: offsets, counts,
        positions and time ranges per block, for histograms and sampling without reading data."""
        return [(v.name, e) for v in self._read().segments for e in v.entries]

    def segments(self) -> list[tuple[str, int, int]]:
        """(file name, first offset, event count) of each segment."""
        return [(v.name, v.base, v.end_offset - v.base) for v in self._read().segments]

    # closing ---------------------------------------------------------------------
    def close(self) -> None:
        """Flush, fsync and close. Raises LogWriteError if writing had failed."""
        if self._closed:
            return
        self._closed = True
        try:
            if self._writer is not None:
                self._writer.close()
        finally:
            if self._reader is not None:
                self._reader.close()

    def __enter__(self) -> "Log":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Log {self.path!r} {'rw' if self._writer else 'r'}>"


KEYED_BLOCK_BYTES = 64 << 10   # blocks of a recording with key indexes (see _writer_options)


def _writer_options(options: dict, key_paths: Sequence[str]) -> WriterOptions:
    """The writer's options; a recording with key indexes writes 64 KiB blocks unless told
    otherwise: a lookup decodes one block per event it finds, and a 64 KiB block decodes
    ~3x faster than a 384 KiB one, for ~10% more bytes and ~15% slower scans (measured in
    docs/performance.md, *Key indexes*)."""
    if key_paths and "block_max_bytes" not in options:
        options = dict(options, block_max_bytes=KEYED_BLOCK_BYTES)
    return WriterOptions(**options)


def _event_fields(ev: Any) -> tuple:
    """(name, data, source, timestamp, monotonic, headers) of one `append_batch` event."""
    if isinstance(ev, dict):
        return (ev["name"], ev.get("data"), ev.get("source") or "", ev.get("timestamp"), ev.get("monotonic"),
                ev.get("headers"))
    ev = tuple(ev)
    if not 1 <= len(ev) <= 6:
        raise ValueError("an event tuple is (name, data[, source[, timestamp[, monotonic[, headers]]]])")
    return ev + (None, "", None, None, None)[len(ev) - 1:]


def _headers_column(headers: Sequence[Any]) -> list[bytes] | None:
    if not any(headers):
        return None
    return [encode_headers(h) if h else b"" for h in headers]


def _times_column(values: Sequence[int | None]) -> Sequence[int | None] | None:
    return None if values.count(None) == len(values) else values


def _mono_column(values: Sequence[int | None], writer: LogWriter) -> Sequence[int] | None:
    """Monotonic times of rows, None when all are to be measured; a None among given ones is
    measured now (one clock read)."""
    missing = values.count(None)
    if missing == len(values):
        return None
    if missing:
        now = writer.monotonic_now()
        return [now if m is None else m for m in values]
    return values


def refresh_manifest(path: str) -> Manifest:
    return read_manifest(path)
