"""The publishing thread's snapshot of the common event, as one row of the recorder's queue.

The common event is a pydantic model of a class the codec has already seen (its plan
cache says MODEL), published with a `str` name and a `str` source. `snapshot_model`
stamps it on the monotonic clock, serializes it with pydantic-core (`to_json`, the bytes
`evlog.codec.encode` gives it) and appends the row's seven fields (name, source, flags,
data, types, headers, monotonic; the recorder's `ROW`) at the end of the queue at once.
It returns the queue's length after the append, or -1 when the event is not that case
(nothing appended): the recorder then takes its general capture path (`encode`, markers,
headers, redaction), which handles everything.

It runs once per published event, so it is compiled where it can be (evlog/_snapshot.c,
built by setup.py, equal to `snapshot_model_py` by test); `EVLOG_PURE_PYTHON=1` or a
build without a C compiler runs the Python twin below.
"""
from __future__ import annotations

import os
import time
from typing import Any

__all__ = ["snapshot_model", "snapshot_model_py", "COMPILED"]


def snapshot_model_py(queue: list, plans: dict, model_plan: Any, flags: int, base: int,
                      name: Any, event: Any, source: Any) -> int:
    """Queue the row of `event` if it is the common case; its length after, else -1."""
    if name.__class__ is not str or source.__class__ is not str or plans.get(event.__class__) is not model_plan:
        return -1
    mono = time.monotonic_ns() - base
    try:
        data = event.__pydantic_serializer__.to_json(event)
    except Exception:  # noqa: BLE001 - the general path retries, falls back or stores a marker
        return -1
    if data.__class__ is not bytes:
        return -1
    queue.extend((name, source, flags, data, b"", b"", mono))   # one C call: atomic under the GIL
    return len(queue)


snapshot_model = snapshot_model_py
COMPILED = False
if not os.environ.get("EVLOG_PURE_PYTHON"):
    try:
        from ._snapshot import snapshot_model  # type: ignore[no-redef]
        COMPILED = True
    except ImportError:  # pragma: no cover - depends on the build
        pass
