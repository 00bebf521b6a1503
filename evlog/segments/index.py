"""Per-segment index files: the offset index, the time index and the segment summary.

One `.idx` file per segment holds, for every block, its first offset, record count, file
position, frame length, first/last/max wall timestamp and first/last monotonic time (so
both offset and time lookups are a bisection), followed by the segment's summary (counts
per event name, per source and per flag, time range, sizes) and a checksum. It records
how many bytes of the segment it covers: a reader scans only what lies beyond (the tail
of the segment being written), and an index that claims more than the file holds is stale.
"""
from __future__ import annotations

import struct
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterable

import msgspec
import xxhash

from .block import BlockMeta
from .errors import CorruptIndexError, UnsupportedFormatError
from .segment import BlockEntry

INDEX_MAGIC = b"EVLOGIDX"
INDEX_VERSION = 1
_IDX_HEADER = struct.Struct("<8sB7xQQII")  # magic, version, base, covered bytes, entries, summary len
_ENTRY = struct.Struct("<QIIQqqqqqq")
MAX_INDEX_ENTRIES = 50_000_000
MAX_SUMMARY_LEN = 64 << 20


@dataclass
class SegmentSummary:
    """What a segment (or a whole log) holds, computed from block metas only."""

    count: int = 0
    blocks: int = 0
    names: Counter = field(default_factory=Counter)
    sources: Counter = field(default_factory=Counter)
    flags: Counter = field(default_factory=Counter)
    first_ts: int | None = None
    last_ts: int | None = None
    min_ts: int | None = None
    max_ts: int | None = None
    first_mono: int | None = None
    last_mono: int | None = None
    stored_bytes: int = 0   # frame bytes on disk
    raw_bytes: int = 0      # uncompressed payload bytes

    def add_block(self, entry: BlockEntry, meta: BlockMeta, raw_len: int) -> None:
        self._add(entry.count, 1, zip(meta.names, meta.name_counts), zip(meta.sources, meta.source_counts),
                  meta.flag_counts.items(), entry, entry.frame_len, raw_len)

    def merge(self, other: "SegmentSummary") -> None:
        if other.count == 0:
            return
        self._add(other.count, other.blocks, other.names.items(), other.sources.items(), other.flags.items(), other,
                  other.stored_bytes, other.raw_bytes)

    def _add(self, count: int, blocks: int, names: Iterable[tuple[str, int]], sources: Iterable[tuple[str, int]],
             flags: Iterable[tuple[int, int]], times: Any, stored_bytes: int, raw_bytes: int) -> None:
        """Count events that come after those already counted (names, sources and flags as
        (value, count) pairs; one block has few, so no Counter.update and its Mapping test);
        `times` has their first_ts, first_mono, last_ts, last_mono, min_ts and max_ts (a
        block entry or a summary)."""
        self.count += count
        self.blocks += blocks
        for counter, pairs in ((self.names, names), (self.sources, sources), (self.flags, flags)):
            get = counter.get
            for value, n in pairs:
                counter[value] = get(value, 0) + n
        if self.first_ts is None:
            self.first_ts, self.first_mono = times.first_ts, times.first_mono
        self.last_ts, self.last_mono = times.last_ts, times.last_mono
        min_ts, max_ts = times.min_ts, times.max_ts
        if self.min_ts is None or min_ts < self.min_ts:
            self.min_ts = min_ts
        if self.max_ts is None or max_ts > self.max_ts:
            self.max_ts = max_ts
        self.stored_bytes += stored_bytes
        self.raw_bytes += raw_bytes

    def to_dict(self) -> dict:
        return {
            "count": self.count, "blocks": self.blocks,
            "names": dict(self.names), "sources": dict(self.sources),
            "flags": {str(k): v for k, v in self.flags.items()},
            "first_ts": self.first_ts, "last_ts": self.last_ts, "min_ts": self.min_ts,
            "max_ts": self.max_ts, "first_mono": self.first_mono, "last_mono": self.last_mono,
            "stored_bytes": self.stored_bytes, "raw_bytes": self.raw_bytes,
        }

    @classmethod
    def from_dict(cls, d: dict) -> "SegmentSummary":
        return cls(
            count=int(d["count"]), blocks=int(d["blocks"]), names=Counter(d["names"]),
            sources=Counter(d["sources"]), flags=Counter({int(k): v for k, v in d["flags"].items()}),
            first_ts=d["first_ts"], last_ts=d["last_ts"], min_ts=d["min_ts"], max_ts=d["max_ts"],
            first_mono=d["first_mono"], last_mono=d["last_mono"],
            stored_bytes=int(d["stored_bytes"]), raw_bytes=int(d["raw_bytes"]),
        )


@dataclass
class SegmentIndex:
    base_offset: int
    covered_bytes: int
    entries: list[BlockEntry]
    summary: SegmentSummary


def encode_index(index: SegmentIndex) -> bytes:
    summary = msgspec.json.encode(index.summary.to_dict())
    parts = [_IDX_HEADER.pack(INDEX_MAGIC, INDEX_VERSION, index.base_offset, index.covered_bytes,
                              len(index.entries), len(summary))]
    pack = _ENTRY.pack
    parts.extend(pack(*e) for e in index.entries)
    parts.append(summary)
    body = b"".join(parts)
    return body + struct.pack("<Q", xxhash.xxh3_64_intdigest(body))


def parse_index(buf: bytes, where: str) -> SegmentIndex:
    """Parse an index file; raises CorruptIndexError or UnsupportedFormatError only."""
    if len(buf) < _IDX_HEADER.size + 8:
        raise CorruptIndexError("index file is truncated", where, 0)
    magic, version, base, covered, n, summary_len = _IDX_HEADER.unpack_from(buf, 0)
    if magic != INDEX_MAGIC:
        raise CorruptIndexError("not an evlog index (bad magic)", where, 0)
    if version != INDEX_VERSION:
        raise UnsupportedFormatError(f"index {where} has format version {version}; this evlog reads version {INDEX_VERSION}")
    if n > MAX_INDEX_ENTRIES or summary_len > MAX_SUMMARY_LEN:
        raise CorruptIndexError("index length fields out of range", where, 0)
    expected = _IDX_HEADER.size + n * _ENTRY.size + summary_len + 8
    if len(buf) != expected:
        raise CorruptIndexError(f"index file has {len(buf)} bytes, expected {expected}", where, 0)
    (checksum,) = struct.unpack_from("<Q", buf, expected - 8)
    if xxhash.xxh3_64_intdigest(memoryview(buf)[:expected - 8]) != checksum:
        raise CorruptIndexError("index checksum mismatch", where, 0)
    entries = [BlockEntry(*t) for t in _ENTRY.iter_unpack(memoryview(buf)[_IDX_HEADER.size:_IDX_HEADER.size + n * _ENTRY.size])]
    start = _IDX_HEADER.size + n * _ENTRY.size
    try:
        summary = SegmentSummary.from_dict(msgspec.json.decode(buf[start:start + summary_len]))
    except (msgspec.DecodeError, KeyError, TypeError, ValueError, AttributeError) as exc:
        raise CorruptIndexError(f"bad index summary: {exc}", where, start) from None
    check_entries(entries, base, covered, where)
    if summary.count != sum(e.count for e in entries):
        raise CorruptIndexError("index summary disagrees with its entries", where, start)
    return SegmentIndex(base, covered, entries, summary)


def check_entries(entries: Iterable[BlockEntry], base: int, covered: int, where: str) -> None:
    """Entries must be contiguous in offsets and in file positions."""
    from .segment import SEGMENT_HEADER_SIZE
    offset, position = base, SEGMENT_HEADER_SIZE
    for e in entries:
        if e.first_offset != offset or e.position != position or e.count <= 0 or e.frame_len <= 0:
            raise CorruptIndexError("index entries are not contiguous", where, e.position)
        offset, position = e.end_offset, e.position + e.frame_len
    if position != covered:
        raise CorruptIndexError("index entries do not reach the covered size", where, position)
