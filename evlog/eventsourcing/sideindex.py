"""The persisted originator index of a store: a side file next to its log.

`<store dir>/events.index` (and `snapshots.index`) holds the originator index (versions and
offsets per originator), the tracking positions, the log offset the index covers and a
checksum. A store loads it at open and reads only the log's tail from the covered offset;
it is rebuilt from the whole log when the file is missing, corrupt, from another format
version or another log, or stale (it covers more than the log holds).

Layout (little-endian):

    MAGIC
    u32 header length, header (JSON): format, byteorder, log (the manifest's start_time_ns),
        start, end (covered offsets [start, end)), tracking_end, sizes of the five parts,
        xxh3 (checksum of the header without it, then of the parts)
    keys         msgpack list of the originator keys (str(originator_id)), in index order
    counts       int64 per key: its number of events
    versions     int64 per event, key after key (sorted by version within a key)
    offsets      int64 per event, likewise
    tracking     JSON object {application: notification id}

Written atomically (temporary file, fsync, rename, fsync of the directory).
"""
from __future__ import annotations

import os
import struct
import sys
from array import array
from dataclasses import dataclass
from typing import Any

import msgspec
import xxhash

from ..segments.fsio import DEFAULT_FS

MAGIC = b"EVLOG-ES-INDEX\n"
FORMAT = 1
_LEN = struct.Struct("<I")
_PARTS = ("keys", "counts", "versions", "offsets", "tracking")


class SideIndexError(Exception):
    """The side file cannot be used (the store rebuilds its index from the log)."""


@dataclass
class SideIndex:
    start: int
    end: int
    tracking_end: int
    keys: list[str]
    counts: array
    versions: array
    offsets: array
    tracking: dict[str, int]


def side_path(log_path: str) -> str:
    """The side file of the log at `log_path` (`<dir>/events` -> `<dir>/events.index`)."""
    return os.path.abspath(log_path).rstrip(os.sep) + ".index"


def _checksum(header: dict, parts: list[Any]) -> str:
    h = xxhash.xxh3_64(msgspec.json.encode({k: header[k] for k in sorted(header) if k != "xxh3"}))
    for p in parts:
        h.update(p)
    return h.hexdigest()


def save(path: str, log_id: int, start: int, end: int, tracking_end: int, keys: list[str], counts: array,
         versions: array, offsets: array, tracking: dict[str, int]) -> int:
    """Write the side file: `counts[i]` events of `keys[i]`, their versions and offsets key
    after key (`OriginatorIndex.columns()`). Returns its size in bytes."""
    if sys.byteorder != "little":
        counts, versions, offsets = (array("q", a) for a in (counts, versions, offsets))
        for a in (counts, versions, offsets):
            a.byteswap()
    parts = [msgspec.msgpack.encode(keys), counts.tobytes(), versions.tobytes(), offsets.tobytes(),
             msgspec.json.encode(tracking)]
    header: dict[str, Any] = {"format": FORMAT, "log": log_id, "start": start, "end": end,
                              "tracking_end": tracking_end, "sizes": [len(p) for p in parts]}
    header["xxh3"] = _checksum(header, parts)
    head = msgspec.json.encode(header)
    data = b"".join([MAGIC, _LEN.pack(len(head)), head, *parts])
    DEFAULT_FS.write_atomic(path, data)
    return len(data)


def load(path: str, log_id: int) -> SideIndex:
    """The side file's content; SideIndexError if it is missing or cannot be trusted."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise SideIndexError("no side file") from None
    mv = memoryview(data)
    if not data.startswith(MAGIC) or len(data) < len(MAGIC) + _LEN.size:
        raise SideIndexError("not a side index file")
    pos = len(MAGIC) + _LEN.size
    (hlen,) = _LEN.unpack_from(data, len(MAGIC))
    try:
        header = msgspec.json.decode(mv[pos:pos + hlen])
        if header["format"] != FORMAT:
            raise SideIndexError(f"format {header['format']}, not {FORMAT}")
        sizes = [int(n) for n in header["sizes"]]
        start, end, tracking_end = int(header["start"]), int(header["end"]), int(header["tracking_end"])
        log = int(header["log"])
    except (msgspec.DecodeError, KeyError, TypeError, ValueError) as exc:
        raise SideIndexError(f"unreadable header: {exc}") from None
    if log != log_id:
        raise SideIndexError("written for another log")
    pos += hlen
    if len(sizes) != len(_PARTS) or pos + sum(sizes) != len(data):
        raise SideIndexError("truncated or padded")
    parts = []
    for n in sizes:
        parts.append(mv[pos:pos + n])
        pos += n
    if _checksum(header, parts) != header.get("xxh3"):
        raise SideIndexError("checksum mismatch")
    arrays = []
    for p in parts[1:4]:
        a = array("q")
        a.frombytes(p)
        if sys.byteorder != "little":
            a.byteswap()
        arrays.append(a)
    counts, versions, offsets = arrays
    keys = msgspec.msgpack.decode(parts[0], type=list[str])
    tracking = msgspec.json.decode(parts[4], type=dict[str, int])
    if len(keys) != len(counts) or sum(counts) != len(versions) or len(versions) != len(offsets):
        raise SideIndexError("inconsistent sizes")
    return SideIndex(start, end, tracking_end, keys, counts, versions, offsets, tracking)
