"""The Flask app factory of the dashboard."""
from __future__ import annotations

import os
import secrets
from typing import Any

from flask import Flask, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from ..segments.errors import EvlogError, RecordingNotFoundError
from . import security
from .catalog import Catalog
from .replays import ReplayManager
from .sessions import Players, RecordSessions

MAX_BODY = 16 * 1024 * 1024


def create_app(directory: str, token: str | None = None, *, host: str = "127.0.0.1",
               port: int | None = None, require_token: bool | None = None,
               allowed_hosts: list[str] | None = None, max_body: int = MAX_BODY,
               check_host: bool = True) -> Flask:
    """The dashboard over the recordings in `directory`.

    Writing endpoints need `token` when one is set; it is generated when the app is reachable
    beyond loopback (`host`) and none is given (`app.config["EVLOG_TOKEN"]`). `require_token=True`
    forces a token even on loopback. The Host header must name `host` (or loopback names).
    """
    app = Flask(__name__, static_folder="static", template_folder="templates")
    app.config["MAX_CONTENT_LENGTH"] = max_body
    app.config["JSON_SORT_KEYS"] = False
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.debug = False
    needs = require_token if require_token is not None else not security.is_loopback(host)
    if needs and not token:
        token = secrets.token_urlsafe(24)
    app.config["EVLOG_TOKEN"] = token or None
    app.config["EVLOG_HOST"] = host
    app.config["EVLOG_ALLOWED_HOSTS"] = security.allowed_hosts(host, port, allowed_hosts) if check_host else None
    root = os.path.abspath(directory)
    app.extensions["evlog_catalog"] = Catalog(root)
    app.extensions["evlog_replays"] = ReplayManager()
    app.extensions["evlog_sessions"] = RecordSessions(app.extensions["evlog_catalog"].root)
    app.extensions["evlog_players"] = Players(app.extensions["evlog_catalog"].root)

    from .api import bp as api_bp
    from .pages import bp as pages_bp
    app.register_blueprint(pages_bp)
    app.register_blueprint(api_bp)
    app.before_request(security.check_host)
    app.after_request(security.add_headers)
    _errors(app)
    return app


def _wants_json() -> bool:
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"


def _error(status: int, message: str) -> Any:
    if _wants_json():
        return jsonify({"error": message, "status": status}), status
    return render_template("error.html", status=status, message=message), status


def _errors(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Any:
        message = exc.description or exc.name
        if exc.code == 413:
            message = f"request body too large (limit {app.config['MAX_CONTENT_LENGTH']} bytes)"
        return _error(exc.code or 500, message)

    @app.errorhandler(EvlogError)
    def evlog_error(exc: EvlogError) -> Any:
        status = 404 if isinstance(exc, RecordingNotFoundError) else 400
        return _error(status, str(exc).splitlines()[0] if str(exc) else type(exc).__name__)

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> Any:
        app.logger.exception("unexpected error")
        return _error(500, f"internal error: {type(exc).__name__}")
