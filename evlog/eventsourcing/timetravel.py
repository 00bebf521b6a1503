"""Time travel: an aggregate (or a whole application) as it was at an offset or a time.

Library functions for the CLI and the dashboard:

    aggregate_at(path, originator_id, app, offset=None, time_ns=None)   -> the aggregate object
    application_at(path, app_cls, offset=None, time_ns=None, env=None)    -> a fresh POPO application
    aggregate_state_json(path, originator_id, offset=None, time_ns=None) -> JSON-able dict
    application_state_json(path, offset=None, time_ns=None, limit=1000)  -> JSON-able dict

`offset` is inclusive (the state once the event at that offset was stored); `time_ns` is
wall-clock ns since the epoch, inclusive. The *_json functions need no application code:
they fold the JSON states of the events (later keys win), which is what the dashboard shows;
`aggregate_at`/`application_at` use the application's own mapper and mutators.
"""
from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.application import project_aggregate

from .access import end_offset, iter_stored_events, json_state, open_store, to_stored_event
from .replay import replay
from .store import EvlogStore, release

_META_KEYS = frozenset(("originator_id", "originator_version", "timestamp"))


def aggregate_stored_events(store: EvlogStore, originator_id: UUID | str, end: int) -> list[Any]:
    """The aggregate's stored events at offsets below `end`, from the originator index."""
    offsets = store.positions(originator_id, end=end)
    return [to_stored_event(rec) for rec in store.read_offsets(offsets)]


def aggregate_at(path: str, originator_id: UUID | str, app: Any, *, offset: int | None = None,
                 time_ns: int | None = None) -> Any:
    """The aggregate as it was, rebuilt with `app`'s mapper (an Application instance whose
    transcodings, cipher and compressor match the recording). None if it did not exist yet."""
    store = open_store(path)
    try:
        end = end_offset(store, offset, time_ns)
        stored = aggregate_stored_events(store, originator_id, end)
    finally:
        release(store)
    domain_events = [app.mapper.to_domain_event(se) for se in stored]
    if not domain_events:
        return None
    return project_aggregate(None, domain_events)


def application_at(path: str, app_cls: type, *, offset: int | None = None, time_ns: int | None = None,
                   env: dict | None = None) -> Any:
    """A fresh in-memory (POPO) instance of `app_cls` holding the recording's events up to
    `offset`/`time_ns`: query it like the original application as it was then."""
    app = app_cls(env={**(env or {}), "PERSISTENCE_MODULE": "eventsourcing.popo"})
    replay(path, app, offset=offset, time_ns=time_ns)
    return app


def _fold(state: dict, stored: Any, offset: int, timestamp: int | None = None) -> None:
    value = json_state(stored.state)
    state["originator_id"] = str(stored.originator_id)
    state["version"] = stored.originator_version
    state["last_topic"] = stored.topic
    state["last_offset"] = offset
    state["events"] = state.get("events", 0) + 1
    fields = state.setdefault("state", {})
    if isinstance(value, dict):
        for k, v in value.items():
            if k not in _META_KEYS:
                fields[k] = v
    else:
        state["opaque"] = True  # compressed or encrypted states cannot be shown


def aggregate_state_json(path: str, originator_id: UUID | str, *, offset: int | None = None,
                         time_ns: int | None = None) -> dict | None:
    """The aggregate's fields as of offset/time, folded from its events' JSON states."""
    store = open_store(path)
    try:
        end = end_offset(store, offset, time_ns)
        offsets = store.positions(originator_id, end=end)
        state: dict = {}
        for rec in store.read_offsets(offsets):
            _fold(state, to_stored_event(rec), rec.offset)
    finally:
        release(store)
    if state:
        state["as_of_offset"] = end - 1
    return state or None


def application_state_json(path: str, *, offset: int | None = None, time_ns: int | None = None,
                           limit: int = 1000) -> dict:
    """Every aggregate (at most `limit`, the first created) as of offset/time, by one
    streaming pass over the log."""
    store = open_store(path)
    try:
        end = end_offset(store, offset, time_ns)
        states: dict[str, dict] = {}
        truncated = False
        for off, se in iter_stored_events(store, 0, end):
            key = str(se.originator_id)
            state = states.get(key)
            if state is None:
                if len(states) >= limit:
                    truncated = True
                    continue
                state = states[key] = {}
            _fold(state, se, off)
    finally:
        release(store)
    return {"as_of_offset": end - 1, "aggregates": states, "truncated": truncated}
