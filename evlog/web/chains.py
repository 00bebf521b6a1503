"""Causation chains: the events that share an event's `correlation_id`, arranged by
`causation_id` (each event caused by the one whose id its causation_id names).

The ids are read from the event's headers (`Record.headers`, the per-event headers of storage
format v2) and, for events without them (format v1, the original tool's JSON), from the event's
data: `correlation_id`, `causation_id`, and the event's own id as `event_id`,
`message_id` or `id`. The scan for the chain is bounded in time and size; the answer says when
it is partial.
"""
from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from .catalog import event_json

ID_KEYS = ("event_id", "message_id", "id")
MAX_CHAIN = 500
BUDGET_S = 2.0


def _field(record: Any, key: str) -> str | None:
    headers = getattr(record, "headers", None) or {}
    value = headers.get(key) if isinstance(headers, Mapping) else None
    if value is None and isinstance(record.data, dict):
        value = record.data.get(key)
    return None if value is None or isinstance(value, (dict, list)) else str(value)


def ids(record: Any) -> dict:
    """{"event_id", "correlation_id", "causation_id"} of a record (None where absent)."""
    own = next((v for v in (_field(record, k) for k in ID_KEYS) if v is not None), None)
    return {"event_id": own, "correlation_id": _field(record, "correlation_id"),
            "causation_id": _field(record, "causation_id")}


def chain(rec: Any, offset: int, *, budget_s: float = BUDGET_S, limit: int = MAX_CHAIN,
          scan_from: int | None = None) -> dict:
    """The chain of the event at `offset`: its ids and, in causal order (depth-first from the
    roots, children by time), the events of its correlation id found in the scan."""
    target = next(iter(rec.read(offset, offset + 1)), None)
    if target is None:
        return {"offset": offset, "found": False}
    mine = ids(target)
    corr = mine["correlation_id"]
    out: dict[str, Any] = {"offset": offset, "found": True, **mine, "events": [], "complete": True,
                           "next_offset": None}
    if corr is None:
        return out
    deadline = time.monotonic() + budget_s
    members: list[tuple[Any, dict]] = []
    start = getattr(rec, "start_offset", 0) if scan_from is None else scan_from
    last = start - 1
    it = rec.read(start)
    try:
        for r in it:
            last = r.offset
            if _field(r, "correlation_id") == corr:
                members.append((r, ids(r)))
                if len(members) >= limit:
                    out["complete"] = False
                    break
            if time.monotonic() > deadline:
                out["complete"] = False
                break
    finally:
        close = getattr(it, "close", None)
        if close:
            close()
    if not out["complete"]:
        out["next_offset"] = last + 1
    out["events"] = _causal_order(members, offset)
    return out


def _causal_order(members: list[tuple[Any, dict]], current: int) -> list[dict]:
    by_id = {m["event_id"]: r.offset for r, m in members if m["event_id"] is not None}
    children: dict[int | None, list[int]] = {}
    info = {r.offset: (r, m) for r, m in members}
    for r, m in members:
        parent = by_id.get(m["causation_id"]) if m["causation_id"] is not None else None
        if parent == r.offset:
            parent = None
        children.setdefault(parent, []).append(r.offset)
    out: list[dict] = []
    seen: set[int] = set()
    stack = [(off, 0) for off in reversed(children.get(None, []))]
    while stack:
        off, depth = stack.pop()
        if off in seen:
            continue
        seen.add(off)
        r, m = info[off]
        ev = event_json(r, with_data=False)
        ev.update(m, depth=depth, current=off == current)
        out.append(ev)
        stack.extend((c, depth + 1) for c in reversed(children.get(off, [])))
    for off in sorted(set(info) - seen):   # a cycle of causation ids: listed flat at the end
        r, m = info[off]
        ev = event_json(r, with_data=False)
        ev.update(m, depth=0, current=off == current)
        out.append(ev)
    return out
