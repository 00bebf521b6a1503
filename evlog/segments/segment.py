"""Segment files: a header, then block frames back to back.

A segment is named after the offset of its first record (20 digits, Kafka style), so a
directory listing shows the order. This module reads frames from a segment file and
classifies where a scan stops: at the end, at a torn tail, or at damage. The end of a
segment's data is the end of the file or the start of zero bytes that run to it: space a
writer reserved ahead (fsync=always preallocates, see writer.py) and has not written yet.
"""
from __future__ import annotations

import os
import re
import struct
from typing import Iterator, NamedTuple

import xxhash

from .block import (
    BLOCK_MAGIC, HEADER_SIZE, BlockHeader, BlockMeta, check_version, parse_header, parse_meta, verify_checksum,
)
from .errors import CorruptBlockError, CorruptRecordingError, UnsupportedFormatError

SEGMENT_MAGIC = b"EVLOGSEG"
SEGMENT_VERSION = 1
_SEG_HEADER = struct.Struct("<8sB7xQQ")  # magic, version, reserved, base offset, checksum
SEGMENT_HEADER_SIZE = _SEG_HEADER.size   # 32
SEGMENT_SUFFIX = ".seg"
INDEX_SUFFIX = ".idx"
_SEGMENT_RE = re.compile(r"^(\d{20})\.seg$")


def segment_filename(base_offset: int) -> str:
    return f"{base_offset:020d}{SEGMENT_SUFFIX}"


def index_filename(base_offset: int) -> str:
    return f"{base_offset:020d}{INDEX_SUFFIX}"


def list_segments(directory: str) -> list[int]:
    """Base offsets of the segment files in `directory`, in order."""
    bases = []
    for name in os.listdir(directory):
        m = _SEGMENT_RE.match(name)
        if m:
            bases.append(int(m.group(1)))
    bases.sort()
    return bases


def encode_segment_header(base_offset: int) -> bytes:
    head = _SEG_HEADER.pack(SEGMENT_MAGIC, SEGMENT_VERSION, base_offset, 0)[:-8]
    return head + struct.pack("<Q", xxhash.xxh3_64_intdigest(head))


def parse_segment_header(buf: bytes, where: str) -> int:
    """Return the base offset written in a segment header.

    The checksum is checked before the version, so a damaged version byte reads as damage,
    not as a newer format."""
    if len(buf) < SEGMENT_HEADER_SIZE:
        raise CorruptRecordingError("segment header is truncated", where, 0)
    magic, version, base, checksum = _SEG_HEADER.unpack_from(buf, 0)
    if magic != SEGMENT_MAGIC:
        raise CorruptRecordingError("not an evlog segment (bad magic)", where, 0)
    if xxhash.xxh3_64_intdigest(buf[:SEGMENT_HEADER_SIZE - 8]) != checksum:
        raise CorruptRecordingError("segment header checksum mismatch", where, 0)
    if version != SEGMENT_VERSION:
        raise UnsupportedFormatError(
            f"segment {where} has format version {version}; this evlog reads version {SEGMENT_VERSION}"
        )
    return base


class BlockEntry(NamedTuple):
    """Where a block is and what it spans: one row of the offset and time index."""

    first_offset: int
    count: int
    position: int
    frame_len: int
    first_ts: int
    last_ts: int
    min_ts: int
    max_ts: int
    first_mono: int
    last_mono: int

    @property
    def end_offset(self) -> int:
        return self.first_offset + self.count

    @classmethod
    def from_header(cls, header: BlockHeader, position: int) -> "BlockEntry":
        return cls(header.first_offset, header.count, position, header.frame_len, header.first_ts,
                   header.last_ts, header.min_ts, header.max_ts, header.first_mono, header.last_mono)


class ScanResult:
    """Where a scan of a segment stopped and why (reason None: clean end of file).

    `newer` is set when the scan stopped at an intact block of a newer format version: not
    damage, and never a torn tail (it must not be cut off). `reserved` counts the zero bytes
    after `stop_position` that run to the end of the file (space reserved ahead by the
    writer): the scan ended there cleanly. `torn` (set by `scan_settled` in the last
    segment): what it stopped at is a torn tail.
    """

    __slots__ = ("stop_position", "reason", "file_size", "error", "newer", "reserved", "torn")

    def __init__(self) -> None:
        self.clear()

    def clear(self) -> None:
        self.stop_position = 0
        self.reason: str | None = None
        self.file_size = 0
        self.error: CorruptRecordingError | None = None
        self.newer: UnsupportedFormatError | None = None
        self.reserved = 0
        self.torn = False


def read_frame(fd: int, position: int, file_size: int, where: str) -> tuple[BlockHeader, bytes]:
    """Read and validate the frame at `position` (header bounds, then checksum).

    Never reads past `file_size`, so a frame claiming a huge length costs nothing.
    """
    if position + HEADER_SIZE > file_size:
        raise CorruptBlockError("truncated block header", where, position)
    head = os.pread(fd, HEADER_SIZE, position)
    header = parse_header(head, where, position, check_version=False)
    if position + header.frame_len > file_size:
        raise CorruptBlockError("block extends past the end of the segment", where, position,
                                (header.first_offset, header.end_offset - 1))
    frame = head + os.pread(fd, header.frame_len - HEADER_SIZE, position + HEADER_SIZE)
    verify_checksum(header, frame, where, position)
    check_version(header)
    return header, frame


def scan_frames(fd: int, position: int, file_size: int, where: str, result: ScanResult,
                expect_offset: int | None = None) -> Iterator[tuple[BlockHeader, BlockEntry, BlockMeta, bytes]]:
    """Yield (header, entry, meta, frame) for each valid frame from `position` to the end.

    Stops at the first invalid frame and records it in `result` instead of raising, so
    the caller decides whether it is a torn tail or damage.
    """
    result.file_size = file_size
    while position < file_size:
        try:
            header, frame = read_frame(fd, position, file_size, where)
            meta = parse_meta(header, memoryview(frame)[HEADER_SIZE:HEADER_SIZE + header.meta_len],
                              where, position)
            if expect_offset is not None and header.first_offset != expect_offset:
                raise CorruptBlockError(
                    f"block starts at offset {header.first_offset}, expected {expect_offset}",
                    where, position, (min(expect_offset, header.first_offset),
                                      max(expect_offset, header.first_offset)))
        except CorruptRecordingError as exc:
            if zeros_to_end(fd, position, file_size):   # reserved space, not written yet: the end
                result.reserved = file_size - position
                break
            result.stop_position, result.reason, result.error = position, exc.reason, exc
            return
        except UnsupportedFormatError as exc:   # an intact block of a newer format: stop there
            result.stop_position, result.reason, result.newer = position, str(exc), exc
            result.error = CorruptBlockError(str(exc), where, position)
            return
        yield header, BlockEntry.from_header(header, position), meta, frame
        expect_offset = header.end_offset
        position += header.frame_len
    result.stop_position = position


_ZERO_CHUNK = 64 << 10
_ZEROS = bytes(_ZERO_CHUNK)


def zeros_to_end(fd: int, position: int, file_size: int) -> bool:
    """True when every byte from `position` to `file_size` is zero (and there is at least one).
    Reads them once, in chunks; stops at the first chunk holding another byte."""
    if position >= file_size:
        return False
    while position < file_size:
        n = min(_ZERO_CHUNK, file_size - position)
        chunk = os.pread(fd, n, position)
        if len(chunk) != n or chunk != _ZEROS[:n]:
            return False
        position += n
    return True


class ResyncBudget:
    """How many bytes the search for the next valid frame may still spend checking candidate
    frames in full (their meta and checksum) before it stops looking inside the bytes a
    rejected candidate claims.

    A candidate that claims a length within the file cannot be rejected without reading that
    length (its checksum covers it). Checked one after another, candidates that overlap cost
    the square of the tail: a tail of fake frame headers each claiming the rest of the file.
    Until the budget (a few times the bytes searched) is spent, every candidate is checked,
    so real frames after ordinary damage (a flipped bit in a block's length, a lost page) are
    always found; past it, the bytes a rejected candidate claimed are not searched again,
    which keeps the whole search linear. Only a crafted tail spends the budget.
    """

    __slots__ = ("remaining",)

    def __init__(self, searched_bytes: int) -> None:
        self.remaining = _RESYNC_FACTOR * max(0, searched_bytes) + _RESYNC_ALLOWANCE


_RESYNC_FACTOR = 4
_RESYNC_ALLOWANCE = 1 << 20
_RESYNC_CHUNK = 1 << 20


def _candidate(fd: int, position: int, head: bytes | memoryview, file_size: int, where: str,
               budget: ResyncBudget) -> tuple[bool, int]:
    """Is there a valid frame at `position`? Returns (valid, bytes it claims when rejected
    after reading them, else 0). The cheap checks go first: the header's fields, that the
    frame fits in the file, its meta; only then the checksum over the whole frame."""
    try:
        header = parse_header(head, where, position, check_version=False)
    except CorruptRecordingError:
        return False, 0
    if position + header.frame_len > file_size:
        return False, 0
    meta_end = HEADER_SIZE + header.meta_len
    meta = os.pread(fd, header.meta_len, position + HEADER_SIZE)
    budget.remaining -= len(meta)
    try:
        check_version(header)
    except UnsupportedFormatError:
        pass   # a newer format's meta may differ: its checksum alone decides
    else:
        try:
            parse_meta(header, meta, where, position)
        except CorruptRecordingError:
            return False, meta_end
    body = os.pread(fd, header.payload_len, position + meta_end)
    budget.remaining -= len(body)
    try:
        verify_checksum(header, b"".join((bytes(head[:HEADER_SIZE]), meta, body)), where, position)
    except CorruptRecordingError:
        return False, header.frame_len
    return True, 0   # an intact frame, of this format version or a newer one


def find_next_frame(fd: int, position: int, file_size: int, where: str,
                    budget: ResyncBudget | None = None) -> int | None:
    """Position of the next intact frame at or after `position` (of any format version), or None.

    Reads the bytes from `position` once, in chunks; costs linear time in them (see
    ResyncBudget). A caller searching one file several times (salvage) passes one budget.
    """
    if budget is None:
        budget = ResyncBudget(file_size - position)
    skip_to = position   # past the budget: the end of the bytes the last rejected candidate claimed
    pos = position
    while pos < file_size:
        buf = os.pread(fd, min(_RESYNC_CHUNK + HEADER_SIZE, file_size - pos), pos)
        limit = min(_RESYNC_CHUNK, len(buf))
        i = buf.find(BLOCK_MAGIC, max(0, skip_to - pos))
        while 0 <= i < limit:
            at = pos + i
            head = buf[i:i + HEADER_SIZE] if i + HEADER_SIZE <= len(buf) else os.pread(fd, HEADER_SIZE, at)
            valid, claimed = _candidate(fd, at, head, file_size, where, budget)
            if valid:
                return at
            if budget.remaining < 0 and claimed:
                skip_to = at + claimed
            i = buf.find(BLOCK_MAGIC, max(i + 1, skip_to - pos))
        pos = max(pos + _RESYNC_CHUNK, skip_to)
    return None


def scan_settled(fd: int, position: int, file_size: int, where: str, result: ScanResult, is_last: bool,
                 expect_offset: int | None = None) -> Iterator[tuple[BlockHeader, BlockEntry, BlockMeta, bytes]]:
    """`scan_frames`, and where the last segment's scan stops at an invalid frame: `result.torn`
    says whether it is a torn tail; if not, and the frame reads whole now (`written_since`: it
    was being written into reserved space), the scan goes on from it (never twice from one
    position). The reader, `verify` and `verify_chain` scan through it."""
    stopped = -1
    while True:
        for item in scan_frames(fd, position, file_size, where, result, expect_offset):
            if expect_offset is not None:
                expect_offset = item[0].end_offset
            yield item
        if not is_last or result.reason is None or result.newer is not None:
            return
        result.torn = is_torn_tail(fd, result, where)
        if result.torn or result.stop_position == stopped or not written_since(fd, result, where):
            return
        position = stopped = result.stop_position
        result.clear()


def written_since(fd: int, scan: ScanResult, where: str) -> bool:
    """After a scan of the last segment stopped at an invalid frame that an intact one follows
    (not a torn tail): True when the frame there reads whole now. In a file with space
    reserved ahead, the scan's size covers frames written after it began: the frame it found
    invalid was being written, and was whole before the one after it was written (a writer
    writes its frames in order). Scanning on from it is then right; otherwise it is damage."""
    try:
        read_frame(fd, scan.stop_position, scan.file_size, where)
    except (CorruptRecordingError, UnsupportedFormatError):
        return False
    return True


def is_torn_tail(fd: int, scan: ScanResult, where: str) -> bool:
    """True when the damage a scan stopped at is an unfinished last write: no intact frame
    follows (an intact frame of a newer format is never one)."""
    return scan.newer is None and find_next_frame(fd, scan.stop_position + 1, scan.file_size, where) is None
