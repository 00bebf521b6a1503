"""The single writer of a log: buffering into blocks, a background I/O thread, rolling,
fsync policy, and failure handling.

`append` only adds a row to the current block buffer (the caller pays for encoding the
event's data, nothing else; for a pydantic model of a known class the compiled
`_speedups.ModelAppender` does it when built). Full blocks go to a bounded queue; the I/O
thread takes the queued blocks together, compresses them in one call, writes each segment's
share with a single `write`, and fsyncs per the policy. Offsets below
`durable_offset` are on stable storage. After any failed write or fsync the writer is
failed for good: it does not retry (after a failed fsync the kernel may have dropped the
dirty pages, so a retry could report lost data as durable) and `append` raises; it cuts the
active segment back to what its last successful fdatasync covered (`_discard_unsynced`).
"""
from __future__ import annotations

import errno
import logging
import os
import threading
import time
from collections import deque
from bisect import bisect_right
from itertools import accumulate, islice
from operator import add as _add
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import zstandard

from .codec import FLAG_MODEL, KNOWN_FLAGS, MODEL_CLASSES, EventEncodeError
from .block import MAX_EVENT_BYTES, MAX_NAME_BYTES, MAX_RAW_LEN, MAX_RECORDS, encode_flat_many
from .errors import EventTooLargeError, LogClosedError, LogWriteError, RecordingLockedError
from .fsio import FileSystem
from .index import SegmentIndex, SegmentSummary, encode_index
from .recovery import prepare_for_append
from .segment import BlockEntry, encode_segment_header, index_filename, segment_filename

try:   # the append hot path compiled (setup.py); optional: the Python closure does the same
    from ._speedups import ModelAppender as _CompiledModelAppender
except ImportError:  # pragma: no cover - depends on the build
    _CompiledModelAppender = None
if os.environ.get("EVLOG_PURE_PYTHON"):   # tests run both; a user can rule the extension out
    _CompiledModelAppender = None

FSYNC_POLICIES = ("always", "interval", "never")
logger = logging.getLogger("evlog.segments")
LOCK_NAME = ".lock"


@dataclass(frozen=True)
class WriterOptions:
    """Tuning of a writer. The defaults suit a days-long production capture."""

    segment_max_bytes: int = 64 << 20     # roll to a new segment past this size
    segment_max_age: float | None = None  # ...or past this age in seconds
    block_max_bytes: int = 384 << 10      # uncompressed bytes that close a block (seek ~1.2 ms; +3% size vs 1 MiB)
    block_max_records: int = MAX_RECORDS
    block_max_age: float = 0.2            # seconds: a quiet producer's events still reach the disk
    fsync: str = "always"                 # always | interval | never
    fsync_interval: float = 1.0
    compression_level: int = 1            # zstd level: 1 is both smaller and faster than 3 on event data
    max_pending_blocks: int = 8           # blocks queued for the I/O thread before append waits
    index_interval: float | None = 10.0   # seconds: rewrite the active segment's index (of fsynced data)
    retain_max_age: float | None = None   # seconds: delete whole old segments at each roll...
    retain_max_bytes: int | None = None   # ...and/or keep the recording under this size

    def __post_init__(self) -> None:
        if self.fsync not in FSYNC_POLICIES:
            raise ValueError(f"fsync must be one of {', '.join(FSYNC_POLICIES)}, not {self.fsync!r}")
        if self.segment_max_bytes < 4096:
            raise ValueError("segment_max_bytes must be at least 4096")
        if not 1 <= self.block_max_records <= MAX_RECORDS:
            raise ValueError(f"block_max_records must be between 1 and {MAX_RECORDS}")
        if not 1 <= self.block_max_bytes <= MAX_RAW_LEN // 2:
            raise ValueError(f"block_max_bytes must be between 1 and {MAX_RAW_LEN // 2}")
        if self.block_max_age <= 0 or self.fsync_interval <= 0:
            raise ValueError("block_max_age and fsync_interval must be positive")
        if self.segment_max_age is not None and self.segment_max_age <= 0:
            raise ValueError("segment_max_age must be positive")
        if self.index_interval is not None and self.index_interval <= 0:
            raise ValueError("index_interval must be positive (or None)")
        if (self.retain_max_age is not None and self.retain_max_age <= 0) or \
                (self.retain_max_bytes is not None and self.retain_max_bytes <= 0):
            raise ValueError("retain_max_age and retain_max_bytes must be positive")
        if not 1 <= self.max_pending_blocks <= 1024:
            raise ValueError("max_pending_blocks must be between 1 and 1024")


def acquire_lock(directory: str) -> int:
    import fcntl
    fd = os.open(os.path.join(directory, LOCK_NAME), os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        try:
            holder = os.pread(fd, 64, 0).decode("ascii", "replace").strip()
        except OSError:
            holder = ""
        os.close(fd)
        if exc.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
            who = f" (pid {holder})" if holder else ""
            raise RecordingLockedError(f"{directory} is already open for writing by another writer{who}") from None
        raise
    os.ftruncate(fd, 0)
    os.pwrite(fd, str(os.getpid()).encode(), 0)
    return fd


def release_lock(fd: int) -> None:
    os.close(fd)  # closing the descriptor releases the flock


_SYNC = object()
_PLAIN_FLAGS = frozenset(range(KNOWN_FLAGS + 1))
_TIME_LIMIT = 1 << 62  # timestamps and their deltas must fit the block's int64 columns

def _check_row(name: Any, source: Any, flags: Any, timestamp: Any, monotonic: Any, data: Any, types: Any) -> None:
    """Reject an event the block encoder could not store: in the I/O thread it would fail the writer."""
    if not isinstance(data, bytes) or not isinstance(types, bytes):
        raise EventEncodeError("encoded event data and type map must be bytes")
    if len(data) + len(types) > MAX_EVENT_BYTES:
        raise EventTooLargeError(f"event data of {len(data) + len(types)} bytes exceeds {MAX_EVENT_BYTES}")
    if not isinstance(name, str) or not isinstance(source, str):
        raise EventEncodeError("event name and source must be strings")
    try:
        too_long = len(name.encode("utf-8")) > MAX_NAME_BYTES or len(source.encode("utf-8")) > MAX_NAME_BYTES
    except UnicodeEncodeError:
        raise EventEncodeError("event name or source is not valid Unicode (lone surrogate)") from None
    if too_long:
        raise EventTooLargeError(f"event name and source are limited to {MAX_NAME_BYTES} bytes")
    if flags.__class__ is not int or flags & ~KNOWN_FLAGS:
        raise EventEncodeError(f"unknown event flags {flags!r}")
    for value, what in ((timestamp, "timestamp"), (monotonic, "monotonic")):
        if value is not None and (not isinstance(value, int) or not -_TIME_LIMIT <= value < _TIME_LIMIT):
            raise EventEncodeError(f"event {what} must be an int of ns below 2**62, not {value!r}")


def _flat(names: Sequence, sources: Sequence, flags: Sequence, ts: Sequence, mono: Sequence,
          datas: Sequence, types: Sequence) -> list:
    """Columns of equal length laid end to end as the writer's flat rows (7 fields a row),
    by slice assignments: no Python step per row."""
    flat: list = [None] * (7 * len(names))
    flat[0::7] = names
    flat[1::7] = sources
    flat[2::7] = flags
    flat[3::7] = ts
    flat[4::7] = mono
    flat[5::7] = datas
    flat[6::7] = types
    return flat


def _good_name(value: Any) -> bool:
    """An event name or source the block encoder can store (see `_check_row`)."""
    if value.__class__ is not str:
        return False
    try:
        return len(value.encode("utf-8")) <= MAX_NAME_BYTES
    except UnicodeEncodeError:
        return False


# per-row overhead in the payload: ids, flags, two deltas, two lengths and a comma
_ROW_OVERHEAD = 2 + 2 + 1 + 8 + 8 + 4 + 4 + 1   # 30, written out in model_appender
# events up to this size take model_appender's fast path: a block buffer below
# block_max_bytes (<= MAX_RAW_LEN / 2) plus one of them stays below MAX_RAW_LEN - 4096
_FAST_MAX_BYTES = 1 << 20
_GROUP_BLOCKS = 8   # fsync=always: at most this many blocks share one fdatasync
_BATCH_BYTES = 4 << 20   # the I/O thread encodes, compresses and writes queued blocks up to this together
_MAX_IDS = 16_384   # names and sources in the writer's id table before it starts afresh


class LogWriter:
    def __init__(self, path: str, options: WriterOptions, fs: FileSystem, start_time_ns: int) -> None:
        self.path = path
        self.options = options
        self.fs = fs
        self.last_retention = None
        self._last_index_write = time.monotonic()
        self._lock_fd = acquire_lock(path)
        self._seg_path: str | None = None   # the active segment's file...
        self._synced_size = 0               # ...and how much of it its last fdatasync covered
        try:
            self.report, state = prepare_for_append(path, fs)
            self._compressor = zstandard.ZstdCompressor(level=options.compression_level, write_content_size=True)
            self._lock = threading.Lock()
            self._cond = threading.Condition(self._lock)
            # names and sources that passed _check_row, as indexes into _id_names: the block
            # buffer holds these ids (the encoder maps them to a block's own in C); the table is
            # append-only, started afresh at a seal when it grows past _MAX_IDS
            self._ids: dict[str, int] = {}
            self._id_names: list[str] = []
            self._scratch = bytearray()   # the I/O thread's payload buffer, reused block to block
            self._block_max_bytes = options.block_max_bytes
            self._block_max_records = options.block_max_records
            self._rows: list = []   # the open block's rows, flat: 7 fields after another
            self._flat_max = 7 * self._block_max_records
            self._rows_bytes = 0
            self._rows_started = 0.0
            self._wall_base = 0
            # sealed blocks for the I/O thread: (first offset, flat rows, wall base, payload
            # bytes, id table)
            self._pending: deque[tuple[int, list, int, int, list[str]]] = deque()
            self._pending_bytes = 0
            self._next_offset = state.next_offset
            self._buffer_first = state.next_offset
            self._written_offset = state.next_offset
            self._durable_offset = state.next_offset
            self._sync_wanted = 0
            self._last_sync = time.monotonic()
            self._failed: LogWriteError | None = None
            self._closing = False
            self._closed = False
            self._accepting = True   # False once failed, closing or closed: one test on the hot path
            now_ns = time.time_ns()
            if state.last_mono is None:
                elapsed = max(0, now_ns - start_time_ns)
                self._last_mono = 0
            else:
                elapsed = state.last_mono + max(0, now_ns - (state.last_ts or now_ns))
                self._last_mono = state.last_mono
            self._mono_base = time.monotonic_ns() - elapsed
            # the active segment (opened for append, or created)
            self._seg_base = state.segment_base
            self._entries: list[BlockEntry] = state.entries
            self._summary: SegmentSummary = state.summary
            self._seg_size = state.segment_size
            self._seg_created = time.monotonic()
            self._roll_wanted = False
            self._unsynced_blocks = 0   # blocks written since the last fdatasync (fsync=always)
            if self._seg_base is None:
                self._seg_fd = -1
                self._new_segment(self._next_offset)
            else:
                self._seg_path = os.path.join(path, segment_filename(self._seg_base))
                self._synced_size = self._seg_size   # prepare_for_append fsynced what it adopted
                self._seg_fd = fs.open_append(self._seg_path)
        except BaseException:
            self._discard_unsynced()
            release_lock(self._lock_fd)
            raise
        self._thread = threading.Thread(target=self._run, name=f"evlog-writer:{os.path.basename(path)}", daemon=True)
        self._thread.start()

    # state ------------------------------------------------------------------
    @property
    def next_offset(self) -> int:
        return self._next_offset

    @property
    def written_offset(self) -> int:
        """Events below this offset have been written to the OS (visible to readers)."""
        return self._written_offset

    @property
    def durable_offset(self) -> int:
        """Events below this offset are on stable storage (fsynced)."""
        return self._durable_offset

    @property
    def failed(self) -> LogWriteError | None:
        return self._failed

    def monotonic_now(self) -> int:
        return time.monotonic_ns() - self._mono_base

    # appending -------------------------------------------------------------
    def append_encoded(self, name: str, source: str, flags: int, timestamp: int | None,
                       monotonic: int | None, data: bytes, types: bytes = b"") -> int:
        """Append one event whose data is already encoded. Returns its offset."""
        # fast path: the common row (known name and source, plain flags, default times) is
        # checked with a few type tests; anything else goes through the full check
        if not (data.__class__ is bytes and types.__class__ is bytes and flags in _PLAIN_FLAGS
                and len(data) + len(types) <= MAX_EVENT_BYTES
                and name.__class__ is str and source.__class__ is str and name in self._ids and source in self._ids
                and (timestamp is None or (timestamp.__class__ is int and -_TIME_LIMIT <= timestamp < _TIME_LIMIT))
                and (monotonic is None or (monotonic.__class__ is int and -_TIME_LIMIT <= monotonic < _TIME_LIMIT))):
            _check_row(name, source, flags, timestamp, monotonic, data, types)
        size = len(data) + len(types) + _ROW_OVERHEAD
        with self._lock:
            if self._failed is not None or self._closing or self._closed:
                self._check_open()
            measured = monotonic is None
            if measured:
                monotonic = time.monotonic_ns() - self._mono_base
            if monotonic < self._last_mono:
                monotonic = self._last_mono
            self._last_mono = monotonic
            rows = self._rows
            if not rows:
                self._start_buffer_locked()
            elif self._rows_bytes + size > MAX_RAW_LEN - 4096:
                self._seal_locked()
                rows = self._rows
                self._start_buffer_locked()
            if timestamp is None and not measured:
                timestamp = time.time_ns()
            # else with timestamp None: one clock read per event, the wall time is the wall
            # clock sampled at the block's start + monotonic time since (a wall clock step
            # shows at the next block); encode_flat fills it in
            rows += (self._id_locked(name), self._id_locked(source), flags, timestamp, monotonic, data, types)
            self._rows_bytes += size
            offset = self._next_offset
            self._next_offset = offset + 1
            if self._rows_bytes >= self._block_max_bytes or len(rows) >= self._flat_max:
                self._seal_locked()
                self._wait_for_room_locked()
            return offset

    def model_appender(self, general: Callable[..., int]) -> Callable[..., int]:
        """`Log.append` specialised for its hottest case, a pydantic model of a class seen
        before, with times measured now: the steps of `append_encoded` for that case, in a
        closure whose constants are locals (no method call, few attribute lookups). Everything
        else goes to `general` (`Log.append` itself) or to `append_encoded`.

        Where the `_speedups` extension is built, its `ModelAppender` runs these steps in C
        (the same attributes, under the same lock) and hands every other call to this closure."""
        writer = self
        acquire, release = self._lock.acquire, self._lock.release   # cheaper than `with` here
        ids = self._ids   # cleared in place, never replaced: read under the lock
        mono_base = self._mono_base
        max_bytes = self._block_max_bytes
        flat_max = self._flat_max
        models = MODEL_CLASSES
        monotonic_ns = time.monotonic_ns

        def append(name: str, data: Any = None, source: str = "", timestamp: int | None = None,
                   monotonic: int | None = None) -> int:
            if data.__class__ in models and timestamp is None and monotonic is None:
                try:
                    raw = data.__pydantic_serializer__.to_json(data)
                except Exception:  # noqa: BLE001 - the general path reports or falls back
                    return general(name, data, source)
                if len(raw) <= _FAST_MAX_BYTES:
                    acquire()
                    try:
                        if writer._accepting:
                            try:
                                name_id = ids[name]
                                source_id = ids[source]
                            except (KeyError, TypeError):   # not checked yet: append_encoded checks it
                                pass
                            else:
                                mono = monotonic_ns() - mono_base
                                if mono < writer._last_mono:
                                    mono = writer._last_mono
                                writer._last_mono = mono
                                rows = writer._rows
                                if not rows:
                                    writer._start_buffer_locked()
                                rows += (name_id, source_id, FLAG_MODEL, None, mono, raw, b"")
                                writer._rows_bytes = size = writer._rows_bytes + len(raw) + 30
                                offset = writer._next_offset
                                writer._next_offset = offset + 1
                                if size >= max_bytes or len(rows) >= flat_max:
                                    writer._seal_locked()
                                    writer._wait_for_room_locked()
                                return offset
                    finally:
                        release()
                return writer.append_encoded(name, source, FLAG_MODEL, None, None, raw, b"")
            return general(name, data, source, timestamp, monotonic)

        if _CompiledModelAppender is not None:
            return _CompiledModelAppender(
                writer=self, slow=append, ids=ids, models=models, lock=self._lock, flag_model=FLAG_MODEL,
                mono_base=mono_base, max_bytes=max_bytes, flat_max=flat_max, fast_max=_FAST_MAX_BYTES,
                overhead=_ROW_OVERHEAD)
        return append

    def extend_trusted(self, rows: list[tuple[str, str, int, int, int, bytes, bytes]]) -> int:
        """Append rows `(name, source, flags, timestamp, monotonic, data, types)` copied from
        verified blocks (RawRecords): checked column by column for what the block encoder
        relies on, laid into the buffer by slice assignments, one lock acquisition per block.
        Monotonic times are clamped to never decrease. Returns the first offset."""
        if not rows:
            return self._next_offset
        names, sources, flags, ts, mono, datas, types = zip(*rows)
        sizes = list(map(_add, map(len, datas), map(len, types)))
        if not self._trusted_columns_ok(names, sources, flags, ts, mono, datas, types, sizes):
            for row in rows:
                _check_row(*row)   # raises the precise error
        return self._lay_columns(names, sources, flags, ts, mono, datas, types, sizes)

    def append_measured_columns(self, names: Sequence[str], sources: Sequence[str], flags: Sequence[int],
                                datas: Sequence[bytes]) -> int:
        """Append encoded events given as columns (no type maps), times measured now: one
        clock read for the whole batch, so its events share a time. The fast path of
        `Log.append_batch`; the rows may span blocks. Returns the first offset."""
        n = len(names)
        if not n:
            return self._next_offset
        sizes = list(map(len, datas))
        nothing: list = [None] * n
        blank = [b""] * n
        if not self._columns_ok(names, sources, flags, datas, blank, sizes, MAX_EVENT_BYTES):
            for row in zip(names, sources, flags, nothing, nothing, datas, blank):
                _check_row(*row)   # raises the precise error
        return self._lay_columns(names, sources, flags, nothing, None, datas, blank, sizes)

    def _lay_columns(self, names: Sequence[str], sources: Sequence[str], flags: Sequence[int],
                     ts: Sequence[int | None], mono: Sequence[int] | None, datas: Sequence[bytes],
                     types: Sequence[bytes], sizes: list[int]) -> int:
        """Lay checked columns into the block buffer by slice assignments, one lock
        acquisition per block, blocks cut by bisection on the cumulative sizes. `mono` None:
        measured now (once); monotonic times are clamped to never decrease."""
        cum = list(accumulate(map(_ROW_OVERHEAD.__add__, sizes), initial=0))
        n = len(names)
        first = -1
        i = 0
        with self._lock:
            self._check_open()
            if mono is None:
                now = max(time.monotonic_ns() - self._mono_base, self._last_mono)
                fixed = [now] * n
            else:
                fixed = list(accumulate(mono, max, initial=self._last_mono))   # never decreasing
                del fixed[0]
            while i < n:
                if not self._rows:
                    self._start_buffer_locked()
                room = self._block_max_records - len(self._rows) // 7
                budget = self._block_max_bytes - self._rows_bytes
                j = min(i + room, bisect_right(cum, cum[i] + budget, i) - 1)
                if j <= i:
                    if self._rows:   # the next row does not fit: it opens the next block
                        self._seal_locked()
                        self._wait_for_room_locked()
                        continue
                    j = i + 1        # a row bigger than a block goes alone
                k = j - i
                self._rows += _flat(self._ids_locked(names[i:j]), self._ids_locked(sources[i:j]), flags[i:j],
                                    ts[i:j], fixed[i:j], datas[i:j], types[i:j])
                self._last_mono = fixed[j - 1]
                self._rows_bytes += cum[j] - cum[i]
                if first < 0:
                    first = self._next_offset
                self._next_offset += k
                i = j
                if self._rows_bytes >= self._block_max_bytes or len(self._rows) >= self._flat_max:
                    self._seal_locked()
                    self._wait_for_room_locked()
        return first

    def _trusted_columns_ok(self, names: tuple, sources: tuple, flags: tuple, ts: tuple, mono: tuple,
                            datas: tuple, types: tuple, sizes: list[int]) -> bool:
        """`_check_row` of every row with explicit times, done per column in C."""
        return (set(map(type, ts)) == {int} and set(map(type, mono)) == {int}
                and -_TIME_LIMIT <= min(ts) and max(ts) < _TIME_LIMIT
                and -_TIME_LIMIT <= min(mono) and max(mono) < _TIME_LIMIT
                and self._columns_ok(names, sources, flags, datas, types, sizes, MAX_EVENT_BYTES))

    def _columns_ok(self, names: Sequence[str], sources: Sequence[str], flags: Sequence[int],
                    datas: Sequence[bytes], types: Sequence[bytes], sizes: list[int], limit: int) -> bool:
        """The checks of `_check_row` but the times, per column in C: plain flags, bytes data
        and type maps of at most `limit` bytes together, names and sources (each distinct new
        one checked once, then remembered)."""
        if not (_PLAIN_FLAGS.issuperset(flags) and set(map(type, datas)) == {bytes}
                and set(map(type, types)) == {bytes} and max(sizes) <= limit):
            return False
        # names with an id passed before; the new ones get theirs when laid (_ids_locked)
        return all(map(_good_name, set(names).union(sources).difference(self._ids)))

    def _plain_columns(self, rows: list[tuple]) -> tuple | None:
        """The columns (names, sources, flags, datas, types) and sizes of rows that pass
        `_check_row` for sure: no explicit times, and `_columns_ok` with fast-path sizes.
        None when any row needs the full check."""
        if not rows or len(rows[0]) != 7:
            return None
        try:
            names, sources, flags, ts, mono, datas, types = zip(*rows)
        except ValueError:
            return None
        n = len(rows)
        if ts.count(None) != n or mono.count(None) != n:
            return None
        try:
            sizes = list(map(_add, map(len, datas), map(len, types)))
        except TypeError:
            return None
        if not self._columns_ok(names, sources, flags, datas, types, sizes, _FAST_MAX_BYTES):
            return None
        return names, sources, flags, datas, types, sizes

    def append_many_encoded(self, rows: list[tuple[str, str, int, int | None, int | None, bytes, bytes]],
                            atomic: bool = False) -> int:
        """Append encoded rows `(name, source, flags, timestamp, monotonic, data, types)`.

        With `atomic`, the rows go into one block (never split across two; they may share it
        with other events): after a crash either all of them are in the log or none is.
        Returns the offset of the first row.
        """
        now = time.time_ns()
        columns = self._plain_columns(rows)
        if columns is not None and atomic:
            return self._append_atomic_columns(columns, now)
        if columns is not None:   # times measured as each row is appended
            checked = rows
            total = 0
        else:
            checked = []
            total = 0
            for i, (name, source, flags, timestamp, monotonic, data, types) in enumerate(rows):
                _check_row(name, source, flags, timestamp, monotonic, data, types)
                total += len(data) + len(types) + _ROW_OVERHEAD
                # one clock read for the batch; its events 1 ns apart, in order
                checked.append((name, source, flags, now + i if timestamp is None else timestamp,
                                monotonic, data, types))
        if atomic and (len(checked) > MAX_RECORDS or total > MAX_RAW_LEN - 4096):
            raise EventTooLargeError(f"an atomic batch is limited to {MAX_RECORDS} events and "
                                     f"{MAX_RAW_LEN - 4096} bytes")
        if not atomic:
            first = self._next_offset
            for row in checked:
                first = min(first, self.append_encoded(row[0], row[1], row[2], row[3], row[4], row[5], row[6]))
            return first
        with self._cond:
            self._check_open()
            self._open_block_for_batch_locked(len(checked), total)
            first = self._next_offset
            now_mono = time.monotonic_ns() - self._mono_base
            for name, source, flags, timestamp, monotonic, data, types in checked:
                mono = now_mono if monotonic is None else monotonic
                if mono < self._last_mono:
                    mono = self._last_mono
                self._last_mono = mono
                self._rows += (self._id_locked(name), self._id_locked(source), flags, timestamp, mono, data, types)
            self._finish_batch_locked(len(checked), total)
            return first

    def _append_atomic_columns(self, columns: tuple, now: int) -> int:
        """An atomic batch of checked columns: laid into the flat buffer by slice assignments
        (no Python step per row), within one block."""
        names, sources, flags, datas, types, sizes = columns
        n = len(names)
        total = sum(sizes) + _ROW_OVERHEAD * n
        if n > MAX_RECORDS or total > MAX_RAW_LEN - 4096:
            raise EventTooLargeError(f"an atomic batch is limited to {MAX_RECORDS} events and "
                                     f"{MAX_RAW_LEN - 4096} bytes")
        with self._cond:
            self._check_open()
            self._open_block_for_batch_locked(n, total)
            first = self._next_offset
            mono = max(time.monotonic_ns() - self._mono_base, self._last_mono)
            self._last_mono = mono
            # one clock read; the batch's events 1 ns apart, in order
            self._rows += _flat(self._ids_locked(names), self._ids_locked(sources), flags, range(now, now + n),
                                [mono] * n, datas, types)
            self._finish_batch_locked(n, total)
            return first

    def _open_block_for_batch_locked(self, n: int, total: int) -> None:
        """An atomic batch never spans blocks: it joins the open block when it fits there
        whole, else the open block is sealed first (after a crash the batch is all in the
        log or all absent, whatever shares its block)."""
        if self._rows and (self._rows_bytes + total > self._block_max_bytes
                           or len(self._rows) // 7 + n > self._block_max_records):
            self._seal_locked()
        if not self._rows:
            self._start_buffer_locked()

    def _finish_batch_locked(self, n: int, total: int) -> None:
        self._rows_bytes += total
        self._next_offset += n
        if self._rows_bytes >= self._block_max_bytes or len(self._rows) >= self._flat_max:
            self._seal_locked()
            self._wait_for_room_locked()

    def _id_locked(self, value: str) -> int:
        """The id of a checked name or source in the block buffer (given one if new)."""
        ids = self._ids
        i = ids.get(value)
        if i is None:
            i = ids[value] = len(self._id_names)
            self._id_names.append(value)
        return i

    def _ids_locked(self, values: Sequence[str]) -> list[int]:
        """`_id_locked` of a column of checked names or sources."""
        ids = self._ids
        try:
            return list(map(ids.__getitem__, values))
        except KeyError:   # new ones among them
            for value in set(values).difference(ids):
                self._id_locked(value)
            return list(map(ids.__getitem__, values))

    def _start_buffer_locked(self) -> None:
        self._rows_started = time.monotonic()
        self._wall_base = time.time_ns() - (time.monotonic_ns() - self._mono_base)
        self._cond.notify()   # the I/O thread may be idle: it must time the new block's age

    def _check_open(self) -> None:
        if self._failed is not None:
            raise LogWriteError(f"the log writer has failed and accepts no more events: {self._failed}")
        if self._closing or self._closed:
            raise LogClosedError("the log is closed")

    def _seal_locked(self) -> None:
        if not self._rows:
            return
        self._pending.append((self._buffer_first, self._rows, self._wall_base, self._rows_bytes, self._id_names))
        self._pending_bytes += self._rows_bytes
        if len(self._id_names) > _MAX_IDS:   # bound the table (names made per event): start afresh
            self._ids.clear()
            self._id_names = []
        self._rows = []
        self._rows_bytes = 0
        self._buffer_first = self._next_offset
        self._cond.notify_all()

    def _wait_for_room_locked(self) -> None:
        # the queue is bounded in blocks of full size: many small (atomic) blocks may queue up
        # to the same bytes, so a producer of small batches does not wait on every block
        limit = self.options.max_pending_blocks
        while (len(self._pending) > limit and self._failed is None
               and (self._pending_bytes > limit * self._block_max_bytes or len(self._pending) > 64 * limit)):
            self._cond.wait()

    def flush(self, sync: bool = True, timeout: float | None = None) -> int:
        """Write buffered events (and fsync them with `sync`); returns the offset reached."""
        with self._cond:
            if self._closed:
                return self._durable_offset if sync else self._written_offset
            if self._failed is None:
                self._seal_locked()
            target = self._next_offset
            if sync:
                self._sync_wanted = max(self._sync_wanted, target)
            self._cond.notify_all()
            deadline = None if timeout is None else time.monotonic() + timeout
            while self._failed is None and (self._written_offset < target or (sync and self._durable_offset < target)):
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    break
                self._cond.wait(remaining)
            if self._failed is not None:
                raise LogWriteError(f"flush failed: {self._failed}")
            return self._durable_offset if sync else self._written_offset

    # the I/O thread ---------------------------------------------------------
    def _next_job(self) -> Any:
        """Wait for work; called with the lock held. Returns a block, _SYNC, or None to stop."""
        opts = self.options
        while True:
            if self._failed is not None:
                return None
            if self._pending:
                return self._pending[0]
            now = time.monotonic()
            if self._rows and now - self._rows_started >= opts.block_max_age:
                self._seal_locked()
                continue
            unsynced = self._durable_offset < self._written_offset
            if unsynced and (self._sync_wanted > self._durable_offset or self._closing or
                             (opts.fsync == "interval" and now - self._last_sync >= opts.fsync_interval)):
                return _SYNC
            if self._closing and not self._rows:
                return None
            timeouts = []
            if self._rows:
                timeouts.append(self._rows_started + opts.block_max_age - now)
            if unsynced and opts.fsync == "interval":
                timeouts.append(self._last_sync + opts.fsync_interval - now)
            self._cond.wait(max(0.0, min(timeouts)) if timeouts else None)

    def _run(self) -> None:
        while True:
            with self._cond:
                job = self._next_job()
                if job is not None and job is not _SYNC:
                    job = self._batch_locked()
            if job is None:
                return
            try:
                if job is _SYNC:
                    target = self._written_offset
                    self._sync_segment()
                    self._unsynced_blocks = 0
                    with self._cond:
                        self._durable_offset = max(self._durable_offset, target)
                        self._last_sync = time.monotonic()
                        self._cond.notify_all()
                    self._maybe_write_active_index()
                else:
                    self._write_blocks(job)
            except BaseException as exc:  # noqa: BLE001 - any failure fails the writer
                self._discard_unsynced()
                with self._cond:
                    self._failed = LogWriteError(f"{type(exc).__name__}: {exc}")
                    self._accepting = False
                    self._cond.notify_all()
                return

    def _batch_locked(self) -> list[tuple[int, list, int, int, list[str]]]:
        """The queued blocks the I/O thread takes together: the oldest, and those after it up
        to _BATCH_BYTES of payload. A producer ahead of the disk (or of the I/O thread's turns
        at the GIL) is caught up with in fewer, bigger steps."""
        batch = [self._pending[0]]
        size = batch[0][3]
        for job in islice(self._pending, 1, None):
            size += job[3]
            if size > _BATCH_BYTES:
                break
            batch.append(job)
        return batch

    def _write_blocks(self, batch: list[tuple[int, list, int, int, list[str]]]) -> None:
        """Encode the batch's blocks (compressed in one call), write the frames of each segment
        with one `write`, roll where a segment is full, fsync per the policy."""
        opts = self.options
        encoded = encode_flat_many([(first, rows, wall_base, table) for first, rows, wall_base, _, table in batch],
                                   self._compressor, self._scratch)
        frames: list[bytes] = []       # of the active segment, not written yet
        placed: list[tuple] = []       # their (entry, meta, raw length)
        size = self._seg_size
        for (first, *_), (frame, header, meta) in zip(batch, encoded):
            if (self._entries or placed) and (size + len(frame) > opts.segment_max_bytes or self._roll_wanted or (
                    opts.segment_max_age is not None and time.monotonic() - self._seg_created >= opts.segment_max_age)):
                self._write_frames(frames, placed, size)
                frames, placed = [], []
                self._roll(first)
                size = self._seg_size
            placed.append((BlockEntry.from_header(header, size), meta, header.raw_len))
            frames.append(frame)
            size += len(frame)
        self._write_frames(frames, placed, size)
        end = batch[-1][0] + len(batch[-1][1]) // 7
        durable = False
        if opts.fsync == "always":
            # group commit: while more blocks wait in the queue (the producer is ahead of the
            # disk), write them first and cover them with one fdatasync, at most
            # _GROUP_BLOCKS blocks apart; no block is reported durable before its sync
            self._unsynced_blocks += len(batch)
            if len(self._pending) <= len(batch) or self._unsynced_blocks >= _GROUP_BLOCKS:
                self._sync_segment()
                durable = True
                self._unsynced_blocks = 0
        with self._cond:
            self._written_offset = end
            if durable:
                self._durable_offset = end
                self._last_sync = time.monotonic()
            elif opts.fsync == "always":
                self._sync_wanted = max(self._sync_wanted, end)   # synced once the queue is empty
            for _ in batch:
                self._pending_bytes -= self._pending.popleft()[3]
            self._cond.notify_all()
        if durable:
            self._maybe_write_active_index()

    def _write_frames(self, frames: list[bytes], placed: list[tuple], size: int) -> None:
        """One `write` of consecutive frames of the active segment, then their index entries."""
        if not frames:
            return
        self.fs.write(self._seg_fd, frames[0] if len(frames) == 1 else b"".join(frames))
        for entry, meta, raw_len in placed:
            self._entries.append(entry)
            self._summary.add_block(entry, meta, raw_len)
        self._seg_size = size

    def _maybe_write_active_index(self) -> None:
        """Every `index_interval` seconds, index the active segment up to what is fsynced, so
        opening a long capture scans only the frames written since (the index never claims
        data that a power loss could take back)."""
        interval = self.options.index_interval
        if interval is None or not self._entries or time.monotonic() - self._last_index_write < interval:
            return
        self._write_index()
        self._last_index_write = time.monotonic()

    def roll(self) -> None:
        """Close the active segment at the next block (e.g. on SIGHUP or a new day)."""
        with self._cond:
            self._seal_locked()
            self._roll_wanted = True   # _write_blocks rolls before the next block (if the segment has any)
            self._cond.notify_all()

    def _roll(self, next_base: int) -> None:
        self._sync_segment()
        self._unsynced_blocks = 0
        with self._cond:
            self._durable_offset = max(self._durable_offset, self._written_offset)
        self._write_index()
        self.fs.close(self._seg_fd)
        self._seg_fd = -1
        self._new_segment(next_base)
        if self.options.retain_max_age is not None or self.options.retain_max_bytes is not None:
            self._apply_retention()

    def _apply_retention(self) -> None:
        from .retention import retain
        try:
            self.last_retention = retain(self.path, self.options.retain_max_age, self.options.retain_max_bytes,
                                         fs=self.fs)
        except OSError as exc:  # retention must never stop a capture
            logger.warning("retention failed on %s: %s", self.path, exc)

    def _new_segment(self, base: int) -> None:
        path = os.path.join(self.path, segment_filename(base))
        fd = self.fs.open_append(path)
        self._seg_fd = fd
        self._seg_path, self._synced_size = path, 0
        self.fs.write(fd, encode_segment_header(base))
        self._seg_size = len(encode_segment_header(base))
        self._sync_segment()
        self.fs.fsync_dir(self.path)
        self._seg_base = base
        self._entries = []
        self._summary = SegmentSummary()
        self._seg_created = time.monotonic()
        self._roll_wanted = False

    def _sync_segment(self) -> None:
        """fdatasync the active segment and remember how many of its bytes are on stable storage."""
        self.fs.fdatasync(self._seg_fd)
        self._synced_size = self._seg_size

    def _discard_unsynced(self) -> None:
        """After a failed write or fsync, cut the active segment back to what its last
        successful fdatasync covered. A failed fsync may have dropped the pages it was writing
        while the page cache still shows them: left in place, the next writer would adopt those
        bytes and its own successful fsync would not write them, so a power loss would take
        back what that writer reported durable. The bytes cut were never reported durable."""
        path = self._seg_path
        try:
            if path is not None and os.path.getsize(path) > self._synced_size:
                self.fs.truncate(path, self._synced_size)
        except OSError as exc:   # the disk is failing: the next open's recovery is all that is left
            logger.warning("could not cut %s back to its %d fsynced bytes: %s", path, self._synced_size, exc)

    def _write_index(self) -> None:
        assert self._seg_base is not None
        index = SegmentIndex(self._seg_base, self._seg_size, list(self._entries), self._summary)
        self.fs.write_atomic(os.path.join(self.path, index_filename(self._seg_base)), encode_index(index))

    # closing ------------------------------------------------------------------
    def close(self) -> None:
        """Write and fsync everything, write the active segment's index, release the lock."""
        with self._cond:
            if self._closed:
                return
            if self._failed is None:
                self._seal_locked()
                self._sync_wanted = self._next_offset
            self._closing = True
            self._accepting = False
            self._cond.notify_all()
        self._thread.join()
        failure = self._failed
        try:
            if failure is None:
                try:
                    self._sync_segment()
                    self._durable_offset = self._written_offset
                    self._write_index()
                except OSError as exc:
                    self._discard_unsynced()
                    failure = self._failed = LogWriteError(f"{type(exc).__name__}: {exc}")
                    self._accepting = False
        finally:
            if self._seg_fd >= 0:
                try:
                    self.fs.close(self._seg_fd)
                except OSError:
                    pass
                self._seg_fd = -1
            release_lock(self._lock_fd)
            self._closed = True
            self._accepting = False
        if failure is not None:
            raise LogWriteError(f"the log was closed after a write failure; events from offset "
                                f"{self._durable_offset} on may be lost: {failure}")
