"""Which events a replay or a filtered replayer selects: name/source predicates (pushed down
into `read`), record predicates, and the original tool's `event_filter` callables."""
from __future__ import annotations

import datetime as _dt
import inspect
from dataclasses import dataclass
from typing import Any, Callable

from ..filters import Filter, parse_filter
from ..recording import raw_where
from ..segments import Record
from ..segments.errors import EvlogError
from ..timespec import TimeSpec, parse_time

__all__ = ["Selection", "SelectionError", "event_dict", "offset_ms", "resolve_bound"]


class SelectionError(EvlogError, ValueError):
    """An event filter or a start/end bound the replayer cannot use."""


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


def _takes_whole_event(func: Callable) -> bool:
    """The original's filters take the event name; a callable that accepts two positional
    arguments, or whose single parameter is annotated as something other than str, gets the event."""
    try:
        sig = inspect.signature(func)
    except (TypeError, ValueError):
        return False
    positional = [p for p in sig.parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if any(p.kind == p.VAR_POSITIONAL for p in sig.parameters.values()):
        return True
    if len(positional) >= 2:
        return True
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


@dataclass(frozen=True)
class Selection:
    names: tuple = ()      # predicates on the name: all must hold
    sources: tuple = ()
    wheres: tuple = ()     # predicates on the decoded record
    texts: tuple = ()      # descriptions, for repr

    @classmethod
    def of(cls, event_filter: Any) -> "Selection":
        """A selection from a filter: None, filter-language text, a `Filter`, a callable on the
        name (the original's) or on the whole event (see `_takes_whole_event`)."""
        if event_filter is None:
            return cls()
        if isinstance(event_filter, Selection):
            return event_filter
        if isinstance(event_filter, (str, Filter)):
            f = parse_filter(event_filter)
            kw = f.read_kwargs()
            return cls(tuple(x for x in [kw.get("names")] if x), tuple(x for x in [kw.get("sources")] if x),
                       tuple(x for x in [kw.get("where")] if x), (str(f),))
        if callable(event_filter):
            if _takes_whole_event(event_filter):
                two = _positional_count(event_filter) >= 2

                def where(record: Record, f: Callable = event_filter) -> bool:
                    ev = event_dict(record)
                    return bool(f(record.name, ev) if two else f(ev))
                return cls((), (), (where,), (repr(event_filter),))

            def on_name(name: str, f: Callable = event_filter) -> bool:
                return bool(f(name))
            return cls((on_name,), (), (), (repr(event_filter),))
        raise SelectionError(f"event_filter must be a callable, filter text or a Filter, "
                             f"not {type(event_filter).__name__}")

    def __and__(self, other: "Selection") -> "Selection":
        return Selection(self.names + other.names, self.sources + other.sources,
                         self.wheres + other.wheres, self.texts + other.texts)

    @property
    def empty(self) -> bool:
        return not (self.names or self.sources or self.wheres)

    @property
    def name_only(self) -> bool:
        """Names (and sources) alone decide: counts come from the index."""
        return not self.wheres

    def name_ok(self, name: str) -> bool:
        return all(p(name) for p in self.names)

    def read_kwargs(self, raw: bool = False) -> dict:
        """`read` keyword arguments; with `raw`, record predicates test raw records (decoding
        only the records the name/source pushdown let through)."""
        kw: dict = {}
        if self.names:
            kw["names"] = _all(self.names)
        if self.sources:
            kw["sources"] = _all(self.sources)
        if self.wheres:
            where = _all(self.wheres)
            kw["where"] = raw_where(where) if raw else where
        return kw


def _positional_count(func: Callable) -> int:
    try:
        params = inspect.signature(func).parameters.values()
    except (TypeError, ValueError):
        return 1
    if any(p.kind == p.VAR_POSITIONAL for p in params):
        return 2
    return len([p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)])


def resolve_bound(value: Any, start_time_ns: int, what: str) -> tuple[str, int] | None:
    """A start/end bound: None; ("offset", n) for an int; ("mono", ns since the recording's
    start) for a time ("90s", an ISO timestamp, a TimeSpec, a datetime, a timedelta)."""
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
        return ("mono", max(0, value.to_mono(start_time_ns)))
    if isinstance(value, _dt.timedelta):
        return ("mono", max(0, int(value.total_seconds() * 1e9)))
    if isinstance(value, _dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=_dt.timezone.utc)
        return ("mono", max(0, int(value.timestamp() * 1e9) - start_time_ns))
    raise SelectionError(f"{what} must be an offset (int) or a time ('90s', an ISO timestamp), "
                         f"not {type(value).__name__}")
