"""`tail`: the last events of a recording, and with `follow`, the events appended after
them by a writer (like `tail -f`)."""
from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

from .common import OpError, Selection, open_input, select


def tail(path: str | os.PathLike, n: int = 10, *, selection: Selection | None = None, follow: bool = False,
         poll_interval: float = 0.2, stop: Callable[[], bool] | None = None) -> Iterator[Any]:
    """The last `n` selected records in order, then (with `follow`) new ones as they come.

    evlog recordings are read backwards from the end (only the last blocks are decoded);
    the original JSON format is read forwards, keeping only `n` records.
    """
    with open_input(path) as rec:
        last_seen = -1
        if n > 0:
            if rec.format == "evlog":
                found = []
                for r in select(rec, selection, reverse=True):
                    found.append(r)
                    if len(found) >= n:
                        break
                found.reverse()
            else:
                found = list(deque(select(rec, selection), maxlen=n))
            for r in found:
                yield r
            if found:
                last_seen = found[-1].offset
        if not follow:
            return
        if rec.format != "evlog":
            raise OpError(f"{path} is a JSON file of the original format: it cannot be followed")
        kwargs = selection.read_kwargs(rec.start_time_ns) if selection else {}
        kwargs.pop("start", None)
        start = last_seen + 1 if last_seen >= 0 else rec.log.end_offset
        yield from rec.log.follow(start, poll_interval=poll_interval, stop=stop, **kwargs)
