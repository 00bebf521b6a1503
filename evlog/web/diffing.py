"""The diff view's data: the same engine as `evlog diff` (evlog.ops.diff), shaped for the page.

The engine streams the differences in alignment order on both sides; the matched events lie
between them, in equal numbers on each side. `DiffState` collects the differences as they come
(the first `keep` of them, all counted) with, for each, where the run of equal events before it
starts on each side; `rows()` rebuilds any stretch of the alignment from that: runs of equal
events (a few events of context at each end, the rest fetched on demand by `equal_run`) and the
differences between them. A streamed diff (a `Job`) lets the page show the first differences
while the engine is still reading, with progress and cancel.
"""
from __future__ import annotations

import threading
from collections import Counter, deque
from itertools import islice
from typing import Any

from werkzeug.exceptions import NotImplemented as NotImplemented501

from .redaction import open_path
from ..segments import to_json_mode
from .jobs import Job

CONTEXT = 3          # equal events shown before and after each difference
MAX_RUN_PAGE = 500   # equal pairs per `equal_run` request
KEEP = 10_000        # differences kept by a streamed diff (all are counted)


def _engine() -> tuple[Any, Any, Any]:
    """(iter_diff, DiffSummary, Selection) from evlog.ops (501 when the build lacks them)."""
    try:
        from ..ops.common import Selection
        from ..ops.diff import DiffSummary, iter_diff
    except ImportError:
        raise NotImplemented501("diff is not available in this build (evlog.ops.diff missing)") from None
    return iter_diff, DiffSummary, Selection


def _read_kwargs(filter_text: str | None) -> dict:
    if not filter_text:
        return {}
    from ..filters import parse_filter
    return parse_filter(filter_text).read_kwargs()


def _event(r: Any) -> dict:
    """A record in the engine's event form (what the page draws for both sides)."""
    return {"offset": r.offset, "time_s": r.monotonic / 1e9, "event_name": r.name, "source": r.source,
            "event_data": to_json_mode(r.data)}


def _side(rec: Any, start: int, kwargs: dict, *, end: int | None = None, count: int | None = None
          ) -> tuple[int, list, list, int]:
    """The selected events of one side from `start`, up to `end` (exclusive) or `count` of them:
    (how many, the first CONTEXT, the last CONTEXT, where the next run starts)."""
    if not kwargs:   # every event is selected: offsets alone say where the run is
        stop = end if end is not None else start + (count or 0)
        n = max(stop - start, 0)
        head = list(rec.read(start, min(stop, start + CONTEXT))) if n else []
        tail = list(rec.read(max(start + CONTEXT, stop - CONTEXT), stop)) if n > CONTEXT else []
        return n, head, tail, stop
    it = rec.read(start, end, **kwargs)
    if count is not None:
        it = islice(it, count)
    head: list = []
    tail: deque = deque(maxlen=CONTEXT)
    n, last = 0, start - 1
    for r in it:
        n += 1
        last = r.offset
        (head if n <= CONTEXT else tail).append(r)
    return n, head, list(tail), end if end is not None else last + 1


def _equal_row(a: Any, b: Any, ca: int, cb: int, kwargs: dict, *, end_a: int | None,
               end_b: int | None) -> dict | None:
    """The run of equal events from (ca, cb) up to the next difference: the side whose end is
    known decides the length."""
    if end_a is not None:
        n, ha, ta, _ = _side(a, ca, kwargs, end=end_a)
        _, hb, tb, _ = _side(b, cb, kwargs, end=end_b, count=None if end_b is not None else n)
    else:
        n, hb, tb, _ = _side(b, cb, kwargs, end=end_b)
        _, ha, ta, _ = _side(a, ca, kwargs, count=n)
    if n == 0:
        return None
    row = {"kind": "equal", "count": n, "a_offset": ca, "b_offset": cb,
           "head": [[_event(x), _event(y)] for x, y in zip(ha, hb)],
           "tail": [[_event(x), _event(y)] for x, y in zip(ta, tb)]}
    row["hidden"] = n - len(row["head"]) - len(row["tail"])
    return row


def _count(rec: Any, lo: int, hi: int, kwargs: dict) -> int:
    """Selected events of `rec` in [lo, hi)."""
    if not kwargs:
        return max(hi - lo, 0)
    return sum(1 for _ in rec.read(lo, hi, **kwargs))


def _advance(rec: Any, start: int, n: int, kwargs: dict) -> int:
    """The offset just past the `n` selected events of `rec` from `start`."""
    if not kwargs or n == 0:
        return start + n
    last = start - 1
    for r in islice(rec.read(start, **kwargs), n):
        last = r.offset
    return last + 1


class DiffState:
    """The differences of `b` against the baseline `a` found so far (thread-safe)."""

    def __init__(self, path_a: str, path_b: str, name_a: str, name_b: str, filter_text: str | None,
                 keep: int = KEEP, redactor: Any = None) -> None:
        self.path_a, self.path_b, self.name_a, self.name_b = path_a, path_b, name_a, name_b
        self.redactor = redactor   # evlog.redact: both sides are read through it
        self.filter = filter_text
        self.keep = keep
        self.lock = threading.Lock()
        self.differences: list[dict] = []
        self.counts: Counter = Counter()
        self.summary: dict | None = None     # the engine's summary, once finished
        self.truncated = False
        with open_path(path_a, redactor) as a, open_path(path_b, redactor) as b:
            self.ca, self.cb = getattr(a, "start_offset", 0), getattr(b, "start_offset", 0)
            self.total_a, self.end_a = len(a), getattr(a, "start_offset", 0) + len(a)

    def add(self, d: Any, a: Any = None, b: Any = None, kwargs: dict | None = None) -> None:
        """Record difference `d`. The run of equal events before it has as many events on each
        side: the side `d` lacks moves on by the run's length on the other side (counted in the
        open recording `a` or `b` when a filter selects the events)."""
        base, new = d.baseline, d.new
        kwargs = kwargs or {}
        if base is None:     # inserted: a moves on past as many selected events as b's run
            next_a = _advance(a, self.ca, _count(b, self.cb, new.offset, kwargs), kwargs)
        if new is None:      # deleted: the same for b
            next_b = _advance(b, self.cb, _count(a, self.ca, base.offset, kwargs), kwargs)
        with self.lock:
            self.counts[d.kind] += 1
            if len(self.differences) >= self.keep:
                self.truncated = True
            else:
                shown = d.to_dict()
                shown.update(index=len(self.differences), a_from=self.ca, b_from=self.cb)
                self.differences.append(shown)
            self.ca = base.offset + 1 if base is not None else next_a
            self.cb = new.offset + 1 if new is not None else next_b

    def run(self, job: Job | None = None) -> None:
        """Feed the engine's differences in (the job's progress and cancel, if any)."""
        iter_diff, DiffSummary, Selection = _engine()

        def progress(n: int) -> None:
            if job is not None:
                job.done += n
                job.check()
        selection = Selection(filter=self.filter) if self.filter else None
        kwargs = _read_kwargs(self.filter)
        with open_path(self.path_a, self.redactor) as a, open_path(self.path_b, self.redactor) as b:
            for d in iter_diff(self.path_a, self.path_b, selection=selection, progress=progress,
                               redact=self.redactor):
                if isinstance(d, DiffSummary):
                    with self.lock:
                        self.summary = d.to_dict()
                else:
                    self.add(d, a, b, kwargs)
                    if job is not None:
                        job.check()

    def live_summary(self) -> dict:
        with self.lock:
            if self.summary is not None:
                return dict(self.summary)
            c = self.counts
            return {"equal": None, "matched": None, "deleted": c["deleted"], "inserted": c["inserted"],
                    "changed": c["changed"], "timing": c["timing"]}

    def after(self, index: int, limit: int = 500) -> list[dict]:
        with self.lock:
            return self.differences[index:index + limit]

    def rows(self, first: int, count: int) -> dict:
        """The alignment from difference `first`: for each of `count` differences, the run of
        equal events before it, then it; after the last one (once finished, when all were
        kept), the run of equal events to the ends."""
        kwargs = _read_kwargs(self.filter)
        with self.lock:
            shown = self.differences[first:first + count]
            n_kept = len(self.differences)
            finished = self.summary is not None and not self.truncated
            tail_from = (self.ca, self.cb)
        rows: list[dict] = []
        tail = False
        with open_path(self.path_a, self.redactor) as a, open_path(self.path_b, self.redactor) as b:
            for d in shown:
                base, new = d.get("baseline"), d.get("new")
                row = _equal_row(a, b, d["a_from"], d["b_from"], kwargs,
                                 end_a=base["offset"] if base else None, end_b=new["offset"] if new else None)
                if row is not None:
                    rows.append(row)
                rows.append(d)
            last = first + len(shown) >= n_kept
            if last and finished:
                tail = True
                row = _equal_row(a, b, tail_from[0], tail_from[1], kwargs, end_a=self.end_a, end_b=None)
                if row is not None:
                    rows.append(row)
        more = first + len(shown) < n_kept
        return {"rows": rows, "first": first, "next": first + len(shown) if more else None, "tail": tail}


def run_diff(path_a: str, path_b: str, name_a: str, name_b: str, limit: int,
             filter_text: str | None, redactor: Any = None) -> dict[str, Any]:
    """Differences of `b` against the baseline `a` (at most `limit` listed, all counted), and
    `rows`: the aligned view, equal runs included (the whole diff in one request)."""
    state = DiffState(path_a, path_b, name_a, name_b, filter_text, keep=limit, redactor=redactor)
    state.run()
    out = state.rows(0, limit)
    differences = [{k: v for k, v in d.items() if k not in ("index", "a_from", "b_from")}
                   for d in state.differences]
    return {"a": name_a, "b": name_b, "filter": filter_text, "summary": state.summary,
            "differences": differences, "rows": out["rows"], "truncated": state.truncated}


def start_diff_job(path_a: str, path_b: str, name_a: str, name_b: str, filter_text: str | None,
                   keep: int = KEEP, redactor: Any = None) -> Job:
    """A streamed diff in a thread: `job.data` is its DiffState."""
    state = DiffState(path_a, path_b, name_a, name_b, filter_text, keep=keep, redactor=redactor)
    return Job("diff", state.run, total=state.total_a, data=state,
               info={"a": name_a, "b": name_b, "filter": filter_text})


def equal_run(path_a: str, path_b: str, a_offset: int, b_offset: int, count: int,
              filter_text: str | None, redactor: Any = None) -> dict[str, Any]:
    """`count` (at most MAX_RUN_PAGE) equal pairs from (a_offset, b_offset), for expanding a
    collapsed run; `next` says where the run goes on."""
    count = min(count, MAX_RUN_PAGE)
    kwargs = _read_kwargs(filter_text)
    with open_path(path_a, redactor) as a, open_path(path_b, redactor) as b:
        xs = list(islice(a.read(a_offset, **kwargs), count))
        ys = list(islice(b.read(b_offset, **kwargs), len(xs)))
    pairs = [[_event(x), _event(y)] for x, y in zip(xs, ys)]
    nxt = {"a_offset": xs[-1].offset + 1, "b_offset": ys[-1].offset + 1} if xs and ys else None
    return {"pairs": pairs, "next": nxt}
