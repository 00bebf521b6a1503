"""Replays started from the dashboard: a drift-free scheduler in a thread, controlled from requests
(pause, resume, step, seek, speed, stop), feeding the browser (a buffer it polls) and optionally
HTTP endpoints (webhook players) with retries and a report of failures."""
from __future__ import annotations

import itertools
import json
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

from ..segments import Record
from .catalog import event_json

MIN_SPEED, MAX_SPEED = 0.1, 100.0
BUFFER = 2000
MAX_FAILURES = 100


def check_speed(value: Any) -> float:
    try:
        speed = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"speed must be a number, not {value!r}") from None
    if not MIN_SPEED <= speed <= MAX_SPEED:
        raise ValueError(f"speed must be between {MIN_SPEED} and {MAX_SPEED}")
    return speed


class HttpTargets:
    """POST each event as JSON to some URLs; retries, then reports the failure and goes on."""

    def __init__(self, targets: list[dict], retries: int = 3, timeout: float = 5.0,
                 backoff: float = 0.2) -> None:
        self.targets = targets          # [{"name": ..., "url": ...}]
        self.retries = retries
        self.timeout = timeout
        self.backoff = backoff
        self.sent = 0
        self.failed = 0
        self.failures: list[dict] = []

    def send(self, event: dict) -> None:
        body = json.dumps(event).encode()
        for t in self.targets:
            error = None
            for attempt in range(self.retries):
                try:
                    req = urllib.request.Request(t["url"], body, {"Content-Type": "application/json"})
                    with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                        resp.read(1024)
                    error = None
                    break
                except (urllib.error.URLError, OSError, ValueError) as exc:
                    error = str(getattr(exc, "reason", exc))
                    time.sleep(self.backoff * (2 ** attempt))
            if error is None:
                self.sent += 1
            else:
                self.failed += 1
                if len(self.failures) < MAX_FAILURES:
                    self.failures.append({"offset": event["offset"], "player": t.get("name"),
                                          "url": t["url"], "error": error})


class Replay:
    """One replay: events of a recording delivered at `start + (mono - mono0) / speed`."""

    _ids = itertools.count(1)

    def __init__(self, name: str, open_reader: Callable[[int], Iterator[Record]], total: int, *,
                 speed: float = 1.0, start_offset: int = 0, paused: bool = False,
                 http: HttpTargets | None = None, filter_text: str | None = None) -> None:
        self.id = str(next(self._ids))
        self.name = name
        self._open = open_reader
        self.total = total
        self.speed = check_speed(speed)
        self.filter = filter_text
        self.http = http
        self._cond = threading.Condition()
        self.state = "paused" if paused else "playing"
        self._paused = paused
        self._stop = False
        self._seek: int | None = start_offset
        self._step = 0
        self._anchor: tuple[float, int] | None = None   # (wall seconds, monotonic ns)
        self.position: int | None = None   # offset of the last delivered event
        self.position_mono: int = 0
        self.delivered = 0
        self.buffer: deque[tuple[int, dict]] = deque(maxlen=BUFFER)
        self._seq = 0
        self.error: str | None = None
        self.started_at = time.time()
        self._thread = threading.Thread(target=self._run, name=f"evlog-replay-{self.id}", daemon=True)
        self._thread.start()

    # control (from request threads) -------------------------------------------------
    def pause(self) -> None:
        with self._cond:
            if self.state in ("playing",):
                self._paused, self.state = True, "paused"
                self._anchor = None
            self._cond.notify_all()

    def resume(self) -> None:
        with self._cond:
            if self.state == "paused":
                self._paused, self.state = False, "playing"
                self._anchor = None
            self._cond.notify_all()

    def step(self) -> None:
        with self._cond:
            if self.state in ("paused", "playing"):
                self._paused, self.state = True, "paused"
                self._step += 1
                self._anchor = None
            self._cond.notify_all()

    def seek(self, offset: int) -> None:
        with self._cond:
            self._seek = max(0, int(offset))
            self._anchor = None
            if self.state == "finished":
                self.state = "paused" if self._paused else "playing"
                self._restart()
            self._cond.notify_all()

    def set_speed(self, speed: float) -> None:
        speed = check_speed(speed)
        with self._cond:
            if self._anchor is not None:   # keep the replay's current point in time
                now = time.monotonic()
                wall, mono = self._anchor
                self._anchor = (now, mono + int((now - wall) * 1e9 * self.speed))
            self.speed = speed
            self._cond.notify_all()

    def stop(self) -> None:
        with self._cond:
            self._stop = True
            if self.state not in ("finished", "failed"):
                self.state = "stopped"
            self._cond.notify_all()

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    def _restart(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"evlog-replay-{self.id}", daemon=True)
        self._thread.start()

    # reporting ---------------------------------------------------------------------
    def status(self) -> dict:
        with self._cond:
            d = {"replay_id": self.id, "recording": self.name, "state": self.state, "speed": self.speed,
                 "position": self.position, "position_ms": self.position_mono / 1e6,
                 "delivered": self.delivered, "total": self.total, "filter": self.filter,
                 "last_seq": self._seq, "error": self.error}
        if self.http is not None:
            d["http"] = {"targets": self.http.targets, "sent": self.http.sent, "failed": self.http.failed,
                         "failures": list(self.http.failures)}
        return d

    def events_after(self, seq: int, limit: int = 500) -> list[dict]:
        with self._cond:
            out = [dict(ev, seq=s) for s, ev in self.buffer if s > seq]
        return out[:limit]

    # the scheduler ------------------------------------------------------------------
    def _run(self) -> None:
        try:
            self._loop()
        except Exception as exc:  # noqa: BLE001 - reported in status, never a traceback to the user
            with self._cond:
                self.state, self.error = "failed", str(exc).splitlines()[0] if str(exc) else type(exc).__name__

    def _loop(self) -> None:
        records: Iterator[Record] | None = None
        while True:
            with self._cond:
                if self._stop:
                    return
                if self._seek is not None:
                    records = self._open(self._seek)
                    self._seek = None
                    self._anchor = None
            assert records is not None
            rec = next(records, None)
            if rec is None:
                with self._cond:
                    if self._seek is None:
                        self.state = "finished"
                        return
                continue
            if not self._wait_until_due(rec):
                continue   # stopped or sought: the loop decides
            ev = event_json(rec)
            if self.http is not None:
                self.http.send(ev)
            with self._cond:
                self._seq += 1
                self.buffer.append((self._seq, ev))
                self.position, self.position_mono = rec.offset, rec.monotonic
                self.delivered += 1

    def _wait_until_due(self, rec: Record) -> bool:
        """Sleep until `rec` is due (honouring pause, step, speed). False if a seek/stop came first."""
        with self._cond:
            while True:
                if self._stop or self._seek is not None:
                    return False
                if self._paused:
                    if self._step > 0:
                        self._step -= 1
                        return True
                    self._cond.wait()
                    continue
                now = time.monotonic()
                if self._anchor is None:
                    self._anchor = (now, rec.monotonic)
                wall, mono = self._anchor
                due = wall + (rec.monotonic - mono) / 1e9 / self.speed
                if due <= now:
                    return True
                self._cond.wait(min(due - now, 0.5))


class ReplayManager:
    """The replays of one app (bounded)."""

    def __init__(self, limit: int = 16) -> None:
        self._lock = threading.Lock()
        self._replays: dict[str, Replay] = {}
        self.limit = limit

    def add(self, replay: Replay) -> Replay:
        with self._lock:
            done = [k for k, r in self._replays.items() if r.state in ("finished", "stopped", "failed")]
            while len(self._replays) >= self.limit and done:
                del self._replays[done.pop(0)]
            self._replays[replay.id] = replay
        return replay

    def get(self, replay_id: str) -> Replay | None:
        with self._lock:
            return self._replays.get(replay_id)

    def latest(self) -> Replay | None:
        with self._lock:
            return next(reversed(self._replays.values()), None) if self._replays else None

    def all(self) -> list[Replay]:
        with self._lock:
            return list(self._replays.values())

    def active(self) -> int:
        with self._lock:
            return sum(r.state in ("playing", "paused") for r in self._replays.values())

    def stop_all(self) -> None:
        for r in self.all():
            r.stop()
