"""`ReplayControl`: steer a running replay from another thread (or from a handler).

    control = ReplayControl()
    handle = replayer.start_replay(bus, speed_multiplier=1.0, control=control)
    control.pause(); control.step(); control.seek(offset=500); control.seek(time="1m30s")
    control.set_speed(10); control.resume(); control.stop()
    result = handle.join()
"""
from __future__ import annotations

import threading
from typing import Any

from ..segments.errors import EvlogError
from ..timespec import parse_time
from .options import parse_speed

__all__ = ["ReplayControl", "ControlError"]


class ControlError(EvlogError, ValueError):
    """A control request that makes no sense (negative speed, seek with nothing to seek to)."""


class ReplayControl:
    def __init__(self) -> None:
        self._cond = threading.Condition()
        self.wake = threading.Event()   # set on every request: interrupts the scheduler's waits
        self.pending = False            # the scheduler looks at requests only when this is set
        self._paused = False
        self._steps = 0
        self._seek: tuple[str, Any] | None = None
        self._speed: float | None = None
        self._stop = False
        self.waiting = threading.Event()  # set while the replay waits, paused
        self.position: int | None = None  # offset of the last event published
        self.speed: float | None = None   # the current speed (set by the scheduler)

    def _request(self, **changes: Any) -> None:
        with self._cond:
            for key, value in changes.items():
                setattr(self, key, value)
            self.pending = True
            self.wake.set()
            self._cond.notify_all()

    @property
    def paused(self) -> bool:
        return self._paused

    def pause(self) -> None:
        self._request(_paused=True)

    def resume(self) -> None:
        self._request(_paused=False, _steps=0)

    def step(self, n: int = 1) -> None:
        """While paused, let `n` more events through (published at once), then stay paused."""
        if n < 1:
            raise ControlError("step takes a positive number of events")
        with self._cond:
            self._request(_paused=True, _steps=self._steps + n)

    def seek(self, offset: int | None = None, time: Any = None) -> None:
        """Continue from `offset`, or from a time ("90s", an ISO timestamp, a TimeSpec or ns
        since the recording's start)."""
        if (offset is None) == (time is None):
            raise ControlError("seek takes either offset= or time=")
        if offset is not None and (not isinstance(offset, int) or isinstance(offset, bool) or offset < 0):
            raise ControlError(f"seek offset must be a non-negative integer, not {offset!r}")
        if isinstance(time, str):
            time = parse_time(time)  # a bad time fails here, in the caller's thread
        self._request(_seek=("offset", offset) if offset is not None else ("time", time))

    def set_speed(self, speed: float | str) -> None:
        self._request(_speed=parse_speed(speed))

    def stop(self) -> None:
        self._request(_stop=True, _paused=False)

    # the scheduler's side ---------------------------------------------------------------------
    def take(self) -> tuple[float | None, tuple[str, Any] | None, bool]:
        """Requests since the last call: (new speed, seek target, stop)."""
        with self._cond:
            speed, seek, stop = self._speed, self._seek, self._stop
            self._speed = self._seek = None
            self.pending = self._paused
            if not self._paused:
                self.wake.clear()
            return speed, seek, stop

    def wait_while_paused(self) -> str:
        """Block while paused. Returns "step" (deliver one event), "run" (resumed) or "changed"
        (a seek, speed change or stop arrived: call take())."""
        with self._cond:
            self.waiting.set()
            try:
                while True:
                    if self._stop or self._seek is not None or self._speed is not None:
                        return "changed"
                    if not self._paused:
                        return "run"
                    if self._steps > 0:
                        self._steps -= 1
                        return "step"
                    self._cond.wait()
            finally:
                self.waiting.clear()
