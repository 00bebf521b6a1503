"""Remote recording sessions (POST /api/record/...) and the webhook players file."""
from __future__ import annotations

import datetime as _dt
import json
import os
import threading
import time
from typing import Any
from urllib.parse import urlsplit

from ..ops.common import OpError
from ..ops.jsonl import Stamper, parse_event
from ..segments import EncodedRows, Log
from ..segments.errors import EvlogError
from .catalog import PLAYERS_FILE, save_json
from .security import NAME_RE

MAX_BATCH = 10_000


class SessionError(ValueError):
    """A user mistake in a record request (400)."""


class RecordSessions:
    """Recordings being written through the API; one writer per recording, appends serialized."""

    def __init__(self, root: str) -> None:
        self.root = root
        self._lock = threading.Lock()
        self._logs: dict[str, Log] = {}
        self._counts: dict[str, int] = {}
        self._stampers: dict[str, Stamper] = {}
        self._sessions: dict[str, str] = {}   # recording name -> session name

    def start(self, session_name: str | None, metadata: dict | None = None) -> dict:
        """Open a new recording `<session_name>_<YYYYmmdd_HHMMSS>` (the original's file name
        without `.json`); no session name gives `session_<YYYYmmdd_HHMMSS>` as the original did."""
        stamp = f"{_dt.datetime.now():%Y%m%d_%H%M%S}"
        if session_name is None or session_name == "":
            session_name = f"session_{stamp}"
        if not isinstance(session_name, str) or not NAME_RE.match(session_name) or ".." in session_name:
            raise SessionError("session_name: use letters, digits, '_', '-' and '.' only")
        name = f"{session_name}_{stamp}"
        with self._lock:
            n, base = 1, name
            while os.path.exists(os.path.join(self.root, name)) or name in self._logs:
                n += 1
                name = f"{base}_{n}"
            log = Log.create(os.path.join(self.root, name), session_name, metadata=metadata or {},
                             fsync="interval")
            self._logs[name] = log
            self._counts[name] = 0
            self._stampers[name] = Stamper(log.manifest.start_time_ns)
            self._sessions[name] = session_name
        return {"status": "recording", "recording": name, "session_name": session_name,
                "start_time": log.manifest.start_time.isoformat()}

    def _pick(self, name: str | None) -> tuple[str, Log]:
        if name is not None and not isinstance(name, str):
            raise SessionError("recording must be a string")
        if name is None:
            if len(self._logs) != 1:
                raise SessionError("no active recording session" if not self._logs else
                                   "several sessions are active: name one with 'recording'")
            name = next(iter(self._logs))
        log = self._logs.get(name)
        if log is None:
            raise SessionError(f"no active recording session named {name!r}")
        return name, log

    def add(self, name: str | None, events: list[Any]) -> dict:
        """Append events in the form of `evlog import` (`event_name`, `event_data`, `source`,
        optional times: `timestamp_offset_ms` as in the original, `timestamp`, `timestamp_ns`,
        `monotonic_ns`) and optional `headers` (str -> str, stored beside the data: format v2);
        an event without a time is stamped when it arrives."""
        if len(events) > MAX_BATCH:
            raise SessionError(f"at most {MAX_BATCH} events per request")
        parsed = []
        for i, ev in enumerate(events):
            try:   # the same event form and checks (headers included) as `evlog record` / `evlog import`
                parsed.append(parse_event(ev, f"event {i}"))
            except (OpError, EvlogError) as exc:
                raise SessionError(f"event {i}: {exc}" if not str(exc).startswith("event ") else str(exc)) from None
        with self._lock:
            name, log = self._pick(name)
            stamper, now = self._stampers[name], time.time_ns()
            ts_col, mono_col = [], []
            for p in parsed:
                timed = p.timestamp is not None or p.monotonic is not None or p.offset_ms is not None
                ts, mono = stamper.stamp(p, now) if timed else (None, log.monotonic_now())
                ts_col.append(ts)
                mono_col.append(mono)
            headers = [p.headers for p in parsed]
            rows = EncodedRows([p.name for p in parsed], [p.source for p in parsed], [p.flags for p in parsed],
                               [p.data for p in parsed], [p.types for p in parsed],
                               headers if any(headers) else None, ts_col, mono_col)
            offsets = log.append_rows(rows)
            log.flush(sync=False)   # readers (the live view) see them now
            self._counts[name] += len(parsed)
        return {"status": "ok", "recording": name, "recorded": len(parsed),
                "offsets": [offsets.start, offsets.stop], "total_events": self._counts[name]}

    def stop(self, name: str | None) -> dict:
        with self._lock:
            name, log = self._pick(name)
            del self._logs[name]
            count = self._counts.pop(name)
            self._stampers.pop(name)
            session_name = self._sessions.pop(name)
            log.close()
        return {"status": "stopped", "recording": name, "session_name": session_name, "total_events": count}

    def active(self) -> list[str]:
        with self._lock:
            return list(self._logs)

    def latest(self) -> dict | None:
        """The most recently started open session: {recording, session_name, event_count}."""
        with self._lock:
            if not self._logs:
                return None
            name = next(reversed(self._logs))
            return {"recording": name, "session_name": self._sessions[name], "event_count": self._counts[name]}

    def close_all(self) -> None:
        with self._lock:
            for log in self._logs.values():
                log.close()
            self._logs.clear()
            self._counts.clear()
            self._stampers.clear()
            self._sessions.clear()


class Players:
    """Webhook players: {name, url, registered_at}, kept in a small JSON file in the recordings
    folder. A name is registered once (registering it again replaces its URL), as in the
    original tool, whose players are `consumer_name` -> `player_endpoint`."""

    def __init__(self, root: str) -> None:
        self.path = os.path.join(root, PLAYERS_FILE)
        self._lock = threading.Lock()

    def _load(self) -> list[dict]:
        try:
            with open(self.path, encoding="utf-8") as f:
                data = json.load(f)
            return [p for p in data.get("players", []) if isinstance(p, dict) and "name" in p and "url" in p]
        except FileNotFoundError:
            return []
        except (ValueError, AttributeError):
            return []

    def _save(self, players: list[dict]) -> None:
        save_json(self.path, {"players": players})

    def list(self) -> list[dict]:
        with self._lock:
            return self._load()

    def register(self, name: Any, url: Any) -> dict:
        if not isinstance(name, str) or not name.strip() or len(name) > 200 or not name.isprintable():
            raise SessionError("player name: a non-empty printable string of at most 200 characters")
        check_url(url)
        with self._lock:
            players = [p for p in self._load() if p["name"] != name]
            player = {"name": name, "url": url, "registered_at": time.time()}
            players.append(player)
            self._save(players)
        return player

    def unregister(self, name: Any = None, *, url: Any = None) -> list[dict]:
        """Remove the player named `name`, or every player posting to `url`; returns the removed."""
        with self._lock:
            players = self._load()
            gone = [p for p in players if (p["name"] == name if url is None else p["url"] == url)]
            if gone:
                self._save([p for p in players if p not in gone])
        return gone


def check_url(url: Any) -> str:
    if not isinstance(url, str) or len(url) > 2000:
        raise SessionError("url must be a string")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise SessionError("url must be an http:// or https:// URL")
    return url
