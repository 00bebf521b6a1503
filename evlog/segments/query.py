"""`Query`: the engine's read arguments as one value.

`LogReader.read(start, end, *, start_time, end_time, start_mono, end_mono, names, sources,
where, reverse, raw, key)` is the engine's read; a `Query` holds those twelve arguments so that the
layers above (`evlog.recording.Recording.read`, `evlog.selection.Selection.query`) pass one
frozen value instead of repeating the keywords. `Query(**kwargs)` and `query.kwargs()` convert
between the two forms.
"""
from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any, Callable

from .reader import NameFilter

__all__ = ["Query"]


@dataclass(frozen=True)
class Query:
    """Which records a read yields, and how: offsets `start` (inclusive) and `end` (exclusive),
    wall-clock `start_time`/`end_time` (ns since the epoch, inclusive), `start_mono`/`end_mono`
    (ns since the recording's start, inclusive), `names`/`sources` (a name, a glob, a collection
    or a predicate: tested before any data is decoded), `where` (a predicate on the record read:
    a decoded `Record`, or a `RawRecord` with `raw`), `reverse` (newest first), `raw` (records
    with their data still encoded, `RawRecord`), `key` (`{path: values}` or `(path, values)`:
    records whose value at an indexed key path is one of `values`, found through the key index;
    a test of each record where a path is not indexed)."""

    start: int | None = None
    end: int | None = None
    start_time: int | None = None
    end_time: int | None = None
    start_mono: int | None = None
    end_mono: int | None = None
    names: NameFilter = None
    sources: NameFilter = None
    where: Callable[[Any], bool] | None = None
    reverse: bool = False
    raw: bool = False
    key: Any = None

    def kwargs(self) -> dict[str, Any]:
        """The keyword arguments of `LogReader.read` this query stands for (defaults left out)."""
        out: dict[str, Any] = {}
        for name in _FIELDS:   # (not `fields(self)`: every read converts a query, a seek two)
            value = getattr(self, name)
            if value is not None and value is not False:
                out[name] = value
        return out

    def but(self, **changes: Any) -> "Query":
        """This query with some arguments replaced (`dataclasses.replace`)."""
        return replace(self, **changes) if changes else self

    @property
    def bounded(self) -> bool:
        """Whether an offset or time bound is set."""
        return any(x is not None for x in (self.start, self.end, self.start_time, self.end_time,
                                           self.start_mono, self.end_mono))


_FIELDS = tuple(f.name for f in fields(Query))
ALL = Query()
