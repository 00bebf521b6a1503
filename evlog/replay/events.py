"""`EventSequence`: a recording's events as a lazy sequence of dicts in the original format.

    replayer.events[0]  ->  {"timestamp_offset_ms": 0.0, "event_name": ..., "event_data": {...},
                             "source": ..., "offset": 0}

Indexing reads one event through the log's offset index; iterating streams. Nothing is held
in memory but, for a filtered sequence that is indexed, the offsets of its events (8 bytes each).
`transform(record) -> record` (the replayer's upcasters) is applied to every record shown.
"""
from __future__ import annotations

from array import array
from bisect import bisect_right
from typing import Any, Callable, Iterator, Sequence

from ..recording import RAW
from ..segments import Record
from .selection import Selection, event_dict

__all__ = ["EventSequence"]


class EventSequence(Sequence):
    def __init__(self, recording: Any, selection: Selection, count: Any,
                 transform: Callable[[Record], Record] | None = None) -> None:
        self._rec = recording
        self._sel = selection
        self._count = count          # a function giving the number of selected events
        self._offsets: array | None = None
        self._transform = transform

    def _dict(self, record: Record) -> dict:
        return event_dict(record if self._transform is None else self._transform(record))

    def __len__(self) -> int:
        return self._count()

    def __iter__(self) -> Iterator[dict]:
        for record in self._rec.read(**self._sel.read_kwargs()):
            yield self._dict(record)

    def _offset_table(self) -> array:
        """The offsets of a filtered sequence's events, read once (8 bytes an event)."""
        if self._offsets is None:
            kw = self._sel.read_kwargs()
            raw = RAW in self._rec.capabilities and "where" not in kw
            self._offsets = array("q", (r.offset for r in self._rec.read(**kw, raw=raw)))
        return self._offsets

    def _offset_of(self, i: int) -> int:
        if self._sel.empty:
            return self._rec.start_offset + i
        return self._offset_table()[i]

    def positions(self) -> Callable[[int], tuple[int, int]]:
        """A function offset -> (1-based index in this sequence of the event at that offset, the
        sequence's length): the original's progress `(i + 1, len(self.events))`. What it needs
        (the length; a filtered sequence's offsets) is read now, before a replay's clock starts."""
        total = len(self)
        if self._sel.empty:
            base = self._rec.start_offset - 1
            return lambda offset: (offset - base, total)
        offsets = self._offset_table()
        return lambda offset: (bisect_right(offsets, offset), total)

    def last(self) -> dict | None:
        """The last event (None if there is none): `Recording.last` (backwards through an
        evlog recording's index, streamed through an original JSON file)."""
        found = self._rec.last(1, self._sel.query())
        return self._dict(found[0]) if found else None

    def _get(self, offset: int) -> dict:
        for record in self._rec.read(offset, offset + 1):
            return self._dict(record)
        raise IndexError(f"no event at offset {offset}")

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            n = len(self)
            start, stop, step = index.indices(n)
            if step == 1 and self._sel.empty:
                if start >= stop:
                    return []
                base = self._rec.start_offset
                return [self._dict(r) for r in self._rec.read(base + start, base + stop)]
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
