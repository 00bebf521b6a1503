"""The single writer of a log: the block buffer, a background I/O thread, rolling, fsync
policy, the hash chain, and failure handling.

Every append reaches `append_rows` (columns of encoded events) or `append_row` (the same for
one event, without building columns): the rows are checked column by column (rows.py) and
laid into the open block (`BlockBuffer`: clock clamp, ids, byte accounting, seal rule)
under the writer's lock; the caller pays for encoding the event's data, nothing else. Full
blocks go to a bounded queue; the I/O thread takes the queued blocks together, encodes and
compresses them in one call, links them into the recording's hash chain (format v2),
writes each segment's share with a single `write`, and fsyncs per the policy (a
`flush(sync=True)` at fsync=always that finds the I/O thread idle does that work itself, on
the calling thread: `_io_inline_locked`). Offsets below `durable_offset` are on stable storage. After any failed write or fsync the writer is
failed for good: it does not retry (after a failed fsync the kernel may have dropped the
dirty pages, so a retry could report lost data as durable), `append` raises,
`lost_count` says how many accepted events may not be stored, and it cuts the active
segment back to what its last successful fdatasync covered (`_discard_unsynced`).
"""
from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from dataclasses import dataclass
from itertools import islice
from typing import Any

import zstandard

from . import chain as _chain
from .chainverify import last_link
from .block import MAX_EVENT_BYTES, MAX_RAW_LEN, MAX_RECORDS, ROW_FIELDS, encode_flat_many
from .buffer import BlockBuffer, SealedBlock
from .errors import LogClosedError, LogWriteError, UnsupportedFormatError
from .fsio import FileSystem
from .headers import MAX_HEADER_BYTES
from .index import SegmentIndex, SegmentSummary, encode_index
from .keyindex import keys_filename
from .lock import acquire_lock, release_lock
from .manifest import Manifest, write_manifest
from .recovery import active_keys, prepare_for_append
from .rows import PLAIN_FLAGS, EncodedRows, check_row, checked_sizes, validate_rows
from .segment import BlockEntry, encode_segment_header, index_filename, segment_filename

FSYNC_POLICIES = ("always", "interval", "never")
logger = logging.getLogger("evlog.segments")


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
    preallocate_bytes: int = 1 << 20      # fsync=always: reserve the active segment's space this far ahead (0: never)

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
        if self.preallocate_bytes < 0:
            raise ValueError("preallocate_bytes must be 0 or more")
        if not 1 <= self.max_pending_blocks <= 1024:
            raise ValueError("max_pending_blocks must be between 1 and 1024")


_SYNC = object()
_ACTIVE_SECONDS = 1.0   # an I/O thread idle this long after a block opened sleeps until notified
_GROUP_BLOCKS = 8   # fsync=always: at most this many blocks share one fdatasync
_BATCH_BYTES = 4 << 20   # the I/O thread encodes, compresses and writes queued blocks up to this together


def _no_headers_in_v1(path: str) -> UnsupportedFormatError:
    return UnsupportedFormatError(
        f"{path} is a format version 1 recording, which has no per-event headers: record headers into a new "
        f"recording (format 2), or copy this one into one (evlog merge / slice)")


class LogWriter:
    def __init__(self, path: str, options: WriterOptions, fs: FileSystem, manifest: Manifest,
                 chain_key: bytes | None = None) -> None:
        self.path = path
        self.options = options
        self.fs = fs
        self.manifest = manifest
        self.last_retention = None
        self._last_index_write = time.monotonic()
        self._lock_fd = acquire_lock(path)
        self._seg_path: str | None = None   # the active segment's file...
        self._synced_size = 0               # ...and how much of it its last fdatasync covered
        self._reserved_end = 0              # ...and where the space reserved ahead of its data ends
        self._preallocate = options.preallocate_bytes if options.fsync == "always" else 0
        try:
            # a v1 recording keeps its version: v1 blocks, no headers, no chain (docs/format.md)
            self.format_version = manifest.format_version
            self._chain_key = _chain.check_key(chain_key)
            if self.format_version >= 2:
                _chain.check_record_key(manifest.chain, self._chain_key, path)
            elif self._chain_key is not None:
                raise UnsupportedFormatError(f"{path} is a format version 1 recording: it has no hash chain to key")
            self.report, state = prepare_for_append(path, fs)
            self._compressor = zstandard.ZstdCompressor(level=options.compression_level, write_content_size=True)
            self._lock = threading.Lock()
            self._cond = threading.Condition(self._lock)      # flush and append wait on it
            self._io_cond = threading.Condition(self._lock)   # the I/O thread waits on it, for work
            self._io_deadline = float("inf")   # when the I/O thread looks again if not notified
            self._io_waits = False   # the I/O thread waits for a caller's I/O to end (_io_inline_locked)
            self._manifest_lock = threading.Lock()   # the I/O thread (chain head) and set_metadata write it
            self._scratch = bytearray()   # the I/O thread's payload buffer, reused block to block
            self._block_max_bytes = options.block_max_bytes
            self._max_pending = options.max_pending_blocks
            # sealed blocks for the I/O thread
            self._pending: deque[SealedBlock] = deque()
            self._pending_bytes = 0
            self._written_offset = state.next_offset
            self._durable_offset = state.next_offset
            self._frames_end = state.next_offset   # I/O thread: end of the last frame written to the OS
            self._sync_wanted = 0
            self._io_busy = False   # a thread (the I/O thread, or a caller of flush) is doing I/O
            self._last_sync = time.monotonic()
            self._failed: LogWriteError | None = None
            self._failure_cause: BaseException | None = None
            self._closing = False
            self._closed = False
            self._accepting = True   # False once failed, closing or closed: one test on the hot path
            now_ns = time.time_ns()
            if state.last_mono is None:
                elapsed = max(0, now_ns - manifest.start_time_ns)
                last_mono = 0
            else:
                elapsed = state.last_mono + max(0, now_ns - (state.last_ts or now_ns))
                last_mono = state.last_mono
            self._mono_base = time.monotonic_ns() - elapsed
            self._buffer = BlockBuffer(state.next_offset, last_mono, self._mono_base, options.block_max_bytes,
                                       options.block_max_records, self._block_opened, self._seal_locked)
            # the hash chain (v2): the I/O thread links each block it encodes; the head of what
            # was written and of what is durable go to the manifest (never ahead of an fsync)
            self._chain: _chain.Chain | None = None
            self._written_head: tuple[int, bytes] | None = None
            self._durable_head: tuple[int, bytes] | None = None
            self._recorded_head: tuple[int, bytes] | None = None
            if self.format_version >= 2:
                head = last_link(path, manifest)
                self._chain = _chain.Chain(head[1], self._chain_key)
                self._written_head = self._durable_head = head
                self._recorded_head = _chain.recorded_head(manifest)
            # the active segment (opened for append, or created)
            self._seg_base = state.segment_base
            self._entries: list[BlockEntry] = state.entries
            self._summary: SegmentSummary = state.summary
            self._seg_size = state.segment_size
            self._seg_created = time.monotonic()
            self._roll_wanted = False
            self._unsynced_blocks = 0   # blocks written since the last fdatasync (fsync=always)
            self._keys = active_keys(path, manifest.keys, self._seg_base, state.entries)   # key index (keyread.py)
            if self._seg_base is None:
                self._seg_fd = -1
                self._new_segment(state.next_offset)
            else:
                self._seg_path = os.path.join(path, segment_filename(self._seg_base))
                self._synced_size = self._seg_size   # prepare_for_append fsynced what it adopted
                self._seg_fd = fs.open_append(self._seg_path)
                self._reserved_end = self._seg_size   # (prepare_for_append cut reserved zeros off)
        except BaseException:
            self._discard_unsynced()
            release_lock(self._lock_fd)
            raise
        self._thread = threading.Thread(target=self._run, name=f"evlog-writer:{os.path.basename(path)}", daemon=True)
        self._thread.start()

    # state ------------------------------------------------------------------
    @property
    def next_offset(self) -> int:
        """The offset the next accepted event gets."""
        return self._buffer.next_offset

    @property
    def written_offset(self) -> int:
        """Events below this offset have been written to the OS (visible to readers)."""
        return self._written_offset

    @property
    def durable_offset(self) -> int:
        """Events below this offset are on stable storage (fsynced): never more than that."""
        return self._durable_offset

    @property
    def lost_count(self) -> int:
        """Events accepted (given an offset) that the failed writer may not have stored: those
        from `durable_offset` on. 0 while the writer works (they are on their way)."""
        if self._failed is None:
            return 0
        return self._buffer.next_offset - self._durable_offset

    @property
    def failed(self) -> LogWriteError | None:
        return self._failed

    def monotonic_now(self) -> int:
        """What the writer would stamp now: ns since the recording's start, never below the
        last event's."""
        return self._buffer.now()

    # appending -------------------------------------------------------------
    def append_row(self, name: str, source: str, flags: int, data: bytes, types: bytes = b"",
                   headers: bytes = b"", timestamp: int | None = None, monotonic: int | None = None) -> int:
        """`append_rows` of one event, without building columns. Returns its offset."""
        buffer = self._buffer
        size = len(data) + len(types) + len(headers)
        # the common row (known name and source, plain flags, bytes, default times) passes a
        # few type tests; anything else goes through the full check
        if not (data.__class__ is bytes and types.__class__ is bytes and headers.__class__ is bytes
                and name.__class__ is str and source.__class__ is str and timestamp is None and monotonic is None
                and flags in PLAIN_FLAGS and size <= MAX_EVENT_BYTES and (not headers or len(headers) <= MAX_HEADER_BYTES)
                and name in buffer.ids and source in buffer.ids):
            check_row(name, source, flags, timestamp, monotonic, data, types, headers)
        if headers and self.format_version < 2:
            raise _no_headers_in_v1(self.path)
        with self._lock:
            if not self._accepting:
                self._check_open()
            offset = buffer.add(name, source, flags, timestamp, monotonic, data, types, headers, size)
            if len(self._pending) > self._max_pending:
                self._wait_for_room_locked()
            return offset

    def append_rows(self, rows: EncodedRows, *, atomic: bool = False, validate: bool = False) -> int:
        """Append encoded rows (see `EncodedRows`); returns the first one's offset (the rows get
        consecutive offsets). The rows are checked column by column; `validate` also decodes
        each row's data and headers (for bytes that did not come from the codec or from
        verified blocks). With `atomic` they go into one block (possibly with other events):
        after a crash all of them are in the log or none is."""
        n = len(rows.names)
        if n <= 1:
            if not n:
                return self._buffer.next_offset
            if validate:
                validate_rows(rows)
            return self.append_row(rows.names[0], rows.sources[0], rows.flags[0], rows.datas[0], rows.types[0],
                                   b"" if rows.headers is None else rows.headers[0],
                                   None if rows.timestamps is None else rows.timestamps[0],
                                   None if rows.monotonics is None else rows.monotonics[0])
        sizes, ordered = checked_sizes(rows, self._buffer.ids)
        if validate:
            validate_rows(rows)
        headers = rows.headers
        if headers is None or headers.count(b"") == n:
            headers = [b""] * n
        elif self.format_version < 2:
            raise _no_headers_in_v1(self.path)
        ts = [None] * n if rows.timestamps is None else rows.timestamps
        with self._lock:
            self._check_open()
            first = self._buffer.add_columns(rows.names, rows.sources, rows.flags, ts, rows.monotonics, rows.datas,
                                             rows.types, headers, sizes, atomic, ordered)
            self._wait_for_room_locked()
            return first

    def _check_open(self) -> None:
        if self._failed is not None:
            raise LogWriteError(f"the log writer has failed and accepts no more events: {self._failed}")
        if self._closing or self._closed:
            raise LogClosedError("the log is closed")

    def _seal_locked(self, wake: bool = True) -> None:
        """Queue the open block for the I/O thread (the buffer's seal rule calls this too);
        `wake=False`: the caller writes it itself (_io_inline_locked)."""
        block = self._buffer.take()
        if block is None:
            return
        self._pending.append(block)
        self._pending_bytes += block.size
        if wake:
            self._io_cond.notify()

    def _block_opened(self) -> None:
        """The open block got its first row: wake the I/O thread (to seal it block_max_age
        from now) unless it looks again by then anyway. A stream of inserts that flush their
        own blocks (fsync=always) so wakes it about once per block_max_age, not per insert."""
        if self._io_deadline > self._buffer.started + self.options.block_max_age:
            self._io_cond.notify()

    def _wait_for_room_locked(self) -> None:
        # the queue is bounded in blocks of full size: many small (atomic) blocks may queue up
        # to the same bytes, so a producer of small batches does not wait on every block
        limit = self.options.max_pending_blocks
        while (len(self._pending) > limit and self._failed is None
               and (self._pending_bytes > limit * self._block_max_bytes or len(self._pending) > 64 * limit)):
            self._cond.wait()

    # the manifest ----------------------------------------------------------------
    def update_metadata(self, values: dict[str, Any]) -> None:
        """Update the manifest's free-form metadata and write it (atomically)."""
        with self._manifest_lock:
            self.manifest.metadata.update(values)
            write_manifest(self.fs, self.path, self.manifest)

    def _record_head(self) -> None:
        """Write the durable chain head into the manifest (I/O thread, after an fsync). Like any
        failed write, a failure here fails the writer (what was fsynced stays durable)."""
        head = self._durable_head
        if self._chain is None or head is None or head == self._recorded_head:
            return
        record = dict(self.manifest.chain or {})
        record.update(head_offset=head[0], head=head[1].hex())
        with self._manifest_lock:
            self.manifest.chain = _chain.seal_record(record, self._chain_key)
            write_manifest(self.fs, self.path, self.manifest)
        self._recorded_head = head

    def _mark_durable_locked(self, offset: int) -> None:
        """Events below `offset` (<= written) are fsynced; so is the chain up to there."""
        if offset > self._durable_offset:
            self._durable_offset = offset
        if self._written_head is not None and self._written_head[0] <= self._durable_offset:
            self._durable_head = self._written_head

    def flush(self, sync: bool = True, timeout: float | None = None) -> int:
        """Write buffered events (and fsync them with `sync`); returns the offset reached."""
        with self._cond:
            if self._closed:
                return self._durable_offset if sync else self._written_offset
            inline = sync and timeout is None and self.options.fsync == "always" and not self._io_busy and \
                self._failed is None and not self._closing
            if self._failed is None:
                self._seal_locked(wake=not inline)
            target = self._buffer.next_offset
            if sync:
                self._sync_wanted = max(self._sync_wanted, target)
            if inline and (self._pending or self._durable_offset < self._written_offset):
                self._io_inline_locked()
            if self._pending or self._sync_wanted > self._durable_offset:
                self._io_cond.notify()
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
            if self._io_busy:   # a caller of flush is writing (_io_inline_locked): woken when it
                # leaves work here, else looking again within block_max_age (a stream of inserts
                # that flush their own blocks keeps a caller busy most of the time: waking this
                # thread after each of them cost it a GIL hand-off per insert)
                self._io_waits = True
                self._io_deadline = time.monotonic() + opts.block_max_age
                self._io_cond.wait(opts.block_max_age)
                continue
            if self._pending:
                return self._pending[0]
            now = time.monotonic()
            buffer = self._buffer
            if buffer.rows and now - buffer.started >= opts.block_max_age:
                self._seal_locked()
                continue
            unsynced = self._durable_offset < self._written_offset
            if unsynced and (self._sync_wanted > self._durable_offset or self._closing or
                             (opts.fsync == "interval" and now - self._last_sync >= opts.fsync_interval)):
                return _SYNC
            if self._closing and not buffer.rows:
                return None
            timeouts = []
            if buffer.rows:
                timeouts.append(buffer.started + opts.block_max_age - now)
            elif now - buffer.started < _ACTIVE_SECONDS:
                # blocks open often (inserts that write their own: fsync=always): look again
                # within block_max_age, so that opening the next one needs no wake-up
                timeouts.append(opts.block_max_age)
            if unsynced and opts.fsync == "interval":
                timeouts.append(self._last_sync + opts.fsync_interval - now)
            wait = max(0.0, min(timeouts)) if timeouts else None
            self._io_deadline = float("inf") if wait is None else now + wait
            self._io_cond.wait(wait)

    def _run(self) -> None:
        while True:
            with self._cond:
                job = self._next_job()
                if job is not None and job is not _SYNC:
                    job = self._batch_locked()
                if job is None:
                    return
                self._io_busy = True
            try:
                failed = not self._do_job(job)
            finally:
                with self._cond:
                    self._io_busy = False
            if failed:
                return

    def _io_inline_locked(self) -> None:
        """`flush(sync=True)` at fsync=always while no thread does I/O: the caller writes and
        fdatasyncs the queued blocks itself (called with the lock held, released meanwhile),
        instead of waking the I/O thread and being woken by it: a single-event insert then
        costs one write and one fdatasync on its own thread (both release the GIL), not two
        thread hand-offs besides. The durability is the same code's (`_write_blocks` reports
        nothing durable before its fdatasync); `_io_busy` keeps the I/O thread out meanwhile."""
        job = self._batch_locked() if self._pending else _SYNC
        self._io_busy = True
        self._lock.release()
        try:
            ok = self._do_job(job)
        finally:
            self._lock.acquire()
            self._io_busy = False
            if self._io_waits and (self._pending or self._closing or self._sync_wanted > self._durable_offset):
                self._io_waits = False
                self._io_cond.notify()
        if not ok and not isinstance(self._failure_cause, Exception):
            raise self._failure_cause   # e.g. KeyboardInterrupt: the writer has failed, the caller hears of it

    def _do_job(self, job: Any) -> bool:
        """Run one job (a batch of blocks, or _SYNC) without the lock; False if it failed,
        which fails the writer."""
        try:
            if job is _SYNC:
                target = self._written_offset
                self._sync_segment()
                self._unsynced_blocks = 0
                with self._cond:
                    self._mark_durable_locked(target)
                    self._last_sync = time.monotonic()
                    self._cond.notify_all()
                self._maybe_write_active_index()
            else:
                self._write_blocks(job)
            return True
        except BaseException as exc:  # noqa: BLE001 - any failure fails the writer
            self._failure_cause = exc
            self._discard_unsynced()
            with self._cond:
                self._failed = LogWriteError(f"{type(exc).__name__}: {exc}")
                self._accepting = False
                self._cond.notify_all()
                self._io_cond.notify()
            return False

    def _batch_locked(self) -> list[SealedBlock]:
        """The queued blocks the I/O thread takes together: the oldest, and those after it up
        to _BATCH_BYTES of payload. A producer ahead of the disk (or of the I/O thread's turns
        at the GIL) is caught up with in fewer, bigger steps."""
        batch = [self._pending[0]]
        size = batch[0].size
        for job in islice(self._pending, 1, None):
            size += job.size
            if size > _BATCH_BYTES:
                break
            batch.append(job)
        return batch

    def _write_blocks(self, batch: list[SealedBlock]) -> None:
        """Encode the batch's blocks (compressed in one call, linked into the chain), write the
        frames of each segment with one `write`, roll where a segment is full, fsync per the
        policy."""
        opts = self.options
        encoded = encode_flat_many([(b.first_offset, b.rows, b.wall_base, b.table) for b in batch],
                                   self._compressor, self._scratch, self.format_version, self._chain)
        frames: list[bytes] = []       # of the active segment, not written yet
        placed: list[tuple] = []       # their (entry, meta, raw length)
        size = self._seg_size
        keys = self._keys
        for (first, rows, _, _, table), (frame, header, meta) in zip(batch, encoded):
            if (self._entries or placed) and (size + len(frame) > opts.segment_max_bytes or self._roll_wanted or (
                    opts.segment_max_age is not None and time.monotonic() - self._seg_created >= opts.segment_max_age)):
                self._write_frames(frames, placed, size)
                frames, placed = [], []
                self._roll(first)
                size = self._seg_size
            placed.append((BlockEntry.from_header(header, size), meta, header.raw_len))
            if keys is not None:
                keys.add(first, rows, table)
            frames.append(frame)
            size += len(frame)
        self._write_frames(frames, placed, size)
        end = batch[-1].first_offset + len(batch[-1].rows) // ROW_FIELDS
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
                self._mark_durable_locked(end)
                self._last_sync = time.monotonic()
            elif opts.fsync == "always":
                self._sync_wanted = max(self._sync_wanted, end)   # synced once the queue is empty
            for _ in batch:
                self._pending_bytes -= self._pending.popleft().size
            self._cond.notify_all()
        if durable:
            self._maybe_write_active_index()

    def _write_frames(self, frames: list[bytes], placed: list[tuple], size: int) -> None:
        """One `write` of consecutive frames of the active segment, then their index entries."""
        if not frames:
            return
        if size > self._reserved_end and self._preallocate:
            self._reserve(size)
        self.fs.write(self._seg_fd, frames[0] if len(frames) == 1 else b"".join(frames))
        for entry, meta, raw_len in placed:
            self._entries.append(entry)
            self._summary.add_block(entry, meta, raw_len)
        self._seg_size = size
        entry, meta, _ = placed[-1]
        self._frames_end = entry.end_offset
        if self._chain is not None:
            self._written_head = (entry.end_offset, meta.chain)

    def _reserve(self, size: int) -> None:
        """Reserve the active segment's space past `size` (preallocate_bytes, within the
        segment's size limit), so the next writes change no file size and each fdatasync of
        fsync=always syncs data alone (about a fifth cheaper than one that commits a new
        size). The first sync after it commits the new size, as for any append. The zeros
        reserved read as the end of the data (segment.py); roll and close cut them off."""
        end = min(size + self._preallocate, self.options.segment_max_bytes)
        if end <= size:
            return   # the segment is about full: it rolls soon
        if not self.fs.preallocate(self._seg_fd, self._seg_size, end - self._seg_size):
            self._preallocate = 0   # the file system cannot: plain appends from now on
        self._reserved_end = end    # (a failed reservation may have set the size: cut it off too)

    def _cut_reserved(self) -> None:
        """Cut the reserved zeros off the active segment (before it is sealed or closed), not
        synced: a failure, or a power loss undoing it, loses nothing (readers take the zeros
        for the end of the data; the next writer cuts them), so a failure is logged, not raised."""
        if self._reserved_end > self._seg_size:
            try:
                self.fs.trim(self._seg_fd, self._seg_size)
            except OSError as exc:
                logger.warning("could not cut the space reserved at the end of %s: %s", self._seg_path, exc)
        self._reserved_end = self._seg_size

    def _maybe_write_active_index(self) -> None:
        """Every `index_interval` seconds, index the active segment up to what is fsynced, so
        opening a long capture scans only the frames written since (the index never claims
        data that a power loss could take back)."""
        interval = self.options.index_interval
        if interval is None or not self._entries or time.monotonic() - self._last_index_write < interval:
            return
        self._write_index(periodic=True)
        self._last_index_write = time.monotonic()
        self._record_head()

    def roll(self) -> None:
        """Close the active segment at the next block (e.g. on SIGHUP or a new day)."""
        with self._cond:
            self._seal_locked()
            self._roll_wanted = True   # _write_blocks rolls before the next block (if the segment has any)
            self._io_cond.notify()

    def _roll(self, next_base: int) -> None:
        self._sync_segment()
        self._cut_reserved()
        self._unsynced_blocks = 0
        with self._cond:   # every frame written so far is durable now, this batch's too
            self._written_offset = max(self._written_offset, self._frames_end)
            self._mark_durable_locked(self._written_offset)
            self._cond.notify_all()
        self._write_index()
        self._record_head()
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
        self._seg_size = self._reserved_end = len(encode_segment_header(base))
        self._sync_segment()
        self.fs.fsync_dir(self.path)
        self._seg_base = base
        self._entries = []
        self._summary = SegmentSummary()
        if self._keys is not None:
            self._keys.reset(base)
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

    def _write_index(self, periodic: bool = False) -> None:
        assert self._seg_base is not None
        index = SegmentIndex(self._seg_base, self._seg_size, list(self._entries), self._summary)
        self.fs.write_atomic(os.path.join(self.path, index_filename(self._seg_base)), encode_index(index))
        if self._keys is not None and (not periodic or self._keys.due()):
            self.fs.write_atomic(os.path.join(self.path, keys_filename(self._seg_base)),
                                 self._keys.encode(self._seg_base, self._seg_size, self._entries))

    # closing ------------------------------------------------------------------
    def close(self) -> None:
        """Write and fsync everything, write the active segment's index, release the lock."""
        with self._cond:
            if self._closed:
                return
            if self._failed is None:
                self._seal_locked()
                self._sync_wanted = self._buffer.next_offset
            self._closing = True
            self._accepting = False
            self._cond.notify_all()
            self._io_cond.notify()
        self._thread.join()
        failure = self._failed
        try:
            if failure is None:
                try:
                    self._sync_segment()
                    self._mark_durable_locked(self._written_offset)
                    self._cut_reserved()
                    self._write_index()
                    self._record_head()
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
