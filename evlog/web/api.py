"""evlog's REST API (JSON) under /api/v1: listing and paging with the filter language, summary,
histogram, match counts, causation chains, export, slice, diff (whole or streamed), replay
control and webhook players. Documented in docs/api.md and by /api/v1/openapi.json.
The original tool's endpoints, in its shapes, are in `original.py`."""
from __future__ import annotations

import os
import shutil
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request
from werkzeug.exceptions import BadRequest, Conflict, Forbidden, NotFound
from werkzeug.exceptions import NotImplemented as NotImplemented501

from .catalog import Catalog, count_matches, event_json, page, page_before
from .exporting import FORMATS, stream_export
from .jobs import Job, JobManager
from .redaction import current_redactor
from .replays import HttpTargets, Replay, ReplayManager, check_speed
from .security import check_name, filter_text, json_body, require_token
from .sessions import Players, RecordSessions, SessionError, check_url
from .slicing import Cancelled, SliceRequest, slice_to
from .timetravel import is_store, state_at

bp = Blueprint("v1", __name__, url_prefix="/api/v1")
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


def jobs() -> JobManager:
    return current_app.extensions["evlog_jobs"]


def int_arg(name: str, default: int | None, lo: int = 0, hi: int | None = None) -> int | None:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(f"{name} must be an integer, not {raw[:40]!r}") from None
    if value < lo or (hi is not None and value > hi):
        raise BadRequest(f"{name} must be between {lo} and {hi}" if hi is not None else f"{name} must be >= {lo}")
    return value


def parse_filter_kwargs(text: str | None) -> dict | None:
    """`names=/sources=/where=` for Log.read from the shared filter language (400 on a syntax error)."""
    text = filter_text(text)
    if text is None or not text.strip():
        return None
    try:
        from ..filters import parse_filter
    except ImportError:
        raise NotImplemented501("filters are not available in this build (evlog.filters missing)") from None
    try:
        return parse_filter(text).read_kwargs()
    except RecursionError:
        raise BadRequest("filter nests too deeply") from None


def budget() -> float:
    """Seconds a filtered page, a count or a chain may scan before answering partially."""
    return float(current_app.config.get("EVLOG_SCAN_BUDGET_S", 2.0))


def query_filter() -> tuple[str | None, dict | None]:
    text = filter_text(request.args.get("filter"))
    return text, parse_filter_kwargs(text)


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


def listing() -> dict:
    """Every recording with its metadata, and the folder's statistics."""
    items = catalog().list()
    total = sum(i["total_events"] for i in items)
    duration = sum(i["duration_ms"] for i in items)
    n = len(items)
    return {"recordings": items, "stats": {
        "recordings": n, "total_events": total, "total_duration_ms": duration,
        "average_events": total / n if n else 0, "average_duration_ms": duration / n if n else 0}}


# listing and reading ------------------------------------------------------------------
@bp.get("/recordings")
def list_recordings() -> Any:
    return jsonify(listing())


@bp.get("/recording/<name>")
def get_recording(name: str) -> Any:
    """Metadata and one page of events: from `offset`, from the first event at `from_ms`, or
    the page just before `before` (read backwards)."""
    offset = int_arg("offset", 0)
    before = int_arg("before", None)
    limit = int_arg("limit", 100, 1, MAX_LIMIT) or 100
    from_ms = request.args.get("from_ms")
    text, kwargs = query_filter()
    from_mono = None
    if from_ms:
        try:
            from_mono = int(float(from_ms) * 1e6)
        except ValueError:
            raise BadRequest(f"from_ms must be a number, not {from_ms[:40]!r}") from None
        if from_mono < 0:
            raise BadRequest("from_ms must be >= 0")
    with catalog().open(name) as rec:
        out = metadata(name, rec)
        start = getattr(rec, "start_offset", 0)
        if before is not None:
            out.update(page_before(rec, max(before, start), limit, kwargs, budget_s=budget()))
        else:
            out.update(page(rec, max(offset or 0, start), limit, kwargs, budget_s=budget(), from_mono=from_mono))
        out["filter"] = text
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
        first = getattr(rec, "start_offset", 0)
        out.update({"names": dict(s.names.most_common()), "sources": dict(s.sources.most_common()),
                    "first_offset": first, "end_offset": first + s.count,
                    "first_timestamp": _iso(s.first_ts), "last_timestamp": _iso(s.last_ts),
                    "stored_bytes": s.stored_bytes, "raw_bytes": s.raw_bytes, "eventsourcing": is_store(rec)})
    return jsonify(out)


def _iso(ns: int | None) -> str | None:
    from .catalog import iso
    return iso(ns)


@bp.get("/recording/<name>/count")
def count(name: str) -> Any:
    """How many events match `filter` (from the index, or by a bounded scan from `start`)."""
    text, kwargs = query_filter()
    with catalog().open(name) as rec:
        s = catalog().summary(rec)
        first = getattr(rec, "start_offset", 0)
        start = max(int_arg("start", first) or 0, first)
        if not kwargs:
            out = {"count": s.count, "scanned_from": start, "next_offset": None, "complete": True,
                   "from_index": True}
        else:
            out = count_matches(rec, s, kwargs, start, budget_s=budget())
        out.update(filter=text, total=s.count, first_offset=first)
    return jsonify(out)


@bp.get("/recording/<name>/chain")
def causation_chain(name: str) -> Any:
    """The events sharing the correlation id of the event at `offset`, in causal order."""
    from .chains import chain
    offset = int_arg("offset", None)
    if offset is None:
        raise BadRequest("give the event: ?offset=<n>")
    start = int_arg("start", None)
    with catalog().open(name) as rec:
        out = chain(rec, offset, scan_from=start, budget_s=budget())
    if not out["found"]:
        raise NotFound(f"no event at offset {offset} in {name}")
    return jsonify(out)


@bp.get("/recording/<name>/timetravel")
def timetravel(name: str) -> Any:
    """An eventsourcing store as it was at `offset` (inclusive): the aggregate `originator_id`,
    or every aggregate (the first 200) without it."""
    cat = catalog()
    path = cat.path(name)
    if current_redactor() is not None:   # it reads the store itself: nothing it shows would be redacted
        raise Forbidden("time travel is not available on a dashboard serving through a redaction policy")
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
    text, _ = query_filter()   # a syntax error is a 400 before the download starts
    path = catalog().path(name)   # 404 before the response starts
    stem = name.removesuffix(".json")
    suffix = "-filtered" if text else ""
    return Response(stream_export(path, fmt, text, current_redactor()), mimetype=FORMATS[fmt], headers={
        "Content-Disposition": f'attachment; filename="{stem}{suffix}.{fmt}"'})


# writing -------------------------------------------------------------------------
def slice_request(body: dict) -> SliceRequest:
    offsets = body.get("offsets") or []
    ranges = body.get("ranges") or []
    flt = filter_text(body.get("filter"))
    all_matching = bool(body.get("all_matching"))
    if not isinstance(offsets, list) or not all(isinstance(o, int) and not isinstance(o, bool) and o >= 0
                                                for o in offsets):
        raise BadRequest("offsets must be a list of non-negative integers")
    if not isinstance(ranges, list) or not all(
            isinstance(r, list) and len(r) == 2 and all(isinstance(x, int) and x >= 0 for x in r) and r[0] <= r[1]
            for r in ranges):
        raise BadRequest("ranges must be a list of [first, last] offset pairs")
    if len(offsets) > MAX_SLICE or len(ranges) > MAX_SLICE:
        raise BadRequest(f"at most {MAX_SLICE} offsets and ranges")
    parse_filter_kwargs(flt)   # a bad filter is a 400 here
    if not offsets and not ranges and not all_matching:
        raise BadRequest("nothing selected: give offsets, ranges or all_matching")
    return SliceRequest(offsets, [(a, b) for a, b in ranges], all_matching, flt if flt and flt.strip() else None)


def new_recording_path(body: dict) -> tuple[str, str]:
    new = check_name(str(body.get("name") or ""))
    if new.endswith(".json"):
        raise BadRequest("a new recording's name must not end with .json")
    dest = catalog().path(new, must_exist=False)
    if os.path.exists(dest):
        raise Conflict(f"a recording named {new} already exists")
    return new, dest


def slice_inputs(name: str) -> tuple[str, str, SliceRequest, str]:
    """(new name, its path, the selection, the source's path) of a slice request (400/404/409)."""
    body = json_body()
    new, dest = new_recording_path(body)
    return new, dest, slice_request(body), catalog().path(name)


@bp.post("/recording/<name>/slice")
@require_token
def slice_recording(name: str) -> Any:
    """Create a new recording from selected events: offsets, ranges and/or all matching a filter."""
    new, dest, req, src = slice_inputs(name)
    count = slice_to(src, dest, new, req, metadata={"sliced_from": name}, redactor=current_redactor())
    if count == 0:
        raise BadRequest("the selection holds no events")
    return jsonify({"status": "created", "name": new, "total_events": count}), 201


@bp.post("/recording/<name>/slice/jobs")
@require_token
def slice_job(name: str) -> Any:
    """The same slice in a thread, with progress (`done` of `total` events read) and cancel."""
    new, dest, req, src = slice_inputs(name)
    with catalog().open_path(src) as rec:
        total = rec.indexed_count(req.selection().query(rec.start_time_ns)) or len(rec)
    _check_job_room()
    redactor = current_redactor()

    def work(job: Job) -> dict:
        def progress(n: int) -> None:
            job.done = min(total, job.done + n)
        try:
            n = slice_to(src, dest, new, req, metadata={"sliced_from": name}, progress=progress,
                         cancelled=lambda: job.cancelled, redactor=redactor)
        except Cancelled:
            job.check()
            raise
        job.done = total
        if n == 0:
            raise ValueError("the selection holds no events")
        return {"name": new, "total_events": n}
    job = jobs().add(Job("slice", work, total=total, info={"recording": name, "name": new}))
    return jsonify(job.status()), 202


def _check_job_room() -> None:
    if jobs().running() >= jobs().running_limit:
        raise Conflict("too many operations running; wait for one or cancel it")


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


def events_of(body: Any) -> tuple[list, str | None]:
    """(events, recording name) of a record/event body: one event, {"events": [...]} or a list."""
    if isinstance(body, list):
        return body, None
    if "events" in body:
        events, name = body["events"], body.get("recording")
        if not isinstance(events, list):
            raise BadRequest("events must be a list")
    else:
        events, name = [body], body.get("recording")
    if name is not None and not isinstance(name, str):
        raise BadRequest("recording must be a string")
    return events, name


@bp.post("/record/event")
@require_token
def record_event() -> Any:
    events, name = events_of(json_body(allow_list=True))
    return jsonify(sessions().add(name, events))


@bp.post("/record/stop")
@require_token
def record_stop() -> Any:
    body = json_body()
    return jsonify(sessions().stop(body.get("recording")))


@bp.get("/record/status")
def record_status() -> Any:
    return jsonify({"active": sessions().active()})


@bp.post("/snapshot")
@require_token
def snapshot() -> Any:
    """Write the flight recorder's last KEEP and the next AFTER (evlog serve --snapshot)."""
    from .snapshots import trigger
    return jsonify(trigger(current_app.extensions.get("evlog_flight"), json_body())), 202


# replay --------------------------------------------------------------------------
def start_replay(name: str, body: dict, http: HttpTargets | None) -> Replay:
    """A replay of recording `name` from a request body (speed, filter, start_offset, paused)."""
    cat = catalog()
    path = cat.path(name)
    text = filter_text(body.get("filter"))
    parse_filter_kwargs(text)   # a syntax error is a 400 here, not a failed replay
    try:
        speed = check_speed(body.get("speed", 1.0))
    except ValueError as exc:
        raise BadRequest(str(exc)) from None
    start = body.get("start_offset", 0)
    if not isinstance(start, int) or isinstance(start, bool) or start < 0:
        raise BadRequest("start_offset must be a non-negative integer")
    if replays().active() >= replays().limit:
        raise Conflict("too many replays running; stop one first")
    with cat.open_path(path) as rec:
        total = len(rec)
    return replays().add(Replay(name, lambda: cat.open_path(path), total, speed=speed, start_offset=start,
                                paused=bool(body.get("paused")), http=http, filter_text=text))


@bp.post("/replay/start/<name>")
@require_token
def replay_start(name: str) -> Any:
    body = json_body()
    catalog().path(name)   # 404 first
    replay = start_replay(name, body, http_targets(body))
    return jsonify(replay.status()), 201


def http_targets(body: dict) -> HttpTargets | None:
    """`url` (one endpoint) or `player` (a registered name or "all")."""
    url, player = body.get("url"), body.get("player")
    if url is None and player is None:
        return None
    targets = []
    if url is not None:
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
    if not isinstance(retries, int) or isinstance(retries, bool) or not 1 <= retries <= 10:
        raise BadRequest("retries must be an integer from 1 to 10")
    return HttpTargets(targets, retries=retries)


def get_replay(replay_id: str) -> Replay:
    r = replays().get(replay_id)
    if r is None:
        raise NotFound("no such replay")
    return r


@bp.get("/replay/status")
def replay_status_all() -> Any:
    return jsonify({"replays": [r.status() for r in replays().all()]})


@bp.get("/replay/<replay_id>/status")
def replay_status(replay_id: str) -> Any:
    return jsonify(get_replay(replay_id).status())


@bp.get("/replay/<replay_id>/events")
def replay_events(replay_id: str) -> Any:
    r = get_replay(replay_id)
    after = int_arg("after", 0)
    return jsonify({"events": r.events_after(after or 0), "status": r.status()})


@bp.post("/replay/<replay_id>/<any(pause, resume, step, stop, speed, seek):action>")
@require_token
def replay_control(replay_id: str, action: str) -> Any:
    r = get_replay(replay_id)
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
    else:
        seek(r, body)
    return jsonify(r.status())


def seek(r: Replay, body: dict) -> None:
    """`{"offset": n}` or `{"position_ms": ms}`: the replay goes on from there."""
    off, ms = body.get("offset"), body.get("position_ms")
    if off is None and ms is not None:
        if not isinstance(ms, (int, float)) or isinstance(ms, bool) or ms < 0 or ms > 1e15:
            raise BadRequest("position_ms must be a non-negative number")
        with catalog().open(r.name) as rec:
            first = next(iter(rec.read(start_mono=int(ms * 1e6))), None)
            off = first.offset if first is not None else getattr(rec, "start_offset", 0) + len(rec)
            mono = first.monotonic if first is not None else int(ms * 1e6)
    elif isinstance(off, int) and not isinstance(off, bool) and off >= 0:
        with catalog().open(r.name) as rec:
            at = next(iter(rec.read(off, off + 1)), None)
            mono = at.monotonic if at is not None else None
    else:
        raise BadRequest("seek needs offset (a non-negative integer) or position_ms")
    r.seek(off, mono)


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
        raise NotFound(f"no player named {str(body.get('name'))[:100]!r}")
    return jsonify({"status": "unregistered", "name": body.get("name")})


@bp.get("/player/list")
def player_list() -> Any:
    return jsonify({"players": players().list()})


# diff ----------------------------------------------------------------------------
def _diff_names(args: Any) -> tuple[str, str, str, str, str | None]:
    """(name a, name b, path a, path b, filter text) from ?a=&b=&filter= or a JSON body."""
    a, b = args.get("a"), args.get("b")
    if not a or not b or not isinstance(a, str) or not isinstance(b, str):
        raise BadRequest("give two recordings: a=<name> and b=<name>")
    cat = catalog()
    text = filter_text(args.get("filter"))
    parse_filter_kwargs(text)
    return a, b, cat.path(a), cat.path(b), text


@bp.get("/diff")
def diff() -> Any:
    a, b, path_a, path_b, text = _diff_names(request.args)
    limit = int_arg("limit", 500, 1, 5000)
    from .diffing import run_diff
    return jsonify(run_diff(path_a, path_b, a, b, limit or 500, text, current_redactor()))


@bp.post("/diff/jobs")
@require_token
def diff_job() -> Any:
    """A streamed diff: the differences come as the engine finds them (poll the job)."""
    from .diffing import start_diff_job
    a, b, path_a, path_b, text = _diff_names(json_body())
    _check_job_room()
    job = jobs().add(start_diff_job(path_a, path_b, a, b, text, redactor=current_redactor()))
    return jsonify(job.status()), 202


def get_job(job_id: str, kind: str | None = None) -> Job:
    job = jobs().get(job_id, kind)
    if job is None:
        raise NotFound("no such job")
    return job


@bp.get("/jobs/<job_id>")
def job_status(job_id: str) -> Any:
    """A job's state and progress; a diff job also gives the differences found after `after`
    (at most 500) and the counts so far; a finished job its result."""
    job = get_job(job_id)
    out = job.status()
    if job.kind == "diff":
        state = job.data
        after = int_arg("after", 0) or 0
        out.update(summary=state.live_summary(), found=len(state.differences), truncated=state.truncated,
                   differences=state.after(after))
    else:
        out["result"] = job.result
    return jsonify(out)


@bp.get("/jobs/<job_id>/rows")
def job_rows(job_id: str) -> Any:
    """The aligned rows of a diff job from difference `first` (`count` of them, at most 200)."""
    job = get_job(job_id, "diff")
    first = int_arg("first", 0) or 0
    n = int_arg("count", 50, 1, 200) or 50
    return jsonify(job.data.rows(first, n))


@bp.delete("/jobs/<job_id>")
@require_token
def job_cancel(job_id: str) -> Any:
    job = get_job(job_id)
    job.cancel()
    job.join(5)
    return jsonify(job.status())


@bp.get("/diff/run")
def diff_run() -> Any:
    """More of a collapsed run of equal events: `count` pairs from `a_offset`/`b_offset`."""
    _, _, path_a, path_b, text = _diff_names(request.args)
    a_offset, b_offset = int_arg("a_offset", 0), int_arg("b_offset", 0)
    n = int_arg("count", 100, 1, 500)
    from .diffing import equal_run
    return jsonify(equal_run(path_a, path_b, a_offset or 0, b_offset or 0, n or 100, text, current_redactor()))


@bp.get("/openapi.json")
def openapi() -> Any:
    from .openapi import document
    return jsonify(document())
