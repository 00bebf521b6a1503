"""`tail`: the last events of a recording, and with `follow`, the events appended after
them by a writer (like `tail -f`)."""
from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

from .common import Selection, open_input


def tail(path: str | os.PathLike, n: int = 10, *, selection: Selection | None = None, follow: bool = False,
         poll_interval: float = 0.2, stop: Callable[[], bool] | None = None) -> Iterator[Any]:
    """The last `n` selected records in order, then (with `follow`) new ones as they come.

    The recording reads its last records the cheapest way it has (evlog: backwards from the
    end, decoding only the last blocks; the original JSON format: forwards, keeping `n`). A
    recording that cannot be followed (a JSON file) says so.
    """
    with open_input(path) as rec:
        query = (selection or Selection()).query(rec.start_time_ns)
        found = rec.last(n, query)
        yield from found
        if not follow:
            return
        start = found[-1].offset + 1 if found else None
        yield from rec.follow(start, poll_interval=poll_interval, stop=stop, query=query)
