"""`merge`: k-way merge of recordings by wall-clock timestamp into a new recording.

* Order: by each event's wall-clock `timestamp`; ties keep input order (the event of the
  earlier input first); the events of one input keep their order.
* Copy: evlog records are copied raw (their data is not decoded).
* Times: the merged recording starts at the earliest start of the inputs; each event keeps
  its wall-clock timestamp, and its time since the start (`monotonic`) is its time since its
  own recording's start shifted by the difference of the starts (never decreasing).
* Provenance: the manifest metadata lists the inputs (`merged_from`: path, session name,
  start, event count) and the file `merge_origins.bin` in the recording maps every offset
  to its input: runs of 12 bytes `(first offset: u64, input index: u32)` little-endian, one
  per change of input. `origins(path)` and `origin_of(path, offset)` read it. With
  `tag_sources=True` the event sources also become `"<label>/<source>"`.
"""
from __future__ import annotations

import heapq
import os
import struct
from bisect import bisect_right
from collections.abc import Iterator, Sequence
from typing import Any, BinaryIO

from ..segments import Log, RawRecord
from ..segments.codec import encode_json
from .common import (
    OpError,
    Progress,
    check_new_recording,
    creating,
    open_input,
    progress_or_noop,
    supports_raw,
)

ORIGINS_FILE = "merge_origins.bin"
_BATCH = 512
_RUN = struct.Struct("<QI")
_TICK = 4096


def _raw_stream(rec: Any) -> Iterator[RawRecord]:
    if supports_raw(rec):
        yield from rec.read(raw=True)
    else:
        for r in rec.read():
            yield RawRecord(r.offset, r.timestamp, r.monotonic, r.name, r.source, encode_json(r.data), 0, b"")


def merge_streams(streams: Sequence[Iterator[RawRecord]]) -> Iterator[tuple[int, RawRecord]]:
    """(input index, record) of k streams, by timestamp, ties in input order.

    Runs are emitted without touching the heap: after taking input i, its records keep
    coming while they sort before the best head of the other inputs.
    """
    heap: list[tuple[int, int, RawRecord]] = []
    iters = [iter(s) for s in streams]
    for i, it in enumerate(iters):
        first = next(it, None)
        if first is not None:
            heap.append((first.timestamp, i, first))
    heapq.heapify(heap)
    while heap:
        ts, i, rec = heapq.heappop(heap)
        it = iters[i]
        if not heap:
            yield i, rec
            for rec in it:
                yield i, rec
            return
        bound_ts, bound_i, _ = heap[0]
        while True:
            yield i, rec
            rec = next(it, None)
            if rec is None:
                break
            ts = rec.timestamp
            if ts > bound_ts or (ts == bound_ts and i > bound_i):
                heapq.heappush(heap, (ts, i, rec))
                break


def merge(inputs: Sequence[str | os.PathLike], out: str | os.PathLike, *, session_name: str | None = None,
          labels: Sequence[str] | None = None, tag_sources: bool = False,
          progress: Progress | None = None) -> int:
    """Merge the recordings `inputs` (evlog or original JSON, any mix) into the new recording
    `out`; returns the number of events. See the module documentation for the rules."""
    if len(inputs) < 1:
        raise OpError("merge needs at least one input recording")
    out = check_new_recording(out)
    tick = progress_or_noop(progress)
    recs = []
    try:
        for p in inputs:
            recs.append(open_input(p))
        if labels is None:
            labels = _labels([r.session_name for r in recs])
        if len(labels) != len(recs):
            raise OpError("merge: one label per input")
        start = min(r.start_time_ns for r in recs)
        shifts = [r.start_time_ns - start for r in recs]
        merged_from = [{"path": os.path.abspath(os.fspath(p)), "session_name": r.session_name, "label": lab,
                        "start_time_ns": r.start_time_ns, "format": r.format}
                       for p, r, lab in zip(inputs, recs, labels)]
        name = session_name or "merged_" + "_".join(r.session_name for r in recs)[:80]
        counts = [0] * len(recs)
        with creating(out), \
                Log.create(out, name, start_time_ns=start, metadata={"merged_from": merged_from}) as log, \
                open(os.path.join(out, ORIGINS_FILE), "wb") as origins:
            total = _copy(log, origins, [_raw_stream(r) for r in recs], shifts, counts,
                          list(labels) if tag_sources else None, tick)
            origins.flush()
            os.fsync(origins.fileno())
            for entry, c in zip(merged_from, counts):
                entry["events"] = c
            log.set_metadata(merged_from=merged_from)
        return total
    finally:
        for r in recs:
            r.close()


def _copy(log: Log, origins: BinaryIO, streams: list, shifts: list[int], counts: list[int],
          tags: list[str] | None, tick: Progress) -> int:
    batch: list = []
    current = -1
    n = 0
    pack = _RUN.pack
    for i, rec in merge_streams(streams):
        if i != current:
            origins.write(pack(n, i))
            current = i
        if tags is not None:
            rec = rec._replace(source=f"{tags[i]}/{rec.source}" if rec.source else tags[i])
        shift = shifts[i]
        batch.append(rec._replace(monotonic=rec.monotonic + shift) if shift else rec)
        counts[i] += 1
        n += 1
        if len(batch) == _BATCH:
            log.append_raw_many(batch)   # one writer call per batch: the copy's fast path
            batch.clear()
        if n % _TICK == 0:
            tick(_TICK)
    log.append_raw_many(batch)
    tick(n % _TICK)
    return n


def _labels(names: list[str]) -> list[str]:
    """Session names, made unique with a #n suffix."""
    out: list[str] = []
    for i, n in enumerate(names):
        label = n if names.count(n) == 1 else f"{n}#{names[:i + 1].count(n)}"
        out.append(label)
    return out


def origins(path: str | os.PathLike) -> list[tuple[int, int]]:
    """The runs `(first offset, input index)` of a merged recording (empty if not merged)."""
    try:
        with open(os.path.join(os.fspath(path), ORIGINS_FILE), "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return []
    return list(_RUN.iter_unpack(data[:len(data) - len(data) % _RUN.size]))


def origin_of(path: str | os.PathLike, offset: int, runs: list[tuple[int, int]] | None = None) -> dict | None:
    """The `merged_from` entry of the input the event at `offset` came from (None if not merged)."""
    runs = origins(path) if runs is None else runs
    if not runs:
        return None
    i = bisect_right([r[0] for r in runs], offset) - 1
    if i < 0:
        return None
    with open_input(path) as rec:
        merged_from = rec.metadata.get("merged_from") or []
    idx = runs[i][1]
    return merged_from[idx] if idx < len(merged_from) else None
