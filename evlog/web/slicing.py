"""New recordings made from a selection of another's events (the dashboard's "Create recording",
the original tool's POST /api/recording/create): offsets, inclusive ranges, or every event
matching a filter, written by the `slice` operation (`evlog.ops.slice_recording`). Events keep
their data, names, sources, headers and wall times; the new recording starts at the first
selected event (`rebase`), as the original did with `timestamp_offset_ms`."""
from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..ops.slice import SliceCancelled, slice_recording
from ..selection import Selection

Cancelled = SliceCancelled   # the slice was cancelled; what was written is removed


@dataclass
class SliceRequest:
    offsets: list[int] = field(default_factory=list)
    ranges: list[tuple[int, int]] = field(default_factory=list)   # inclusive
    all_matching: bool = False
    filter: str | None = None                                     # for all_matching

    def everything(self) -> bool:
        return self.all_matching and not self.offsets and not self.ranges

    def bounds(self) -> tuple[int | None, int | None]:
        if self.everything():
            return None, None
        lows = [*self.offsets, *(a for a, _ in self.ranges)]
        highs = [*self.offsets, *(b for _, b in self.ranges)]
        return min(lows), max(highs) + 1

    def selection(self) -> Selection:
        """The events to read: the filter (all_matching), between the lowest and highest chosen offsets."""
        lo, hi = self.bounds()
        return Selection(filter=self.filter if self.all_matching else None,
                         offsets=None if lo is None and hi is None else (lo, hi))

    def selects(self) -> Callable[[int], bool] | None:
        """Which of the events read are kept (None: all)."""
        if self.everything():
            return None
        chosen = set(self.offsets)
        spans = sorted(self.ranges)
        return lambda off: off in chosen or any(a <= off <= b for a, b in spans)


def slice_to(src: str, dest: str, session_name: str, request: SliceRequest, *,
             metadata: dict | None = None, progress: Callable[[int], Any] | None = None,
             cancelled: Callable[[], bool] | None = None, redactor: Any = None) -> int:
    """Write the selected events of recording `src` into the new recording `dest`; returns the
    count (0: nothing was created). `progress(n)`: n more events read; `cancelled()` true stops
    the slice and removes `dest` (raises Cancelled). With `redactor` (evlog.redact) the events
    are read through it and the metadata names the policy."""
    count = slice_recording(src, dest, request.selection(), session_name=session_name, progress=progress,
                            keep=request.selects(), rebase=True, metadata=metadata or {}, cancelled=cancelled,
                            redact=redactor)
    if count == 0 and os.path.isdir(dest):
        shutil.rmtree(dest, ignore_errors=True)
    return count
