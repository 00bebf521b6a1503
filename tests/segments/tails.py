"""Garbage tails for the last segment of a recording (tests and bench/bench_recovery.py).

Each kind is bytes a reader must recognise as a torn tail (no intact frame follows the last
good block) in time linear in their size:

* past     fake frame headers, each claiming a frame that ends past the end of the file
* within   fake frame headers, each claiming every byte after it (a checksum over the rest)
* crafted  a real block's header and meta, each claiming every byte after it: passes every
           cheap check, so only the checksum over the rest rejects it
* random   random bytes
* zeros    zero bytes (space a writer reserved and never wrote): not a torn tail, the
           end of the data (cut off quietly by the next writer)
"""
from __future__ import annotations

import os
import random

from evlog.segments import Log
from evlog.segments.block import _HEADER, HEADER_SIZE   # the frame header's layout
from evlog.segments.segment import list_segments, segment_filename

KINDS = ("past", "within", "crafted", "random", "zeros")
EVENTS = 100


def make_recording(path: str) -> str:
    """A small closed recording of EVENTS events; returns its last segment's path."""
    with Log.create(path, "tails", fsync="never", block_max_records=10) as log:
        for i in range(EVENTS):
            log.append("E", {"i": i}, "src")
    return os.path.join(path, segment_filename(list_segments(path)[-1]))


def garbage(kind: str, seg_path: str, size: int, seed: int = 0) -> bytes:
    """`size` bytes of the given kind, to append to the segment at `seg_path`."""
    start = os.path.getsize(seg_path)
    end = start + size
    if kind == "random":
        return random.Random(seed).randbytes(size)
    if kind == "zeros":
        return bytes(size)
    with open(seg_path, "rb") as f:
        f.seek(32)
        real = f.read(HEADER_SIZE)
        fields = list(_HEADER.unpack(real))
        meta = f.read(fields[4])
    out = bytearray()
    while len(out) + HEADER_SIZE + (len(meta) if kind == "crafted" else 0) <= size:
        at = start + len(out)
        if kind == "crafted":
            # the real header and meta, claiming every byte to the end of the file
            fields[5] = end - at - HEADER_SIZE - len(meta)
            fields[6] = fields[5]
            out += _HEADER.pack(*fields) + meta
            continue
        rest = end - at - HEADER_SIZE
        payload = rest + 100 if kind == "past" else rest
        out += _HEADER.pack(b"EVBK", 1, 1, 0, 0, payload, payload, 1, EVENTS, 0, 0, 0, 0, 0, 0, 0)
    return bytes(out + bytes(size - len(out)))


def add_tail(path: str, kind: str, size: int, seed: int = 0) -> int:
    """Make a recording at `path` whose last segment ends in `size` bytes of `kind`;
    returns the segment's size before them."""
    seg = make_recording(path)
    good = os.path.getsize(seg)
    tail = garbage(kind, seg, size, seed)
    with open(seg, "ab") as f:
        f.write(tail)
    old = os.path.getmtime(seg) - 60   # left by a crash a while ago: no write in progress
    os.utime(seg, (old, old))
    return good
