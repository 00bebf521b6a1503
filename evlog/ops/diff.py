"""`diff`: compare two recordings event by event, like `diff` for event logs.

The two event sequences are aligned on (event name, canonical data): the data as JSON with
sorted keys, ignored fields removed. Events only in the baseline are *deleted*, only in the
new recording *inserted*; within each stretch between aligned events, a deleted and an
inserted event with the same name are paired as *changed* (reported field by field, with
dotted paths) when their data agree on at least half of their fields, or when that name
occurs once on each side of the stretch (a replacement in place). Aligned or changed events
whose times since their recording's start differ by more than `time_tolerance_ns` are
*timing* differences (only when a tolerance is given). Per-event headers are compared like
the source: aligned events whose headers differ are *changed*, each header a field
`headers.KEY`; `ignore_fields` entries `headers` (all of them) and `headers.KEY` (a glob on
the key) leave headers out.

Streaming, memory bounded by the window: while the two heads are equal they are consumed
one by one; at a difference, up to `window` events of each side are aligned with Myers'
shortest edit script (edit distance capped at `max_edits`, beyond which a linear
hash-anchor alignment is used) and the alignment is committed up to the first run of
`resync` equal events, after which the fast path resumes. Limit: an inserted or deleted
stretch longer than `window` events is still reported correctly event by event, but
events beyond the window may be reported as deleted + inserted instead of aligned.
"""
from __future__ import annotations

import fnmatch
import os
from collections import Counter, deque
from collections.abc import Iterator, Sequence
from itertools import islice
from dataclasses import dataclass, field
from typing import Any

import msgspec

from ..segments import decode_headers
from .align import align_window, pair_gap
from .common import Progress, Selection, named_input, open_input, progress_or_noop, raw_records, redacted
from .schema import SchemaChange, detect_schema_changes, normalize

_decode = msgspec.json.decode
_encoder = msgspec.json.Encoder(order="sorted")
_MISSING = object()

DELETED, INSERTED, CHANGED, TIMING = "deleted", "inserted", "changed", "timing"


@dataclass
class Event:
    """One side of a difference."""

    offset: int
    monotonic: int
    name: str
    source: str
    data: Any
    headers: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        d = {"offset": self.offset, "time_s": self.monotonic / 1e9, "event_name": self.name,
             "source": self.source, "event_data": self.data}
        if self.headers:
            d["headers"] = self.headers
        return d


@dataclass
class FieldChange:
    path: str       # dotted: data.fills.0.price, source, or headers.KEY
    old: Any        # None with old_missing when the field is absent
    new: Any
    old_missing: bool = False
    new_missing: bool = False

    def to_dict(self) -> dict:
        d: dict[str, Any] = {"path": self.path}
        if not self.old_missing:
            d["old"] = self.old
        if not self.new_missing:
            d["new"] = self.new
        return d


@dataclass
class Difference:
    kind: str                          # deleted | inserted | changed | timing
    baseline: Event | None
    new: Event | None
    changes: list[FieldChange] = field(default_factory=list)
    time_shift_ns: int | None = None   # new - baseline, when beyond the tolerance

    def to_dict(self) -> dict:
        d: dict[str, Any] = {"kind": self.kind}
        if self.baseline is not None:
            d["baseline"] = self.baseline.to_dict()
        if self.new is not None:
            d["new"] = self.new.to_dict()
        if self.changes:
            d["changes"] = [c.to_dict() for c in self.changes]
        if self.time_shift_ns is not None:
            d["time_shift_s"] = self.time_shift_ns / 1e9
        return d


@dataclass
class DiffSummary:
    baseline_events: int = 0
    new_events: int = 0
    matched: int = 0
    deleted: int = 0
    inserted: int = 0
    changed: int = 0
    timing: int = 0
    schema_changes: list[SchemaChange] = field(default_factory=list)   # see ops/schema.py

    @property
    def equal(self) -> bool:
        return not (self.deleted or self.inserted or self.changed or self.timing or self.schema_changes)

    def count(self, d: Difference) -> None:
        if d.kind == DELETED:
            self.deleted += 1
        elif d.kind == INSERTED:
            self.inserted += 1
        else:
            self.changed += d.kind == CHANGED
            self.timing += d.time_shift_ns is not None

    def to_dict(self) -> dict:
        d = {"equal": self.equal, "baseline_events": self.baseline_events, "new_events": self.new_events,
             "matched": self.matched, "deleted": self.deleted, "inserted": self.inserted,
             "changed": self.changed, "timing": self.timing}
        if self.schema_changes:
            d["schema"] = [c.to_dict() for c in self.schema_changes]
        return d


@dataclass
class DiffResult:
    summary: DiffSummary
    differences: list[Difference]     # at most `max_differences` of them
    truncated: bool = False

    @property
    def equal(self) -> bool:
        return self.summary.equal

    def to_dict(self) -> dict:
        """JSON-ready: {"summary", "differences", "truncated"} (what `diff --format json` prints)."""
        return {"summary": self.summary.to_dict(), "differences": [d.to_dict() for d in self.differences],
                "truncated": self.truncated}


class _Item:
    __slots__ = ("_headers", "_key", "_value", "headers", "monotonic", "name", "offset", "raw", "source")

    def __init__(self, offset: int, monotonic: int, name: str, source: str, raw: bytes, headers: bytes) -> None:
        self.offset, self.monotonic, self.name, self.source, self.raw = offset, monotonic, name, source, raw
        self.headers = headers          # as stored (b"" for none)
        self._key: Any = None
        self._value: Any = _MISSING
        self._headers: Any = None       # decoded, without the ignored ones


class Differ:
    """The streaming alignment; `run()` yields Differences, `summary` counts them."""

    def __init__(self, a: Iterator[Any], b: Iterator[Any], *, ignore_fields: Sequence[str] = (),
                 time_tolerance_ns: int | None = None, window: int = 4096, max_edits: int = 512,
                 resync: int = 8, progress: Progress | None = None) -> None:
        self._a, self._b = a, b
        self.ignore = [_normalize_glob(g) for g in ignore_fields if not _is_header_glob(g)]
        self.ignore_source = "source" in ignore_fields
        self.ignore_headers = "headers" in ignore_fields
        self.header_globs = [g[len("headers."):] for g in ignore_fields if g.startswith("headers.")]
        self.tolerance = time_tolerance_ns
        self.window = max(8, window)
        self.max_edits = max_edits
        self.resync = max(1, resync)
        self.summary = DiffSummary()
        self._tick = progress_or_noop(progress)
        self._ticked = 0
        self._buf_a: deque[_Item] = deque()
        self._buf_b: deque[_Item] = deque()
        self._eof_a = self._eof_b = False

    # keys and values ------------------------------------------------------------
    def value(self, item: _Item) -> Any:
        if item._value is _MISSING:
            v = _decode(item.raw)
            item._value = _strip(v, "", self.ignore) if self.ignore else v
        return item._value

    def key(self, item: _Item) -> Any:
        """(name, data): the stored JSON when nothing is ignored (equal data written by the
        same code is byte-equal; equal data with another key order is caught when the gap
        is paired), else the canonical JSON (sorted keys) of the data without ignored fields."""
        if item._key is None:
            item._key = (item.name, item.raw if not self.ignore else _encoder.encode(self.value(item)))
        return item._key

    def header_value(self, item: _Item) -> dict:
        """The item's headers without the ignored ones."""
        if item._headers is None:
            if self.ignore_headers or not item.headers:
                item._headers = {}
            else:
                h = decode_headers(item.headers)
                globs = self.header_globs
                item._headers = {k: v for k, v in h.items()
                                 if not any(fnmatch.fnmatchcase(k, g) for g in globs)} if globs else dict(h)
        return item._headers

    def header_changes(self, x: _Item, y: _Item) -> list[FieldChange]:
        """`headers.KEY` changes between two items (none when their stored headers are equal)."""
        if x.headers == y.headers:
            return []
        a, b = self.header_value(x), self.header_value(y)
        return [FieldChange(f"headers.{c.path}", c.old, c.new, c.old_missing, c.new_missing)
                for c in _changes(a, b)] if a != b else []

    def same(self, x: _Item, y: _Item) -> bool:
        if x.name != y.name:
            return False
        if not self.ignore and x.raw == y.raw:
            return True
        return self.key(x) == self.key(y)

    # buffers --------------------------------------------------------------------
    def _fill(self, n: int) -> None:
        """Buffer up to `n` items on each side (fewer at the end of a side)."""
        if not self._eof_a:
            got = self._take(self._a, self._buf_a, n)
            self._eof_a = len(self._buf_a) < n
            self.summary.baseline_events += got
        if not self._eof_b:
            got = self._take(self._b, self._buf_b, n)
            self._eof_b = len(self._buf_b) < n
            self.summary.new_events += got

    @staticmethod
    def _take(records: Iterator[Any], buf: deque, n: int) -> int:
        """Append items read from `records` to `buf` until it holds `n`; returns how many."""
        before = len(buf)
        if before < n:
            buf.extend(map(_item, islice(records, n - before)))
        return len(buf) - before

    def _progress(self) -> None:
        done = self.summary.baseline_events
        if done - self._ticked >= 4096:
            self._tick(done - self._ticked)
            self._ticked = done

    # the alignment ----------------------------------------------------------------
    def _fast(self) -> None:
        """Consume equal pairs straight from the inputs (no buffering) until a difference
        or the end of an input; the differing records are left in the buffers."""
        a, b, summary = self._a, self._b, self.summary
        tol = self.tolerance
        plain = not self.ignore
        n = 0
        tick_at = 4096
        try:
            for x in a:
                y = next(b, None)
                if y is None:
                    self._eof_b = True
                    self._buf_a.append(_item(x))
                    summary.baseline_events += 1
                    return
                n += 1
                if x.name == y.name and x.source == y.source and (x.data == y.data if plain else False) \
                        and x.headers == y.headers and (tol is None or abs(y.monotonic - x.monotonic) <= tol):
                    if n >= tick_at:
                        tick_at = n + 4096
                        summary.baseline_events += n
                        summary.new_events += n
                        summary.matched += n
                        n = 0
                        self._progress()
                    continue
                n -= 1
                self._buf_a.append(_item(x))
                self._buf_b.append(_item(y))
                summary.baseline_events += 1
                summary.new_events += 1
                return
            self._eof_a = True
        finally:
            summary.baseline_events += n
            summary.new_events += n
            summary.matched += n

    def run(self) -> Iterator[Difference]:
        buf_a, buf_b = self._buf_a, self._buf_b
        while True:
            if not buf_a and not buf_b and not self._eof_a and not self._eof_b:
                self._fast()
            self._fill(1)
            if not buf_a and not buf_b:
                break
            if buf_a and buf_b and self.same(buf_a[0], buf_b[0]):
                x, y = buf_a.popleft(), buf_b.popleft()
                d = self._matched(x, y)
                if d is not None:
                    yield d
                self._progress()
                continue
            yield from self._realign()
            self._progress()
        self._tick(self.summary.baseline_events - self._ticked)

    def _realign(self) -> Iterator[Difference]:
        buf_a, buf_b = self._buf_a, self._buf_b
        w = 2 * self.resync + 2
        while True:
            self._fill(w)
            na, nb = min(w, len(buf_a)), min(w, len(buf_b))
            at_end = self._eof_a and self._eof_b and na == len(buf_a) and nb == len(buf_b)
            ka = [self.key(buf_a[i]) for i in range(na)]
            kb = [self.key(buf_b[j]) for j in range(nb)]
            pairs = align_window(ka, kb, self.max_edits)
            cut = None if at_end else _resync_point(pairs, self.resync, na, nb,
                                                    self._eof_a and na == len(buf_a),
                                                    self._eof_b and nb == len(buf_b))
            if at_end:
                commit, ca, cb = pairs, na, nb
            elif cut is not None:
                commit = pairs[:cut + 1]
                ca, cb = commit[-1][0] + 1, commit[-1][1] + 1
            elif w < self.window:
                w = min(self.window, w * 4)
                continue
            elif pairs:                  # a full window without a clean resync: commit to the last match
                commit = pairs
                ca, cb = pairs[-1][0] + 1, pairs[-1][1] + 1
            else:                        # nothing in common in a whole window
                commit, ca, cb = [], na, nb
            items_a = [buf_a.popleft() for _ in range(ca)]
            items_b = [buf_b.popleft() for _ in range(cb)]
            yield from self._commit(items_a, items_b, commit)
            return

    def _commit(self, items_a: list[_Item], items_b: list[_Item],
                pairs: list[tuple[int, int]]) -> Iterator[Difference]:
        i = j = 0
        for pi, pj in pairs + [(len(items_a), len(items_b))]:
            yield from self._gap(items_a[i:pi], items_b[j:pj])
            if pi < len(items_a) and pj < len(items_b):
                d = self._matched(items_a[pi], items_b[pj])
                if d is not None:
                    yield d
            i, j = pi + 1, pj + 1

    def _gap(self, ga: list[_Item], gb: list[_Item]) -> Iterator[Difference]:
        if not ga and not gb:
            return
        flat_a = [_flatten(self.value(x)) for x in ga]
        flat_b = [_flatten(self.value(y)) for y in gb]

        names_a = Counter(x.name for x in ga)
        names_b = Counter(y.name for y in gb)

        def score(i: int, j: int) -> float | None:
            name = ga[i].name
            if name != gb[j].name:
                return None
            s = _similarity(flat_a[i], flat_b[j])
            return s if s >= 0.5 or (names_a[name] == 1 and names_b[name] == 1) else None
        pairs = pair_gap(len(ga), len(gb), score)
        i = j = 0
        for pi, pj in pairs + [(len(ga), len(gb))]:
            for x in ga[i:pi]:
                d = Difference(DELETED, self._event(x), None)
                self.summary.count(d)
                yield d
            for y in gb[j:pj]:
                d = Difference(INSERTED, None, self._event(y))
                self.summary.count(d)
                yield d
            if pi < len(ga) and pj < len(gb):
                x, y = ga[pi], gb[pj]
                changes = _changes(flat_a[pi], flat_b[pj])
                if not changes:          # the same data, written with another key order
                    d2 = self._matched(x, y)
                    if d2 is not None:
                        yield d2
                    i, j = pi + 1, pj + 1
                    continue
                changes[:0] = self._meta_changes(x, y)
                d = Difference(CHANGED, self._event(x), self._event(y), changes, self._shift(x, y))
                self.summary.count(d)
                yield d
            i, j = pi + 1, pj + 1

    def _shift(self, x: _Item, y: _Item) -> int | None:
        if self.tolerance is None:
            return None
        delta = y.monotonic - x.monotonic
        return delta if abs(delta) > self.tolerance else None

    def _meta_changes(self, x: _Item, y: _Item) -> list[FieldChange]:
        """What differs besides the data: the source, then the headers."""
        changes = []
        if x.source != y.source and not self.ignore_source:
            changes.append(FieldChange("source", x.source, y.source))
        changes += self.header_changes(x, y)
        return changes

    def _matched(self, x: _Item, y: _Item) -> Difference | None:
        changes = self._meta_changes(x, y)
        shift = self._shift(x, y)
        if not changes and shift is None:
            self.summary.matched += 1
            return None
        d = Difference(CHANGED if changes else TIMING, self._event(x), self._event(y), changes, shift)
        self.summary.count(d)
        return d

    def _event(self, item: _Item) -> Event:
        return Event(item.offset, item.monotonic, item.name, item.source, _decode(item.raw),
                     dict(decode_headers(item.headers)))


def _resync_point(pairs: list[tuple[int, int]], resync: int, na: int, nb: int,
                  end_a: bool, end_b: bool) -> int | None:
    """Index in `pairs` of the first pair of the first run of `resync` consecutive diagonal
    matches (or of a run reaching the end of a finished side); None if there is none."""
    run_start = 0
    for k in range(len(pairs)):
        if k > 0 and not (pairs[k][0] == pairs[k - 1][0] + 1 and pairs[k][1] == pairs[k - 1][1] + 1):
            run_start = k
        length = k - run_start + 1
        i, j = pairs[k]
        if length >= resync or (end_a and i == na - 1) or (end_b and j == nb - 1):
            return run_start
    return None


def _is_header_glob(g: str) -> bool:
    return g == "headers" or g.startswith("headers.")


def _normalize_glob(g: str) -> str:
    for prefix in ("event_data.", "data."):
        if g.startswith(prefix):
            return g[len(prefix):]
    return g


def _strip(value: Any, path: str, globs: list[str]) -> Any:
    """`value` without the fields whose dotted path matches a glob."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            p = f"{path}.{k}" if path else str(k)
            if any(fnmatch.fnmatchcase(p, g) for g in globs):
                continue
            out[k] = _strip(v, p, globs)
        return out
    if isinstance(value, list):
        out_list = []
        for i, v in enumerate(value):
            p = f"{path}.{i}" if path else str(i)
            if any(fnmatch.fnmatchcase(p, g) for g in globs):
                continue
            out_list.append(_strip(v, p, globs))
        return out_list
    return value


def _flatten(value: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}

    def walk(v: Any, path: str) -> None:
        if isinstance(v, dict) and v:
            for k, x in v.items():
                walk(x, f"{path}.{k}")
        elif isinstance(v, list) and v:
            for i, x in enumerate(v):
                walk(x, f"{path}.{i}")
        else:
            out[path] = v
    walk(value, "data")
    return out


def _similarity(a: dict, b: dict) -> float:
    keys = a.keys() | b.keys()
    if not keys:
        return 1.0
    same = sum(1 for k in keys if k in a and k in b and _eq(a[k], b[k]))
    return same / len(keys)


def _eq(x: Any, y: Any) -> bool:
    return type(x) is type(y) and x == y


def _changes(a: dict, b: dict) -> list[FieldChange]:
    out = []
    for k in list(a) + [k for k in b if k not in a]:
        if k not in b:
            out.append(FieldChange(k, a[k], None, new_missing=True))
        elif k not in a:
            out.append(FieldChange(k, None, b[k], old_missing=True))
        elif not _eq(a[k], b[k]):
            out.append(FieldChange(k, a[k], b[k]))
    return out


def _item(r: Any) -> _Item:
    return _Item(r.offset, r.monotonic, r.name, r.source, r.data, r.headers)


def iter_diff(baseline: str | os.PathLike, new: str | os.PathLike, *, ignore_fields: Sequence[str] = (),
              time_tolerance_ns: int | None = None, selection: Selection | None = None,
              window: int = 4096, progress: Progress | None = None,
              redact: Any = None) -> Iterator[Difference | DiffSummary]:
    """Yield each Difference as found, then the DiffSummary (streaming). An event type whose
    schema changed is one `SchemaChange` in the summary, its events compared in the new
    schema's terms (see ops/schema.py). `redact`: both sides read through a redaction policy
    (evlog.redact; the dashboard's diff under `evlog serve --redact`)."""
    with open_input(baseline) as a0, open_input(new) as b0:
        a, b = redacted(a0, redact), redacted(b0, redact)
        changes = detect_schema_changes(a, b, selection)
        differ = Differ(named_input(baseline, normalize(raw_records(a, selection), changes, "baseline")),
                        named_input(new, normalize(raw_records(b, selection), changes, "new")),
                        ignore_fields=ignore_fields,
                        time_tolerance_ns=time_tolerance_ns, window=window, progress=progress)
        differ.summary.schema_changes = changes
        yield from differ.run()
        yield differ.summary


def diff(baseline: str | os.PathLike, new: str | os.PathLike, *, ignore_fields: Sequence[str] = (),
         time_tolerance_ns: int | None = None, selection: Selection | None = None, window: int = 4096,
         max_differences: int | None = 10_000, progress: Progress | None = None) -> DiffResult:
    """Compare two recordings; keeps the first `max_differences` differences (all with None)
    and counts every one in the summary."""
    kept: list[Difference] = []
    truncated = False
    summary = DiffSummary()
    for d in iter_diff(baseline, new, ignore_fields=ignore_fields, time_tolerance_ns=time_tolerance_ns,
                       selection=selection, window=window, progress=progress):
        if isinstance(d, DiffSummary):
            summary = d
        elif max_differences is None or len(kept) < max_differences:
            kept.append(d)
        else:
            truncated = True
    return DiffResult(summary, kept, truncated)
