"""`Selection`: which events of a recording an operation, a replay or a page reads.

One frozen value for every layer: a filter (filter-language text or a parsed `Filter`), a time
range, an offset range, and the original tool's `event_filter` callables (on the event name or
on the whole event). `selection.query(start_time_ns)` is its one conversion to the engine's read
arguments (`evlog.segments.query.Query`): names and sources pushed down (tested before any data
is decoded), the rest as a `where` predicate (made to test raw records for a raw read).

    Selection(filter="Position* and data.price > 10", start="90s", end="2m")
    Selection.of(lambda name: "Failed" in name) & Selection(offsets=(100, None))

`evlog.ops.Selection` and `evlog.replay.Selection` are this class.
"""
from __future__ import annotations

import datetime as _dt
import inspect
from dataclasses import dataclass, replace
from typing import Any, Callable

from .filters import Filter, parse_filter
from .recording import raw_where
from .segments import Record
from .segments.errors import EvlogError
from .segments.query import Query
from .timespec import TimeSpec, parse_time

__all__ = ["Selection", "SelectionError", "event_dict", "offset_ms", "resolve_bound"]


class SelectionError(EvlogError, ValueError):
    """An event filter or a start/end bound that cannot be used."""


def offset_ms(ns: int) -> int | float:
    """Nanoseconds as the original's milliseconds: an int when whole (the original recorder
    wrote ints, so `f"{ms}ms"` reads "523ms" as it did), else a float (523.417)."""
    ms, rest = divmod(ns, 1_000_000)
    return ms if not rest else ns / 1_000_000


def event_dict(record: Record) -> dict:
    """A record in the original format's shape (plus its offset, and its `headers` when it has
    some)."""
    event = {"timestamp_offset_ms": offset_ms(record.monotonic), "event_name": record.name,
             "event_data": record.data, "source": record.source, "offset": record.offset}
    if record.headers:
        event["headers"] = dict(record.headers)
    return event


def _positional_count(func: Callable) -> int:
    try:
        params = inspect.signature(func).parameters.values()
    except (TypeError, ValueError):
        return 1
    if any(p.kind == p.VAR_POSITIONAL for p in params):
        return 2
    return len([p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)])


def _takes_whole_event(func: Callable) -> bool:
    """The original's filters take the event name; a callable that accepts two positional
    arguments, or whose single parameter is annotated as something other than str, gets the event."""
    try:
        sig = inspect.signature(func)
    except (TypeError, ValueError):
        return False
    if _positional_count(func) >= 2:
        return True
    positional = [p for p in sig.parameters.values() if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if len(positional) == 1:
        ann = positional[0].annotation
        return ann is not inspect.Parameter.empty and ann not in (str, "str")
    return False


def _all(preds: tuple) -> Callable | None:
    if not preds:
        return None
    if len(preds) == 1:
        return preds[0]
    return lambda x: all(p(x) for p in preds)


def resolve_bound(value: Any, start_time_ns: int, what: str) -> tuple[str, int] | None:
    """A start/end bound: None; ("offset", n) for an int; ("mono", ns since the recording's
    start, 0 at the least) for a time ("90s", an ISO timestamp, a TimeSpec, a datetime, a timedelta)."""
    bound = _bound(value, start_time_ns, what)
    if bound is None or bound[0] == "offset":
        return bound
    return ("mono", max(0, bound[1]))


def _bound(value: Any, start_time_ns: int, what: str) -> tuple[str, int] | None:
    if value is None:
        return None
    if isinstance(value, bool):
        raise SelectionError(f"{what} must be an offset (int) or a time, not {value!r}")
    if isinstance(value, int):
        if value < 0:
            raise SelectionError(f"{what} offset must not be negative: {value}")
        return ("offset", value)
    if isinstance(value, str):
        value = parse_time(value)
    if isinstance(value, TimeSpec):
        return ("mono", value.to_mono(start_time_ns))
    if isinstance(value, _dt.timedelta):
        return ("mono", int(value.total_seconds() * 1e9))
    if isinstance(value, _dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=_dt.timezone.utc)
        return ("mono", int(value.timestamp() * 1e9) - start_time_ns)
    raise SelectionError(f"{what} must be an offset (int) or a time ('90s', an ISO timestamp), "
                         f"not {type(value).__name__}")


@dataclass(frozen=True)
class Selection:
    """Which events: `filter` (filter-language text, parsed when the selection is made, or a
    `Filter`); `start`/`end`, times ("90s", "1m30s", an ISO timestamp, a TimeSpec, a datetime,
    a timedelta; inclusive) or offsets (int; `end` exclusive); `offsets` `(first, end)`, `end`
    exclusive (either may be None); `name_tests`/`record_tests`, callables on the event name or
    the decoded record that must all hold (the original's `event_filter`; `Selection.of`);
    `texts` describe them."""

    filter: str | Filter | None = None
    start: Any = None
    end: Any = None
    offsets: tuple[int | None, int | None] | None = None
    name_tests: tuple = ()
    record_tests: tuple = ()
    texts: tuple = ()

    def __post_init__(self) -> None:
        if isinstance(self.filter, str):   # a bad filter fails here, once, with its column
            object.__setattr__(self, "filter", parse_filter(self.filter))

    @classmethod
    def of(cls, event_filter: Any) -> "Selection":
        """A selection from a filter: None, a Selection, filter-language text, a `Filter`, a
        callable on the name (the original's) or on the whole event (two positional arguments
        `(name, event)`, or one annotated non-str: the event dict)."""
        if event_filter is None:
            return cls()
        if isinstance(event_filter, Selection):
            return event_filter
        if isinstance(event_filter, (str, Filter)):
            return cls(filter=event_filter)
        if callable(event_filter):
            if _takes_whole_event(event_filter):
                two = _positional_count(event_filter) >= 2

                def where(record: Record, f: Callable = event_filter) -> bool:
                    ev = event_dict(record)
                    return bool(f(record.name, ev) if two else f(ev))
                return cls(record_tests=(where,), texts=(repr(event_filter),))

            def on_name(name: str, f: Callable = event_filter) -> bool:
                return bool(f(name))
            return cls(name_tests=(on_name,), texts=(repr(event_filter),))
        raise SelectionError(f"event_filter must be a callable, filter text or a Filter, "
                             f"not {type(event_filter).__name__}")

    def __and__(self, other: "Selection") -> "Selection":
        """The events both select (at most one of the two may set a start, or an end)."""
        if self.filter is None or other.filter is None:
            flt = self.filter if other.filter is None else other.filter
        else:
            flt = parse_filter(f"({self.filter}) and ({other.filter})")
        for what in ("start", "end"):
            if getattr(self, what) is not None and getattr(other, what) is not None:
                raise SelectionError(f"two selections with a {what} bound cannot be combined")
        offsets = self.offsets if other.offsets is None else other.offsets
        if self.offsets is not None and other.offsets is not None:
            (a, b), (c, d) = self.offsets, other.offsets
            offsets = (max(x for x in (a, c) if x is not None) if (a, c) != (None, None) else None,
                       min(x for x in (b, d) if x is not None) if (b, d) != (None, None) else None)
        return Selection(flt, self.start if other.start is None else other.start,
                         self.end if other.end is None else other.end, offsets,
                         self.name_tests + other.name_tests, self.record_tests + other.record_tests,
                         self.texts + other.texts)

    # what it tests ------------------------------------------------------------------------------
    @property
    def bounded(self) -> bool:
        """Whether a time or offset range is set."""
        return self.start is not None or self.end is not None or self.offsets is not None

    @property
    def empty(self) -> bool:
        """Selects everything."""
        return self.filter is None and not self.bounded and not (self.name_tests or self.record_tests)

    @property
    def names(self) -> tuple:
        """The predicates on the event name that all must hold (pushed down into reads: a
        filter's is one that every event it matches meets)."""
        pred = self.filter.name_predicate if isinstance(self.filter, Filter) else None
        return self.name_tests + ((pred,) if pred is not None else ())

    @property
    def sources(self) -> tuple:
        pred = self.filter.source_predicate if isinstance(self.filter, Filter) else None
        return (pred,) if pred is not None else ()

    @property
    def wheres(self) -> tuple:
        """The predicates on the decoded record (a filter that needs more than names and sources)."""
        flt = self.filter
        return self.record_tests + ((flt.matches,) if isinstance(flt, Filter) and flt.needs_data else ())

    @property
    def name_only(self) -> bool:
        """Names (and sources) alone decide: counts come from the index."""
        return not self.wheres

    def name_ok(self, name: str) -> bool:
        return all(p(name) for p in self.names)

    def unbounded(self) -> "Selection":
        """The same tests without the time and offset ranges."""
        return replace(self, start=None, end=None, offsets=None) if self.bounded else self

    # the one conversion to the engine's read arguments ------------------------------------------
    def query(self, start_time_ns: int | None = None, raw: bool = False) -> Query:
        """The `Query` reading these events (`start_time_ns`, the recording's start, places a
        time range); with `raw`, the record predicates test raw records (decoding only the
        records the name/source pushdown let through)."""
        where = _all(self.wheres)
        kw: dict[str, Any] = {"names": _all(self.names), "sources": _all(self.sources), "raw": raw,
                              "where": raw_where(where) if raw and where is not None else where}
        if self.start is not None or self.end is not None:
            if start_time_ns is None and not all(isinstance(b, int) for b in (self.start, self.end) if b is not None):
                raise SelectionError("a time range needs the recording's start time")
            start = _bound(self.start, start_time_ns or 0, "start")
            if start is not None:
                kw["start" if start[0] == "offset" else "start_mono"] = max(0, start[1])
            end = _bound(self.end, start_time_ns or 0, "end")
            if end is not None:
                if end[0] == "offset" or end[1] < 0:
                    kw["end"] = max(0, end[1]) if end[0] == "offset" else 0   # before the recording: nothing
                else:
                    kw["end_mono"] = end[1]
        if isinstance(self.filter, Filter):   # the key index's pushdown (data.K == "v" on an indexed path)
            key = self.filter.read_kwargs().get("key")
            if key:
                kw["key"] = key
        if self.offsets is not None:
            first, end_offset = self.offsets
            if first is not None:
                kw["start"] = max(first, 0, kw.get("start") or 0)
            if end_offset is not None:
                kw["end"] = min(end_offset, kw["end"]) if kw.get("end") is not None else end_offset
        return Query(**kw)

    def read_kwargs(self, start_time_ns: int | None = None, raw: bool = False) -> dict:
        """`selection.query(...)` as keyword arguments of `Recording.read`, without `raw` (with
        `raw`, the `where` tests raw records: give `raw=True` to the read too)."""
        kwargs = self.query(start_time_ns, raw).kwargs()
        kwargs.pop("raw", None)
        return kwargs

    def replay_bounds(self, start_time_ns: int) -> tuple[Any, Any]:
        """The scheduler's `start` and `end` (an offset or a time) for this selection's ranges."""
        first, last = self.offsets or (None, None)
        if (first is not None and self.start is not None) or (last is not None and self.end is not None):
            raise SelectionError("a replay takes a start (end) time or offset, not both")
        start = self.start if first is None else max(first, 0)
        end = self.end if last is None else max(last, 0)
        if end is not None and not isinstance(end, int):
            bound = _bound(end, start_time_ns, "end")
            if bound is not None and bound[1] < 0:
                end = 0   # before the recording: nothing
        return start, end
