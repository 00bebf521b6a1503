"""The writer's open block: where every appended event goes, one row or columns at a time.

`BlockBuffer` owns the rules of an open block, so there is one place for them:

* the monotonic clamp: an event's monotonic time never goes below the previous event's;
* the id mapping: names and sources go into the rows as indexes into an append-only table
  (the block encoder maps them to the block's own tables in C); the table starts afresh at a
  seal once it holds more than MAX_IDS entries (names made per event must not grow it forever);
* byte accounting: each row counts its data, type map and headers plus ROW_OVERHEAD;
* the seal rule: a block is full at `max_bytes` or `max_records`; a row that would take the
  payload past the format's limit goes to the next block; an atomic batch never spans two.

Rows are laid flat, ROW_FIELDS fields after another (name id, source id, flags, timestamp,
monotonic, data, types, headers): one `+=` of a tuple for a row, slice assignments into a
new list for columns (the block's list when they open it), and the I/O thread slices the
columns back out. Not thread-safe: the writer calls it under its lock; `seal` is the
writer's callback that queues a full block.
"""
from __future__ import annotations

import time
from bisect import bisect_right
from itertools import accumulate
from typing import Callable, NamedTuple, Sequence

from .block import MAX_RAW_LEN, MAX_RECORDS, ROW_FIELDS
from .errors import EventTooLargeError

# per-row bytes in the payload besides data, type map and headers: two ids, flags, two time
# deltas, three lengths and a comma
ROW_OVERHEAD = 2 + 2 + 1 + 8 + 8 + 4 + 4 + 4 + 1
HARD_LIMIT = MAX_RAW_LEN - 4096   # no block's accounted bytes go past this (block_max_bytes <= half of it)
MAX_IDS = 16_384   # names and sources in the id table before it starts afresh
_ROW_LIMIT = HARD_LIMIT - ROW_OVERHEAD
_monotonic_ns = time.monotonic_ns


class SealedBlock(NamedTuple):
    """A full block for the I/O thread."""

    first_offset: int
    rows: list        # flat, ROW_FIELDS per row
    wall_base: int    # wall clock - monotonic time when the block was opened
    size: int         # accounted payload bytes
    table: list[str]  # what the rows' name and source ids index


def lay_rows(names: Sequence, sources: Sequence, flags: Sequence, ts: Sequence, mono: Sequence,
             datas: Sequence, types: Sequence, headers: Sequence) -> list:
    """Columns of equal length laid as flat rows in a new list, by slice assignments (no list
    of the new rows made first: each value is copied once)."""
    k = ROW_FIELDS
    flat = [None] * (k * len(names))
    flat[0::k] = names
    flat[1::k] = sources
    flat[2::k] = flags
    flat[3::k] = ts
    flat[4::k] = mono
    flat[5::k] = datas
    flat[6::k] = types
    flat[7::k] = headers
    return flat


class BlockBuffer:
    __slots__ = ("rows", "size", "first_offset", "next_offset", "started", "wall_base", "last_mono", "mono_base",
                 "ids", "table", "max_bytes", "max_records", "flat_max", "on_open", "seal")

    def __init__(self, next_offset: int, last_mono: int, mono_base: int, max_bytes: int, max_records: int,
                 on_open: Callable[[], None], seal: Callable[[], None]) -> None:
        self.rows: list = []
        self.size = 0
        self.first_offset = self.next_offset = next_offset
        self.started = 0.0         # time.monotonic() when the open block got its first row
        self.wall_base = 0
        self.last_mono = last_mono
        self.mono_base = mono_base  # time.monotonic_ns() at the recording's start
        self.ids: dict[str, int] = {}
        self.table: list[str] = []
        self.max_bytes, self.max_records = max_bytes, max_records
        self.flat_max = ROW_FIELDS * max_records
        self.on_open = on_open      # the I/O thread must time the new block's age
        self.seal = seal            # the writer's: take() the block, queue it, wait for room

    # the clock ----------------------------------------------------------------------
    def now(self) -> int:
        """Monotonic ns since the recording's start, clamped to never go back."""
        mono = _monotonic_ns() - self.mono_base
        return mono if mono > self.last_mono else self.last_mono

    def clamp(self, mono: Sequence[int] | None, n: int, ordered: bool = False) -> Sequence[int]:
        """The monotonic times of n rows, never decreasing. None: measured now, one clock read
        for all, the rows 1 ns apart (so their wall-clock times, base + monotonic, keep their
        order too: a bound by time falls between two events of a batch, not around both).
        `ordered`: the given times are known to be in order (then only the first is compared)."""
        if mono is None:
            now = self.now()
            return range(now, now + n)
        if ordered and mono[0] >= self.last_mono:
            return mono
        fixed = list(accumulate(mono, max, initial=self.last_mono))
        del fixed[0]
        return fixed

    # ids ----------------------------------------------------------------------------
    def id_of(self, value: str) -> int:
        i = self.ids.get(value)
        if i is None:
            i = self.ids[value] = len(self.table)
            self.table.append(value)
        return i

    def ids_of(self, values: Sequence[str]) -> list[int]:
        ids = self.ids
        try:
            return list(map(ids.__getitem__, values))
        except KeyError:   # new ones among them
            for value in set(values).difference(ids):
                self.id_of(value)
            return list(map(ids.__getitem__, values))

    # rows ---------------------------------------------------------------------------
    def _open(self) -> None:
        self.started = time.monotonic()
        self.wall_base = time.time_ns() - (time.monotonic_ns() - self.mono_base)
        self.on_open()

    def full(self) -> bool:
        return self.size >= self.max_bytes or len(self.rows) >= self.flat_max

    def add(self, name: str, source: str, flags: int, timestamp: int | None, monotonic: int | None,
            data: bytes, types: bytes, headers: bytes, size: int) -> int:
        """One checked row of `size` bytes (data, types, headers). Returns its offset."""
        if monotonic is None:
            monotonic = _monotonic_ns() - self.mono_base
        if monotonic < self.last_mono:
            monotonic = self.last_mono
        self.last_mono = monotonic
        rows = self.rows
        if not rows:
            self._open()
        elif self.size + size > _ROW_LIMIT:   # it would take the payload past the format's limit
            self.seal()
            self._open()
            rows = self.rows
        ids = self.ids   # (the lookups inlined: this is every single event's path)
        name_id = ids.get(name)
        if name_id is None:
            name_id = self.id_of(name)
        source_id = ids.get(source)
        if source_id is None:
            source_id = self.id_of(source)
        rows += (name_id, source_id, flags, timestamp, monotonic, data, types, headers)
        self.size = total = self.size + size + ROW_OVERHEAD
        offset = self.next_offset
        self.next_offset = offset + 1
        if total >= self.max_bytes or len(rows) >= self.flat_max:
            self.seal()
        return offset

    def add_columns(self, names: Sequence[str], sources: Sequence[str], flags: Sequence[int],
                    ts: Sequence[int | None], mono: Sequence[int] | None, datas: Sequence[bytes],
                    types: Sequence[bytes], headers: Sequence[bytes], sizes: Sequence[int], atomic: bool,
                    ordered: bool = False) -> int:
        """Checked columns, laid by slice assignments, blocks cut by bisection on the sums of
        the sizes (atomic: all in one block; `ordered`: see `clamp`). Returns the first offset."""
        n = len(names)
        fixed = self.clamp(mono, n, ordered)
        # the sums of the sizes (one int a row); rows i..j-1 account for
        # cum[j] - cum[i] + ROW_OVERHEAD * (j - i) bytes, which `bytes_to` gives from the start
        cum = list(accumulate(sizes, initial=0))
        first = self.next_offset
        if atomic:
            total = cum[-1] + ROW_OVERHEAD * n
            if n > MAX_RECORDS or total > HARD_LIMIT:
                raise EventTooLargeError(f"an atomic batch is limited to {MAX_RECORDS} events and "
                                         f"{HARD_LIMIT} bytes")
            if self.rows and (self.size + total > self.max_bytes
                              or len(self.rows) // ROW_FIELDS + n > self.max_records):
                self.seal()   # the batch goes whole into the next block
            self._lay(names, sources, flags, ts, fixed, datas, types, headers, 0, n, cum)
            return first
        def bytes_to(r: int) -> int:   # the accounted bytes of rows 0..r-1 (never decreasing in r)
            return cum[r] + ROW_OVERHEAD * r
        rows_to = range(n + 1)
        i = 0
        while i < n:
            room = self.max_records - len(self.rows) // ROW_FIELDS
            budget = self.max_bytes - self.size
            # the last j whose rows i..j-1 fit the budget: a bisection of a few Python steps
            j = min(i + room, bisect_right(rows_to, bytes_to(i) + budget, i, key=bytes_to) - 1)
            if j <= i:
                if self.rows:   # the next row does not fit: it opens the next block
                    self.seal()
                    continue
                j = i + 1       # a row bigger than a block goes alone
            self._lay(names, sources, flags, ts, fixed, datas, types, headers, i, j, cum)
            i = j
        return first

    def _lay(self, names: Sequence, sources: Sequence, flags: Sequence, ts: Sequence, mono: Sequence[int],
             datas: Sequence, types: Sequence, headers: Sequence, i: int, j: int, cum: list[int]) -> None:
        if not self.rows:
            self._open()
        self.last_mono = mono[j - 1]
        if i or j != len(names):   # a part of the columns (else the columns themselves, not copied)
            names, sources, flags, ts, mono = names[i:j], sources[i:j], flags[i:j], ts[i:j], mono[i:j]
            datas, types, headers = datas[i:j], types[i:j], headers[i:j]
        laid = lay_rows(self.ids_of(names), self.ids_of(sources), flags, ts, mono, datas, types, headers)
        if self.rows:
            self.rows += laid
        else:   # the block's first rows (most of a big batch's blocks): the laid list is the block
            self.rows = laid
        self.size += cum[j] - cum[i] + ROW_OVERHEAD * (j - i)
        self.next_offset += j - i
        if self.size >= self.max_bytes or len(self.rows) >= self.flat_max:
            self.seal()

    def take(self) -> SealedBlock | None:
        """The open block, sealed (None when empty); the buffer starts the next one."""
        if not self.rows:
            return None
        block = SealedBlock(self.first_offset, self.rows, self.wall_base, self.size, self.table)
        if len(self.table) > MAX_IDS:   # bound the table (names made per event): start afresh
            self.ids = {}
            self.table = []
        self.rows = []
        self.size = 0
        self.first_offset = self.next_offset
        return block


__all__ = ["BlockBuffer", "SealedBlock", "ROW_OVERHEAD", "HARD_LIMIT", "MAX_IDS", "lay_rows"]
