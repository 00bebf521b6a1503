"""The diff view's data: the same engine as `evlog diff` (evlog.ops.diff), shaped for the page.

The engine reports only differences, in alignment order on both sides; the matched events lie
between them, in equal numbers on each side. `rows` rebuilds the whole alignment from that:
runs of equal events (with a few events of context at each end, the rest fetched on demand by
`equal_run`) and the differences between them."""
from __future__ import annotations

from collections import deque
from itertools import islice
from typing import Any

from werkzeug.exceptions import NotImplemented as NotImplemented501

from ..recording import open_recording
from ..segments import to_json_mode

CONTEXT = 3          # equal events shown before and after each difference
MAX_RUN_PAGE = 500   # equal pairs per `equal_run` request


def _engine() -> tuple[Any, Any, Any]:
    """(diff, Event, Selection) from evlog.ops (501 when the build lacks them)."""
    try:
        from ..ops.common import Selection
        from ..ops.diff import Event, diff
    except ImportError:
        raise NotImplemented501("diff is not available in this build (evlog.ops.diff missing)") from None
    return diff, Event, Selection


def _read_kwargs(filter_text: str | None) -> dict:
    if not filter_text:
        return {}
    from ..filters import parse_filter
    return parse_filter(filter_text).read_kwargs()


def _event(r: Any) -> dict:
    """A record in the engine's event form (what the page draws for both sides)."""
    return _engine()[1](r.offset, r.monotonic, r.name, r.source, to_json_mode(r.data)).to_dict()


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
               end_b: int | None) -> tuple[dict | None, int, int]:
    """The run of equal events from (ca, cb) up to the next difference: the side whose end is
    known decides the length. Returns (row or None, next ca, next cb)."""
    if end_a is not None:
        n, ha, ta, na = _side(a, ca, kwargs, end=end_a)
        _, hb, tb, nb = _side(b, cb, kwargs, end=end_b, count=None if end_b is not None else n)
    else:
        n, hb, tb, nb = _side(b, cb, kwargs, end=end_b)
        _, ha, ta, na = _side(a, ca, kwargs, count=n)
    if n == 0:
        return None, na, nb
    row = {"kind": "equal", "count": n, "a_offset": ca, "b_offset": cb,
           "head": [[_event(x), _event(y)] for x, y in zip(ha, hb)],
           "tail": [[_event(x), _event(y)] for x, y in zip(ta, tb)]}
    row["hidden"] = n - len(row["head"]) - len(row["tail"])
    return row, na, nb


def run_diff(path_a: str, path_b: str, name_a: str, name_b: str, limit: int,
             filter_text: str | None) -> dict[str, Any]:
    """Differences of `b` against the baseline `a` (at most `limit` listed, all counted), and
    `rows`: the aligned view, equal runs included."""
    diff, _, Selection = _engine()
    selection = Selection(filter=filter_text) if filter_text else None
    result = diff(path_a, path_b, selection=selection, max_differences=limit)
    differences = [d.to_dict() for d in result.differences]
    kwargs = _read_kwargs(filter_text)
    rows: list[dict] = []
    with open_recording(path_a) as a, open_recording(path_b) as b:
        ca, cb = getattr(a, "start_offset", 0), getattr(b, "start_offset", 0)
        for d, shown in zip(result.differences, differences):
            row, ca, cb = _equal_row(a, b, ca, cb, kwargs,
                                     end_a=d.baseline.offset if d.baseline else None,
                                     end_b=d.new.offset if d.new else None)
            if row is not None:
                rows.append(row)
            rows.append(shown)
            ca = d.baseline.offset + 1 if d.baseline else ca
            cb = d.new.offset + 1 if d.new else cb
        if not result.truncated:
            end_a = getattr(a, "start_offset", 0) + len(a)
            row, _, _ = _equal_row(a, b, ca, cb, kwargs, end_a=end_a, end_b=None)
            if row is not None:
                rows.append(row)
    return {"a": name_a, "b": name_b, "filter": filter_text, "summary": result.summary.to_dict(),
            "differences": differences, "rows": rows, "truncated": result.truncated}


def equal_run(path_a: str, path_b: str, a_offset: int, b_offset: int, count: int,
              filter_text: str | None) -> dict[str, Any]:
    """`count` (at most MAX_RUN_PAGE) equal pairs from (a_offset, b_offset), for expanding a
    collapsed run; `next` says where the run goes on."""
    count = min(count, MAX_RUN_PAGE)
    kwargs = _read_kwargs(filter_text)
    with open_recording(path_a) as a, open_recording(path_b) as b:
        xs = list(islice(a.read(a_offset, **kwargs), count))
        ys = list(islice(b.read(b_offset, **kwargs), len(xs)))
    pairs = [[_event(x), _event(y)] for x, y in zip(xs, ys)]
    nxt = {"a_offset": xs[-1].offset + 1, "b_offset": ys[-1].offset + 1} if xs and ys else None
    return {"pairs": pairs, "next": nxt}
