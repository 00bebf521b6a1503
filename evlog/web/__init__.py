"""The evlog dashboard: a Flask app over a recordings folder (`evlog serve`)."""
from __future__ import annotations

import os
import sys
from typing import Any

from .app import create_app
from .security import is_loopback

__all__ = ["create_app", "serve"]


def serve(directory: str = "recordings", host: str = "127.0.0.1", port: int = 5556,
          token: str | None = None, require_token: bool | None = None, *,
          allowed_hosts: list[str] | None = None, public_read: bool = False, redact: object = None,
          snapshot: Any = None,
          snapshot_after: Any = "10s", snapshot_bytes: Any = "256MiB") -> None:
    """Run the dashboard (threaded werkzeug server, never in debug mode); `snapshot`: see
    `create_app` (the flight recorder's windows being collected are written when it stops)."""
    token = token or os.environ.get("EVLOG_TOKEN") or None
    app = create_app(directory, token=token, host=host, port=port, require_token=require_token,
                     allowed_hosts=allowed_hosts, public_read=public_read, redact=redact, snapshot=snapshot,
                     snapshot_after=snapshot_after, snapshot_bytes=snapshot_bytes)
    tok = app.config["EVLOG_TOKEN"]
    url_host = f"[{host}]" if ":" in host else host
    url = f"http://{url_host}:{port}/"
    print(f"evlog dashboard on {url} (recordings: {os.path.abspath(directory)})", file=sys.stderr)
    if app.extensions.get("evlog_redactor") is not None:
        print(f"events redacted by {app.extensions['evlog_redactor']!r}", file=sys.stderr)
    if tok and tok != token:
        print(f"token (send as X-Evlog-Token): {tok}", file=sys.stderr)
    elif not tok:
        print("writes allowed without a token (loopback only)", file=sys.stderr)
    if not is_loopback(host):
        reads = "reads are public (--public-read)" if public_read else "reads need it too"
        print(f"warning: reachable beyond this machine; writes need the token, {reads}", file=sys.stderr)
        if tok and not public_read:
            print(f"open {url}?token={tok} (the link sets a cookie for reading)", file=sys.stderr)
    flight = app.extensions.get("evlog_flight")
    if flight is not None:
        print(f"flight recorder: the last {flight.keep_ns / 1e9:g}s of the record API's events in memory; "
              f"POST /api/snapshot writes them and the next {flight.after_ns / 1e9:g}s", file=sys.stderr)
    from werkzeug.serving import run_simple
    try:
        run_simple(host, port, app, threaded=True, use_reloader=False, use_debugger=False)
    finally:
        if flight is not None:
            flight.close()
