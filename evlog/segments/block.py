"""Block frames: the unit of compression, checksumming and I/O.

A block holds up to 65,535 records of one segment. Its frame is

    header (88 bytes, fixed) | meta (v2: chain link; names and sources with their counts) | payload (zstd)

The meta section is not compressed, so a reader can tell which event names and sources a
block holds, and a summary can count them, without decompressing anything. In format v2
it starts with the block's link in the recording's hash chain (the previous block's hash
and this block's, see chain.py), counted in the meta length so that every version's frame
length is computed alike. The payload holds the records column by column (name ids, source
ids, flags, monotonic and wall-clock deltas, data lengths, type-map lengths, v2: header
lengths, then the data as JSON arrays, the type maps, v2: the headers), which compresses
better than rows and lets a filter on name or source pick records before any JSON is
decoded. The layout is specified in docs/format.md.
"""
from __future__ import annotations

import os
import struct
import sys
from operator import add as _add, sub as _sub
import threading
from array import array
from collections import Counter
from itertools import accumulate, chain, groupby, repeat
from bisect import bisect_left, bisect_right
from typing import Any, Iterable, Iterator, Mapping, NamedTuple, Sequence

import xxhash
import zstandard

from .chain import LINK_SIZE, Chain
from .codec import FLAG_TYPED, KNOWN_FLAGS, apply_type_map, decode_data, decode_json
from .errors import CorruptBlockError, UnsupportedFormatError
from .headers import NO_HEADERS, decode_headers

BLOCK_MAGIC = b"EVBK"
BLOCK_VERSION = 2            # what the writer writes (to a v1 recording: v1, see LogWriter)
READ_VERSIONS = (1, 2)       # what a reader reads
CODEC_NONE = 0
CODEC_ZSTD = 1
BLOCK_TYPED = 0x01           # block flag: some record has a type map
BLOCK_HEADERS = 0x02         # block flag (v2): the payload has a header column
_BLOCK_FLAGS = {1: BLOCK_TYPED, 2: BLOCK_TYPED | BLOCK_HEADERS}   # the flags each version knows
ROW_FIELDS = 8               # a row of the writer's flat buffer: name, source, flags, ts, mono, data, types, headers
_ROW_COLUMNS = [slice(f, None, ROW_FIELDS) for f in range(ROW_FIELDS)]   # each field's column of a flat buffer

# magic, version, codec, flags, meta_len, payload_len, raw_len, count, first_offset,
# first_ts, last_ts, min_ts, max_ts, first_mono, last_mono, checksum
_HEADER = struct.Struct("<4sBBHIIIIQqqqqqqQ")
HEADER_SIZE = _HEADER.size  # 88
_CHECKED = HEADER_SIZE - 8   # the checksum covers the header up to itself, meta and payload

MAX_RECORDS = 65_535
MAX_NAME_BYTES = 1_024       # an event name or a source, UTF-8
MAX_EVENT_BYTES = 8 << 20    # one event's JSON data (plus its type map)
MAX_RAW_LEN = 16 << 20       # a block's uncompressed payload
MAX_META_LEN = 2 << 20
MAX_PAYLOAD_LEN = MAX_RAW_LEN + (MAX_RAW_LEN >> 7) + 4096  # zstd's worst case stays below
MAX_FRAME_LEN = HEADER_SIZE + MAX_META_LEN + MAX_PAYLOAD_LEN

_BIG_ENDIAN = sys.byteorder == "big"
_HEAD = struct.Struct(_HEADER.format[:-1])   # the header up to its checksum
_U16 = struct.Struct("<H")
_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")


class BlockHeader(NamedTuple):
    version: int
    codec: int
    flags: int
    meta_len: int
    payload_len: int
    raw_len: int
    count: int
    first_offset: int
    first_ts: int
    last_ts: int
    min_ts: int
    max_ts: int
    first_mono: int
    last_mono: int
    checksum: int

    @property
    def frame_len(self) -> int:
        return HEADER_SIZE + self.meta_len + self.payload_len

    @property
    def end_offset(self) -> int:
        """The offset after this block's last record."""
        return self.first_offset + self.count


class BlockMeta(NamedTuple):
    names: list[str]
    name_counts: list[int]
    sources: list[str]
    source_counts: list[int]
    flag_counts: dict[int, int]
    chain_prev: bytes = b""   # v2: the hash this block chains from (the previous block's `chain`)
    chain: bytes = b""        # v2: this block's hash in the recording's chain


class Record(NamedTuple):
    """One event as read back from a log."""

    offset: int
    timestamp: int   # wall clock, ns since the epoch
    monotonic: int   # ns since the recording's start, never decreasing
    name: str
    source: str
    data: Any
    flags: int = 0
    headers: Mapping[str, str] = NO_HEADERS   # per-event headers (v2); an empty read-only dict when none


class RawRecord(NamedTuple):
    """A record with its data still encoded: copied between logs without decoding."""

    offset: int
    timestamp: int
    monotonic: int
    name: str
    source: str
    data: bytes
    flags: int
    types: bytes
    headers: bytes = b""   # encoded headers (`encode_headers`), b"" when none


class RawColumns(NamedTuple):
    """Records of consecutive offsets as columns, data still encoded: what a bulk reader
    needs without a tuple per record (`Log.read_columns`). No times: ask `read` for those.
    From `read_columns(..., decoded=True)`, `data` is an iterator of the decoded values
    (a chunk of a block decoded at a time) and `types` is empty."""

    offsets: range
    names: list[str]
    sources: list[str]
    data: list[bytes]
    flags: bytes
    types: list[bytes]
    headers: list[bytes] | None = None   # encoded headers per record (b"" when none)


def _arr(code: str, values: Iterable[int]) -> bytes:
    a = array(code, values)
    if _BIG_ENDIAN:
        a.byteswap()
    return a.tobytes()


def _unarr(code: str, buf: memoryview) -> array:
    a = array(code)
    a.frombytes(buf)
    if _BIG_ENDIAN:
        a.byteswap()
    return a


CHUNK_RECORDS = 256  # records per JSON array in a block's data: the unit of decoding


def _shuffled(code: str, values: Iterable[int]) -> bytes:
    """A column as bytes, byte-transposed (all first bytes, then all second bytes, ...), so
    zstd sees the mostly-zero high bytes of small values as long runs."""
    raw = _arr(code, values)
    width = array(code).itemsize
    if width == 1:
        return raw
    return b"".join(raw[k::width] for k in range(width))


def _unshuffled(code: str, buf: memoryview, n: int) -> array:
    width = array(code).itemsize
    out = bytearray(n * width)
    for k in range(width):
        out[k::width] = buf[k * n:(k + 1) * n]
    return _unarr(code, memoryview(out))


def _encode_table(values: Sequence[str], counts: Sequence[int], out: bytearray) -> None:
    out += _U16.pack(len(values))
    for value, count in zip(values, counts):
        raw = value.encode("utf-8")
        out += _U16.pack(len(raw))
        out += raw
        out += _U32.pack(count)


def _lay_payload(columns: Sequence[bytes], datas: Sequence[bytes], tail: Sequence[bytes], scratch: bytearray,
                 pos: int) -> int:
    """Write a block's payload into `scratch` from `pos` (grown when too small, never
    shrunk): the fixed-width columns, the data as JSON arrays of CHUNK_RECORDS records, then
    `tail` (the type maps; v2: the headers). Returns the position after it. The columns go in
    joined (a few bytes a record): one slice assignment, not one per column."""
    part = b"".join(columns)
    end = pos + len(part)
    scratch[pos:end] = part
    pos = _lay_chunks(scratch, end, datas, CHUNK_RECORDS)
    for part in tail:
        end = pos + len(part)
        scratch[pos:end] = part
        pos = end
    return pos


def _mono_column_py(mono: Sequence[int]) -> bytes:
    deltas = [0]
    deltas += map(_sub, mono[1:], mono[:-1])
    return _shuffled("q", deltas)


def _lengths_column_py(datas: Sequence[bytes]) -> bytes:
    return _shuffled("I", map(len, datas))


def _lay_chunks_py(scratch: bytearray, pos: int, datas: Sequence[bytes], chunk: int) -> int:
    for c in range(0, len(datas), chunk):
        for part in (b"[", b",".join(datas[c:c + chunk]), b"]"):
            end = pos + len(part)
            scratch[pos:end] = part   # past the end, the slice assignment grows the buffer
            pos = end
    return pos


# the compiled versions (setup.py builds them where it can), equal to these by test
_mono_column, _lengths_column, _lay_chunks = _mono_column_py, _lengths_column_py, _lay_chunks_py
if not os.environ.get("EVLOG_PURE_PYTHON"):
    try:
        from ._speedups import lay_chunks as _lay_chunks, lengths_column as _lengths_column, \
            mono_column as _mono_column
    except ImportError:  # pragma: no cover - depends on the build
        pass


def encode_block(
    first_offset: int,
    rows: Sequence[tuple],
    compressor: zstandard.ZstdCompressor | None,
    version: int = BLOCK_VERSION,
    chain: Chain | None = None,
) -> tuple[bytes, BlockHeader, BlockMeta]:
    """Frame `rows` = [(name, source, flags, timestamp, monotonic, data, types[, headers]), ...]."""
    if not 0 < len(rows) <= MAX_RECORDS:
        raise ValueError(f"a block holds 1 to {MAX_RECORDS} records, not {len(rows)}")
    columns = list(zip(*rows))
    headers = columns[7] if len(columns) > 7 else None
    return encode_columns(first_offset, *columns[:7], compressor, headers=headers, version=version, chain=chain)


def encode_flat(first_offset: int, flat: list, compressor: zstandard.ZstdCompressor | None,
                wall_base: int | None = None, table: Sequence[str] | None = None,
                scratch: bytearray | None = None, version: int = BLOCK_VERSION,
                chain: Chain | None = None) -> tuple[bytes, BlockHeader, BlockMeta]:
    """`encode_block` of rows laid end to end in one list, ROW_FIELDS fields a row (the
    writer's buffer: extending a flat list and slicing its columns out is cheaper than a
    tuple per row and a transpose). A timestamp of None stands for `wall_base` + the row's
    monotonic time. With `table`, the name and source fields are indexes into it (the
    writer's ids); `scratch` see `encode_flat_many`."""
    return encode_flat_many([(first_offset, flat, wall_base, table)], compressor,
                            bytearray() if scratch is None else scratch, version, chain)[0]


def encode_flat_many(blocks: Sequence[tuple[int, list, int | None, Sequence[str] | None]],
                     compressor: zstandard.ZstdCompressor | None, scratch: bytearray,
                     version: int = BLOCK_VERSION, chain: Chain | None = None,
                     ) -> list[tuple[bytes, BlockHeader, BlockMeta]]:
    """`encode_flat` of several blocks `(first_offset, flat, wall_base, table)`, their payloads
    laid end to end in `scratch` and compressed in one call (`multi_compress_to_buffer`; one
    block, `compress`): the writer's I/O thread gives up the GIL once for all of them, not
    once per block (each time it gets the GIL back it may wait for the interpreter's switch
    interval, 5 ms). `scratch`,
    a buffer the caller keeps from call to call (grown, never shrunk), spares a fresh
    payload-sized allocation, and its page faults, per block. `chain` (v2) links the blocks
    in order and advances."""
    laid = []
    pos = 0
    k = ROW_FIELDS
    for first_offset, flat, wall_base, table in blocks:
        if not 0 < len(flat) <= k * MAX_RECORDS or len(flat) % k:
            raise ValueError(f"a block holds 1 to {MAX_RECORDS} records of {k} fields")
        block = _lay_block(first_offset, *map(flat.__getitem__, _ROW_COLUMNS), wall_base, table, scratch, pos,
                           version)
        laid.append(block)
        pos = block.start + block.raw_len
    return _compressed_frames(laid, compressor, scratch, version, chain)


def _compressed_frames(laid: list[_LaidBlock], compressor: zstandard.ZstdCompressor | None,
                       scratch: bytearray, version: int, chain: Chain | None,
                       ) -> list[tuple[bytes, BlockHeader, BlockMeta]]:
    """The frames of blocks laid out in `scratch`, compressed in one call."""
    if version not in READ_VERSIONS:
        raise ValueError(f"no block format version {version}")
    if version >= 2 and chain is None:
        chain = Chain(bytes(LINK_SIZE // 2))   # a chain of its own: blocks encoded outside a writer
    whole = memoryview(scratch)
    views = [whole[block.start:block.start + block.raw_len] for block in laid]
    try:
        if compressor is None:
            compressed: list[bytes | None] = [None] * len(views)
        elif len(views) > 1 and hasattr(compressor, "multi_compress_to_buffer"):
            packed = compressor.multi_compress_to_buffer(views)
            compressed = [packed[i].tobytes() for i in range(len(views))]
        else:   # one block (a single-shot call costs a third of a multi one, and gives the same
            # frame: tests/format/test_block_bytes.py); the CFFI backend has no multi-compression
            compressed = [compressor.compress(view) for view in views]
        return [_framed(block, view, out, version, chain) for block, view, out in zip(laid, views, compressed)]
    finally:
        for view in views:
            view.release()
        whole.release()


def _id_column(values: Sequence[str]) -> tuple[list[str], list[int], bytes]:
    """(table in order of first appearance, count of each entry, shuffled u16 id column).
    Up to 256 distinct values the ids fit the low bytes: the column is `bytes(ids)` followed by
    zeros and each count one C-level `bytes.count`."""
    n = len(values)
    table = list(dict.fromkeys(values))
    if len(table) == 1:
        return table, [n], bytes(2 * n)
    ids = list(map({x: i for i, x in enumerate(table)}.__getitem__, values))
    if len(table) <= 256:
        low = bytes(ids)
        return table, [low.count(i) for i in range(len(table))], low + bytes(n)
    counter = Counter(ids)
    return table, [counter[i] for i in range(len(table))], _shuffled("H", ids)


def _id_column_of(ids: Sequence[int], table: Sequence[str]) -> tuple[list[str], list[int], bytes]:
    """`_id_column` of values given as indexes into `table` (the writer's ids, shared by its
    blocks). Up to index 255 the column is `bytes(ids)` mapped to the block's own ids by one
    `bytes.translate`: no Python step per record. The indexes present are found by a
    C-level search of the column for each of the table's first 256 (`in`: a memchr, ~20x
    faster than a set of the column's bytes at 2,000 records, even when all 256 are looked for)."""
    n = len(ids)
    if n == 1:   # a one-record block (an fsync=always insert): no exception for an index above 255
        return [table[ids[0]]], [1], bytes(2)
    try:
        low = bytes(ids)
    except ValueError:   # an index above 255
        return _id_column(list(map(table.__getitem__, ids)))
    present = [i for i in range(min(len(table), 256)) if i in low]
    counts = [low.count(i) for i in present]
    if sum(counts) != n:
        raise IndexError("a name or source id outside the table")
    if len(present) == 1:
        return [table[present[0]]], [n], bytes(2 * n)
    if present[-1] != len(present) - 1:   # not already 0, 1, 2, ...: renumber
        renumber = bytearray(256)
        for local, i in enumerate(present):
            renumber[i] = local
        low = low.translate(renumber)
    return [table[i] for i in present], counts, low + bytes(n)


def encode_columns(first_offset: int, names: Sequence[str], sources: Sequence[str], flags: Sequence[int],
                   ts: Sequence[int | None], mono: Sequence[int], datas: Sequence[bytes], types: Sequence[bytes],
                   compressor: zstandard.ZstdCompressor | None, wall_base: int | None = None, *,
                   headers: Sequence[bytes] | None = None, version: int = BLOCK_VERSION,
                   chain: Chain | None = None) -> tuple[bytes, BlockHeader, BlockMeta]:
    """Frame a block given its columns (all of one length, 1 to MAX_RECORDS).

    A timestamp of None (the writer's measured times) means `wall_base + monotonic`; a block
    of only those (monotonic times then never decrease) needs no per-record wall clock work.
    `headers`: encoded headers per record (b"" for none; format v2 only)."""
    scratch = bytearray()
    if headers is None:
        headers = [b""] * len(names)
    block = _lay_block(first_offset, names, sources, flags, ts, mono, datas, types, headers, wall_base, None,
                       scratch, 0, version)
    return _compressed_frames([block], compressor, scratch, version, chain)[0]


class _LaidBlock(NamedTuple):
    """A block encoded but for compression: its payload at `start` in a scratch buffer."""

    start: int
    raw_len: int
    meta: bytes     # the name, source and flag tables (v2: the chain link goes before them)
    flags: int      # the block flags
    fields: tuple   # count, first offset, first/last/min/max ts, first/last mono
    tables: tuple   # BlockMeta's names, name counts, sources, source counts, flag counts


def _lay_block(first_offset: int, names: Sequence, sources: Sequence, flags: Sequence[int],
               ts: Sequence[int | None], mono: Sequence[int], datas: Sequence[bytes], types: Sequence[bytes],
               headers: Sequence[bytes], wall_base: int | None, table: Sequence[str] | None, scratch: bytearray,
               start: int, version: int = BLOCK_VERSION) -> _LaidBlock:
    """The columns and meta of a block, its payload laid out in `scratch` from `start`."""
    n = len(names)
    with_headers = headers.count(b"") != n
    if with_headers and version < 2:
        raise ValueError("format v1 blocks cannot hold event headers")
    if not 0 < n <= MAX_RECORDS:
        raise ValueError(f"a block holds 1 to {MAX_RECORDS} records, not {n}")
    if table is None:
        name_table, name_counts, name_column = _id_column(names)
        source_table, source_counts, source_column = _id_column(sources)
    else:
        name_table, name_counts, name_column = _id_column_of(names, table)
        source_table, source_counts, source_column = _id_column_of(sources, table)
    flag_counts: dict[int, int]   # of the flags other than 0
    if flags.count(flags[0]) == n:   # the common block: one kind of record
        flag_counts = {flags[0]: n} if flags[0] else {}
    else:
        flag_counts = dict(Counter(flags))
        flag_counts.pop(0, None)

    meta = bytearray()
    _encode_table(name_table, name_counts, meta)
    _encode_table(source_table, source_counts, meta)
    meta += _U16.pack(len(flag_counts))
    for flag, count in sorted(flag_counts.items()):
        meta += bytes((flag,))
        meta += _U32.pack(count)

    no_types = types.count(b"") == n
    first_mono = mono[0]
    measured = ts.count(None)
    if measured == n and wall_base is not None:
        # every time measured by the writer: one wall-clock base, monotonic times in order
        first_ts, last_ts = wall_base + first_mono, wall_base + mono[-1]
        min_ts, max_ts = first_ts, last_ts
        wall_deltas: Any = bytes(8 * n)
    else:
        if measured:
            if wall_base is None:
                raise ValueError("a timestamp of None needs the block's wall_base")
            ts = [wall_base + m if t is None else t for t, m in zip(ts, mono)]
        first_ts, last_ts, min_ts, max_ts = ts[0], ts[-1], min(ts), max(ts)
        wall = list(map(_sub, ts, mono))   # wall clock minus monotonic: nearly constant
        if wall.count(wall[0]) == n:
            wall_deltas = bytes(8 * n)
        else:
            wall_deltas = [0]
            wall_deltas += map(_sub, wall[1:], wall[:-1])
    columns = [
        name_column,
        source_column,
        bytes(flags),
        _mono_column(mono),
        wall_deltas if wall_deltas.__class__ is bytes else _shuffled("q", wall_deltas),
        _lengths_column(datas),
        bytes(4 * n) if no_types else _lengths_column(types),
    ]
    tail = [b"" if no_types else b"".join(types)]
    if with_headers:
        columns.append(_lengths_column(headers))
        tail.append(b"".join(headers))
    raw_len = _lay_payload(columns, datas, tail, scratch, start) - start
    if raw_len > MAX_RAW_LEN:
        raise ValueError(f"block payload of {raw_len} bytes exceeds {MAX_RAW_LEN}")
    block_flags = (BLOCK_TYPED if flag_counts and any(f & FLAG_TYPED for f in flag_counts) else 0) | \
        (BLOCK_HEADERS if with_headers else 0)
    return _LaidBlock(start, raw_len, bytes(meta), block_flags,
                      (n, first_offset, first_ts, last_ts, min_ts, max_ts, first_mono, mono[-1]),
                      (name_table, name_counts, source_table, source_counts, flag_counts))


def _framed(block: _LaidBlock, raw: memoryview, compressed: bytes | None, version: int,
            chain: Chain | None) -> tuple[bytes, BlockHeader, BlockMeta]:
    """The frame of a laid-out block: the compressed payload when smaller, else the raw one;
    in v2 the chain link (computed over the frame's content) before the tables."""
    raw_len = block.raw_len
    if compressed is None or len(compressed) >= raw_len:
        payload, codec = bytes(raw), CODEC_NONE
    else:
        payload, codec = compressed, CODEC_ZSTD
    tables = block.meta
    linked = version >= 2
    meta_len = len(tables) + LINK_SIZE if linked else len(tables)
    head = _HEAD.pack(BLOCK_MAGIC, version, codec, block.flags, meta_len, len(payload), raw_len, *block.fields)
    hasher = xxhash.xxh3_64(head)
    if linked:
        assert chain is not None
        link = chain.link(head, tables, payload)
        hasher.update(link)
        block_meta = BlockMeta(*block.tables, link[:LINK_SIZE // 2], link[LINK_SIZE // 2:])
    else:
        link = b""
        block_meta = BlockMeta(*block.tables)
    hasher.update(tables)
    hasher.update(payload)
    checksum = hasher.intdigest()
    header = BlockHeader(version, codec, block.flags, meta_len, len(payload), raw_len, *block.fields, checksum)
    return b"".join((head, _U64.pack(checksum), link, tables, payload)), header, block_meta


def _unsupported(version: int) -> UnsupportedFormatError:
    return UnsupportedFormatError(f"block format version {version} is not supported (this evlog reads versions "
                                  f"{', '.join(map(str, READ_VERSIONS[:-1]))} and {READ_VERSIONS[-1]})")


def parse_header(buf: bytes | memoryview, where: str | None = None, position: int | None = None,
                 check_version: bool = True) -> BlockHeader:
    """Parse and bound-check a frame header (checksum is checked later, with the body).

    Readers of whole frames pass `check_version=False` and call `check_version` after the
    checksum, so a damaged version byte reads as damage, not as a newer format."""
    if len(buf) < HEADER_SIZE:
        raise CorruptBlockError("truncated block header", where, position)
    magic, version, codec, flags, meta_len, payload_len, raw_len, count, first_offset, \
        first_ts, last_ts, min_ts, max_ts, first_mono, last_mono, checksum = _HEADER.unpack_from(buf, 0)
    if magic != BLOCK_MAGIC:
        raise CorruptBlockError("bad block magic", where, position)
    if check_version and version not in READ_VERSIONS:
        raise _unsupported(version)
    if codec not in (CODEC_NONE, CODEC_ZSTD):
        raise CorruptBlockError(f"unknown block codec {codec}", where, position)
    if not 0 < count <= MAX_RECORDS:
        raise CorruptBlockError(f"block record count {count} out of range", where, position)
    if meta_len > MAX_META_LEN or payload_len > MAX_PAYLOAD_LEN or raw_len > MAX_RAW_LEN:
        raise CorruptBlockError("block length fields out of range", where, position)
    if codec == CODEC_NONE and payload_len != raw_len:
        raise CorruptBlockError("uncompressed block length mismatch", where, position)
    if min_ts > max_ts or last_mono < first_mono:
        raise CorruptBlockError("block time fields out of order", where, position)
    return BlockHeader(version, codec, flags, meta_len, payload_len, raw_len, count, first_offset,
                       first_ts, last_ts, min_ts, max_ts, first_mono, last_mono, checksum)


def check_version(header: BlockHeader) -> None:
    """After the checksum passed: a block of another format version is not damage."""
    if header.version not in READ_VERSIONS:
        raise _unsupported(header.version)


def verify_checksum(header: BlockHeader, frame: bytes | memoryview, where: str | None = None,
                    position: int | None = None) -> None:
    """Check the checksum of a whole frame (header + meta + payload)."""
    if len(frame) != header.frame_len:
        raise CorruptBlockError("truncated block", where, position,
                                (header.first_offset, header.end_offset - 1))
    mv = memoryview(frame)
    hasher = xxhash.xxh3_64(mv[:_CHECKED])
    hasher.update(mv[HEADER_SIZE:])
    if hasher.intdigest() != header.checksum:
        raise CorruptBlockError("block checksum mismatch", where, position,
                                (header.first_offset, header.end_offset - 1))


def decode_meta_link(frame: bytes | memoryview) -> tuple[bytes, bytes]:
    """(prev, hash): the chain link of a v2 frame, at the start of its meta."""
    link = bytes(memoryview(frame)[HEADER_SIZE:HEADER_SIZE + LINK_SIZE])
    return link[:LINK_SIZE // 2], link[LINK_SIZE // 2:]


def _read_table_py(buf: memoryview, pos: int, total: int, max_len: int = MAX_NAME_BYTES
                   ) -> tuple[list[str], list[int], int]:
    """A meta's name or source table at `pos`: (values, counts, position after it)."""
    size = len(buf)
    if pos + 2 > size:
        raise ValueError("truncated table")
    u16, u32 = _U16.unpack_from, _U32.unpack_from
    (n,) = u16(buf, pos)
    pos += 2
    values, counts = [], []
    for _ in range(n):
        if pos + 2 > size:
            raise ValueError("truncated table entry")
        (length,) = u16(buf, pos)
        pos += 2
        end = pos + length
        if length > max_len or end + 4 > size:
            raise ValueError("table entry out of range")
        values.append(str(buf[pos:end], "utf-8"))
        counts.append(u32(buf, end)[0])
        pos = end + 4
    if sum(counts) != total or (total and n == 0):
        raise ValueError("table counts do not add up to the record count")
    return values, counts, pos


_read_table = _read_table_py
if not os.environ.get("EVLOG_PURE_PYTHON"):
    try:   # the compiled one (a block of 1,000 aggregates has 1,000 sources: ~20x faster)
        from ._speedups import read_table as _read_table   # type: ignore[no-redef]
    except ImportError:  # pragma: no cover - depends on the build
        pass


class TableMemo:
    """The last large name and source tables a reader decoded, to be reused by the next block
    whose table bytes are the same: blocks written together often carry identical tables (the
    same 1,000 aggregates in every block of an interleaved eventsourcing log), and decoding a
    table of 1,000 sources costs ~40 us, comparing its bytes ~2. A hit is checked on the bytes
    and the record count, so a stale or raced entry only costs a miss. Bounded: one entry a
    table kind; the lists it hands out are shared and never changed by their readers."""

    __slots__ = ("last",)
    MIN_VALUES = 64   # smaller tables decode faster than a copy and compare of their bytes

    def __init__(self) -> None:
        self.last: list[tuple[bytes, int, list[str], list[int]] | None] = [None, None]

    def read(self, kind: int, buf: memoryview, pos: int, total: int) -> tuple[list[str], list[int], int]:
        """`_read_table(buf, pos, total, MAX_NAME_BYTES)`, from the memo when it holds it."""
        last = self.last[kind]
        if last is not None and last[1] == total:
            raw = last[0]
            end = pos + len(raw)
            if bytes(buf[pos:end]) == raw:
                return last[2], last[3], end
        values, counts, end = _read_table(buf, pos, total, MAX_NAME_BYTES)
        if len(values) >= self.MIN_VALUES:
            self.last[kind] = (bytes(buf[pos:end]), total, values, counts)
        return values, counts, end


def parse_meta(header: BlockHeader, meta: bytes | memoryview, where: str | None = None,
               position: int | None = None, memo: TableMemo | None = None) -> BlockMeta:
    buf = memoryview(meta)
    prev = chain = b""
    try:
        pos = 0
        if header.version >= 2:
            if len(buf) < LINK_SIZE:
                raise ValueError("no chain link")
            prev, chain = bytes(buf[:LINK_SIZE // 2]), bytes(buf[LINK_SIZE // 2:LINK_SIZE])
            pos = LINK_SIZE
        if memo is None:
            names, name_counts, pos = _read_table(buf, pos, header.count, MAX_NAME_BYTES)
            sources, source_counts, pos = _read_table(buf, pos, header.count, MAX_NAME_BYTES)
        else:
            names, name_counts, pos = memo.read(0, buf, pos, header.count)
            sources, source_counts, pos = memo.read(1, buf, pos, header.count)
        if pos + 2 > len(buf):
            raise ValueError("truncated flag table")
        (nflags,) = _U16.unpack_from(buf, pos)
        pos += 2
        flag_counts = {}
        for _ in range(nflags):
            if pos + 5 > len(buf):
                raise ValueError("truncated flag table")
            flag = buf[pos]
            (count,) = _U32.unpack_from(buf, pos + 1)
            flag_counts[flag] = count
            pos += 5
        if pos != len(buf):
            raise ValueError("trailing bytes in meta")
    except (ValueError, UnicodeDecodeError, struct.error) as exc:
        raise CorruptBlockError(f"bad block meta: {exc}", where, position,
                                (header.first_offset, header.end_offset - 1)) from None
    return BlockMeta(names, name_counts, sources, source_counts, flag_counts, prev, chain)


_local = threading.local()   # a ZstdDecompressor must not be used by two threads at once
_ONE_SHOT_MAX = 4 << 20       # larger payloads are decompressed chunk by chunk (see below)
_new_tuple = tuple.__new__


def _decompressor() -> zstandard.ZstdDecompressor:
    dctx = getattr(_local, "dctx", None)
    if dctx is None:
        dctx = _local.dctx = zstandard.ZstdDecompressor()
    return dctx


def _decompress(payload: bytes | memoryview, raw_len: int) -> bytes | bytearray:
    """Decompress at most `raw_len` bytes. One call allocates `raw_len` up front, so a small
    forged frame claiming a big payload would cost that much: big ones go chunk by chunk."""
    dctx = _decompressor()
    if raw_len <= _ONE_SHOT_MAX:
        return dctx.decompress(payload, max_output_size=raw_len)
    out = bytearray()
    with dctx.stream_reader(payload, read_across_frames=False) as reader:
        while len(out) <= raw_len:
            chunk = reader.read(_ONE_SHOT_MAX)
            if not chunk:
                break
            out += chunk
    return out
_KNOWN_FLAG_VALUES = bytes(range(KNOWN_FLAGS + 1))


def _ids_of(raw: bytes, start: int, n: int, size: int) -> bytes | array:
    """The ids of the shuffled u16 column at `start` in `raw`, each checked below `size` (the
    table's length). With at most 256 entries the check runs in C on the bytes (all high
    bytes zero, low bytes in range) and the ids are the low bytes themselves (a `bytes`,
    indexed like the array)."""
    if size <= 256:
        low = raw[start:start + n]
        if not _all_zero(raw, start + n, start + 2 * n) or low.translate(None, _BYTE_VALUES[:size]):
            raise ValueError("name or source id out of range")
        return low
    ids = _unshuffled("H", memoryview(raw)[start:start + 2 * n], n)
    if n and max(ids) >= size:
        raise ValueError("name or source id out of range")
    return ids


_ZEROS = bytes(1 << 16)


def _all_zero(buf: bytes, start: int, end: int) -> bool:
    """buf[start:end] holds only zero bytes (compared by memcmp, nothing copied; the range
    lies within `buf`)."""
    zeros = memoryview(_ZEROS)
    while end - start > len(zeros):
        if not buf.startswith(zeros, start):
            return False
        start += len(zeros)
    return buf.startswith(zeros[:end - start], start)


_BYTE_VALUES = bytes(range(256))
_SUM_CODES = {(1, False): "B", (1, True): "b", (2, False): "H", (2, True): "h", (4, False): "I", (4, True): "i",
              (8, False): "Q", (8, True): "q"}


def _column_sums_py(buf: bytes | memoryview, n: int, width: int, signed: bool, positions: Iterable[int]) -> list[int]:
    """For each p of `positions` (non-decreasing, 0 <= p <= n), the sum of the first p values
    of the byte-shuffled little-endian column of n values of `width` bytes at the start of
    `buf` (signed: two's complement): a block's chunk bases, and the times and data positions
    of single records, read from the stored columns without unshuffling them whole."""
    code = _SUM_CODES.get((width, bool(signed)))
    if code is None or n < 0 or len(buf) < width * n:
        raise ValueError("column_sums: bad column")
    sums = list(accumulate(_unshuffled(code, memoryview(buf)[:width * n], n), initial=0))
    out = []
    last = 0
    for p in positions:
        if not last <= p <= n:
            raise ValueError("column_sums: positions must ascend within the column")
        out.append(sums[p])
        last = p
    return out


_column_sums = _column_sums_py
if not os.environ.get("EVLOG_PURE_PYTHON"):
    try:
        from ._speedups import column_sums as _column_sums
    except ImportError:  # pragma: no cover - depends on the build
        pass


def _first_value(column: memoryview, n: int) -> int:
    """The first value of a shuffled int64 column (the writer stores 0 there: the block's
    header holds the first time)."""
    return int.from_bytes(bytes(column[k * n] for k in range(8)), "little", signed=True)


_POINTS_BY_SUMS = 8   # raw_points: records of a block placed without its position columns


class DecodedBlock:
    """The columns of one block, decompressed and checked. Data is decoded on demand, a
    chunk of up to CHUNK_RECORDS records (one JSON array) at a time; the per-record columns
    (times, data and type-map lengths, header lengths) stay as stored until a reader asks for
    them whole: the chunk bases, and the records a sparse read wants, are summed from the
    stored bytes (`_column_sums`), so a read that keeps a few records of a block does not
    unshuffle or sum its columns in Python."""

    __slots__ = ("header", "meta", "name_ids", "source_ids", "flags", "_ts", "_mono", "_cols", "_unpacked",
                 "_bases", "_raw", "_mv", "_chunk_pos", "_data_pos", "_type_pos", "_data_end", "_types_end",
                 "_wall_const", "_no_types", "_with_headers", "_hpos", "_mono_fix", "_wall_fix", "_built", "_nbuilt", "where",
                 "position", "_point_cols")

    def __init__(self, header: BlockHeader, meta: BlockMeta, payload: bytes | memoryview,
                 where: str | None = None, position: int | None = None) -> None:
        self.header, self.meta, self.where, self.position = header, meta, where, position
        n = header.count
        try:
            if header.codec == CODEC_ZSTD:
                params = zstandard.get_frame_parameters(bytes(payload[:18]))
                if params.content_size != header.raw_len:
                    raise ValueError("compressed size header disagrees with the block header")
                raw = _decompress(payload, header.raw_len)
                if raw.__class__ is not bytes:
                    raw = bytes(raw)
            else:
                raw = bytes(payload)
            if len(raw) != header.raw_len:
                raise ValueError("payload length mismatch")
            mv = memoryview(raw)
            if header.flags & ~_BLOCK_FLAGS.get(header.version, 0):
                raise ValueError(f"unknown block flags {header.flags:#x}")
            with_headers = bool(header.flags & BLOCK_HEADERS)
            chunks = (n + CHUNK_RECORDS - 1) // CHUNK_RECORDS
            fixed = n * (2 + 2 + 1 + 8 + 8 + 4 + 4 + (4 if with_headers else 0))
            if fixed + 2 * chunks > len(raw):
                raise ValueError("payload shorter than its columns")
            # column boundaries: ids (2 bytes each), sources, flags (1), mono and wall deltas (8),
            # data and type-map lengths (4), v2: header lengths (4)
            widths = (2 * n, 2 * n, n, 8 * n, 8 * n, 4 * n, 4 * n) + ((4 * n,) if with_headers else ())
            ends = list(accumulate(widths, initial=0))
            # mono, wall, data lengths, type-map lengths, header lengths: as stored
            cols = tuple(mv[ends[k]:ends[k + 1]] for k in range(3, len(widths)))
            self.flags = mv[ends[2]:ends[3]].tobytes()
            mono_col, wall_col, lens_col, types_col = cols[:4]
            # the writer measures times with one wall-clock base per block: then every wall
            # delta but the first is zero (checked in C) and the wall column is a constant
            self._wall_const = _all_zero(raw, ends[4] + 1, ends[5])
            # no type maps: the lengths column is all zero bytes (checked in C, not summed)
            no_types = _all_zero(raw, ends[6], ends[7])
            bounds = list(range(0, n, CHUNK_RECORDS))
            bounds.append(n)
            data_sums = _column_sums(lens_col, n, 4, False, bounds)
            base = ends[-1]
            # chunk c starts after the chunks before it: their data, a comma or bracket per
            # record, and the opening bracket of each
            chunk_pos = [base + size + a + c for c, (size, a) in enumerate(zip(data_sums, bounds))]
            data_end = chunk_pos[-1]
            types_end = data_end + (0 if no_types else _column_sums(types_col, n, 4, False, (n,))[0])
            hpos_end = types_end
            if with_headers:
                total = _column_sums(cols[4], n, 4, False, (n,))[0]
                if not total:
                    raise ValueError("a header column without headers")
                hpos_end += total
            if hpos_end != len(raw):
                raise ValueError("data lengths do not match the payload")
            self.name_ids = _ids_of(raw, ends[0], n, len(meta.names))
            self.source_ids = _ids_of(raw, ends[1], n, len(meta.sources))
            if self.flags.translate(None, _KNOWN_FLAG_VALUES):
                raise ValueError("unknown record flag")
            wall0 = header.first_ts - header.first_mono
            array("q", (wall0,))   # the column's first value: an int64 (OverflowError: damage)
            # times are prefix sums of the deltas, the first delta being the header's first
            # time; the sums at the chunk bounds give each chunk's starting times and, in
            # total, check the deltas against the header
            sums = _column_sums(mono_col, n, 8, True, [1] + bounds[1:])
            mono_fix = header.first_mono - sums[0]
            mono_base = [0] + [s + mono_fix for s in sums[1:]]
            if self._wall_const:
                wall_fix = wall0
                wall_base = [0] + [wall0] * chunks
            else:
                sums = _column_sums(wall_col, n, 8, True, [1] + bounds[1:])
                wall_fix = wall0 - sums[0]
                wall_base = [0] + [s + wall_fix for s in sums[1:]]
            last_mono = mono_base[-1]
            if last_mono != header.last_mono or wall_base[-1] + last_mono != header.last_ts:
                raise ValueError("timestamps disagree with the block header")
        except (ValueError, zstandard.ZstdError, OverflowError) as exc:
            raise CorruptBlockError(f"bad block payload: {exc}", where, position,
                                    (header.first_offset, header.end_offset - 1)) from None
        self._bases = (mono_base, wall_base)
        self._mono_fix, self._wall_fix = mono_fix, wall_fix
        self._ts: list[int] | None = None
        self._mono: list[int] | None = None
        self._raw, self._mv, self._cols = raw, mv, cols
        self._unpacked: dict[int, array] = {}
        self._no_types, self._with_headers = no_types, with_headers
        self._chunk_pos = chunk_pos
        self._data_end, self._types_end = data_end, types_end
        self._data_pos: list[int] | None = None
        self._type_pos: list[int] | None = None
        self._hpos: list[int] | None = None
        self._built: list[Any] | None = None
        self._nbuilt = 0   # raw_points: each record's RawRecord once built
        self._point_cols: tuple | None = None   # _raw_one: the columns it indexes, once computed whole

    # the per-record columns, unshuffled when first asked for whole
    def _column(self, k: int, code: str, all_zero: bool = False) -> array:
        """Column k as values; `all_zero`: a column the writer left out as constant (wall
        deltas, type-map lengths) is made of zeros instead of read."""
        col = self._unpacked.get(k)
        if col is None:
            n = self.header.count
            col = self._unpacked[k] = array(code, bytes(array(code).itemsize * n)) if all_zero else \
                _unshuffled(code, self._cols[k], n)
            if k == 0:
                col[0] = self.header.first_mono
            elif k == 1:
                col[0] = self.header.first_ts - self.header.first_mono
        return col

    @property
    def _mono_d(self) -> array:
        return self._column(0, "q")

    @property
    def _wall_d(self) -> array:
        return self._column(1, "q", self._wall_const)

    @property
    def _data_lens(self) -> array:
        return self._column(2, "I")

    @property
    def _type_lens(self) -> array:
        return self._column(3, "I", self._no_types)

    @property
    def _header_pos(self) -> list[int] | None:
        """Start of each record's headers (one extra entry at the end); None without a header column."""
        if self._hpos is None and self._with_headers:
            self._hpos = list(accumulate(self._column(4, "I"), initial=self._types_end))
        return self._hpos

    def __len__(self) -> int:
        return self.header.count

    @property
    def monotonics(self) -> list[int]:
        """Every record's monotonic time (ns since the recording's start)."""
        if self._mono is None:
            self._mono = list(accumulate(self._mono_d))
        return self._mono

    @property
    def timestamps(self) -> list[int]:
        """Every record's wall-clock timestamp (ns since the epoch)."""
        if self._ts is None:
            self._ts = list(map(_add, accumulate(self._wall_d), self.monotonics))
        return self._ts

    def record_times(self, i: int) -> tuple[int, int]:
        """(timestamp, monotonic) of record i alone: two sums within its chunk."""
        if self._ts is not None and self._mono is not None:
            return self._ts[i], self._mono[i]
        c = i // CHUNK_RECORDS
        a = c * CHUNK_RECORDS
        mono_base, wall_base = self._bases
        mono = mono_base[c] + sum(self._mono_d[a:i + 1])
        if self._wall_const:
            return wall_base[-1] + mono, mono
        return wall_base[c] + sum(self._wall_d[a:i + 1]) + mono, mono

    def _points(self, indices: Sequence[int]) -> tuple[list[int], list[int], list[int], list[int]]:
        """(timestamps, monotonics, data starts, data lengths) of the records at the ascending
        `indices`, summed from the stored columns in one pass each: what a sparse read needs
        of a block without its columns unshuffled whole."""
        n = self.header.count
        cols = self._cols
        after = list(map((1).__add__, indices))
        monos = list(map(self._mono_fix.__add__, _column_sums(cols[0], n, 8, True, after)))
        if self._wall_const:
            ts = list(map(self._wall_fix.__add__, monos))
        else:
            ts = list(map(_add, map(self._wall_fix.__add__, _column_sums(cols[1], n, 8, True, after)), monos))
        edges = _column_sums(cols[2], n, 4, False, list(chain.from_iterable(zip(indices, after))))
        before = edges[::2]
        # record i's JSON: after the opening bracket of each chunk up to its own, the data
        # before it and a comma or bracket after each of those
        base = self._chunk_pos[0] + 1
        starts = [base + s + i + i // CHUNK_RECORDS for s, i in zip(before, indices)]
        return ts, monos, starts, list(map(_sub, edges[1::2], before))

    def mono_position(self, mono: int, after: bool = False) -> int:
        """Where `mono` goes in the block's monotonic times: the first record at or after it
        (`bisect_left`), or with `after` the first one after it (`bisect_right`). Found
        among the chunks' last times first, then among one chunk's times, summed from the
        stored deltas in C (a seek by time: no column unshuffled or summed in Python),
        unless the block's whole column is already known."""
        find = bisect_right if after else bisect_left
        if self._mono is not None:
            return find(self._mono, mono)
        ends = self._bases[0]   # [0, the last time of chunk 0, of chunk 1, ...]
        c = find(ends, mono, 1) - 1
        n = self.header.count
        if c == len(ends) - 1:
            return n
        a = c * CHUNK_RECORDS
        # the chunk's times less the block's base: sums of the stored deltas, in C
        sums = _column_sums(self._cols[0], n, 8, True, range(a + 1, min(n, a + CHUNK_RECORDS) + 1))
        return a + find(sums, mono - self._mono_fix)

    def chunk_times(self, c: int) -> tuple[list[int], list[int]]:
        """(timestamps, monotonics) of the records of chunk `c` only."""
        a = c * CHUNK_RECORDS
        b = min(self.header.count, a + CHUNK_RECORDS)
        if self._ts is not None and self._mono is not None:
            return self._ts[a:b], self._mono[a:b]
        mono_base, wall_base = self._bases
        mono = list(accumulate(self._mono_d[a:b], initial=mono_base[c]))
        del mono[0]
        if self._wall_const:
            return list(map(wall_base[-1].__add__, mono)), mono
        wall = accumulate(self._wall_d[a:b], initial=wall_base[c])
        next(wall)
        return list(map(_add, wall, mono)), mono

    def _positions(self) -> tuple[list[int], list[int]]:
        """Start of each record's JSON (it ends `data_lens[i]` bytes later) and start of each
        type map (one extra entry at the end); computed only when single records are needed."""
        if self._data_pos is None or self._type_pos is None:
            starts: list[int] = []
            lens = self._data_lens
            for c, chunk_start in enumerate(self._chunk_pos[:-1]):
                chunk = lens[c * CHUNK_RECORDS:(c + 1) * CHUNK_RECORDS]
                starts += accumulate(map((1).__add__, chunk[:-1]), initial=chunk_start + 1)
            self._data_pos = starts
            self._type_pos = list(accumulate(self._type_lens, initial=self._data_end))
        return self._data_pos, self._type_pos

    def _corrupt(self, exc: Exception) -> CorruptBlockError:
        h = self.header
        return CorruptBlockError(f"bad event data: {exc}", self.where, self.position,
                                 (h.first_offset, h.end_offset - 1))

    def _start(self, i: int) -> int:
        """Where record i's JSON starts: from the positions if computed, else from its chunk."""
        if self._data_pos is not None:
            return self._data_pos[i]
        c, k = divmod(i, CHUNK_RECORDS)
        a = c * CHUNK_RECORDS
        return self._chunk_pos[c] + 1 + sum(self._data_lens[a:i]) + k

    def data_bytes(self, i: int) -> bytes:
        start = self._start(i)
        return self._raw[start:start + self._data_lens[i]]

    def type_bytes(self, i: int) -> bytes:
        tp = self._positions()[1]
        return self._raw[tp[i]:tp[i + 1]]

    def header_bytes(self, i: int) -> bytes:
        """Record i's encoded headers (b"" when none)."""
        hp = self._header_pos
        return b"" if hp is None else self._raw[hp[i]:hp[i + 1]]

    def headers(self, i: int) -> Mapping[str, str]:
        """Record i's headers (NO_HEADERS when none)."""
        hp = self._header_pos
        if hp is None or hp[i] == hp[i + 1]:
            return NO_HEADERS
        try:
            return decode_headers(self._mv[hp[i]:hp[i + 1]])
        except Exception as exc:
            raise self._corrupt(exc) from None

    def _headers_of(self, a: int, b: int) -> Iterable[Mapping[str, str]]:
        """The headers of records a..b-1."""
        hp = self._header_pos
        if hp is None:
            return repeat(NO_HEADERS, b - a)
        mv = self._mv
        try:
            return [decode_headers(mv[x:y]) if x != y else NO_HEADERS for x, y in zip(hp[a:b], hp[a + 1:b + 1])]
        except Exception as exc:
            raise self._corrupt(exc) from None

    def _header_bytes_of(self, indices: Iterable[int]) -> list[bytes]:
        hp, raw = self._header_pos, self._raw
        assert hp is not None
        return [raw[hp[i]:hp[i + 1]] for i in indices]

    def data(self, i: int) -> Any:
        return self._data_at(i, self._start(i), self._data_lens[i])

    def _data_at(self, i: int, start: int, length: int) -> Any:
        """Record i's decoded data, its JSON being `length` bytes from `start`."""
        try:
            if self.flags[i] & FLAG_TYPED:
                tp = self._positions()[1]
                return decode_data(self._mv[start:start + length], self.flags[i], self._mv[tp[i]:tp[i + 1]])
            return decode_json(self._mv[start:start + length])
        except Exception as exc:
            raise self._corrupt(exc) from None

    def chunk_data(self, c: int) -> list:
        """The decoded data of chunk `c` (records c*256 .. c*256+255)."""
        a = c * CHUNK_RECORDS
        b = min(self.header.count, a + CHUNK_RECORDS)
        try:
            values = decode_json(self._mv[self._chunk_pos[c]:self._chunk_pos[c + 1]])
            if values.__class__ is not list or len(values) != b - a:
                raise ValueError("data array length mismatch")
            if self.header.flags & 1:
                flags = self.flags
                for i in range(a, b):
                    if flags[i] & FLAG_TYPED:
                        tp = self._positions()[1]
                        values[i - a] = apply_type_map(values[i - a], decode_json(self._mv[tp[i]:tp[i + 1]]))
        except CorruptBlockError:
            raise
        except Exception as exc:
            raise self._corrupt(exc) from None
        return values

    def check_headers(self) -> None:
        """Decode every record's headers (CorruptBlockError if one is not a JSON object of strings)."""
        self._headers_of(0, self.header.count)

    def all_data(self) -> list:
        out: list = []
        for c in range(len(self._chunk_pos) - 1):
            out += self.chunk_data(c)
        return out

    def names(self) -> list[str]:
        return list(map(self.meta.names.__getitem__, self.name_ids))

    def sources(self) -> list[str]:
        return list(map(self.meta.sources.__getitem__, self.source_ids))

    def iter_records(self, indices: Sequence[int] | None = None,
                     first_alone: bool = False) -> Iterator[list[Record]]:
        """Records (data decoded) in lists of at most one chunk, for all positions or for the
        ascending `indices` (a list, or a `range`: a span of the block, as a bounded read
        gives); a chunk is decoded whole when many of its records are wanted. `first_alone`:
        the first of the `indices` comes in a list of its own, built alone (a read's first
        block: a seek's first event does not wait for the decoding of its whole chunk), unless
        they are so few that all are built alone anyway."""
        if indices is None:
            n = self.header.count
            for c, a in enumerate(range(0, n, CHUNK_RECORDS)):
                yield self._chunk_records(c, a, min(n, a + CHUNK_RECORDS))
            return
        if len(indices) * 4 < CHUNK_RECORDS:
            # a few records of the block (no chunk holds a quarter of them): built together
            part = self._sparse_records(indices)
            if part is not None:
                if part:
                    yield part
                return
        elif first_alone:
            part = self._sparse_records(indices[:1])
            if part is not None:   # else the loop below raises where the damage is
                yield part
                indices = indices[1:]
        if indices.__class__ is range and indices.step == 1:   # chunk by chunk, by arithmetic
            lo, hi = indices.start, indices.stop
            groups: list[tuple[int, Sequence[int]]] = [
                (c, range(max(lo, c * CHUNK_RECORDS), min(hi, (c + 1) * CHUNK_RECORDS)))
                for c in range(lo // CHUNK_RECORDS, (hi - 1) // CHUNK_RECORDS + 1)] if lo < hi else []
        else:
            groups = [(c, list(group)) for c, group in groupby(indices, key=lambda i: i // CHUNK_RECORDS)]
        # the records of chunks with few wanted ones: their times and data positions summed
        # from the stored columns, for the whole block at once (one pass per column)
        few = [i for _, idxs in groups if len(idxs) * 4 < CHUNK_RECORDS for i in idxs]
        points = zip(*self._points(few)) if few else None
        first = self.header.first_offset
        names, sources = self.meta.names, self.meta.sources
        nid, sid, flags = self.name_ids, self.source_ids, self.flags
        data_at, headers = self._data_at, self.headers
        for c, idxs in groups:
            a = c * CHUNK_RECORDS
            if len(idxs) * 4 < CHUNK_RECORDS:   # a few records of the chunk: decode just those
                assert points is not None
                yield [Record(first + i, t, m, names[nid[i]], sources[sid[i]], data_at(i, start, length), flags[i],
                              headers(i)) for i, (t, m, start, length) in zip(idxs, points)]
            elif idxs.__class__ is range:
                yield self._chunk_records(c, idxs.start, idxs.stop)
            else:
                values = self.chunk_data(c)
                data = [values[i - a] for i in idxs]
                ts, mono = self.chunk_times(c)
                yield [Record(first + i, ts[i - a], mono[i - a], names[nid[i]], sources[sid[i]], v, flags[i],
                              headers(i)) for i, v in zip(idxs, data)]

    def _chunk_records(self, c: int, i: int, j: int) -> list[Record]:
        """Records i..j-1, all of chunk `c`, its data decoded whole (one decoder call), built
        by C-level maps."""
        a = c * CHUNK_RECORDS
        ts, mono = self.chunk_times(c)
        values = self.chunk_data(c)
        if i != a or j != a + len(values):
            ts, mono, values = ts[i - a:j - a], mono[i - a:j - a], values[i - a:j - a]
        first = self.header.first_offset
        return list(map(_new_tuple, repeat(Record), zip(
            range(first + i, first + j), ts, mono, map(self.meta.names.__getitem__, self.name_ids[i:j]),
            map(self.meta.sources.__getitem__, self.source_ids[i:j]), values, self.flags[i:j],
            self._headers_of(i, j))))

    def _sparse_records(self, indices: Sequence[int]) -> list[Record] | None:
        """The records at the ascending `indices`, few of the block's, built by C-level maps
        from the stored columns (`_points`), each record's data decoded alone. None when one
        has a type map or fails to decode (or its headers): the chunk-by-chunk loop of
        `iter_records` then yields the records before it and raises there, as it always has."""
        ts, monos, starts, lens = self._points(indices)
        flags = self.flags
        if self.header.flags & BLOCK_TYPED and any(flags[i] & FLAG_TYPED for i in indices):
            return None
        mv = self._mv
        try:
            values = list(map(decode_json, map(mv.__getitem__, map(slice, starts, map(_add, starts, lens)))))
            headers: Iterable = (repeat(NO_HEADERS) if not self._with_headers else
                                 [self.headers(i) for i in indices])
        except Exception:  # noqa: BLE001 - the general loop raises the error where it belongs
            return None
        first = self.header.first_offset
        return list(map(_new_tuple, repeat(Record), zip(
            map(first.__add__, indices), ts, monos,
            map(self.meta.names.__getitem__, map(self.name_ids.__getitem__, indices)),
            map(self.meta.sources.__getitem__, map(self.source_ids.__getitem__, indices)),
            values, map(flags.__getitem__, indices), headers)))

    def records(self, indices: Sequence[int] | None = None) -> list[Record]:
        """Records (data decoded) for all positions, or for the ascending `indices`."""
        out: list[Record] = []
        for part in self.iter_records(indices):
            out += part
        return out

    def extend_columns(self, a: int, b: int, names: list[str], sources: list[str], data: list[bytes] | None,
                       flags: bytearray, types: list[bytes], headers: list[bytes] | None = None) -> None:
        """Append records a..b-1 (positions in the block) to the column lists, by C-level maps
        (`headers`: their encoded headers, b"" for none; `data` None: no data nor types, the
        caller decodes them with `value_chunks`)."""
        names += map(self.meta.names.__getitem__, self.name_ids[a:b])
        sources += map(self.meta.sources.__getitem__, self.source_ids[a:b])
        flags += self.flags[a:b]
        if headers is not None:
            headers += repeat(b"", b - a) if self._header_pos is None else self._header_bytes_of(range(a, b))
        if data is None:
            return
        pos, tp = self._positions()
        raw = self._raw
        starts = pos[a:b]
        data += map(raw.__getitem__, map(slice, starts, map(_add, starts, self._data_lens[a:b])))
        if any(self._type_lens[a:b]):
            types += map(raw.__getitem__, map(slice, tp[a:b], tp[a + 1:b + 1]))
        else:
            types += repeat(b"", b - a)

    def value_chunks(self, a: int, b: int) -> Iterator[list]:
        """The decoded data of records a..b-1, a list per chunk (one JSON array, one decoder
        call), each decoded when it is asked for: a bulk reader then holds one chunk of
        values at a time, not a bytes object per record nor a page of values."""
        for c in range(a // CHUNK_RECORDS, (b - 1) // CHUNK_RECORDS + 1):
            values = self.chunk_data(c)
            lo, hi = max(0, a - c * CHUNK_RECORDS), min(len(values), b - c * CHUNK_RECORDS)
            yield values if lo == 0 and hi == len(values) else values[lo:hi]

    @property
    def points_built(self) -> bool:
        """Whether `raw_points` has been called (the block then holds raw records)."""
        return self._built is not None

    def raw_points(self, indices: Sequence[int]) -> list[RawRecord]:
        """The raw records at the ascending `indices`, each built the first time it is wanted
        and kept with the block: point reads (`LogReader.read_at`) of interleaved keys want
        one or two records of a block at a time, each record once per key, so a block's
        records are built one by one as they are asked for, never all at once."""
        built = self._built
        if built is None:
            built = self._built = [None] * self.header.count
        out = list(map(built.__getitem__, indices))
        if None in out:
            for k, i in enumerate(indices):
                if out[k] is None:
                    out[k] = built[i] = self._raw_one(i)
        return out

    def _raw_one(self, i: int) -> RawRecord:
        """Record i's raw record. The block's first few are placed and timed by sums within
        their chunk (the first read of a block wants one record: the whole position and time
        columns would cost ~10x that), the later ones from those columns, computed once."""
        self._nbuilt += 1
        if self._nbuilt <= _POINTS_BY_SUMS and self._data_pos is None:
            start = self._start(i)
            ts, mono = self.record_times(i)
            return _new_tuple(RawRecord, (
                self.header.first_offset + i, ts, mono, self.meta.names[self.name_ids[i]],
                self.meta.sources[self.source_ids[i]], self._raw[start:start + self._data_lens[i]], self.flags[i],
                b"" if self._no_types else self.type_bytes(i), self.header_bytes(i)))
        cols = self._point_cols
        if cols is None:   # the block's later records are many: index its whole columns from now on
            meta = self.meta
            cols = self._point_cols = (self.header.first_offset, self.timestamps, self.monotonics,
                                       self._positions()[0], self._data_lens, meta.names, meta.sources,
                                       self.name_ids, self.source_ids, self._raw, self.flags)
        first, ts, mono, pos, lens, names, sources, name_ids, source_ids, raw, flags = cols
        start = pos[i]
        return _new_tuple(RawRecord, (
            first + i, ts[i], mono[i], names[name_ids[i]], sources[source_ids[i]], raw[start:start + lens[i]],
            flags[i], b"" if self._no_types else self.type_bytes(i),
            self.header_bytes(i) if self._with_headers else b""))

    def raw_records(self, indices: Sequence[int] | None = None) -> list[RawRecord]:
        """Records with data and type map still encoded (bytes), for copying between logs."""
        first = self.header.first_offset
        pos, tp = self._positions()
        raw = self._raw
        names, sources = self.meta.names, self.meta.sources
        if indices is None:
            n = self.header.count
            data = list(map(raw.__getitem__, map(slice, pos, map(_add, pos, self._data_lens))))
            types = (list(map(raw.__getitem__, map(slice, tp[:-1], tp[1:]))) if not self._no_types
                     else [b""] * n)
            headers: Iterable[bytes] = repeat(b"", n) if self._header_pos is None else \
                self._header_bytes_of(range(n))
            return list(map(_new_tuple, repeat(RawRecord), zip(
                range(first, first + n), self.timestamps, self.monotonics,
                map(names.__getitem__, self.name_ids), map(sources.__getitem__, self.source_ids),
                data, self.flags, types, headers)))
        lens = self._data_lens
        ids, sids = self.name_ids, self.source_ids
        ts, mono, flags = self.timestamps, self.monotonics, self.flags
        has_types = not self._no_types
        hb = self.header_bytes
        if len(indices) == 1:
            i = indices[0]
            return [RawRecord(first + i, ts[i], mono[i], names[ids[i]], sources[sids[i]], raw[pos[i]:pos[i] + lens[i]],
                              flags[i], raw[tp[i]:tp[i + 1]] if has_types else b"", hb(i))]
        return [RawRecord(first + i, ts[i], mono[i], names[ids[i]], sources[sids[i]], raw[pos[i]:pos[i] + lens[i]],
                          flags[i], raw[tp[i]:tp[i + 1]] if has_types else b"", hb(i)) for i in indices]


def decode_frame(frame: bytes | memoryview, where: str | None = None,
                 position: int | None = None, memo: TableMemo | None = None) -> DecodedBlock:
    """Validate a whole frame (header, checksum, version, meta) and decompress its payload;
    `memo`: the reader's last tables (see TableMemo)."""
    header = parse_header(frame, where, position, check_version=False)
    verify_checksum(header, frame, where, position)
    check_version(header)
    mv = memoryview(frame)
    meta = parse_meta(header, mv[HEADER_SIZE:HEADER_SIZE + header.meta_len], where, position, memo)
    return DecodedBlock(header, meta, mv[HEADER_SIZE + header.meta_len:], where, position)


__all__ = [
    "BLOCK_MAGIC", "BLOCK_VERSION", "READ_VERSIONS", "ROW_FIELDS", "HEADER_SIZE", "MAX_RECORDS", "MAX_EVENT_BYTES", "MAX_NAME_BYTES", "MAX_RAW_LEN",
    "MAX_FRAME_LEN", "BlockHeader", "BlockMeta", "Record", "RawRecord", "RawColumns", "DecodedBlock",
    "encode_block", "encode_flat", "encode_flat_many", "encode_columns", "parse_header", "parse_meta",
    "verify_checksum", "decode_frame", "decode_meta_link", "TableMemo",
]
