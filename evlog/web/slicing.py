"""New recordings made from a selection of another's events (the dashboard's "Create recording",
the original tool's POST /api/recording/create): offsets, inclusive ranges, or every event
matching a filter. Events keep their data, names, sources and wall times; the monotonic clock is
rebased to the first selected event, as the original did with `timestamp_offset_ms`. Per-event
headers (format v2) are copied with the events."""
from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..ops.common import raw_where
from ..recording import open_recording
from ..segments import EncodedRows, Log

TICK = 4096


class Cancelled(Exception):
    """The slice was cancelled; what was written is removed."""


@dataclass
class SliceRequest:
    offsets: list[int] = field(default_factory=list)
    ranges: list[tuple[int, int]] = field(default_factory=list)   # inclusive
    all_matching: bool = False
    read_kwargs: dict = field(default_factory=dict)               # the filter, for all_matching

    def everything(self) -> bool:
        return self.all_matching and not self.offsets and not self.ranges

    def bounds(self) -> tuple[int | None, int | None]:
        if self.everything():
            return None, None
        lows = [*self.offsets, *(a for a, _ in self.ranges)]
        highs = [*self.offsets, *(b for _, b in self.ranges)]
        return min(lows), max(highs) + 1

    def selects(self) -> Callable[[int], bool]:
        if self.everything():
            return lambda _off: True
        chosen = set(self.offsets)
        spans = sorted(self.ranges)
        return lambda off: off in chosen or any(a <= off <= b for a, b in spans)


def slice_to(src: str, dest: str, session_name: str, request: SliceRequest, *,
             metadata: dict | None = None, progress: Callable[[int], Any] | None = None,
             cancelled: Callable[[], bool] | None = None) -> int:
    """Write the selected events of recording `src` into the new recording `dest`; returns the
    count (0: nothing was created). `progress(n)` is told the events scanned so far;
    `cancelled()` true stops the slice and removes `dest` (raises Cancelled)."""
    lo, hi = request.bounds()
    selected = request.selects()
    count = scanned = 0
    log = None
    try:
        with open_recording(src) as rec:
            kwargs = dict(request.read_kwargs) if request.all_matching else {}
            if kwargs.get("where") is not None:   # a filter on data tests decoded records
                kwargs["where"] = raw_where(kwargs["where"])
            first_mono = 0
            for r in rec.read(lo, hi, raw=True, **kwargs):
                scanned += 1
                if scanned % TICK == 0:
                    if cancelled is not None and cancelled():
                        raise Cancelled
                    if progress is not None:
                        progress(r.offset)
                if not selected(r.offset):
                    continue
                if log is None:
                    first_mono = r.monotonic
                    log = Log.create(dest, session_name, start_time_ns=r.timestamp,
                                     metadata=metadata or {}, fsync="never")
                mono = r.monotonic - first_mono
                # copied as stored: data, types, headers (verified blocks: no re-check)
                log.append_rows(EncodedRows.from_raw([r._replace(monotonic=mono)]), validate=False)
                count += 1
    except BaseException:
        if log is not None:
            log.close()
            log = None
        if os.path.isdir(dest):
            shutil.rmtree(dest, ignore_errors=True)
        raise
    finally:
        if log is not None:
            log.close()
    return count
