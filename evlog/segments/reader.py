"""Reading a log: segments, their indexes, and streaming records by offset or time.

A reader never holds more than one decoded block. Sealed segments are described by their
index files; the segment being written (the last one) is described by its index, if any,
plus a scan of the frames beyond it, so a reader sees a consistent prefix of whole blocks
while a writer appends. Damage raises CorruptRecordingError; an unfinished last write at
the very end of the last segment (a torn tail) is not damage and is not shown.
"""
from __future__ import annotations

import fnmatch
import os
import time
from bisect import bisect_left, bisect_right
from itertools import accumulate, chain, compress
from typing import Any, Callable, Collection, Iterable, Iterator, Mapping, Union

from .blockcache import DEFAULT_CACHE_BYTES, BlockCache, raw_cost
from .block import DecodedBlock, RawColumns, Record, TableMemo, decode_frame
from .errors import CorruptIndexError, CorruptRecordingError, LogClosedError, UnsupportedFormatError
from .index import SegmentSummary, parse_index
from .keyindex import Extractor
from .keylookup import keyed_blocks
from .manifest import Manifest, read_manifest
from .segment import (
    SEGMENT_HEADER_SIZE, BlockEntry, ScanResult, index_filename, list_segments, parse_segment_header,
    scan_settled, segment_filename,
)

_QUIET_NS = 1_000_000_000   # a file unmodified this long has no write in progress
_RESERVED_PROBE = 8         # bytes read where the reserved zeros began, to see whether a frame starts there

NameFilter = Union[None, str, Collection[str], Callable[[str], bool]]
KeySpec = Union[None, "tuple[str, Iterable[Any]]", "Mapping[str, Iterable[Any]]"]


def name_predicate(spec: NameFilter) -> Callable[[str], bool] | None:
    """Normalize a name/source filter: a name, a glob (`Position*`), a collection, or a callable."""
    if spec is None:
        return None
    if callable(spec):
        return spec
    if isinstance(spec, str):
        spec = [spec]
    exact = {s for s in spec if not any(c in s for c in "*?[")}
    globs = [s for s in spec if s not in exact]
    if not globs:
        return exact.__contains__
    return lambda name: name in exact or any(fnmatch.fnmatchcase(name, g) for g in globs)


class SegmentView:
    """What a reader knows of one segment file: its block entries and summary."""

    def __init__(self, directory: str, base: int) -> None:
        self.base = base
        self.name = segment_filename(base)
        self.path = os.path.join(directory, self.name)
        self.index_path = os.path.join(directory, index_filename(base))
        self.entries: list[BlockEntry] = []
        self.summary = SegmentSummary()
        self.scanned_to = SEGMENT_HEADER_SIZE
        self.index_state = "none"   # ok | missing | stale | corrupt (the index file's state)
        self.torn_at: int | None = None
        self._torn_seen: tuple[int, bool] | None = None   # (file size, is_last) when torn_at was found
        self._reserved_seen: tuple[int, int] | None = None   # (file size, scanned_to) when zeros ended the scan
        self.fd: int | None = None
        self._first_offsets: list[int] | None = None
        self._last_monos: list[int] | None = None
        self._running_max: list[int] | None = None
        self.keys: Any = None   # its key positions (keyread.SegmentKeys), loaded by the first lookup
        self.tables = TableMemo()   # the last large name/source tables decoded (blocks often repeat them)

    @property
    def end_offset(self) -> int:
        return self.entries[-1].end_offset if self.entries else self.base

    def open(self, is_last: bool, use_index: bool = True) -> None:
        """Open the file and learn its blocks: from its index, if any (and `use_index`), and a
        scan of the frames beyond. Raises CorruptRecordingError on damage."""
        self.fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        size = os.fstat(self.fd).st_size
        if size < SEGMENT_HEADER_SIZE and is_last:
            if os.path.exists(self.index_path):   # sealed once: it was cut, not left unfinished
                raise CorruptRecordingError("segment is shorter than its index says", self.name, size)
            self.torn_at = 0   # created but its header never fully written: empty
            self.scanned_to = size
            return
        header = os.pread(self.fd, SEGMENT_HEADER_SIZE, 0)
        if parse_segment_header(header, self.name) != self.base:
            raise CorruptRecordingError("segment header names another base offset", self.name, 0)
        if use_index:
            self._load_index(size)
        self.refresh(is_last)

    def _load_index(self, size: int) -> None:
        try:
            with open(self.index_path, "rb") as f:
                buf = f.read()
        except FileNotFoundError:
            self.index_state = "missing"
            return
        try:
            idx = parse_index(buf, index_filename(self.base))
        except (CorruptIndexError, UnsupportedFormatError):
            self.index_state = "corrupt"
            return
        if idx.base_offset != self.base or idx.covered_bytes > size:
            self.index_state = "stale"
            return
        self.index_state = "ok"
        self.entries = idx.entries
        self.summary = idx.summary
        self.scanned_to = idx.covered_bytes

    def refresh(self, is_last: bool) -> bool:
        """Scan frames beyond what is known. Returns True if new blocks were found."""
        assert self.fd is not None
        size = os.fstat(self.fd).st_size
        if self.scanned_to < SEGMENT_HEADER_SIZE:   # opened before the writer wrote its header
            if size < SEGMENT_HEADER_SIZE:
                if not is_last:
                    raise CorruptRecordingError("segment header is truncated", self.name, 0)
                return False
            if parse_segment_header(os.pread(self.fd, SEGMENT_HEADER_SIZE, 0), self.name) != self.base:
                raise CorruptRecordingError("segment header names another base offset", self.name, 0)
            self.scanned_to = SEGMENT_HEADER_SIZE
            self.torn_at = None
        if size <= self.scanned_to:
            if size < self.scanned_to and self.torn_at is None:
                raise CorruptRecordingError("segment is shorter than its index says", self.name, size)
            if size == self.scanned_to:
                self.torn_at = None   # the torn bytes were cut off (a writer recovered the tail)
            return False
        if self.torn_at is not None and self._torn_seen == (size, is_last):
            return False   # the same torn tail as at the last look: searching it again finds the same
        if self._reserved_seen == (size, self.scanned_to) and \
                os.pread(self.fd, _RESERVED_PROBE, self.scanned_to) == bytes(_RESERVED_PROBE):
            return False   # the reserved zeros as at the last look: the writer's next frame starts there
        found = False
        result = ScanResult()
        for header, entry, meta, _frame in scan_settled(self.fd, self.scanned_to, size, self.name, result, is_last,
                                                        expect_offset=self.end_offset):
            self.entries.append(entry)
            self.summary.add_block(entry, meta, header.raw_len)
            found = True
        self.scanned_to = result.stop_position
        if result.torn:
            self.torn_at = result.stop_position
            self._torn_seen = (size, is_last) if self._unchanging(size) else None
        if found:
            self._first_offsets = self._last_monos = self._running_max = None
        self._reserved_seen = (size, result.stop_position) if result.reserved else None
        if result.reason is not None:
            if result.newer is not None:
                raise result.newer
            if not result.torn:
                assert result.error is not None
                raise result.error
        else:
            self.torn_at = None
        return found

    def _unchanging(self, size: int) -> bool:
        """Whether the file's bytes stay as they are while its size does. Not when it ends in
        a zero byte (maybe space its writer reserved, where the frame seen torn may be being
        written now, which changes no size) and was modified in the last second."""
        assert self.fd is not None
        if os.pread(self.fd, 1, size - 1) != b"\0":
            return True
        return time.time_ns() - os.fstat(self.fd).st_mtime_ns > _QUIET_NS

    def close(self) -> None:
        if self.keys is not None:
            self.keys.close()
            self.keys = None
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    # lookups -----------------------------------------------------------------
    def first_offsets(self) -> list[int]:
        if self._first_offsets is None:
            self._first_offsets = [e.first_offset for e in self.entries]
        return self._first_offsets

    def last_monos(self) -> list[int]:
        if self._last_monos is None:
            self._last_monos = [e.last_mono for e in self.entries]
        return self._last_monos

    def running_max_ts(self) -> list[int]:
        if self._running_max is None:
            self._running_max = list(accumulate((e.max_ts for e in self.entries), max))
        return self._running_max

    def read_block(self, entry: BlockEntry) -> DecodedBlock:
        assert self.fd is not None
        frame = os.pread(self.fd, entry.frame_len, entry.position)
        block = decode_frame(frame, self.name, entry.position, self.tables)
        if block.header.first_offset != entry.first_offset or block.header.count != entry.count:
            raise CorruptRecordingError("index does not match the segment (run `evlog reindex`)",
                                        self.name, entry.position, (entry.first_offset, entry.end_offset - 1))
        return block


class LogReader:
    """Streams records of a recording directory; safe to use while a writer appends."""

    def __init__(self, path: str | os.PathLike, manifest: Manifest | None = None,
                 block_cache_bytes: int = DEFAULT_CACHE_BYTES) -> None:
        self.path = os.fspath(path)
        self.cache = BlockCache(block_cache_bytes)   # decoded blocks of point reads (blockcache.py)
        self.manifest: Manifest = manifest if manifest is not None else read_manifest(self.path)
        self._views: list[SegmentView] = []
        self._closed = False
        self._last_block: tuple[str, BlockEntry, DecodedBlock] | None = None
        self._extractor: Extractor | None = None
        self.refresh()

    # segments -------------------------------------------------------------------
    def refresh(self) -> None:
        """Pick up new blocks and segments (and segments removed by retention)."""
        if self._closed:
            raise LogClosedError("the log reader is closed")
        bases = list_segments(self.path)
        known = {v.base: v for v in self._views}
        views = []
        for i, base in enumerate(bases):
            is_last = i == len(bases) - 1
            view = known.pop(base, None)
            if view is None:
                view = SegmentView(self.path, base)
                try:
                    view.open(is_last)
                except FileNotFoundError:   # removed by retention while we looked
                    view.close()
                    continue
                except BaseException:
                    view.close()
                    raise
            elif is_last or view.torn_at is not None or view is self._views[-1]:
                view.refresh(is_last)
            views.append(view)
        for gone in known.values():
            gone.close()
        for prev, view in zip(views, views[1:]):
            if prev.torn_at is not None:
                raise CorruptRecordingError("segment ends with a damaged block", prev.name, prev.torn_at)
            if view.base != prev.end_offset:
                lo, hi = sorted((prev.end_offset, view.base))
                raise CorruptRecordingError(
                    f"events missing between segments {prev.name} and {view.name}", prev.name,
                    prev.scanned_to, (lo, hi - 1))
        self._views = views

    @property
    def segments(self) -> list[SegmentView]:
        return list(self._views)

    def key_paths(self) -> list[str]:
        """The recording's indexed key paths (its manifest's "keys")."""
        return self.manifest.keys

    def key_extractor(self) -> Extractor:
        if self._extractor is None:
            self._extractor = Extractor(self.manifest.keys)
        return self._extractor

    @property
    def start_offset(self) -> int:
        return self._views[0].base if self._views else 0

    @property
    def end_offset(self) -> int:
        """The offset the next appended event will get (one past the last readable one)."""
        return self._views[-1].end_offset if self._views else 0

    def __len__(self) -> int:
        return self.end_offset - self.start_offset

    def summary(self) -> SegmentSummary:
        total = SegmentSummary()
        for view in self._views:
            total.merge(view.summary)
        return total

    # reading ---------------------------------------------------------------------
    def _start_position(self, start: int | None, start_time: int | None,
                        start_mono: int | None) -> tuple[int, int]:
        """(segment index, entry index) of the first block that can hold a selected record."""
        seg, ent = 0, 0
        views = self._views
        if start is not None and views:
            s = max(0, bisect_right([v.base for v in views], start) - 1)
            e = max(0, bisect_right(views[s].first_offsets(), start) - 1)
            seg, ent = max((seg, ent), (s, e))
        if start_time is not None:
            for s, v in enumerate(views):
                if v.entries and v.summary.max_ts is not None and v.summary.max_ts >= start_time:
                    e = bisect_left(v.running_max_ts(), start_time)
                    seg, ent = max((seg, ent), (s, e))
                    break
            else:
                return len(views), 0
        if start_mono is not None:
            for s, v in enumerate(views):
                if v.entries and v.entries[-1].last_mono >= start_mono:
                    e = bisect_left(v.last_monos(), start_mono)
                    seg, ent = max((seg, ent), (s, e))
                    break
            else:
                return len(views), 0
        return seg, ent

    def blocks(self, start: int | None = None, end: int | None = None, *, start_time: int | None = None,
               end_time: int | None = None, start_mono: int | None = None, end_mono: int | None = None,
               reverse: bool = False) -> Iterator[tuple[SegmentView, BlockEntry]]:
        """The (segment, block entry) pairs that can hold records in the bounds, in order."""
        views = list(self._views)
        # entries are visited by index, never copied: a read costs the same in a segment of
        # 100 blocks as in one of 100,000
        if reverse:
            it: Any = _backward(views, end)
        else:
            seg, ent = self._start_position(start, start_time, start_mono)
            it = _forward(views, seg, ent)
        for view, e in it:
            if start is not None and e.end_offset <= start:
                if reverse:
                    return
                continue
            if end is not None and e.first_offset >= end:
                if reverse:
                    continue
                return
            if start_mono is not None and e.last_mono < start_mono:
                if reverse:
                    return
                continue
            if end_mono is not None and e.first_mono > end_mono:
                if reverse:
                    continue
                return
            if (start_time is not None and e.max_ts < start_time) or (end_time is not None and e.min_ts > end_time):
                continue
            yield view, e

    def read(self, start: int | None = None, end: int | None = None, *, start_time: int | None = None,
             end_time: int | None = None, start_mono: int | None = None, end_mono: int | None = None,
             names: NameFilter = None, sources: NameFilter = None,
             where: Callable[[Record], bool] | None = None, reverse: bool = False,
             raw: bool = False, key: KeySpec = None) -> Iterator[Any]:
        """Stream records (or RawRecords with `raw=True`) in offset order (or reversed).

        Bounds: offsets `start` (inclusive) and `end` (exclusive); wall-clock `start_time`
        and `end_time` (ns since the epoch, inclusive); `start_mono`/`end_mono` (ns since
        the recording's start, inclusive). `names`/`sources` filter before any JSON is
        decoded; `where` is a predicate on the decoded record. `key`: only the records whose
        value for a key path is one of the given texts (`(path, values)` or `{path: values}`),
        found through the key index when the path is indexed (keylookup.py), else by a scan.
        """
        self.refresh()
        pairs: Any = None
        if key is not None:
            pairs, key_test = keyed_blocks(self, key, reverse, raw)
            where = key_test if where is None else _both(key_test, where)
        name_ok = _cached(name_predicate(names))
        source_ok = _cached(name_predicate(sources))
        per_record_bounds = any(x is not None for x in (start, end, start_time, end_time, start_mono, end_mono))
        if pairs is None:
            pairs = ((v, e, None) for v, e in self.blocks(start, end, start_time=start_time, end_time=end_time,
                                                          start_mono=start_mono, end_mono=end_mono, reverse=reverse))
        lead = True   # the first block records are built from
        for view, entry, keyed in pairs:
            if keyed is not None and ((start is not None and entry.end_offset <= start) or
                                      (end is not None and entry.first_offset >= end)):
                continue
            block = None   # the previous block is let go before the next is decoded (see `_block`)
            block = self._block(view, entry) if keyed is None else self._cached_block(view, entry)
            meta = block.meta
            name_mask = [name_ok(n) for n in meta.names] if name_ok else None
            source_mask = [source_ok(s) for s in meta.sources] if source_ok else None
            if (name_mask is not None and not any(name_mask)) or (source_mask is not None and not any(source_mask)):
                continue
            indices: Any = keyed
            if name_mask is not None and not all(name_mask):
                indices = _select_ids(block, name_mask) if keyed is None else \
                    [i for i in keyed if name_mask[block.name_ids[i]]]
            if source_mask is not None and not all(source_mask):
                ids = block.source_ids
                if indices is None:
                    indices = list(compress(range(len(block)), map(source_mask.__getitem__, ids)))
                else:
                    indices = [i for i in indices if source_mask[ids[i]]]
            if per_record_bounds:
                indices = _bound(block, indices, start, end, start_time, end_time, start_mono, end_mono)
            if indices is not None and not indices:
                continue
            if raw or reverse:
                records = block.raw_records(indices) if raw else block.records(indices)
                if where is not None:
                    records = [r for r in records if where(r)]
                if reverse:
                    records.reverse()
                yield from records
                continue
            # forward: decode one chunk (<= 256 records) at a time, so a seek decodes little
            # (and its first record comes alone, before its chunk is decoded)
            parts = block.iter_records(indices, first_alone=lead)
            lead = False
            for part in parts:
                if where is not None:
                    part = [r for r in part if where(r)]
                yield from part

    def _block(self, view: SegmentView, entry: BlockEntry) -> DecodedBlock:
        """The decoded block, the last one kept: consecutive pages (`read_columns`, a seek
        then a read, the dashboard's pages) often fall in the same block. One block at most,
        so memory stays flat; the key is the whole index entry (a block rewritten after a
        recovered crash has other times). The kept block is dropped before the next one is
        decoded: with two decompressed payloads (~400 KiB each) alive in turn, the C
        allocator hands the memory back to the system and faults it in again for each block
        (~30 page faults per block, as much as a sparse read's record building); the caller
        lets go of its own reference first too."""
        cached = self._last_block
        if cached is not None and cached[0] == view.name and cached[1] == entry:
            return cached[2]
        self._last_block = cached = None
        block = view.read_block(entry)
        self._last_block = (view.name, entry, block)
        return block

    def _cached_block(self, view: SegmentView, entry: BlockEntry, raw: bool = False) -> DecodedBlock:
        """The decoded block through the reader's bounded cache (point reads); `raw`: it will
        keep the raw records built from it (`raw_points`), and costs them in the cache."""
        key = (view.name, entry)
        block = self.cache.get(key)
        if block is None:
            block = view.read_block(entry)
            self.cache.put(key, block, raw_cost(block) if raw else None)
        elif raw and not block.points_built:   # cached by a decoded read: cost it again
            self.cache.put(key, block, raw_cost(block))
        return block

    def read_at(self, offsets: Iterable[int], raw: bool = False) -> list[Any]:
        """The records at `offsets` (those that exist), in offset order, each block decoded
        once through the cache and only the wanted records built (raw: each record built
        once, the first time it is wanted, and kept with its cached block: `raw_points`).
        The directory is listed again only for an offset past the blocks known (a segment
        removed meanwhile is still read through its open file)."""
        wanted = sorted(set(offsets))
        if not self._views or (wanted and wanted[-1] >= self._views[-1].end_offset):
            self.refresh()
        views = self._views
        bases = [v.base for v in views]
        out: list[Any] = []
        n = len(wanted)
        i = 0
        while i < n:
            s = bisect_right(bases, wanted[i]) - 1
            if s < 0 or wanted[i] >= views[s].end_offset:
                i += 1
                continue
            view = views[s]
            firsts, entries, vend = view.first_offsets(), view.entries, view.end_offset
            while i < n and wanted[i] < vend:   # the offsets in this segment, block by block
                o = wanted[i]
                entry = entries[bisect_right(firsts, o) - 1]
                first = entry.first_offset
                end = first + entry.count
                j = i + 1 if i + 1 == n or wanted[i + 1] >= end else bisect_left(wanted, end, i)
                block = self._cached_block(view, entry, raw)
                indices = [o - first] if j == i + 1 else [x - first for x in wanted[i:j]]
                out += block.raw_points(indices) if raw else block.records(indices)
                i = j
        return out

    def read_columns(self, start: int, end: int, decoded: bool = False) -> RawColumns:
        """The records of offsets [start, end) that exist, as columns with encoded data (see
        `RawColumns`): one list per field for a whole page, no object per record. With
        `decoded`, `data` is an iterator of the decoded values instead (type maps applied;
        `types` is empty), each chunk of a block decoded by one decoder call as the iterator
        reaches it: a bulk reader that wants values (a max-speed replay) gets them without a
        bytes object and a decoder call per record, and holds one chunk of them at a time
        (a damaged chunk raises CorruptBlockError from the iterator)."""
        self.refresh()
        names: list[str] = []
        sources: list[str] = []
        data: list[bytes] | None = None if decoded else []
        flags = bytearray()
        types: list[bytes] = []
        headers: list[bytes] = []
        chunks: list[Iterator[list]] = []
        first = None
        for view, entry in self.blocks(start, end):
            block = self._block(view, entry)
            h = block.header
            a = max(0, start - h.first_offset)
            b = min(h.count, end - h.first_offset)
            if a >= b:
                continue
            if first is None:
                first = h.first_offset + a
            block.extend_columns(a, b, names, sources, data, flags, types, headers)
            if decoded:
                chunks.append(block.value_chunks(a, b))
        first = start if first is None else first
        return RawColumns(range(first, first + len(names)), names, sources,
                          chain.from_iterable(chain.from_iterable(chunks)) if data is None else data,
                          bytes(flags), types, headers)

    def follow(self, start: int | None = None, *, poll_interval: float = 0.1,
               stop: Callable[[], bool] | None = None, **filters: Any) -> Iterator[Record]:
        """Yield records from `start` (default: the current end) on, waiting for new ones."""
        next_offset = self.end_offset if start is None else start
        while True:
            for record in self.read(next_offset, **filters):
                next_offset = record.offset + 1
                yield record
            next_offset = max(next_offset, self.end_offset)
            if stop is not None and stop():
                return
            time.sleep(poll_interval)

    def close(self) -> None:
        for view in self._views:
            view.close()
        self._views = []
        self._last_block = None
        self.cache.clear()
        self._closed = True


def _both(a: Callable[[Any], bool], b: Callable[[Any], bool]) -> Callable[[Any], bool]:
    return lambda r: a(r) and b(r)


def _forward(views: list[SegmentView], seg: int, ent: int) -> Iterator[tuple[SegmentView, BlockEntry]]:
    for s in range(seg, len(views)):
        view = views[s]
        entries = view.entries
        for i in range(ent if s == seg else 0, len(entries)):
            yield view, entries[i]


def _backward(views: list[SegmentView], end: int | None) -> Iterator[tuple[SegmentView, BlockEntry]]:
    """Blocks from the last one (or the one holding offset `end - 1`) back to the first."""
    seg = len(views) - 1
    if end is not None and views:
        seg = min(seg, max(0, bisect_right([v.base for v in views], end - 1) - 1))
    for s in range(seg, -1, -1):
        view = views[s]
        entries = view.entries
        last = len(entries) - 1
        if s == seg and end is not None:
            last = min(last, bisect_right(view.first_offsets(), end - 1) - 1)
        for i in range(last, -1, -1):
            yield view, entries[i]


def _select_ids(block: DecodedBlock, mask: list[bool]) -> list[int]:
    """Positions of the block's records whose name id is set in `mask`, found in C: one
    `array.index` per record when a single rare name is wanted, else one pass of compress."""
    wanted = [j for j, ok in enumerate(mask) if ok]
    ids = block.name_ids
    if len(wanted) == 1:
        k = wanted[0]
        count = block.meta.name_counts[k]
        if count * 16 < len(ids):
            out = []
            i = -1
            try:
                for _ in range(count):
                    i = ids.index(k, i + 1)
                    out.append(i)
                if (ids.find(k, i + 1) != -1) if ids.__class__ is bytes else k in ids[i + 1:]:
                    raise ValueError
            except ValueError:
                raise block._corrupt(ValueError("name counts disagree with the name ids")) from None
            return out
    return list(compress(range(len(ids)), map(mask.__getitem__, ids)))


def _cached(pred: Callable[[str], bool] | None) -> Callable[[str], bool] | None:
    if pred is None:
        return None
    cache: dict[str, bool] = {}

    def check(value: str) -> bool:
        hit = cache.get(value)
        if hit is None:
            hit = cache[value] = bool(pred(value))
        return hit
    return check


def _bound(block: DecodedBlock, indices: Any, start: int | None, end: int | None, start_time: int | None,
           end_time: int | None, start_mono: int | None, end_mono: int | None) -> Any:
    h = block.header
    n = h.count
    lo, hi = 0, n
    if start is not None:
        lo = max(lo, start - h.first_offset)
    if end is not None:
        hi = min(hi, end - h.first_offset)
    if start_mono is not None and h.first_mono < start_mono:
        lo = max(lo, block.mono_position(start_mono))
    if end_mono is not None and h.last_mono > end_mono:
        hi = min(hi, block.mono_position(end_mono, after=True))
    candidates: Any = range(max(lo, 0), max(hi, 0))
    if indices is not None:
        candidates = [i for i in indices if lo <= i < hi]
    if start_time is not None or end_time is not None:
        ts = block.timestamps
        a = start_time if start_time is not None else -(1 << 63)
        b = end_time if end_time is not None else (1 << 63)
        if not (h.min_ts >= a and h.max_ts <= b):
            candidates = [i for i in candidates if a <= ts[i] <= b]
    if indices is None and len(candidates) == n:
        return None
    return candidates  # a range or a list: ascending indices either way
