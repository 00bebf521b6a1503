"""Retention: keep a recording under a maximum age and/or size by deleting whole old segments.

Only sealed segments (every one but the last) are candidates, oldest first, and a segment is
deleted whole (segment file, then its index) or not at all. Age is measured from the newest
event timestamp a segment holds. Readers that have a segment open keep reading it (POSIX
keeps an unlinked file alive); new readers start at the first remaining offset.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

from .errors import CorruptIndexError, UnsupportedFormatError
from .fsio import DEFAULT_FS, FileSystem
from .index import parse_index
from .keyindex import keys_filename
from .manifest import read_manifest
from .segment import SEGMENT_HEADER_SIZE, index_filename, list_segments, segment_filename

_UNITS = {"": 1, "b": 1, "k": 1 << 10, "kb": 1 << 10, "kib": 1 << 10, "m": 1 << 20, "mb": 1 << 20,
          "mib": 1 << 20, "g": 1 << 30, "gb": 1 << 30, "gib": 1 << 30, "t": 1 << 40, "tb": 1 << 40, "tib": 1 << 40}
_AGE_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


@dataclass
class RetentionResult:
    removed: list[str] = field(default_factory=list)
    bytes_freed: int = 0
    events_removed: int = 0
    first_offset: int | None = None   # the first offset still in the recording

    def lines(self) -> list[str]:
        if not self.removed:
            return ["nothing to remove"]
        return [f"removed {len(self.removed)} segment(s), {self.events_removed} events, "
                f"{self.bytes_freed} bytes; the recording now starts at offset {self.first_offset}"]


def parse_size(text: str) -> int:
    """'10G', '500MiB', '4096' -> bytes."""
    t = text.strip().lower().replace(" ", "")
    num = t.rstrip("abcdefghijklmnopqrstuvwxyz")
    unit = t[len(num):]
    if unit not in _UNITS or not num:
        raise ValueError(f"not a size: {text!r} (use e.g. 500M, 10G)")
    return int(float(num) * _UNITS[unit])


def parse_age(text: str) -> float:
    """'7d', '12h', '30m', '90s', '2w' -> seconds."""
    t = text.strip().lower()
    if not t or t[-1] not in _AGE_UNITS:
        raise ValueError(f"not an age: {text!r} (use e.g. 7d, 12h, 30m)")
    try:
        return float(t[:-1]) * _AGE_UNITS[t[-1]]
    except ValueError:
        raise ValueError(f"not an age: {text!r} (use e.g. 7d, 12h, 30m)") from None


def _segment_facts(directory: str, base: int) -> tuple[int, int | None, int]:
    """(bytes on disk, newest event timestamp or None, events) of a sealed segment."""
    seg = os.path.join(directory, segment_filename(base))
    idx = os.path.join(directory, index_filename(base))
    size = os.path.getsize(seg)
    try:
        size += os.path.getsize(idx)
        with open(idx, "rb") as f:
            index = parse_index(f.read(), index_filename(base))
        return size, index.summary.max_ts, index.summary.count
    except (FileNotFoundError, CorruptIndexError, UnsupportedFormatError):
        return size, None, 0


def retain(path: str | os.PathLike, max_age_seconds: float | None = None, max_bytes: int | None = None,
           now_ns: int | None = None, fs: FileSystem | None = None) -> RetentionResult:
    """Delete whole old segments until the recording is within `max_age_seconds` and `max_bytes`."""
    directory = os.fspath(path)
    read_manifest(directory)
    fs = fs or DEFAULT_FS
    result = RetentionResult()
    bases = list_segments(directory)
    if not bases:
        return result
    now_ns = time.time_ns() if now_ns is None else now_ns
    facts = {b: _segment_facts(directory, b) for b in bases[:-1]}
    total = sum(f[0] for f in facts.values()) + os.path.getsize(os.path.join(directory, segment_filename(bases[-1])))
    cutoff = None if max_age_seconds is None else now_ns - int(max_age_seconds * 1e9)
    for base in bases[:-1]:
        size, newest, events = facts[base]
        too_old = cutoff is not None and newest is not None and newest < cutoff
        too_big = max_bytes is not None and total > max_bytes
        if not (too_old or too_big):
            break
        try:
            fs.remove(os.path.join(directory, segment_filename(base)))
        except FileNotFoundError:
            continue
        for extra in (index_filename(base), keys_filename(base)):
            try:
                fs.remove(os.path.join(directory, extra))
            except FileNotFoundError:
                pass
        result.removed.append(segment_filename(base))
        result.bytes_freed += size
        result.events_removed += events if events else 0
        total -= size
    if result.removed:
        fs.fsync_dir(directory)
    remaining = list_segments(directory)
    result.first_offset = remaining[0] if remaining else None
    return result


__all__ = ["retain", "RetentionResult", "parse_size", "parse_age", "SEGMENT_HEADER_SIZE"]
