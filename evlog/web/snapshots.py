"""The dashboard's flight recorder (`evlog serve --snapshot 60s`): the events its record API
accepts (POST /api/record/event, with or without an open session) also go to a
FlightRecorder (evlog.flight) holding the last KEEP in memory; POST /api/snapshot writes them,
and the next AFTER, to a recording in the recordings folder. The view is in api.py."""
from __future__ import annotations

from typing import Any

from werkzeug.exceptions import BadRequest, Conflict

from ..flight import FlightRecorder
from ..ops.jsonl import ParsedEvent

SESSION_NAME = "dashboard"
MAX_REASON = 200


def make_flight(root: str, keep: Any, after: Any = "10s", keep_bytes: Any = "256MiB") -> FlightRecorder:
    """The dashboard's flight recorder, started (no bus: the record API feeds it)."""
    flight = FlightRecorder(SESSION_NAME, keep=keep, after=after, keep_bytes=keep_bytes, output_dir=root)
    flight.start_recording(None)
    return flight


def feed(flight: FlightRecorder, events: list[ParsedEvent]) -> None:
    """Events the record API accepted, stamped now (their own times are for the session's recording)."""
    for p in events:
        flight.record_encoded(p.name, p.source, p.flags, p.data, p.types, p.headers)


def trigger(flight: FlightRecorder | None, body: dict) -> dict:
    """POST /api/snapshot {reason?, after?} -> what the recording will be."""
    if flight is None:
        raise Conflict("this dashboard runs no flight recorder: start it with evlog serve --snapshot 60s")
    reason = body.get("reason", "POST /api/snapshot")
    if not isinstance(reason, str) or not reason.strip() or len(reason) > MAX_REASON or not reason.isprintable():
        raise BadRequest(f"reason: a printable string of at most {MAX_REASON} characters")
    after = body.get("after")
    if after is not None and (isinstance(after, bool) or not isinstance(after, (str, int, float))):
        raise BadRequest("after: a duration such as \"10s\", or a number of seconds")
    path = flight.trigger(reason, after)   # a bad duration is an EvlogError: 400
    window = next(w for w in reversed(flight.windows) if w.path == path)
    meta = flight.describe(window)
    return {"status": "triggered", "recording": path.name, "trigger_reason": meta.get("trigger_reason"),
            "trigger_count": window.trigger_count, "window_start": meta.get("window_start"),
            "window_end": meta.get("window_end"), "keep_s": flight.keep_ns / 1e9}
