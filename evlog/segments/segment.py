"""Segment files: a header, then block frames back to back.

A segment is named after the offset of its first record (20 digits, Kafka style), so a
directory listing shows the order. This module reads frames from a segment file and
classifies where a scan stops: at the end, at a torn tail, or at damage.
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
    """Return the base offset written in a segment header."""
    if len(buf) < SEGMENT_HEADER_SIZE:
        raise CorruptRecordingError("segment header is truncated", where, 0)
    magic, version, base, checksum = _SEG_HEADER.unpack_from(buf, 0)
    if magic != SEGMENT_MAGIC:
        raise CorruptRecordingError("not an evlog segment (bad magic)", where, 0)
    if version != SEGMENT_VERSION:
        raise UnsupportedFormatError(
            f"segment {where} has format version {version}; this evlog reads version {SEGMENT_VERSION}"
        )
    if xxhash.xxh3_64_intdigest(buf[:SEGMENT_HEADER_SIZE - 8]) != checksum:
        raise CorruptRecordingError("segment header checksum mismatch", where, 0)
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
    """Where a scan of a segment stopped and why (reason None: clean end of file)."""

    __slots__ = ("stop_position", "reason", "file_size", "error")

    def __init__(self) -> None:
        self.stop_position = 0
        self.reason: str | None = None
        self.file_size = 0
        self.error: CorruptRecordingError | None = None


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
            result.stop_position, result.reason, result.error = position, exc.reason, exc
            return
        except UnsupportedFormatError as exc:   # an intact block of a newer format: stop there
            result.stop_position, result.reason = position, str(exc)
            result.error = CorruptBlockError(str(exc), where, position)
            return
        yield header, BlockEntry.from_header(header, position), meta, frame
        expect_offset = header.end_offset
        position += header.frame_len
    result.stop_position = position


def find_next_frame(fd: int, position: int, file_size: int, where: str) -> int | None:
    """Position of the next valid frame at or after `position`, or None."""
    chunk = 1 << 20
    pos = position
    while pos < file_size:
        buf = os.pread(fd, min(chunk + len(BLOCK_MAGIC), file_size - pos), pos)
        start = 0
        while True:
            i = buf.find(BLOCK_MAGIC, start)
            if i < 0 or i >= chunk:
                break
            try:
                read_frame(fd, pos + i, file_size, where)
                return pos + i
            except (CorruptRecordingError, UnsupportedFormatError):
                start = i + 1
        pos += chunk
    return None


def is_torn_tail(fd: int, scan: ScanResult, where: str) -> bool:
    """True when the damage a scan stopped at is an unfinished last write: no valid frame follows."""
    return find_next_frame(fd, scan.stop_position + 1, scan.file_size, where) is None
