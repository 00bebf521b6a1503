"""Replays started from the dashboard, driven by the Python replayer's scheduler and control
(`evlog.replay.play`, `ReplayControl`): the same drift-free timing, pause, step, seek and
speed. Each delivered record goes to a buffer the browser polls and, optionally, to HTTP endpoints
(webhook players) through the shared `evlog.replay.HttpSink`: retries and a report of failures."""
from __future__ import annotations

import json
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from ..replay import HttpSink, ReplayControl, ReplayError, ReplayOptions, Selection, parse_speed, play
from .catalog import event_json

MIN_SPEED, MAX_SPEED = 0.1, 100.0
BUFFER = 2000
MAX_FAILURES = 100
RATE_WINDOW_NS = 2_000_000_000   # the achieved rate is measured over the last 2 s of deliveries
BEHIND = 0.8                     # behind schedule: achieved below 80% of the asked speed


def check_speed(value: Any) -> float:
    """A speed from a request: a number from MIN_SPEED to MAX_SPEED (ValueError otherwise)."""
    try:
        speed = parse_speed(value)
    except ReplayError:
        raise ValueError(f"speed must be a number, not {value!r}") from None
    if not MIN_SPEED <= speed <= MAX_SPEED:
        raise ValueError(f"speed must be between {MIN_SPEED} and {MAX_SPEED}")
    return speed


class HttpTargets:
    """POST each event as JSON to some URLs (one shared `HttpSink` each): retries, then reports
    the failure and goes on. `retries` is the number of attempts per event."""

    def __init__(self, targets: list[dict], retries: int = 3, timeout: float = 5.0,
                 backoff: float = 0.2) -> None:
        self.targets = targets          # [{"name": ..., "url": ...}]
        self.sinks = [HttpSink(t["url"], retries=max(0, retries - 1), timeout=timeout, backoff=backoff,
                               max_failures=MAX_FAILURES) for t in targets]

    def send(self, body: bytes, offset: int) -> None:
        for sink in self.sinks:
            sink.send_bytes(body, offset)

    def report(self) -> dict:
        failures = sorted(({"offset": f["offset"], "player": t.get("name"), "url": t["url"], "error": f["error"]}
                           for t, sink in zip(self.targets, self.sinks) for f in sink.failures),
                          key=lambda f: f["offset"])
        return {"targets": self.targets, "sent": sum(s.sent for s in self.sinks),
                "failed": sum(s.failed for s in self.sinks), "failures": failures[:MAX_FAILURES]}


class BrowserSink:
    """The replay's record-level sink: numbers each event (as the API shows it) and keeps the
    last BUFFER for the page to poll; posts it to the HTTP targets if any."""

    def __init__(self, lock: threading.Lock, http: HttpTargets | None = None) -> None:
        self._lock = lock
        self.http = http
        self.buffer: deque[tuple[int, dict]] = deque(maxlen=BUFFER)
        self.seq = 0
        self.delivered = 0
        self.position: int | None = None   # offset of the last delivered event (or the seek target)
        self.position_mono = 0
        self.samples: deque[tuple[int, int]] = deque(maxlen=4096)   # (wall ns, recording ns) per delivery

    def send(self, record: Any) -> None:
        event = event_json(record)
        if self.http is not None:
            self.http.send(json.dumps(event).encode(), record.offset)
        now = time.monotonic_ns()
        with self._lock:
            self.seq += 1
            self.buffer.append((self.seq, event))
            self.position, self.position_mono = record.offset, record.monotonic
            self.delivered += 1
            samples = self.samples
            samples.append((now, record.monotonic))
            while len(samples) > 2 and now - samples[0][0] > RATE_WINDOW_NS:
                samples.popleft()

    def achieved_speed(self) -> float | None:
        """Recording time advanced per wall-clock time over the last deliveries (None until
        they span 0.2 s). Call with the lock held."""
        if len(self.samples) < 2:
            return None
        (w0, m0), (w1, m1) = self.samples[0], self.samples[-1]
        if w1 - w0 < 200_000_000:
            return None
        return (m1 - m0) / (w1 - w0)

    def after(self, seq: int, limit: int) -> list[dict]:
        with self._lock:
            out = [dict(ev, seq=s) for s, ev in self.buffer if s > seq]
        return out[:limit]


def _control(paused: bool) -> ReplayControl:
    control = ReplayControl()
    if paused:
        control.pause()
    return control


class Replay:
    """One replay of a recording, run by `evlog.replay.play` in a thread and steered
    through a `ReplayControl` from request threads."""

    def __init__(self, name: str, open_recording: Callable[[], Any], total: int, *,
                 speed: float = 1.0, start_offset: int = 0, paused: bool = False,
                 http: HttpTargets | None = None, filter_text: str | None = None,
                 clock: Any = None) -> None:
        self.id = secrets.token_urlsafe(12)   # unguessable: the id is what steers the replay
        self.name = name
        self._open = open_recording
        self.total = total
        self.speed = check_speed(speed)
        self.filter = filter_text
        self.selection = Selection.of(filter_text) if filter_text else Selection()
        self.http = http
        self.clock = clock
        self._lock = threading.Lock()
        self.sink = BrowserSink(self._lock, http)
        self._stopped = False
        self._done: str | None = None      # finished / stopped / failed, once the thread ended
        self.error: str | None = None
        self.started_at = time.time()
        self.epoch = 0        # +1 on each seek: a page ignores statuses of an older epoch
        self.control = _control(paused)
        self._start(start_offset)

    def _start(self, offset: int) -> None:
        self._done = None
        self._thread = threading.Thread(target=self._run, args=(self.control, offset),
                                        name=f"evlog-replay-{self.id}", daemon=True)
        self._thread.start()

    def _run(self, control: ReplayControl, offset: int) -> None:
        try:
            with self._open() as rec:
                options = ReplayOptions(speed=self.speed, selection=self.selection & Selection(start=offset),
                                        anchor="start", markers=False, clock=self.clock)
                result = play(rec, self.sink, options, control=control)
            done = "stopped" if result.stopped else "finished"
        except Exception as exc:  # noqa: BLE001 - reported in status, never a traceback to the user
            done, self.error = "failed", str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        with self._lock:
            if control is self.control:
                self._done = done

    # control (from request threads) -------------------------------------------------
    @property
    def state(self) -> str:
        if self._stopped:
            return "stopped" if self._done in (None, "stopped") else self._done
        if self._done is not None:
            return self._done
        return "paused" if self.control.paused else "playing"

    def _live(self) -> bool:
        return self.state in ("playing", "paused")

    def _restart_rate(self) -> None:
        with self._lock:
            self.sink.samples.clear()

    def pause(self) -> None:
        if self._live():
            self.control.pause()
            self._restart_rate()

    def resume(self) -> None:
        if self._live():
            self._restart_rate()
            self.control.resume()

    def toggle(self) -> None:
        """Pause if playing, resume if paused (the original tool's /api/replay/pause)."""
        if self.state == "paused":
            self.resume()
        else:
            self.pause()

    def step(self) -> None:
        if self._live():
            self.control.step()

    def set_speed(self, speed: Any) -> None:
        self.speed = check_speed(speed)
        self._restart_rate()
        self.control.set_speed(self.speed)

    def seek(self, offset: int, position_ns: int | None = None) -> None:
        """Go on from `offset`; a finished replay restarts there (keeping its paused state).

        The position reported is the seek target at once (`position_ns`: its recording time),
        so a paused replay does not show its old position until the next event is delivered."""
        offset = max(0, int(offset))
        with self._lock:
            self.epoch += 1
            self.sink.position = offset
            if position_ns is not None:
                self.sink.position_mono = position_ns
            self.sink.samples.clear()
            restart = self._done == "finished" and not self._stopped
            if restart:
                self.control = _control(self.control.paused)
                self._start(offset)
        if not restart:
            self.control.seek(offset=offset)

    def stop(self) -> None:
        self._stopped = True
        self.control.stop()

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    # reporting ---------------------------------------------------------------------
    def status(self) -> dict:
        sink = self.sink
        with self._lock:
            achieved = sink.achieved_speed()
            d = {"replay_id": self.id, "recording": self.name, "speed": self.speed,
                 "position": sink.position, "position_ms": sink.position_mono / 1e6,
                 "delivered": sink.delivered, "total": self.total, "filter": self.filter,
                 "last_seq": sink.seq, "error": self.error, "epoch": self.epoch,
                 "achieved_speed": round(achieved, 3) if achieved is not None else None}
        d["state"] = self.state
        d["behind"] = bool(d["state"] == "playing" and achieved is not None and achieved < BEHIND * self.speed)
        if self.http is not None:
            d["http"] = self.http.report()
        return d

    def events_after(self, seq: int, limit: int = 500) -> list[dict]:
        return self.sink.after(seq, limit)


class ReplayManager:
    """The replays of one app (bounded)."""

    def __init__(self, limit: int = 16) -> None:
        self._lock = threading.Lock()
        self._replays: dict[str, Replay] = {}
        self.limit = limit
        self.preset_speed: float | None = None   # the original's /api/replay/speed with no replay running

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
