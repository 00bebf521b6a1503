"""`EventSequence`: a recording's events as a lazy sequence of dicts in the original format.

    replayer.events[0]  ->  {"timestamp_offset_ms": 0.0, "event_name": ..., "event_data": {...},
                             "source": ..., "offset": 0}

Indexing reads one event through the log's offset index; iterating streams. Nothing is held
in memory but, for a filtered sequence that is indexed, the offsets of its events (8 bytes each).
"""
from __future__ import annotations

from array import array
from typing import Any, Iterator, Sequence

from .selection import Selection, event_dict

__all__ = ["EventSequence"]


class EventSequence(Sequence):
    def __init__(self, recording: Any, selection: Selection, count: Any) -> None:
        self._rec = recording
        self._sel = selection
        self._count = count          # a function giving the number of selected events
        self._offsets: array | None = None

    def __len__(self) -> int:
        return self._count()

    def __iter__(self) -> Iterator[dict]:
        for record in self._rec.read(**self._sel.read_kwargs()):
            yield event_dict(record)

    def _offset_of(self, i: int) -> int:
        if self._sel.empty:
            return self._rec.start_offset + i
        if self._offsets is None:
            raw = getattr(self._rec, "format", "") == "evlog" and not self._sel.wheres
            kw = self._sel.read_kwargs()
            self._offsets = array("q", (r.offset for r in (self._rec.read(**kw, raw=True) if raw
                                                           else self._rec.read(**kw))))
        return self._offsets[i]

    def _get(self, offset: int) -> dict:
        for record in self._rec.read(offset, offset + 1):
            return event_dict(record)
        raise IndexError(f"no event at offset {offset}")

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            n = len(self)
            start, stop, step = index.indices(n)
            if step == 1 and self._sel.empty:
                if start >= stop:
                    return []
                base = self._rec.start_offset
                return [event_dict(r) for r in self._rec.read(base + start, base + stop)]
            return [self[i] for i in range(start, stop, step)]
        if not isinstance(index, int) or isinstance(index, bool):
            raise TypeError(f"event indices must be integers or slices, not {type(index).__name__}")
        n = len(self)
        if index < 0:
            index += n
        if not 0 <= index < n:
            raise IndexError(f"event index out of range (0..{n - 1})" if n else "no events")
        return self._get(self._offset_of(index))

    def __repr__(self) -> str:
        return f"<EventSequence of {len(self)} events>"
