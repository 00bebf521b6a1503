"""Health of a long-running capture: counters, a periodic status line, an HTTP endpoint.

While the capture cannot make progress (no server reachable, no JetStream leader for the
stream or its consumer) `waiting_for` says what it waits for, the status line ends with
`WAITING: ...` and `/healthz` answers 503.

`CaptureStats` is updated by the capture (one thread: the event loop); `StatusLine` turns two
snapshots into `events recorded, rate, lag, bytes, last error`; `StatusServer` serves the latest
snapshot as JSON on `GET /status` (and `GET /healthz`) from a daemon thread.
"""
from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TextIO

from .natsformat import NatsSetupError


@dataclass
class CaptureStats:
    mode: str = "core"                  # core | jetstream
    subject: str = ""
    received: int = 0                   # messages delivered by the client
    recorded: int = 0                   # events appended to the recording
    duplicates: int = 0                 # JetStream redeliveries already recorded (skipped)
    dropped: int = 0                    # core NATS: messages the client dropped (slow consumer)
    acked: int = 0                      # JetStream messages acknowledged (after fsync)
    restarts: int = 0                   # JetStream: consumer started again after the last recorded sequence
    binary: int = 0                     # payloads that were not JSON (kept as bytes)
    last_seq: int | None = None         # JetStream: last recorded stream sequence
    pending: int | None = None          # JetStream: messages in the stream not yet delivered
    last_event_ns: int | None = None    # broker timestamp of the last event
    lag_seconds: float | None = None    # now - broker timestamp of the last event
    durable_offset: int = 0
    end_offset: int = 0
    bytes: int = 0                      # recording size on disk
    errors: int = 0
    last_error: str | None = None
    last_error_at: float | None = None
    connected: bool = False
    reconnects: int = 0
    waiting_for: str | None = None      # what the capture waits for ("JetStream leader of stream S", ...)
    waiting_since: float | None = None  # since when (Unix time)
    resumes: int = 0                    # JetStream: pull sessions resumed (after a reconnect, a leader change)
    started_at: float = field(default_factory=time.time)
    updated_at: float = field(default_factory=time.time)

    def error(self, text: str) -> None:
        self.errors += 1
        self.last_error = text[:300]
        self.last_error_at = time.time()

    def snapshot(self) -> dict[str, Any]:
        return asdict(self)


def directory_bytes(path: str) -> int:
    total = 0
    try:
        with os.scandir(path) as it:
            for entry in it:
                try:
                    total += entry.stat(follow_symlinks=False).st_size
                except OSError:
                    pass
    except OSError:
        pass
    return total


def human_bytes(n: int) -> str:
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"  # pragma: no cover


class StatusLine:
    """Formats one line from successive snapshots (the rate is over the last interval)."""

    def __init__(self) -> None:
        self._prev: tuple[float, int] | None = None

    def format(self, snap: dict[str, Any]) -> str:
        now = snap["updated_at"]
        rate = 0.0
        if self._prev is not None and now > self._prev[0]:
            rate = (snap["recorded"] - self._prev[1]) / (now - self._prev[0])
        self._prev = (now, snap["recorded"])
        parts = [f"recorded {snap['recorded']}", f"{rate:,.0f}/s"]
        if snap["lag_seconds"] is not None:
            parts.append(f"lag {snap['lag_seconds']:.2f}s")
        if snap["pending"] is not None:
            parts.append(f"pending {snap['pending']}")
        parts.append(human_bytes(snap["bytes"]))
        if snap["mode"] == "jetstream":
            parts.append(f"acked {snap['acked']}")
            parts.append(f"dup {snap['duplicates']}")
            if snap["restarts"]:
                parts.append(f"consumer restarts {snap['restarts']}")
        else:
            parts.append(f"dropped {snap['dropped']}")
        if snap.get("waiting_for"):
            since = snap.get("waiting_since")
            waited = f" ({max(0.0, now - since):.0f}s)" if since else ""
            parts.append(f"WAITING: {snap['waiting_for']}{waited}")
        elif not snap["connected"]:
            parts.append("DISCONNECTED")
        if snap["last_error"]:
            parts.append(f"last error: {snap['last_error']}")
        return "evlog record: " + ", ".join(parts)


class StatusServer:
    """`GET /status` -> the latest snapshot as JSON; `GET /healthz` -> 200 ok / 503."""

    def __init__(self, get_snapshot: Callable[[], dict[str, Any]], host: str = "127.0.0.1", port: int = 0) -> None:
        self._get = get_snapshot
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                if path in ("/", "/status"):
                    self._send(200, outer._get())
                elif path == "/healthz":
                    snap = outer._get()
                    ok = bool(snap.get("connected", False)) and not snap.get("waiting_for")
                    self._send(200 if ok else 503, {"ok": ok, "waiting_for": snap.get("waiting_for"),
                                                    "last_error": snap.get("last_error")})
                else:
                    self._send(404, {"error": "not found"})

            def _send(self, code: int, body: dict) -> None:
                raw = json.dumps(body, default=str).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, *args: Any) -> None:
                pass

        try:
            self._server = ThreadingHTTPServer((host, port), Handler)
        except OSError as exc:
            raise NatsSetupError(f"cannot serve the status endpoint on {host}:{port}: {exc.strerror or exc}") from None
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name="evlog-status", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def print_line(stream: TextIO, line: str) -> None:
    try:
        stream.write(line + "\n")
        stream.flush()
    except (OSError, ValueError):
        pass
