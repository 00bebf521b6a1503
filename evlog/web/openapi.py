"""The OpenAPI 3 document of evlog's API (/api/v1), served at /api/v1/openapi.json and checked
against the app by schemathesis in the tests. Errors share one schema; every operation may
answer it (the `default` response)."""
from __future__ import annotations

from typing import Any

_OBJ: dict = {"type": "object"}
_INT: dict = {"type": "integer"}
_NUM: dict = {"type": "number"}
_STR: dict = {"type": "string"}
_NULL_INT: dict = {"type": "integer", "nullable": True}
_BOOL: dict = {"type": "boolean"}


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _arr(items: dict) -> dict:
    return {"type": "array", "items": items}


def _obj(required: list[str], **props: dict) -> dict:
    return {"type": "object", "required": required, "properties": props}


SCHEMAS: dict[str, dict] = {
    "Error": _obj(["error", "status"], error=_STR, status=_INT),
    "Event": _obj(["offset", "event_name", "source", "timestamp_offset_ms", "monotonic_ns", "timestamp",
                   "timestamp_ns"], offset=_INT, event_name=_STR, source=_STR, timestamp_offset_ms=_NUM,
                  monotonic_ns=_INT, timestamp=_STR, timestamp_ns=_INT, event_data={}, headers=_OBJ),
    "RecordingInfo": _obj(["name", "filename", "format", "total_events", "duration_ms", "error"],
                          name=_STR, filename=_STR, format=_STR, session_name=_STR, total_events=_INT,
                          duration_ms=_NUM, event_types=_INT, size_bytes=_INT,
                          error={"type": "string", "nullable": True}),
    "Listing": _obj(["recordings", "stats"], recordings=_arr(_ref("RecordingInfo")),
                    stats=_obj(["recordings", "total_events", "total_duration_ms"], recordings=_INT,
                               total_events=_INT, total_duration_ms=_NUM, average_events=_NUM,
                               average_duration_ms=_NUM)),
    "Page": _obj(["name", "total_events", "offset", "limit", "events", "next_offset", "complete"],
                 name=_STR, total_events=_INT, offset=_INT, limit=_INT, events=_arr(_ref("Event")),
                 next_offset=_NULL_INT, prev_offset=_NULL_INT, complete=_BOOL, live=_BOOL),
    "Summary": _obj(["total_events", "names", "sources", "first_offset", "end_offset"], total_events=_INT,
                    names=_OBJ, sources=_OBJ, first_offset=_INT, end_offset=_INT, eventsourcing=_BOOL),
    "Count": _obj(["count", "complete", "next_offset", "total"], count=_INT, complete=_BOOL,
                  next_offset=_NULL_INT, total=_INT, from_index=_BOOL),
    "Chain": _obj(["offset", "found", "events", "complete"], offset=_INT, found=_BOOL, events=_arr(_OBJ),
                  complete=_BOOL, correlation_id={"type": "string", "nullable": True}),
    "Histogram": _obj(["bins", "total"], total=_INT,
                      bins=_arr(_obj(["start_ms", "end_ms", "count"], start_ms=_NUM, end_ms=_NUM, count=_INT,
                                     first_offset=_NULL_INT))),
    "Replay": _obj(["replay_id", "recording", "state", "speed", "delivered", "total", "epoch"],
                   replay_id=_STR, recording=_STR, state=_STR, speed=_NUM, delivered=_INT, total=_INT,
                   position=_NULL_INT, position_ms=_NUM, epoch=_INT, behind=_BOOL,
                   achieved_speed={"type": "number", "nullable": True}),
    "Job": _obj(["job_id", "kind", "state", "done"], job_id=_STR, kind=_STR, state=_STR, done=_INT,
                total=_NULL_INT, error={"type": "string", "nullable": True}),
    "Diff": _obj(["summary", "differences", "rows", "truncated"], summary=_OBJ, differences=_arr(_OBJ),
                 rows=_arr(_OBJ), truncated=_BOOL),
}

NAME = {"name": "name", "in": "path", "required": True,
        "schema": {"type": "string", "pattern": "^[A-Za-z0-9_][A-Za-z0-9_.-]{0,60}$"}}


def _q(name: str, schema: dict, required: bool = False) -> dict:
    return {"name": name, "in": "query", "required": required, "schema": schema}


def _op(summary: str, schema: str | None, *, params: list | None = None, body: dict | None = None,
        status: str = "200", media: str = "application/json") -> dict:
    ok: dict[str, Any] = {"description": summary}
    ok["content"] = {media: {"schema": _ref(schema) if schema else {}}}
    op: dict[str, Any] = {"summary": summary, "parameters": params or [],
                          "responses": {status: ok, "default": {"description": "error", "content": {
                              "application/json": {"schema": _ref("Error")}}}}}
    if body is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    return op


_FILTER = _q("filter", {"type": "string", "maxLength": 200})
_SPEED = {"type": "number", "minimum": 0.1, "maximum": 100}


def document() -> dict:
    paths: dict[str, dict] = {
        "/recordings": {"get": _op("The recordings and the folder's statistics", "Listing")},
        "/recording/{name}": {
            "get": _op("Metadata and one page of events", "Page", params=[
                NAME, _q("offset", {"type": "integer", "minimum": 0}), _q("before", {"type": "integer", "minimum": 0}),
                _q("limit", {"type": "integer", "minimum": 1, "maximum": 1000}),
                _q("from_ms", {"type": "number", "minimum": 0}), _FILTER]),
            "delete": _op("Remove a recording", None, params=[NAME])},
        "/recording/{name}/event/{offset}": {"get": _op("One event", "Event", params=[
            NAME, {"name": "offset", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 0}}])},
        "/recording/{name}/summary": {"get": _op("Counts per name and source, offsets, sizes", "Summary",
                                                 params=[NAME])},
        "/recording/{name}/count": {"get": _op("Events matching a filter (index or bounded scan)", "Count",
                                               params=[NAME, _FILTER, _q("start", {"type": "integer", "minimum": 0})])},
        "/recording/{name}/chain": {"get": _op("The causation chain of an event", "Chain", params=[
            NAME, _q("offset", {"type": "integer", "minimum": 0}, True)])},
        "/recording/{name}/timetravel": {"get": _op("An eventsourcing store's aggregate(s) as of an offset", None,
                                                    params=[NAME, _q("offset", {"type": "integer", "minimum": 0}),
                                                            _q("originator_id", _STR)])},
        "/recording/{name}/histogram": {"get": _op("Events over time, from the index", "Histogram", params=[
            NAME, _q("bins", {"type": "integer", "minimum": 1, "maximum": 2000})])},
        "/recording/{name}/export": {"get": _op("A streamed download (json, jsonl, csv)", None, media="*/*", params=[
            NAME, _q("format", {"type": "string", "enum": ["json", "jsonl", "csv"]}), _FILTER])},
        "/recording/{name}/slice": {"post": _op("A new recording from a selection", None, status="201",
                                                params=[NAME], body=_obj(["name"], name=_STR, offsets=_arr(_INT),
                                                                         ranges=_arr(_arr(_INT)), all_matching=_BOOL,
                                                                         filter=_STR))},
        "/recording/{name}/slice/jobs": {"post": _op("The same slice in a job (progress, cancel)", "Job",
                                                     status="202", params=[NAME],
                                                     body=_obj(["name"], name=_STR, offsets=_arr(_INT),
                                                               all_matching=_BOOL, filter=_STR))},
        "/record/start": {"post": _op("Start a remote recording session", None, status="201",
                                      body=_obj([], session_name=_STR, metadata=_OBJ))},
        "/record/event": {"post": _op("Record events in a session", None,
                                      body=_obj(["event_name"], event_name=_STR, event_data={}, source=_STR,
                                                timestamp_offset_ms={"type": "number", "minimum": 0},
                                                headers={"type": "object", "additionalProperties": _STR}))},
        "/record/stop": {"post": _op("Stop a session", None, body=_obj([], recording=_STR))},
        "/record/status": {"get": _op("Sessions being recorded", None)},
        "/snapshot": {"post": _op("Write the flight recorder's last KEEP and next AFTER (evlog serve --snapshot)",
                                  None, status="202", body=_obj([], reason=_STR, after=_STR))},
        "/replay/start/{name}": {"post": _op("Start a replay on the server", "Replay", status="201", params=[NAME],
                                             body=_obj([], speed=_SPEED, filter=_STR, paused=_BOOL,
                                                       start_offset={"type": "integer", "minimum": 0}))},
        "/replay/status": {"get": _op("Every replay", None)},
        "/replay/{replay_id}/events": {"get": _op("Events delivered since `after`, and the status", None, params=[
            {"name": "replay_id", "in": "path", "required": True, "schema": _STR},
            _q("after", {"type": "integer", "minimum": 0})])},
        "/replay/{replay_id}/status": {"get": _op("One replay", "Replay", params=[
            {"name": "replay_id", "in": "path", "required": True, "schema": _STR}])},
        "/replay/{replay_id}/{action}": {"post": _op("pause, resume, step, stop, speed, seek", "Replay", params=[
            {"name": "replay_id", "in": "path", "required": True, "schema": _STR},
            {"name": "action", "in": "path", "required": True,
             "schema": {"type": "string", "enum": ["pause", "resume", "step", "stop", "speed", "seek"]}}],
            body=_obj([], speed=_SPEED, offset={"type": "integer", "minimum": 0},
                      position_ms={"type": "number", "minimum": 0}))},
        "/player/register": {"post": _op("Register a webhook player", None, status="201",
                                         body=_obj(["name", "url"], name=_STR, url=_STR))},
        "/player/unregister": {"post": _op("Remove a webhook player", None, body=_obj(["name"], name=_STR))},
        "/player/list": {"get": _op("Webhook players", None)},
        "/diff": {"get": _op("Compare two recordings (one request)", "Diff", params=[
            _q("a", _STR, True), _q("b", _STR, True), _FILTER,
            _q("limit", {"type": "integer", "minimum": 1, "maximum": 5000})])},
        "/diff/jobs": {"post": _op("A streamed diff (a job)", "Job", status="202",
                                   body=_obj(["a", "b"], a=_STR, b=_STR, filter=_STR))},
        "/jobs/{job_id}": {
            "get": _op("A job's state, progress and (diff) differences", "Job", params=[
                {"name": "job_id", "in": "path", "required": True, "schema": _STR},
                _q("after", {"type": "integer", "minimum": 0})]),
            "delete": _op("Cancel a job", "Job", params=[
                {"name": "job_id", "in": "path", "required": True, "schema": _STR}])},
        "/jobs/{job_id}/rows": {"get": _op("Aligned rows of a diff job", None, params=[
            {"name": "job_id", "in": "path", "required": True, "schema": _STR},
            _q("first", {"type": "integer", "minimum": 0}), _q("count", {"type": "integer", "minimum": 1, "maximum": 200})])},
        "/diff/run": {"get": _op("More equal pairs of a folded run", None, params=[
            _q("a", _STR, True), _q("b", _STR, True), _q("a_offset", {"type": "integer", "minimum": 0}),
            _q("b_offset", {"type": "integer", "minimum": 0}),
            _q("count", {"type": "integer", "minimum": 1, "maximum": 500}), _FILTER])},
    }
    return {"openapi": "3.0.3",
            "info": {"title": "evlog dashboard API", "version": "1",
                     "description": "evlog's own API; the original tool's endpoints are documented in docs/api.md."},
            "servers": [{"url": "/api/v1"}], "paths": paths, "components": {"schemas": SCHEMAS}}
