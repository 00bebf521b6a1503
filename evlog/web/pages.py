"""HTML pages: the recordings list (rendered on the server, enhanced by list.js), a recording's
playback view and the diff (drawn by their scripts from the API)."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, render_template, request

from .api import catalog, listing

bp = Blueprint("pages", __name__)


def _ctx() -> dict:
    return {"token_required": bool(current_app.config.get("EVLOG_TOKEN"))}


@bp.get("/")
def index() -> Any:
    data = listing()
    data["recordings"].sort(key=lambda r: r["start_time_ns"] or 0, reverse=True)
    return render_template("index.html", **data, **_ctx())


@bp.get("/recording/<name>")
def recording(name: str) -> Any:
    catalog().path(name)   # 400/404 before rendering
    return render_template("recording.html", name=name, **_ctx())


@bp.get("/diff")
def diff() -> Any:
    return render_template("diff.html", a=request.args.get("a", ""), b=request.args.get("b", ""), **_ctx())
