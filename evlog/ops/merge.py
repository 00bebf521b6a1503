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

import os
import struct
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator, Sequence
from functools import partial
from itertools import accumulate, compress, islice, repeat
from operator import itemgetter, le, ne
from typing import Any, BinaryIO

from ..chunks import chunked
from ..segments import EncodedRows, Log, RawRecord
from .common import (
    OpError,
    Progress,
    named_input,
    open_input,
    progress_or_noop,
    raw_records,
    redacted,
    redaction_metadata,
)
from .output import check_new_recording, creating

ORIGINS_FILE = "merge_origins.bin"
_RUN = struct.Struct("<QI")
_CHUNK = 4096              # records taken from an input at a time (memory: a few chunks per input)
_timestamp = itemgetter(1)
_new_tuple = tuple.__new__

# (records in merged order, positions where the input changes (the first is 0), the input of
#  each of those runs, (input, count) taken from each input)
Batch = tuple[list[RawRecord], list[int], list[int], list[tuple[int, int]]]


class _Tagged(dict):
    """source -> "<label>/<source>", built once per distinct source."""

    def __init__(self, label: str) -> None:
        super().__init__()
        self.label = label

    def __missing__(self, source: str) -> str:
        tagged = f"{self.label}/{source}" if source else self.label
        if len(self) < 65536:
            self[source] = tagged
        return tagged


def _chunks(stream: Iterable[RawRecord], shift: int = 0, label: str | None = None,
            size: int = _CHUNK) -> Iterator[list[RawRecord]]:
    """The records of one input in lists of up to `size`, their `monotonic` shifted by
    `shift` and their sources tagged with `label`: column by column, no per-record Python code."""
    tagged = _Tagged(label) if label is not None else None
    for chunk in chunked(stream, size):
        if shift or tagged is not None:
            offsets, ts, mono, names, sources, data, flags, types, headers = zip(*chunk)
            if shift:
                mono = map(shift.__add__, mono)
            if tagged is not None:
                sources = map(tagged.__getitem__, sources)
            chunk = list(map(_new_tuple, repeat(RawRecord), zip(offsets, ts, mono, names, sources, data, flags, types,
                                                                headers)))
        yield chunk


def _sort_keys(chunk: list[RawRecord], last: int | None) -> list[int]:
    """The merge keys of an input's records: their timestamps, as a running maximum (with
    `last`, the key before the chunk) so that a wall clock stepping back inside one input
    orders exactly as the one-head-per-input merge does (an event never passes the ones
    before it in its own input, and is compared as if it had their time)."""
    ts = list(map(_timestamp, chunk))
    if (last is None or last <= ts[0]) and all(map(le, ts, islice(ts, 1, None))):
        return ts
    if last is None:
        return list(accumulate(ts, max))
    return list(islice(accumulate(ts, max, initial=last), 1, None))


def merge_batches(sources: Sequence[Iterable[list[RawRecord]]]) -> Iterator[Batch]:
    """k-way merge of inputs given as lists of records (see `_chunks`), by timestamp, ties in
    input order, in batches of thousands of records.

    Each round, every input holds a buffer; the bound is the last key of the open input (one
    not read to its end) whose buffer ends first. Everything up to the bound is final: that
    input's whole buffer and each other input's prefix up to it (found by bisection). These
    pieces are merged by one stable sort on the keys (C: Timsort merges the sorted pieces),
    concatenated in input order so that ties keep input order. The output equals the
    classic merge comparing one head per input (`heapq`), record for record.
    """
    k = len(sources)
    its = [iter(s) for s in sources]
    bufs: list[list[RawRecord]] = [[] for _ in range(k)]
    keys: list[list[int]] = [[] for _ in range(k)]
    pos = [0] * k
    last: list[int | None] = [None] * k
    done = [False] * k
    while True:
        for i in range(k):   # top up the buffers running low
            left = len(bufs[i]) - pos[i]
            if not done[i] and (not left or left < _CHUNK // 2):
                new = next(its[i], None)
                while new is not None and not new:
                    new = next(its[i], None)
                if new is None:
                    done[i] = True
                    continue
                nk = _sort_keys(new, last[i])
                last[i] = nk[-1]
                if pos[i] < len(bufs[i]):
                    bufs[i] = bufs[i][pos[i]:] + new
                    keys[i] = keys[i][pos[i]:] + nk
                else:
                    bufs[i], keys[i] = new, nk
                pos[i] = 0
        live = [i for i in range(k) if pos[i] < len(bufs[i])]
        open_ = [i for i in range(k) if not done[i]]   # each holds records (else it is done)
        if len(live) <= 1 and len(open_) == len(live):
            # at most one input left: the rest of it is one run, copied as it comes
            for i in live:
                rest = bufs[i][pos[i]:] if pos[i] else bufs[i]
                yield rest, [0], [i], [(i, len(rest))]
                for chunk in its[i]:
                    if chunk:
                        yield chunk, [0], [i], [(i, len(chunk))]
            return
        pieces = []
        if open_:
            j = min(open_, key=lambda i: (keys[i][-1], i))
            bound = keys[j][-1]
            for i in live:
                p = pos[i]
                c = len(keys[i]) if i == j else (bisect_right if i < j else bisect_left)(keys[i], bound, p)
                if c > p:
                    pieces.append((i, p, c))
                    pos[i] = c
        else:   # every input read to its end: all that is left
            for i in live:
                pieces.append((i, pos[i], len(bufs[i])))
                pos[i] = len(bufs[i])
        taken = [(i, c - p) for i, p, c in pieces]
        if len(pieces) == 1:
            i, p, c = pieces[0]
            yield (bufs[i][p:c] if p or c < len(bufs[i]) else bufs[i]), [0], [i], taken
            continue
        recs: list[RawRecord] = []
        ks: list[int] = []
        ends = []
        for i, p, c in pieces:
            recs += bufs[i][p:c]
            ks += keys[i][p:c]
            ends.append(len(recs))
        order = sorted(range(len(ks)), key=ks.__getitem__)       # stable: ties keep input order
        # the piece (input) of each merged record
        piece = list(map(ends[0].__le__, order) if len(ends) == 2 else map(partial(bisect_right, ends), order))
        starts = [0, *compress(range(1, len(piece)), map(ne, piece, islice(piece, 1, None)))]
        pin = [p[0] for p in pieces]
        inputs = list(map(pin.__getitem__, map(piece.__getitem__, starts)))
        yield list(map(recs.__getitem__, order)), starts, inputs, taken


def merge_streams(streams: Sequence[Iterable[RawRecord]]) -> Iterator[tuple[int, RawRecord]]:
    """(input index, record) of k streams, by timestamp, ties in input order."""
    for recs, starts, inputs, _taken in merge_batches([_chunks(s) for s in streams]):
        for a, b, i in zip(starts, starts[1:] + [len(recs)], inputs):
            for rec in recs[a:b]:
                yield i, rec


def merge(inputs: Sequence[str | os.PathLike], out: str | os.PathLike, *, session_name: str | None = None,
          labels: Sequence[str] | None = None, tag_sources: bool = False,
          progress: Progress | None = None, redact: Any = None) -> int:
    """Merge the recordings `inputs` (evlog or original JSON, any mix) into the new recording
    `out`; returns the number of events. See the module documentation for the rules.
    `redact`: a redaction policy (evlog.redact) applied to every event copied."""
    if redact is not None:
        from ..redact import as_redactor
        redact = as_redactor(redact)
    if len(inputs) < 1:
        raise OpError("merge needs at least one input recording")
    out = check_new_recording(out)
    tick = progress_or_noop(progress)
    recs = []
    try:
        for p in inputs:
            recs.append(redacted(open_input(p), redact))
        if labels is None:
            labels = input_labels([r.session_name for r in recs])
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
                Log.create(out, name, start_time_ns=start,
                           metadata={"merged_from": merged_from, **redaction_metadata(redact)}) as log, \
                open(os.path.join(out, ORIGINS_FILE), "wb") as origins:
            sources = [named_input(p, _chunks(raw_records(r), shift, lab if tag_sources else None))
                       for p, r, shift, lab in zip(inputs, recs, shifts, labels)]
            total = _copy(log, origins, sources, counts, tick)
            origins.flush()
            os.fsync(origins.fileno())
            for entry, c in zip(merged_from, counts):
                entry["events"] = c
            log.set_metadata(merged_from=merged_from)
        return total
    finally:
        for r in recs:
            r.close()


def _copy(log: Log, origins: BinaryIO, sources: list, counts: list[int], tick: Progress) -> int:
    n = 0
    current = -1
    for recs, starts, inputs, taken in merge_batches(sources):
        skip = 1 if inputs[0] == current else 0    # the run goes on from the last batch
        if len(inputs) > skip:
            origins.write(pack_runs(n, starts, inputs, skip))
            current = inputs[-1]
        log.append_rows(EncodedRows.from_raw(recs), validate=False)   # one writer call per batch
        m = 0
        for i, c in taken:
            counts[i] += c
            m += c
        n += m
        tick(m)
    return n


def pack_runs(base: int, starts: list[int], inputs: list[int], skip: int = 0) -> bytes:
    """The runs `(base + start, input)` from index `skip` as `_RUN` records (a fully
    interleaved merge has one run per event): each column packed in one call, then
    interleaved by strided copies."""
    m = len(starts) - skip
    if m < 32:
        return b"".join(map(_RUN.pack, map(base.__add__, islice(starts, skip, None)), islice(inputs, skip, None)))
    first = struct.pack(f"<{m}Q", *map(base.__add__, islice(starts, skip, None)))
    index = struct.pack(f"<{m}I", *islice(inputs, skip, None))
    out = bytearray(_RUN.size * m)
    for b in range(8):
        out[b::12] = first[b::8]
    for b in range(4):
        out[8 + b::12] = index[b::4]
    return bytes(out)


def input_labels(names: list[str]) -> list[str]:
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
