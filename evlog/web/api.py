"""The REST API (JSON): the original tool's endpoints plus summary, histogram, export, slice, diff,
replay control and webhook players. Documented in docs/api.md."""
from __future__ import annotations

import os
import shutil
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request
from werkzeug.exceptions import BadRequest, Conflict, NotFound
from werkzeug.exceptions import NotImplemented as NotImplemented501

from ..segments import EncodedRows, Log
from .catalog import Catalog, event_json, page
from .exporting import FORMATS, stream_export
from .replays import HttpTargets, Replay, ReplayManager, check_speed
from .security import check_name, json_body, require_token
from .sessions import Players, RecordSessions, SessionError
from .timetravel import is_store, state_at

bp = Blueprint("api", __name__, url_prefix="/api")
MAX_LIMIT = 1000
MAX_SLICE = 5_000_000


def catalog() -> Catalog:
    return current_app.extensions["evlog_catalog"]


def replays() -> ReplayManager:
    return current_app.extensions["evlog_replays"]


def sessions() -> RecordSessions:
    return current_app.extensions["evlog_sessions"]


def players() -> Players:
    return current_app.extensions["evlog_players"]


def int_arg(name: str, default: int | None, lo: int = 0, hi: int | None = None) -> int | None:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(f"{name} must be an integer, not {raw!r}") from None
    if value < lo or (hi is not None and value > hi):
        raise BadRequest(f"{name} must be between {lo} and {hi}" if hi is not None else f"{name} must be >= {lo}")
    return value


def parse_filter_kwargs(text: str | None) -> dict | None:
    """`names=/sources=/where=` for Log.read from the shared filter language (400 on a syntax error)."""
    if text is None or not text.strip():
        return None
    try:
        from ..filters import parse_filter
    except ImportError:
        raise NotImplemented501("filters are not available in this build (evlog.filters missing)") from None
    return parse_filter(text).read_kwargs()


def metadata(name: str, rec: Any) -> dict:
    s = catalog().summary(rec)
    return {
        "name": name, "filename": name, "format": rec.format, "session_name": rec.session_name,
        "start_time": rec.start_time.isoformat(), "start_time_ns": rec.start_time_ns,
        "duration_ms": (s.last_mono or 0) / 1e6 if s.count else 0.0, "total_events": s.count,
        "metadata": getattr(rec, "metadata", {}) or {},
        "live": name in sessions().active() or _locked(rec.path),
    }


def _locked(path: str) -> bool:
    """A recording another process is writing (its writer holds the lock file)."""
    lock = os.path.join(path, ".lock")
    if not os.path.isfile(lock):
        return False
    try:
        import fcntl
        with open(lock, "rb") as f:
            try:
                fcntl.flock(f, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except OSError:
                return True
            fcntl.flock(f, fcntl.LOCK_UN)
    except (OSError, ImportError):
        return False
    return False


# listing and reading ------------------------------------------------------------------
@bp.get("/recordings")
def list_recordings() -> Any:
    items = catalog().list()
    total = sum(i["total_events"] for i in items)
    duration = sum(i["duration_ms"] for i in items)
    n = len(items)
    return jsonify({"recordings": items, "stats": {
        "recordings": n, "total_events": total, "total_duration_ms": duration,
        "average_events": total / n if n else 0, "average_duration_ms": duration / n if n else 0}})


@bp.get("/recording/<name>")
def get_recording(name: str) -> Any:
    offset = int_arg("offset", 0)
    limit = int_arg("limit", 100, 1, MAX_LIMIT)
    from_ms = request.args.get("from_ms")
    kwargs = parse_filter_kwargs(request.args.get("filter"))
    from_mono = None
    if from_ms:
        try:
            from_mono = int(float(from_ms) * 1e6)
        except ValueError:
            raise BadRequest(f"from_ms must be a number, not {from_ms!r}") from None
    with catalog().open(name) as rec:
        out = metadata(name, rec)
        start = getattr(rec, "start_offset", 0)
        out.update(page(rec, max(offset or 0, start), limit or 100, kwargs, from_mono=from_mono))
        out["filter"] = request.args.get("filter") or None
    return jsonify(out)


@bp.get("/recording/<name>/event/<int:offset>")
def get_event(name: str, offset: int) -> Any:
    with catalog().open(name) as rec:
        for r in rec.read(offset, offset + 1):
            return jsonify(event_json(r))
    raise NotFound(f"no event at offset {offset} in {name}")


@bp.get("/recording/<name>/summary")
def summary(name: str) -> Any:
    with catalog().open(name) as rec:
        s = catalog().summary(rec)
        out = metadata(name, rec)
        out.update({"names": dict(s.names.most_common()), "sources": dict(s.sources.most_common()),
                    "first_offset": getattr(rec, "start_offset", 0),
                    "end_offset": getattr(rec, "start_offset", 0) + s.count,
                    "first_timestamp": _iso(s.first_ts), "last_timestamp": _iso(s.last_ts),
                    "stored_bytes": s.stored_bytes, "raw_bytes": s.raw_bytes, "eventsourcing": is_store(rec)})
    return jsonify(out)


def _iso(ns: int | None) -> str | None:
    from .catalog import iso
    return iso(ns)


@bp.get("/recording/<name>/timetravel")
def timetravel(name: str) -> Any:
    """An eventsourcing store as it was at `offset` (inclusive): the aggregate `originator_id`,
    or every aggregate (the first 200) without it."""
    cat = catalog()
    path = cat.path(name)
    with cat.open_path(path) as rec:
        end = getattr(rec, "start_offset", 0) + len(rec)
        offset = int_arg("offset", end - 1, 0)
        return jsonify(state_at(path, rec, offset if offset is not None else end - 1,
                                request.args.get("originator_id") or None))


@bp.get("/recording/<name>/histogram")
def histogram(name: str) -> Any:
    bins = int_arg("bins", 100, 1, 2000)
    with catalog().open(name) as rec:
        return jsonify(catalog().histogram(rec, bins or 100))


@bp.get("/recording/<name>/export")
def export(name: str) -> Any:
    """A streamed download made by the `evlog export` engine; `json` is the original tool's format."""
    fmt = request.args.get("format", "json")
    if fmt not in FORMATS:
        raise BadRequest("format must be json, jsonl or csv")
    text = request.args.get("filter") or None
    parse_filter_kwargs(text)   # a syntax error is a 400 before the download starts
    path = catalog().path(name)   # 404 before the response starts
    stem = name.removesuffix(".json")
    return Response(stream_export(path, fmt, text), mimetype=FORMATS[fmt], headers={
        "Content-Disposition": f'attachment; filename="{stem}.{fmt}"'})


# writing -------------------------------------------------------------------------
@bp.post("/recording/<name>/slice")
@require_token
def slice_recording(name: str) -> Any:
    """Create a new recording from selected events: offsets, ranges and/or all matching a filter."""
    body = json_body()
    new = check_name(str(body.get("name") or ""))
    if new.endswith(".json"):
        raise BadRequest("a new recording's name must not end with .json")
    offsets = body.get("offsets") or []
    ranges = body.get("ranges") or []
    flt = body.get("filter")
    all_matching = bool(body.get("all_matching"))
    if not isinstance(offsets, list) or not all(isinstance(o, int) and o >= 0 for o in offsets):
        raise BadRequest("offsets must be a list of non-negative integers")
    if not isinstance(ranges, list) or not all(
            isinstance(r, list) and len(r) == 2 and all(isinstance(x, int) and x >= 0 for x in r) and r[0] <= r[1]
            for r in ranges):
        raise BadRequest("ranges must be a list of [first, last] offset pairs")
    if flt is not None and not isinstance(flt, str):
        raise BadRequest("filter must be a string")
    if len(offsets) > MAX_SLICE:
        raise BadRequest(f"at most {MAX_SLICE} offsets")
    kwargs = parse_filter_kwargs(flt) or {}
    if not offsets and not ranges and not all_matching:
        raise BadRequest("nothing selected: give offsets, ranges or all_matching")
    cat = catalog()
    src = cat.path(name)
    dest = cat.path(new, must_exist=False)
    if os.path.exists(dest):
        raise Conflict(f"a recording named {new} already exists")
    chosen = set(offsets)
    spans = sorted((a, b) for a, b in ranges)

    def selected(off: int) -> bool:
        if all_matching and not offsets and not ranges:
            return True
        return off in chosen or any(a <= off <= b for a, b in spans)

    bounds_lo = min([*chosen, *(a for a, _ in spans)]) if (chosen or spans) else None
    bounds_hi = max([*chosen, *(b for _, b in spans)]) + 1 if (chosen or spans) else None
    count = 0
    with cat.open_path(src) as rec:
        raw = rec.format == "evlog"
        first_mono = None
        log = None
        try:
            for r in rec.read(bounds_lo, bounds_hi, raw=raw, **(kwargs if all_matching else {})):
                if not selected(r.offset):
                    continue
                if log is None:
                    first_mono = r.monotonic
                    log = Log.create(dest, new, start_time_ns=r.timestamp,
                                     metadata={"sliced_from": name}, fsync="never")
                mono = r.monotonic - (first_mono or 0)
                if raw:
                    log.append_rows(EncodedRows.from_raw([r._replace(monotonic=mono)]), validate=False)
                else:
                    log.append(r.name, r.data, r.source, timestamp=r.timestamp, monotonic=mono)
                count += 1
        finally:
            if log is not None:
                log.close()
    if count == 0:
        raise BadRequest("the selection holds no events")
    return jsonify({"status": "created", "name": new, "total_events": count}), 201


@bp.delete("/recording/<name>")
@require_token
def delete_recording(name: str) -> Any:
    path = catalog().entry(name)
    if name in sessions().active():
        raise Conflict(f"{name} is being recorded; stop it first")
    if os.path.isdir(path):
        shutil.rmtree(path)
    else:
        os.remove(path)
    return jsonify({"status": "deleted", "name": name})


@bp.post("/record/start")
@require_token
def record_start() -> Any:
    body = json_body()
    meta = body.get("metadata")
    if meta is not None and not isinstance(meta, dict):
        raise BadRequest("metadata must be a JSON object")
    return jsonify(sessions().start(body.get("session_name") or "session", meta)), 201


@bp.post("/record/event")
@require_token
def record_event() -> Any:
    body = json_body(allow_list=True)
    name = None
    if isinstance(body, list):
        events = body
    elif "events" in body:
        events, name = body["events"], body.get("recording")
        if not isinstance(events, list):
            raise BadRequest("events must be a list")
    else:
        events, name = [body], body.get("recording")
    if name is not None and not isinstance(name, str):
        raise BadRequest("recording must be a string")
    return jsonify(sessions().add(name, events))


@bp.post("/record/stop")
@require_token
def record_stop() -> Any:
    body = json_body()
    return jsonify(sessions().stop(body.get("recording")))


@bp.get("/record/status")
def record_status() -> Any:
    return jsonify({"active": sessions().active()})


# replay --------------------------------------------------------------------------
@bp.post("/replay/start/<name>")
def replay_start(name: str) -> Any:
    body = json_body()
    cat = catalog()
    path = cat.path(name)
    text = body.get("filter")
    if text is not None and not isinstance(text, str):
        raise BadRequest("filter must be a string")
    parse_filter_kwargs(text)   # a syntax error is a 400 here, not a failed replay
    try:
        speed = check_speed(body.get("speed", 1.0))
    except ValueError as exc:
        raise BadRequest(str(exc)) from None
    start = body.get("start_offset", 0)
    if not isinstance(start, int) or start < 0:
        raise BadRequest("start_offset must be a non-negative integer")
    http = _http_targets(body)
    if replays().active() >= replays().limit:
        raise Conflict("too many replays running; stop one first")
    with cat.open_path(path) as rec:
        total = len(rec)
    replay = replays().add(Replay(name, lambda: cat.open_path(path), total, speed=speed, start_offset=start,
                                  paused=bool(body.get("paused")), http=http, filter_text=text))
    return jsonify(replay.status()), 201


def _http_targets(body: dict) -> HttpTargets | None:
    """`url` (one endpoint) or `player` (a registered name or "all"): writing out needs the token."""
    url, player = body.get("url"), body.get("player")
    if url is None and player is None:
        return None
    from werkzeug.exceptions import Unauthorized

    from .security import token_ok
    if not token_ok():
        raise Unauthorized("missing or wrong token (send it in the X-Evlog-Token header)")
    targets = []
    if url is not None:
        from .sessions import check_url
        try:
            targets.append({"name": None, "url": check_url(url)})
        except SessionError as exc:
            raise BadRequest(str(exc)) from None
    if player is not None:
        known = players().list()
        chosen = known if player == "all" else [p for p in known if p["name"] == player]
        if not chosen:
            raise BadRequest("no players registered" if player == "all" else f"no player named {player!r}")
        targets.extend({"name": p["name"], "url": p["url"]} for p in chosen)
    retries = body.get("retries", 3)
    if not isinstance(retries, int) or not 1 <= retries <= 10:
        raise BadRequest("retries must be an integer from 1 to 10")
    return HttpTargets(targets, retries=retries)


def _replay(replay_id: str) -> Replay:
    r = replays().get(replay_id)
    if r is None:
        raise NotFound(f"no replay {replay_id}")
    return r


@bp.get("/replay/status")
def replay_status_all() -> Any:
    return jsonify({"replays": [r.status() for r in replays().all()]})


@bp.get("/replay/<replay_id>/status")
def replay_status(replay_id: str) -> Any:
    return jsonify(_replay(replay_id).status())


@bp.get("/replay/<replay_id>/events")
def replay_events(replay_id: str) -> Any:
    r = _replay(replay_id)
    after = int_arg("after", 0)
    return jsonify({"events": r.events_after(after or 0), "status": r.status()})


@bp.post("/replay/<replay_id>/<action>")
def replay_control(replay_id: str, action: str) -> Any:
    r = _replay(replay_id)
    body = json_body()
    if action == "pause":
        r.pause()
    elif action == "resume":
        r.resume()
    elif action == "step":
        r.step()
    elif action == "stop":
        r.stop()
    elif action == "speed":
        try:
            r.set_speed(body.get("speed"))
        except ValueError as exc:
            raise BadRequest(str(exc)) from None
    elif action == "seek":
        off = body.get("offset")
        if off is None and "position_ms" in body:
            ms = body["position_ms"]
            if not isinstance(ms, (int, float)) or ms < 0:
                raise BadRequest("position_ms must be a non-negative number")
            with catalog().open(r.name) as rec:
                first = next(iter(rec.read(start_mono=int(ms * 1e6))), None)
                off = first.offset if first is not None else len(rec)
        if not isinstance(off, int) or off < 0:
            raise BadRequest("seek needs offset (a non-negative integer) or position_ms")
        r.seek(off)
    else:
        raise NotFound(f"unknown replay action {action!r}")
    return jsonify(r.status())


# players -------------------------------------------------------------------------
@bp.post("/player/register")
@require_token
def player_register() -> Any:
    body = json_body()
    return jsonify({"status": "registered", "player": players().register(body.get("name"), body.get("url"))}), 201


@bp.post("/player/unregister")
@require_token
def player_unregister() -> Any:
    body = json_body()
    if not players().unregister(body.get("name")):
        raise NotFound(f"no player named {body.get('name')!r}")
    return jsonify({"status": "unregistered", "name": body.get("name")})


@bp.get("/player/list")
def player_list() -> Any:
    return jsonify({"players": players().list()})


# diff ----------------------------------------------------------------------------
def _diff_args() -> tuple[str, str, str, str, str | None]:
    """?a=<baseline>&b=<new>&filter=: (name a, name b, path a, path b, filter text)."""
    a, b = request.args.get("a"), request.args.get("b")
    if not a or not b:
        raise BadRequest("give two recordings: ?a=<name>&b=<name>")
    cat = catalog()
    return a, b, cat.path(a), cat.path(b), request.args.get("filter") or None


@bp.get("/diff")
def diff() -> Any:
    a, b, path_a, path_b, text = _diff_args()
    limit = int_arg("limit", 500, 1, 5000)
    from .diffing import run_diff
    return jsonify(run_diff(path_a, path_b, a, b, limit or 500, text))


@bp.get("/diff/run")
def diff_run() -> Any:
    """More of a collapsed run of equal events: `count` pairs from `a_offset`/`b_offset`."""
    _, _, path_a, path_b, text = _diff_args()
    a_offset, b_offset = int_arg("a_offset", 0), int_arg("b_offset", 0)
    count = int_arg("count", 100, 1, 500)
    parse_filter_kwargs(text)
    from .diffing import equal_run
    return jsonify(equal_run(path_a, path_b, a_offset or 0, b_offset or 0, count or 100, text))


@bp.errorhandler(SessionError)
def session_error(exc: SessionError) -> Any:
    return jsonify({"error": str(exc), "status": 400}), 400
