"""The original tool's REST API, at its paths and in its shapes, so that a client written for the
original (`serve_recorder.py`, port 5556) works unchanged. Each answer carries the original's
keys; some carry evlog's as well (extra keys break no client). The shapes, and where evlog
differs, are written down in docs/api.md. evlog's own API is under /api/v1 (`api.py`)."""
from __future__ import annotations

import datetime as _dt
import os
import re
from collections.abc import Iterator
from typing import Any

from flask import Blueprint, Response, jsonify, request
from werkzeug.exceptions import BadRequest, NotFound

from ..ops.legacy_json import num_ms
from ..segments.codec import encode_json
from .api import catalog, events_of, get_replay, int_arg, players, replays, seek, sessions, start_replay
from .exporting import stream_export
from .redaction import current_redactor
from .replays import HttpTargets, Replay, check_speed
from .security import json_body
from .sessions import SessionError, check_url
from .slicing import SliceRequest, slice_to

bp = Blueprint("original", __name__, url_prefix="/api")
MAX_INDICES = 5_000_000


def _error(message: str, status: int) -> Any:
    return jsonify({"error": message, "status": status}), status


def _recording_or_404(name: str) -> str:
    try:
        return catalog().path(name)
    except NotFound:
        raise NotFound("Recording not found") from None


# recordings ---------------------------------------------------------------------------
@bp.get("/recordings")
def recordings() -> Any:
    """A JSON list, newest first: {filename, session_name, created_at, duration, event_count,
    unique_events} (plus evlog's metadata keys). Damaged recordings are left out, as the
    original did; /api/v1/recordings lists them with their error."""
    items = [i for i in catalog().list() if i["error"] is None]
    items.sort(key=lambda i: i["created_at"] or "", reverse=True)
    return jsonify(items)


@bp.get("/recording/<name>")
def recording(name: str) -> Any:
    """The whole recording in the original's JSON format, streamed by the export engine."""
    path = _recording_or_404(name)
    return Response(stream_export(path, "json", None, current_redactor()), mimetype="application/json")


def _event_bytes(mono: int, name: str, source: str, data: bytes) -> bytes:
    return b'{"timestamp_offset_ms": %s, "event_name": %s, "event_data": %s, "source": %s}' % (
        num_ms(mono), encode_json(name), data, encode_json(source))


@bp.get("/recording/<name>/events")
def events(name: str) -> Any:
    """{filename, total_events, returned_events, offset, events}: the events (original form)
    of one `event_name` and/or `source` (exact), from `offset` (0) on, at most `limit` (all
    without it). `total_events` counts every match; the body is streamed."""
    path = _recording_or_404(name)
    ev_name, source = request.args.get("event_name") or None, request.args.get("source") or None
    offset = int_arg("offset", 0) or 0
    limit = int_arg("limit", None)
    from ..ops.common import json_records
    cat = catalog()   # the generator below runs outside the request context
    with cat.open_path(path) as rec:
        s = cat.summary(rec)
        first = getattr(rec, "start_offset", 0)
    if ev_name is None and source is None:
        known: int | None = s.count
    elif source is None:
        known = s.names.get(ev_name, 0)
    elif ev_name is None:
        known = s.sources.get(source, 0)
    else:
        known = None   # counted while streaming

    def body() -> Iterator[bytes]:
        yield b'{"filename": %s, "offset": %d, "events": [' % (encode_json(name), offset)
        kwargs: dict[str, Any] = {}
        if ev_name is not None:
            kwargs["names"] = [ev_name]
        if source is not None:
            kwargs["sources"] = [source]
        returned = matched = 0
        stop = None if limit is None else offset + limit
        with cat.open_path(path) as rec:
            if not kwargs:   # plain offsets: read just the page
                rows = json_records(rec, None, start=first + offset, end=None if stop is None else first + stop)
                matched = offset
            else:
                rows = json_records(rec, None, **kwargs)
            sep = b""
            for r, data in rows:
                if kwargs:
                    matched += 1
                    if matched <= offset or (stop is not None and matched > stop):
                        if known is not None and stop is not None and matched > stop:
                            break
                        continue
                returned += 1
                yield sep + _event_bytes(r.monotonic, r.name, r.source, data)
                sep = b", "
        total = known if known is not None else matched
        yield b'], "returned_events": %d, "total_events": %d}' % (returned, total)
    return Response(body(), mimetype="application/json")


@bp.get("/recording/<name>/fields")
def fields(name: str) -> Any:
    """{event_types, sources, data_fields} (sorted; data_fields: the keys of event data that
    are objects), or {"fields": []} for a recording without events, as the original answered.
    The data keys need one read of the whole recording, kept until the recording changes."""
    path = _recording_or_404(name)
    cat = catalog()

    def compute() -> dict:
        with cat.open_path(path) as rec:
            s = cat.summary(rec)
            if not s.count:
                return {"fields": []}
            keys: set[str] = set()
            for r in rec.read():
                if isinstance(r.data, dict):
                    keys.update(r.data)
            return {"event_types": sorted(s.names), "sources": sorted(k or "Unknown" for k in s.sources),
                    "data_fields": sorted(keys)}
    return jsonify(cat.memo(path, "fields", compute))


@bp.post("/recording/create")
def create() -> Any:
    """{source_filename, event_indices, new_session_name} -> {success, filename, event_count}:
    a new recording `<new_session_name>_<YYYYmmdd_HHMMSS>` of the events at those indices (all
    without indices; indices past the end are skipped), times rebased to the first."""
    body = json_body()
    source = body.get("source_filename")
    if not source:
        return _error("source_filename is required", 400)
    if not isinstance(source, str):
        return _error("source_filename must be a string", 400)
    indices = body.get("event_indices") or []
    if not isinstance(indices, list) or len(indices) > MAX_INDICES or not all(
            isinstance(i, int) and not isinstance(i, bool) and i >= 0 for i in indices):
        return _error("event_indices must be a list of non-negative integers", 400)
    new_name = body.get("new_session_name") or "filtered_session"
    cat = catalog()
    try:
        src = cat.path(source)
    except NotFound:
        return _error("Source recording not found", 404)
    from .security import check_name
    check_name(new_name)
    with cat.open_path(src) as rec:
        first = getattr(rec, "start_offset", 0)
        end = first + len(rec)
    offsets = sorted({first + i for i in indices if first + i < end})
    if indices and not offsets:
        return _error("No events selected", 400)
    stamp = f"{_dt.datetime.now():%Y%m%d_%H%M%S}"
    filename, n = f"{new_name}_{stamp}", 1
    while os.path.exists(os.path.join(cat.root, filename)):
        n += 1
        filename = f"{new_name}_{stamp}_{n}"
    req = SliceRequest(offsets=offsets, all_matching=not offsets)
    count = slice_to(src, cat.path(filename, must_exist=False), new_name, req,
                     metadata={"sliced_from": source, "source_file": source}, redactor=current_redactor())
    if count == 0:
        return _error("No events selected", 400)
    return jsonify({"success": True, "filename": filename, "event_count": count})


# remote recording --------------------------------------------------------------------------
@bp.post("/record/start")
def record_start() -> Any:
    """{session_name?} -> {success, message, session_name} (plus `recording`, evlog's name)."""
    body = json_body()
    meta = body.get("metadata")
    if meta is not None and not isinstance(meta, dict):
        raise BadRequest("metadata must be a JSON object")
    out = sessions().start(body.get("session_name") or None, meta)
    return jsonify({"success": True, "message": "Recording started", **out})


@bp.post("/record/event")
def record_event() -> Any:
    """{event_name, event_data, source, timestamp_offset_ms?} -> {success, event_count}; an
    event without a source gets "Unknown" as in the original. evlog's batches are accepted too."""
    events, name = events_of(json_body(allow_list=True))
    for ev in events:
        if isinstance(ev, dict) and "source" not in ev:
            ev["source"] = "Unknown"
    if len(events) == 1 and isinstance(events[0], dict) and "event_name" not in events[0]:
        return _error("event_name is required", 400)
    try:
        out = sessions().add(name, events)
    except SessionError as exc:
        if not sessions().active():
            return _error("No active recording session", 400)
        raise BadRequest(str(exc)) from None
    return jsonify({"success": True, "event_count": out["total_events"], **out})


@bp.post("/record/stop")
def record_stop() -> Any:
    """-> {success, message, filename, event_count}: the most recent session when none is named."""
    body = json_body()
    name = body.get("recording")
    if name is None:
        latest = sessions().latest()
        if latest is None:
            return _error("No active recording session", 400)
        name = latest["recording"]
    out = sessions().stop(name)
    return jsonify({"success": True, "message": "Recording saved", "filename": out["recording"],
                    "event_count": out["total_events"], **out})


@bp.get("/record/status")
def record_status() -> Any:
    """{active, session_name, event_count} of the most recent open session (and `sessions`:
    every open recording, as evlog allows several)."""
    latest = sessions().latest()
    return jsonify({"active": latest is not None, "session_name": latest["session_name"] if latest else None,
                    "event_count": latest["event_count"] if latest else 0, "sessions": sessions().active()})


# replay -------------------------------------------------------------------------------------
def _current() -> Replay | None:
    return replays().latest()


def _player_targets(player_name: Any = None) -> HttpTargets | None:
    known = players().list()
    if player_name is not None:
        known = [p for p in known if p["name"] == player_name]
    if not known:
        return None
    return HttpTargets([{"name": p["name"], "url": p["url"]} for p in known], retries=3)


@bp.post("/replay/start/<name>")
def replay_start(name: str) -> Any:
    """{speed} -> with registered players, the replay is posted to them (as /api/replay/execute);
    without, it runs for the page only: {success, message, total_events, simulation_mode}."""
    _recording_or_404(name)
    body = json_body()
    targets = _player_targets()
    if targets is not None:
        return _execute(name, body, targets)
    replay = start_replay(name, _replay_body(body), None)
    return jsonify({"success": True, "message": "Replay started (simulation mode - no players registered)",
                    "total_events": replay.total, "simulation_mode": True, **replay.status()})


def _replay_body(body: dict) -> dict:
    """The original's body ({speed}) for evlog's replay (speed preset by /api/replay/speed)."""
    out = dict(body)
    if "speed" not in out and replays().preset_speed is not None:
        out["speed"] = replays().preset_speed
    return out


@bp.post("/replay/execute/<name>")
def replay_execute(name: str) -> Any:
    """{speed, player_name?} -> {success, message, total_events, target_players, speed}: the
    events posted to the registered players ({event_name, event_data, source} and evlog's keys)."""
    _recording_or_404(name)
    body = json_body()
    player_name = body.get("player_name")
    targets = _player_targets(player_name)
    if targets is None:
        return _error("No players registered" if player_name is None else f"Player {player_name} not found", 400)
    return _execute(name, body, targets)


def _execute(name: str, body: dict, targets: HttpTargets) -> Any:
    with catalog().open(name) as rec:
        if not len(rec):
            return _error("No events in recording", 400)
    replay = start_replay(name, _replay_body(body), targets)
    return jsonify({"success": True, "message": "Replay started", "total_events": replay.total,
                    "target_players": len(targets.targets), "simulation_mode": False, **replay.status()})


@bp.post("/replay/pause")
def replay_pause() -> Any:
    """Pause, or resume a paused replay: {success, status: "paused" | "playing"}."""
    r = _current()
    if r is None or r.state not in ("playing", "paused"):
        return _error("No active replay", 400)
    r.toggle()
    return jsonify({"success": True, "status": "paused" if r.control.paused else "playing"})


@bp.post("/replay/stop")
def replay_stop() -> Any:
    r = _current()
    if r is not None:
        r.stop()
    return jsonify({"success": True, "message": "Replay stopped"})


@bp.post("/replay/speed")
def replay_speed() -> Any:
    """{speed} -> {success, speed}: the running replay's speed, else the next one's."""
    body = json_body()
    try:
        speed = check_speed(body.get("speed", 1.0))
    except ValueError as exc:
        raise BadRequest(str(exc)) from None
    r = _current()
    if r is not None and r.state in ("playing", "paused"):
        r.set_speed(speed)
    else:
        replays().preset_speed = speed
    return jsonify({"success": True, "speed": speed})


@bp.post("/replay/seek")
def replay_seek() -> Any:
    """evlog's addition to the global replay: {offset} or {position_ms}."""
    r = _current()
    if r is None:
        return _error("No active replay", 400)
    seek(get_replay(r.id), json_body())
    return jsonify({"success": True, **r.status()})


@bp.get("/replay/status")
def replay_status() -> Any:
    """{active, paused, current_event, total_events, speed, progress, simulation_mode,
    filename} of the most recent replay (and evlog's status keys)."""
    r = _current()
    if r is None:
        return jsonify({"active": False, "paused": False, "current_event": 0, "total_events": 0,
                        "speed": replays().preset_speed or 1.0, "progress": 0, "simulation_mode": True,
                        "filename": ""})
    st = r.status()
    live = st["state"] in ("playing", "paused")
    done = st["delivered"] if live or st["state"] != "finished" else st["total"]
    return jsonify({"active": live, "paused": st["state"] == "paused", "current_event": done,
                    "total_events": st["total"], "speed": st["speed"],
                    "progress": done / st["total"] * 100 if st["total"] else 0,
                    "simulation_mode": r.http is None, "filename": r.name, **st})


# players ------------------------------------------------------------------------------------
def _endpoint(body: dict) -> Any:
    endpoint = body.get("player_endpoint")
    if not endpoint:
        raise BadRequest("player_endpoint is required")
    return endpoint


@bp.post("/player/register")
def player_register() -> Any:
    """{player_endpoint, consumer_name?} -> {success, message, consumer_name, player_endpoint}."""
    body = json_body()
    endpoint = _endpoint(body)
    name = body.get("consumer_name") or "Unknown"
    try:
        check_url(endpoint)
    except SessionError as exc:
        raise BadRequest(f"player_endpoint: {exc}") from None
    players().register(name, endpoint)
    return jsonify({"success": True, "message": "Player registered successfully", "consumer_name": name,
                    "player_endpoint": endpoint})


@bp.post("/player/unregister")
def player_unregister() -> Any:
    """{player_endpoint} -> {success, message, consumer_name}; 404 if no player posts there."""
    endpoint = _endpoint(json_body())
    gone = players().unregister(url=endpoint)
    if not gone:
        return _error("Player endpoint not found", 404)
    return jsonify({"success": True, "message": "Player unregistered successfully",
                    "consumer_name": gone[0]["name"]})


@bp.get("/player/list")
def player_list() -> Any:
    """{players: [{consumer_name, player_endpoint}], count} (plus evlog's name, url, registered_at)."""
    items = [{"consumer_name": p["name"], "player_endpoint": p["url"], **p} for p in players().list()]
    return jsonify({"players": items, "count": len(items)})


def owned_rules(app: Any) -> set[tuple[str, str]]:
    """(normalized path, method) of every original endpoint, to keep evlog's aliases off them."""
    out = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("original."):
            path = re.sub(r"<[^>]+>", "<>", rule.rule)
            out.update((path, m) for m in rule.methods or ())
    return out
