"""`Log`: the storage engine's public API. The rest of evlog uses only this."""
from __future__ import annotations

import os
import time
from typing import Any, Callable, Iterable, Iterator

from .block import RawColumns, RawRecord, Record
from .codec import FLAG_MODEL, FLAG_TYPED, MODEL_CLASSES, EventEncodeError, apply_type_map, decode_json, encode_data
from .errors import LogClosedError, LogWriteError, NotARecordingError, RecordingExistsError
from .fsio import DEFAULT_FS, FileSystem
from .index import SegmentSummary
from .manifest import Manifest, is_recording, read_manifest, write_manifest
from .reader import LogReader, NameFilter
from .segment import BlockEntry
from .recovery import RecoveryReport
from .retention import RetentionResult
from .writer import WriterOptions, LogWriter


class Log:
    """An append-only event log stored as a directory of segments.

    Open one with `Log.create(path)` (new, for writing), `Log.open(path)` (reading) or
    `Log.open(path, "a")` (appending; recovers a crashed recording first, see
    `recovery_report`). Only one writer at a time holds a recording; readers are unlimited.
    """

    def __init__(self, path: str, manifest: Manifest, writer: LogWriter | None, fs: FileSystem) -> None:
        self.path = path
        self.manifest = manifest
        self._writer = writer
        self._fs = fs
        self._reader: LogReader | None = None
        self._closed = False
        if writer is not None:   # the hot case of append, bound once (see LogWriter.model_appender)
            fast = writer.model_appender(self._append)
            fast.__doc__, fast.__name__ = Log.append.__doc__, "append"
            self.append = fast  # type: ignore[method-assign]

    # opening --------------------------------------------------------------------
    @classmethod
    def create(cls, path: str | os.PathLike, session_name: str | None = None, *,
               start_time_ns: int | None = None, metadata: dict | None = None, exist_ok: bool = False,
               fs: FileSystem | None = None, **options: Any) -> "Log":
        """Create a new recording at `path` and open it for appending.

        `options` are WriterOptions fields (fsync="always"|"interval"|"never", block_max_age, ...).
        """
        path = os.fspath(path)
        fs = fs or DEFAULT_FS
        opts = WriterOptions(**options)
        if os.path.exists(path):
            if is_recording(path):
                if exist_ok:
                    return cls.open(path, "a", fs=fs, **options)
                raise RecordingExistsError(f"a recording already exists at {path}")
            if not os.path.isdir(path) or os.listdir(path):
                raise NotARecordingError(f"{path} exists and is not an empty directory")
        parent = os.path.dirname(os.path.abspath(path))
        os.makedirs(path, exist_ok=True)
        manifest = Manifest(session_name=session_name or os.path.basename(os.path.abspath(path)),
                            start_time_ns=start_time_ns if start_time_ns is not None else time.time_ns(),
                            metadata=dict(metadata or {}))
        write_manifest(fs, path, manifest)
        fs.fsync_dir(parent)
        writer = LogWriter(path, opts, fs, manifest.start_time_ns)
        return cls(path, manifest, writer, fs)

    @classmethod
    def open(cls, path: str | os.PathLike, mode: str = "r", *, fs: FileSystem | None = None,
             **options: Any) -> "Log":
        """Open a recording for reading (`"r"`) or appending (`"a"`)."""
        path = os.fspath(path)
        fs = fs or DEFAULT_FS
        if mode not in ("r", "a"):
            raise ValueError(f"mode must be 'r' or 'a', not {mode!r}")
        manifest = read_manifest(path)
        if mode == "r":
            log = cls(path, manifest, None, fs)
            log._reader = LogReader(path)
            return log
        writer = LogWriter(path, WriterOptions(**options), fs, manifest.start_time_ns)
        return cls(path, manifest, writer, fs)

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
    def durable_offset(self) -> int:
        """Events with offsets below this are on stable storage."""
        if self._writer is None:
            return self._read().end_offset
        return self._writer.durable_offset

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
        return self.end_offset - self.start_offset

    # writing ---------------------------------------------------------------------
    def _w(self) -> LogWriter:
        if self._closed:
            raise LogClosedError("the log is closed")
        if self._writer is None:
            raise LogClosedError("the log is open for reading only (use Log.open(path, 'a'))")
        return self._writer

    def append(self, name: str, data: Any = None, source: str = "", timestamp: int | None = None,
               monotonic: int | None = None) -> int:
        """Append one event; returns its offset. `timestamp`: wall clock ns (default now);
        `monotonic`: ns since the recording's start (default: measured now)."""
        return self._append(name, data, source, timestamp, monotonic)

    def _append(self, name: str, data: Any = None, source: str = "", timestamp: int | None = None,
                monotonic: int | None = None) -> int:
        writer = self._writer
        if writer is None or self._closed:
            writer = self._w()   # raises the right error
        raw, flags, types = encode_data(data)
        return writer.append_encoded(name, source, flags, timestamp, monotonic, raw, types)

    def append_batch(self, events: Iterable[tuple | dict], *, atomic: bool = False) -> range:
        """Append many events: tuples `(name, data[, source[, timestamp[, monotonic]]])` or dicts
        with keys name, data, source, timestamp, monotonic. Returns their offsets.

        With `atomic=True` the batch is stored within one block (never split across two):
        after a crash it is entirely in the log or entirely absent (at most 65,535 events
        and 16 MiB).
        """
        writer = self._w()
        if not atomic and events.__class__ is list:
            columns = _model_columns(events)
            if columns is not None:   # the common batch: (name, model, source) of known classes
                first = writer.append_measured_columns(*columns)
                return range(first, first + len(events))
        rows = []
        for ev in events:
            if isinstance(ev, dict):
                name, data = ev["name"], ev.get("data")
                source, ts, mono = ev.get("source") or "", ev.get("timestamp"), ev.get("monotonic")
            else:
                ev = tuple(ev)
                if not 1 <= len(ev) <= 5:
                    raise ValueError("an event tuple is (name, data[, source[, timestamp[, monotonic]]])")
                name, data, source, ts, mono = ev + (None, None, "", None, None)[len(ev):]
            raw, flags, types = encode_data(data)
            rows.append((name, source or "", flags, ts, mono, raw, types))
        if not rows:
            return range(writer.next_offset, writer.next_offset)
        first = writer.append_many_encoded(rows, atomic=atomic)
        return range(first, first + len(rows))

    def append_batch_encoded(self, rows: Iterable[tuple[str, str, int, bytes, bytes, int | None, int | None]],
                             *, atomic: bool = False, validate: bool = True) -> range:
        """Append already-encoded rows `(name, source, flags, data, types, timestamp, monotonic)`.

        With `atomic=True` they share one block (all or nothing after a crash).
        """
        batch = []
        for name, source, flags, data, types, ts, mono in rows:
            if validate:
                _check_encoded(data, flags, types)
            batch.append((name, source, flags, ts, mono, data, types))
        writer = self._w()
        if not batch:
            return range(writer.next_offset, writer.next_offset)
        first = writer.append_many_encoded(batch, atomic=atomic)
        return range(first, first + len(batch))

    def append_encoded(self, name: str, source: str, flags: int, data: bytes, types: bytes = b"",
                       timestamp: int | None = None, monotonic: int | None = None, *,
                       validate: bool = True) -> int:
        """Append an event whose data is already encoded (see `codec.encode_data`).

        `validate` decodes the bytes first, so invalid JSON cannot make a block unreadable;
        pass False only for bytes that `encode_data` produced.
        """
        if validate:
            _check_encoded(data, flags, types)
        return self._w().append_encoded(name, source, flags, timestamp, monotonic, data, types)

    def append_raw(self, record: RawRecord, *, timestamp: int | None = None, monotonic: int | None = None,
                   validate: bool = False) -> int:
        """Copy a record read with `read(raw=True)` without decoding its data.

        Its bytes come from a block whose checksum was verified, so they are not decoded
        again; pass `validate=True` for a RawRecord built by hand.
        """
        if validate:
            _check_encoded(record.data, record.flags, record.types)
        return self._w().append_encoded(
            record.name, record.source, record.flags,
            record.timestamp if timestamp is None else timestamp,
            record.monotonic if monotonic is None else monotonic, record.data, record.types)

    def append_raw_many(self, records: Iterable[RawRecord]) -> range:
        """Copy many records read with `read(raw=True)` (their own times kept), in one call
        per batch: the fast path of merge, slice and recover. Returns their new offsets."""
        writer = self._w()
        rows = [(r.name, r.source, r.flags, r.timestamp, r.monotonic, r.data, r.types) for r in records]
        if not rows:
            return range(writer.next_offset, writer.next_offset)
        first = writer.extend_trusted(rows)
        return range(first, first + len(rows))

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
        self._w()
        self.manifest.metadata.update(values)
        write_manifest(self._fs, self.path, self.manifest)

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
            self._reader = LogReader(self.path)
        elif refresh:
            self._reader.refresh()
        return self._reader

    def read(self, start: int | None = None, end: int | None = None, *, start_time: int | None = None,
             end_time: int | None = None, start_mono: int | None = None, end_mono: int | None = None,
             names: NameFilter = None, sources: NameFilter = None,
             where: Callable[[Record], bool] | None = None, reverse: bool = False,
             raw: bool = False) -> Iterator[Any]:
        """Stream records; see LogReader.read for the bounds and filters."""
        # LogReader.read refreshes itself: no second listing of the directory here
        return self._read(refresh=False).read(start, end, start_time=start_time, end_time=end_time,
                                              start_mono=start_mono, end_mono=end_mono, names=names,
                                              sources=sources, where=where, reverse=reverse, raw=raw)

    def read_columns(self, start: int, end: int) -> RawColumns:
        """Records of offsets [start, end) as columns of encoded data (`RawColumns`: offsets,
        names, sources, data, flags, types), for bulk readers that want no object per record."""
        return self._read(refresh=False).read_columns(start, end)   # it refreshes itself

    def __iter__(self) -> Iterator[Record]:
        return self.read()

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


def _model_columns(events: list) -> tuple | None:
    """(names, sources, flags, JSON) of a list of `(name, model, source)` tuples whose models
    are of classes seen before, encoded in one pass; None for any other batch."""
    if not events or set(map(type, events)) != {tuple} or set(map(len, events)) != {3}:
        return None
    names, models, sources = zip(*events)
    if not MODEL_CLASSES.issuperset(map(type, models)) or set(map(type, sources)) != {str}:
        return None
    try:
        datas = [m.__pydantic_serializer__.to_json(m) for m in models]
    except Exception:  # noqa: BLE001 - the general path encodes (or reports) each one
        return None
    return names, sources, [FLAG_MODEL] * len(datas), datas


def _check_encoded(data: Any, flags: Any, types: Any) -> None:
    """Reject encoded data that is not one JSON value: stored, it would make its whole block unreadable."""
    try:
        value = decode_json(data)
        if flags & FLAG_TYPED and types:
            apply_type_map(value, decode_json(types))
    except Exception as exc:  # noqa: BLE001 - whatever is wrong, it must not reach a block
        raise EventEncodeError(f"encoded event data is not valid JSON: {exc}") from None


def refresh_manifest(path: str) -> Manifest:
    return read_manifest(path)
