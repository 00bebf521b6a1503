"""The flight recorder's ring: the last events, as compressed blocks in memory.

Rows come in as the recorder's encoded columns (`EncodedRows`); they go through the storage
engine's own open block (`segments.buffer.BlockBuffer`: the monotonic clamp, the id table,
the byte accounting and the seal rule) and are sealed with the engine's block encoder
(`segments.block.encode_flat`, zstd): a block in the ring is byte for byte a block the
writer would put in a segment. Every event gets a sequence number (its "offset" in the
ring), and its monotonic time never goes below the previous event's, so a span of time is
a span of sequence numbers.

Memory is bounded by bytes and by age, never more: `bytes` (the sealed frames plus the open
block's accounted bytes) stays at or below `max_bytes` after every `add`, and no sealed
block whose newest event is older than `max_age_ns` is kept (`evict`). The oldest blocks go
first. Not thread-safe: the recorder's thread owns it.
"""
from __future__ import annotations

import time
from collections import deque
from typing import NamedTuple, Sequence

import zstandard

from ..segments.block import MAX_RECORDS, decode_frame, encode_flat
from ..segments.buffer import BlockBuffer
from ..segments.rows import EncodedRows, checked_sizes

BLOCK_OVERHEAD = 160    # bytes a sealed block costs besides its frame (the tuple, the bytes object)
MIN_RING_BYTES = 64 << 10


class RingBlock(NamedTuple):
    """A sealed block: sequence numbers first_seq .. end_seq - 1, newest time last_mono."""

    first_seq: int
    end_seq: int
    first_mono: int
    last_mono: int
    frame: bytes

    @property
    def cost(self) -> int:
        return len(self.frame) + BLOCK_OVERHEAD

    def raw_records(self) -> list:
        """The block's events, data still encoded (`RawRecord`s: offset = sequence number)."""
        return decode_frame(self.frame).raw_records()


class Ring:
    """Sealed compressed blocks, oldest first, and the open block being filled."""

    def __init__(self, max_bytes: int, max_age_ns: int, mono_base: int, *, block_bytes: int | None = None,
                 compression_level: int = 1) -> None:
        if max_bytes < MIN_RING_BYTES:
            raise ValueError(f"keep_bytes must be at least {MIN_RING_BYTES} bytes")
        if max_age_ns <= 0:
            raise ValueError("keep must be a positive duration")
        self.max_bytes = max_bytes
        self.max_age_ns = max_age_ns
        # the open block is at most a sixteenth of the bound (and never more than the writer's default)
        self.block_bytes = block_bytes or min(384 << 10, max_bytes // 16)
        self.blocks: deque[RingBlock] = deque()
        self.sealed_bytes = 0
        self.evicted_blocks = 0
        self.evicted_events = 0
        self.evicted_last_mono: int | None = None   # the newest event time ever evicted
        self._compressor = zstandard.ZstdCompressor(level=compression_level, write_content_size=True)
        self._scratch = bytearray()
        self._buffer = BlockBuffer(0, 0, mono_base, self.block_bytes, MAX_RECORDS, _nothing, self.seal)

    # state ---------------------------------------------------------------------------
    @property
    def bytes(self) -> int:
        """Memory the ring holds: sealed frames (and their overhead) plus the open block."""
        return self.sealed_bytes + self._buffer.size

    @property
    def next_seq(self) -> int:
        """The sequence number the next event gets."""
        return self._buffer.next_offset

    @property
    def first_seq(self) -> int:
        """The oldest sequence number still held."""
        return self.blocks[0].first_seq if self.blocks else self._buffer.first_offset

    @property
    def last_mono(self) -> int:
        """The newest event's (clamped) monotonic time."""
        return self._buffer.last_mono

    @property
    def open_started(self) -> float:
        """time.monotonic() when the open block got its first row (0: empty)."""
        return self._buffer.started if self._buffer.rows else 0.0

    def __len__(self) -> int:
        return self.next_seq - self.first_seq

    # filling -------------------------------------------------------------------------
    def add(self, rows: EncodedRows) -> range:
        """Add encoded rows (checked as the writer checks them; monotonic times clamped to
        never go back); returns their sequence numbers. Raises the engine's EvlogError for a
        row it could not store (the caller replaces those by markers)."""
        buf = self._buffer
        sizes, ordered = checked_sizes(rows, buf.ids)
        n = len(rows.names)
        ts = rows.timestamps if rows.timestamps is not None else (None,) * n
        headers = rows.headers if rows.headers is not None else (b"",) * n
        first = buf.add_columns(rows.names, rows.sources, rows.flags, ts, rows.monotonics, rows.datas,
                                rows.types, headers, sizes, False, ordered)
        self._bound_bytes()
        return range(first, first + n)

    def clamp(self, monos: Sequence[int]) -> Sequence[int]:
        """The times `add` will give rows with these monotonic times (the engine's clamp)."""
        return self._buffer.clamp(monos, len(monos))

    def hold_time(self, mono: int) -> None:
        """Make every later event's time greater than `mono` (the clamp): a span of time that
        has been closed gets no late event."""
        buf = self._buffer
        if buf.last_mono <= mono:
            buf.last_mono = mono + 1

    def seal(self) -> None:
        """Seal the open block (compress it into the ring); nothing when it is empty."""
        block = self._buffer.take()
        if block is None:
            return
        frame, header, _meta = encode_flat(block.first_offset, block.rows, self._compressor, block.wall_base,
                                           block.table, self._scratch)
        ring_block = RingBlock(header.first_offset, header.end_offset, header.first_mono, header.last_mono, frame)
        self.blocks.append(ring_block)
        self.sealed_bytes += ring_block.cost
        if len(self._scratch) > 2 * self.block_bytes + (1 << 16):
            self._scratch = bytearray()   # a one-off huge event must not keep its buffer

    # bounding ------------------------------------------------------------------------
    def _bound_bytes(self) -> None:
        while self.blocks and self.sealed_bytes + self._buffer.size > self.max_bytes:
            self._evict_one()

    def evict(self, now_mono: int, floor_seq: int | None = None) -> None:
        """Drop the blocks whose newest event is older than the age bound at `now_mono`
        (not those holding sequence numbers >= `floor_seq`, still wanted by a window), then
        enforce the byte bound."""
        cutoff = now_mono - self.max_age_ns
        blocks = self.blocks
        while blocks and blocks[0].last_mono < cutoff and (floor_seq is None or blocks[0].end_seq <= floor_seq):
            self._evict_one()
        self._bound_bytes()

    def _evict_one(self) -> None:
        block = self.blocks.popleft()
        self.sealed_bytes -= block.cost
        self.evicted_blocks += 1
        self.evicted_events += block.end_seq - block.first_seq
        if self.evicted_last_mono is None or block.last_mono > self.evicted_last_mono:
            self.evicted_last_mono = block.last_mono

    def blocks_from(self, seq: int) -> list[RingBlock]:
        """The sealed blocks holding sequence numbers >= `seq`, oldest first."""
        out = []
        for block in reversed(self.blocks):
            if block.end_seq <= seq:
                break
            out.append(block)
        out.reverse()
        return out


def _nothing() -> None:
    """The open block's on_open hook: the ring has no I/O thread to tell."""


def monotonic_now(mono_base: int) -> int:
    """Ns since `mono_base` on the monotonic clock (the ring's clock)."""
    return time.monotonic_ns() - mono_base
