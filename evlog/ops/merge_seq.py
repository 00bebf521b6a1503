"""`merge --by-sequence`: the recordings of recorders sharing one JetStream consumer (each
holds a share of the stream) joined into one recording in stream order, each message once.

* Key: a record's stream sequence, from its `nats.seq` header (and `nats.stream`), else from
  the envelope of older NATS captures (`data.nats.seq`, `data.nats.stream`). All inputs must
  hold one stream. Records without a sequence (evlog's own markers) follow the record before
  them in their input.
* Duplicates: records of a (stream, sequence) already written are dropped (a message
  redelivered to another recorder after the first one recorded it without acknowledging).
* Order: by sequence, ties (a duplicate, a marker) in input order. A recorder records
  redeliveries as they come, so an input can go back in sequence: such records (seq below the
  highest before them in their input) are taken out in a first pass, sorted in runs of
  `RUN_SIZE` (spilled to temporary recordings beside the output), and merged back in: memory
  stays bounded whatever the size of the inputs.
* Copy, times and provenance as `merge`: records copied raw, `monotonic` shifted to the
  earliest start, `merged_from` metadata (with each input's `events` and `duplicates`) and
  `merge_origins.bin`.
"""
from __future__ import annotations

import heapq
import os
import shutil
import struct
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from ..segments import EncodedRows, Log, RawRecord
from ..segments.codec import decode_data
from ..segments.headers import decode_headers
from .common import OpError, Progress, named_input, open_input, progress_or_noop, raw_records
from .merge import ORIGINS_FILE, input_labels, pack_runs
from .output import check_new_recording, creating

SEQ_HEADER = "nats.seq"
STREAM_HEADER = "nats.stream"
RUN_SIZE = 50_000          # out-of-order records sorted in memory at a time
_BATCH = 4096
_ENVELOPE_PREFIX = b'{"nats":'
_KEY = struct.Struct("<qIq?")   # a spilled record's key, input, tiebreak, has a sequence
# (sequence key, input index, tiebreak unique in the input, has a sequence, record)
Item = tuple[int, int, int, bool, RawRecord]


def sequence_of(rec: RawRecord) -> tuple[str | None, int] | None:
    """(stream, sequence) of a recorded NATS message, None when it has none."""
    if rec.headers:
        headers = decode_headers(rec.headers)
        seq = headers.get(SEQ_HEADER)
        if seq is not None:
            try:
                return headers.get(STREAM_HEADER), int(seq)
            except ValueError:
                return None
    if not rec.data.startswith(_ENVELOPE_PREFIX):
        return None
    try:
        data = decode_data(rec.data, rec.flags, rec.types)
    except Exception:  # noqa: BLE001 - not an envelope after all
        return None
    meta = data.get("nats") if isinstance(data, dict) else None
    seq = meta.get("seq") if isinstance(meta, dict) else None
    if not isinstance(seq, int) or isinstance(seq, bool):
        return None
    return meta.get("stream"), seq


@dataclass
class SequenceMergeResult:
    events: int                       # written
    duplicates: int                   # dropped: a (stream, sequence) already written
    stream: str | None
    first_seq: int | None = None
    last_seq: int | None = None
    per_input: list[dict] = field(default_factory=list)


class _Input:
    """One input's records as (key, tiebreak, input, record) in input order, split into those
    in sequence (`in_order`) and those that went back (`stragglers`)."""

    def __init__(self, index: int, path: str, shift: int, label: str | None) -> None:
        self.index, self.path, self.shift, self.label = index, path, shift, label
        self.stream: str | None = None

    def keyed(self) -> Iterator[tuple[int, bool, bool, RawRecord]]:
        """(key, straggler, message, record): key is the sequence, or the one before for a
        record without one (message False)."""
        high = -1
        with open_input(self.path) as rec:
            for r in named_input(self.path, raw_records(rec)):
                if self.shift or self.label is not None:
                    r = r._replace(monotonic=r.monotonic + self.shift,
                                   source=(f"{self.label}/{r.source}" if r.source else self.label)
                                   if self.label is not None else r.source)
                pos = sequence_of(r)
                if pos is None:
                    yield max(high, 0), False, False, r
                    continue
                stream, seq = pos
                if stream is not None:
                    if self.stream is None:
                        self.stream = stream
                    elif stream != self.stream:
                        raise OpError(f"merge --by-sequence: {self.path} holds streams {self.stream} and {stream}: "
                                      "merge the recordings of one stream")
                if seq < high:
                    yield seq, True, True, r
                else:
                    high = seq
                    yield seq, False, True, r

    def in_order(self) -> Iterator[Item]:
        n = 0
        for key, straggler, message, r in self.keyed():
            if not straggler:
                n += 1
                yield key, self.index, n, message, r


def _spill(run: list[Item], directory: str, k: int) -> str:
    """Write a sorted run to a temporary recording (+ the input of each record)."""
    run.sort(key=lambda t: (t[0], t[1], t[2]))
    path = os.path.join(directory, f"run{k}")
    with Log.create(path, f"run{k}") as log:
        for i in range(0, len(run), _BATCH):
            log.append_rows(EncodedRows.from_raw([t[4] for t in run[i:i + _BATCH]]), validate=False)
    with open(path + ".keys", "wb") as f:
        f.write(b"".join(_KEY.pack(key, idx, n, message) for key, idx, n, message, _r in run))
    return path


def _read_run(path: str) -> Iterator[Item]:
    with open(path + ".keys", "rb") as f:
        keys = _KEY.iter_unpack(f.read())
    with Log.open(path) as log:
        for (key, idx, n, message), r in zip(keys, log.read(raw=True)):
            yield key, idx, n, message, r


def merge_by_sequence(inputs: Sequence[str | os.PathLike], out: str | os.PathLike, *,
                      session_name: str | None = None, labels: Sequence[str] | None = None,
                      tag_sources: bool = False, progress: Progress | None = None) -> SequenceMergeResult:
    """Merge the shards `inputs` of one JetStream stream into the new recording `out` in
    stream order, each (stream, sequence) once (see the module documentation)."""
    if len(inputs) < 1:
        raise OpError("merge needs at least one input recording")
    out = check_new_recording(out)
    tick = progress_or_noop(progress)
    paths = [os.fspath(p) for p in inputs]
    heads = []
    for p in paths:
        with open_input(p) as rec:
            heads.append((rec.session_name, rec.start_time_ns, rec.format))
    if labels is None:
        labels = input_labels([h[0] for h in heads])
    if len(labels) != len(paths):
        raise OpError("merge: one label per input")
    start = min(h[1] for h in heads)
    sources = [_Input(i, p, h[1] - start, lab if tag_sources else None)
               for i, (p, h, lab) in enumerate(zip(paths, heads, labels))]
    merged_from = [{"path": os.path.abspath(p), "session_name": h[0], "label": lab, "start_time_ns": h[1],
                    "format": h[2]} for p, h, lab in zip(paths, heads, labels)]
    name = session_name or "merged_" + "_".join(h[0] for h in heads)[:80]
    tmp = tempfile.mkdtemp(prefix=".merge-runs-", dir=os.path.dirname(os.path.abspath(out)) or ".")
    try:
        runs = _stragglers(sources, tmp)
        streams = {s.stream for s in sources if s.stream is not None}
        if len(streams) > 1:
            raise OpError(f"merge --by-sequence: the inputs hold streams {', '.join(sorted(streams))}: "
                          "merge the recordings of one stream")
        result = SequenceMergeResult(0, 0, next(iter(streams), None))
        counts = [[0, 0] for _ in sources]
        with creating(out), \
                Log.create(out, name, start_time_ns=start, metadata={"merged_from": merged_from}) as log, \
                open(os.path.join(out, ORIGINS_FILE), "wb") as origins:
            merged = heapq.merge(*(s.in_order() for s in sources), *(_read_run(r) for r in runs))
            _write(merged, log, origins, counts, result, tick)
            origins.flush()
            os.fsync(origins.fileno())
            for entry, (events, dups) in zip(merged_from, counts):
                entry["events"], entry["duplicates"] = events, dups
            log.set_metadata(merged_from=merged_from)
        result.per_input = merged_from
        return result
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _stragglers(sources: list[_Input], tmp: str) -> list[str]:
    """First pass: the records of each input that go back in sequence, as sorted runs."""
    runs: list[str] = []
    run: list[Item] = []
    for s in sources:
        n = 0
        for key, straggler, message, r in s.keyed():
            if straggler:
                n += 1
                run.append((key, s.index, -n, message, r))   # -n: unique, before the input's in-order ones
                if len(run) >= RUN_SIZE:
                    runs.append(_spill(run, tmp, len(runs)))
                    run = []
    if run:
        runs.append(_spill(run, tmp, len(runs)))
    return runs


def _write(merged: Iterable[Item], log: Log, origins, counts: list[list[int]],
           result: SequenceMergeResult, tick: Progress) -> None:
    batch: list[RawRecord] = []
    starts: list[int] = []
    inputs: list[int] = []
    current = -1
    last_seq: int | None = None
    written = 0

    def flush() -> None:
        nonlocal batch, starts, inputs
        if batch:
            log.append_rows(EncodedRows.from_raw(batch), validate=False)
            origins.write(pack_runs(written - len(batch), starts, inputs))
            tick(len(batch))
            batch, starts, inputs = [], [], []

    for key, idx, _n, is_message, r in merged:
        if is_message and key == last_seq:
            counts[idx][1] += 1
            result.duplicates += 1
            continue
        if is_message:
            last_seq = key
            if result.first_seq is None:
                result.first_seq = key
            result.last_seq = key
        if idx != current:
            starts.append(len(batch))
            inputs.append(idx)
            current = idx
        batch.append(r)
        counts[idx][0] += 1
        written += 1
        if len(batch) >= _BATCH:
            flush()
            current = -1
    flush()
    result.events = written
