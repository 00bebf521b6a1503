"""Time travel for recordings that are eventsourcing stores (evlog.eventsourcing.timetravel):
an aggregate, or every aggregate, as it was once the event at an offset was stored."""
from __future__ import annotations

import os
from typing import Any

from werkzeug.exceptions import BadRequest
from werkzeug.exceptions import NotImplemented as NotImplemented501

from ..segments import is_recording

MAX_AGGREGATES = 200


def events_log(path: str) -> str:
    """A store directory's events log (the recording the dashboard reads), else `path`."""
    events = os.path.join(path, "events")
    if os.path.isdir(path) and not is_recording(path) and is_recording(events):
        return events
    return path


def is_store(rec: Any) -> bool:
    """Written by evlog's eventsourcing recorders: the manifest's metadata says so (the check
    `evlog.eventsourcing.access.open_store` makes)."""
    meta = (getattr(rec, "metadata", None) or {}).get(_meta_key())
    return isinstance(meta, dict) and meta.get("kind") == "events"


def _meta_key() -> str | None:
    try:
        from ..eventsourcing.store import META_KEY
    except ImportError:   # the eventsourcing package is not installed: no recording is a store
        return None
    return META_KEY


def state_at(path: str, rec: Any, offset: int, originator_id: str | None) -> dict:
    """`{"offset", "originator_id", "aggregate"}` (one aggregate's folded JSON state, None if it
    did not exist yet) or `{"offset", "aggregates", "truncated"}` (all of them)."""
    if not is_store(rec):
        raise BadRequest("time travel needs an eventsourcing store (this recording is not one)")
    try:
        from ..eventsourcing.timetravel import aggregate_state_json, application_state_json
    except ImportError:
        raise NotImplemented501("time travel needs the eventsourcing package") from None
    if originator_id:
        try:
            state = aggregate_state_json(path, originator_id, offset=offset)
        except ValueError as exc:   # not a UUID
            raise BadRequest(f"originator_id: {exc}") from None
        return {"offset": offset, "originator_id": originator_id, "aggregate": state}
    whole = application_state_json(path, offset=offset, limit=MAX_AGGREGATES)
    return {"offset": offset, "aggregates": whole["aggregates"], "truncated": whole["truncated"]}
