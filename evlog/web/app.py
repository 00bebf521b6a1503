"""The Flask app factory of the dashboard."""
from __future__ import annotations

import os
import re
import secrets
from typing import Any

from flask import Flask, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from ..segments.errors import EvlogError, RecordingNotFoundError
from . import security
from .catalog import Catalog, relative_message
from .jobs import JobManager
from .redaction import mask_response
from .replays import ReplayManager
from .sessions import Players, RecordSessions, SessionError

MAX_BODY = 16 * 1024 * 1024


def create_app(directory: str, token: str | None = None, *, host: str = "127.0.0.1",
               port: int | None = None, require_token: bool | None = None,
               allowed_hosts: list[str] | None = None, public_read: bool = False,
               max_body: int = MAX_BODY, check_host: bool = True, redact: Any = None, snapshot: Any = None,
               snapshot_after: Any = "10s", snapshot_bytes: Any = "256MiB") -> Flask:
    """The dashboard over the recordings in `directory`.

    Writes need `token` when one is set; one is generated (`app.config["EVLOG_TOKEN"]`) when
    the app is reachable beyond loopback (`host`) and none is given, and then reads need it
    too unless `public_read`. `require_token=True` forces a token even on loopback. The Host
    header must name the app: loopback names, IP literals, or one of `allowed_hosts`.
    `redact` (an evlog.redact policy, Redactor or policy file): every event the app shows,
    exports, slices, diffs, replays or records goes through it (web/redaction.py).
    `snapshot` (a duration, "60s"): run a flight recorder on the record API's events, written
    by POST /api/snapshot (web/snapshots.py; `app.extensions["evlog_flight"]`).
    """
    from ..redact import as_redactor
    redactor = as_redactor(redact)
    app = Flask(__name__, static_folder="static", template_folder="templates")
    app.config["MAX_CONTENT_LENGTH"] = max_body
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.debug = False
    exposed = not security.is_loopback(host)
    needs = require_token if require_token is not None else exposed
    if needs and not token:
        token = secrets.token_urlsafe(24)
    app.config["EVLOG_TOKEN"] = token or None
    app.config["EVLOG_READ_TOKEN"] = bool(token) and exposed and not public_read
    app.config["EVLOG_HOST"] = host
    app.config["EVLOG_HOST_POLICY"] = security.HostPolicy(host, port, allowed_hosts) if check_host else None
    root = os.path.abspath(directory)
    cat = Catalog(root, redactor)
    app.extensions["evlog_redactor"] = redactor
    app.extensions["evlog_catalog"] = cat
    app.extensions["evlog_replays"] = ReplayManager()
    app.extensions["evlog_jobs"] = JobManager()
    app.extensions["evlog_sessions"] = RecordSessions(cat.root, redactor)
    if snapshot is not None:
        from .snapshots import make_flight
        flight = make_flight(cat.root, snapshot, snapshot_after, snapshot_bytes)
        app.extensions["evlog_flight"] = app.extensions["evlog_sessions"].flight = flight
    app.extensions["evlog_players"] = Players(cat.root)

    from .api import bp as v1_bp
    from .original import bp as original_bp
    from .original import owned_rules
    from .pages import bp as pages_bp
    app.register_blueprint(pages_bp)
    app.register_blueprint(original_bp)
    app.register_blueprint(v1_bp)
    _aliases(app, owned_rules(app))
    app.jinja_env.filters["duration"] = fmt_duration
    app.jinja_env.filters["filesize"] = fmt_bytes
    app.before_request(security.check_request)
    app.after_request(security.add_headers)
    app.after_request(mask_response)
    _errors(app, cat.root)
    return app


def _aliases(app: Flask, owned: set[tuple[str, str]]) -> None:
    """evlog's /api/v1 endpoints also answer without the /v1 prefix (the paths evlog served
    before), except where the original tool's endpoint of the same path and method lives."""
    for rule in list(app.url_map.iter_rules()):
        if not rule.endpoint.startswith("v1.") or rule.rule.endswith("/openapi.json"):
            continue
        path = rule.rule.replace("/api/v1/", "/api/", 1)
        methods = {m for m in rule.methods or () if m not in ("HEAD", "OPTIONS")}
        free = {m for m in methods if (re.sub(r"<[^>]+>", "<>", path), m) not in owned}
        if free:
            app.add_url_rule(path, endpoint="alias." + rule.endpoint[3:], view_func=app.view_functions[rule.endpoint],
                             methods=sorted(free))


def fmt_duration(ms: float) -> str:
    """A duration as the pages show it (the same text as common.js's fmtDuration)."""
    if not ms:
        return "0 s"
    if ms < 1000:
        return f"{ms:.0f} ms"
    s = ms / 1000
    if s < 60:
        return f"{s:.2f} s"
    m = int(s // 60)
    h = m // 60
    if h:
        return f"{h} h {m % 60} min"
    return f"{m} min {round(s % 60)} s"


def fmt_bytes(n: float) -> str:
    units = ["B", "KB", "MB", "GB", "TB"]
    i = 0
    while n >= 1024 and i < len(units) - 1:
        n /= 1024
        i += 1
    return f"{n:.1f} {units[i]}" if i else f"{int(n)} {units[i]}"


def _wants_json() -> bool:
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"


def _error(status: int, message: str, headers: dict | None = None) -> Any:
    if _wants_json():
        return jsonify({"error": message, "status": status}), status, headers or {}
    page = render_template("error.html", status=status, message=message, token_required=status == 401)
    return page, status, headers or {}


def _errors(app: Flask, root: str) -> None:
    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Any:
        message = exc.description or exc.name
        if exc.code == 413:
            message = f"request body too large (limit {app.config['MAX_CONTENT_LENGTH']} bytes)"
        keep = {k: v for k, v in exc.get_headers() if k.lower() != "content-type"}   # e.g. Allow on a 405
        return _error(exc.code or 500, message, keep)

    @app.errorhandler(EvlogError)
    def evlog_error(exc: EvlogError) -> Any:
        status = 404 if isinstance(exc, RecordingNotFoundError) else 400
        text = (str(exc).splitlines() or [type(exc).__name__])[0]
        return _error(status, relative_message(text, root))

    @app.errorhandler(SessionError)
    def session_error(exc: SessionError) -> Any:
        return _error(400, str(exc))

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> Any:
        app.logger.exception("unexpected error")
        return _error(500, f"internal error: {type(exc).__name__}")
