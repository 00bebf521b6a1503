"""Clocks for the replay scheduler: the real monotonic clock and a virtual one for tests.

A clock has `now() -> int` (ns, monotonic) and `sleep_until(due_ns, wake=None) -> bool`
(True when `due_ns` is reached, False when the `wake` event interrupted the wait).
"""
from __future__ import annotations

import threading
import time
from typing import Protocol

__all__ = ["Clock", "RealClock", "VirtualClock"]


class Clock(Protocol):
    def now(self) -> int: ...
    def sleep_until(self, due_ns: int, wake: threading.Event | None = None) -> bool: ...


class RealClock:
    """`time.monotonic_ns`. Waits with a coarse sleep until `spin_ns` before the due time,
    then spins on the clock: precise to a few µs without busy-waiting through long gaps."""

    def __init__(self, spin_ns: int = 1_000_000) -> None:
        self.spin_ns = spin_ns
        self.now = time.monotonic_ns  # type: ignore[method-assign]

    def now(self) -> int:  # type: ignore[no-redef]  # replaced per instance for speed
        return time.monotonic_ns()

    def sleep_until(self, due_ns: int, wake: threading.Event | None = None) -> bool:
        clock = time.monotonic_ns
        spin = self.spin_ns
        while True:
            remaining = due_ns - clock()
            if remaining <= 0:
                return True
            if wake is not None and wake.is_set():
                return False
            if remaining > spin:
                seconds = (remaining - spin) / 1e9
                if wake is not None:
                    if wake.wait(seconds):
                        return False
                else:
                    time.sleep(seconds)


class VirtualClock:
    """A clock that only moves when slept on (or advanced): scheduling tests never sleep.

    `sleeps` lists every `sleep_until` target; `step_ns` is added to the time at each `now()`
    call to model work that takes time (0: work is instantaneous).
    """

    def __init__(self, start_ns: int = 0, step_ns: int = 0) -> None:
        self._now = start_ns
        self.step_ns = step_ns
        self.sleeps: list[int] = []

    def now(self) -> int:
        self._now += self.step_ns
        return self._now

    def advance(self, ns: int) -> None:
        self._now += ns

    def sleep_until(self, due_ns: int, wake: threading.Event | None = None) -> bool:
        if wake is not None and wake.is_set():
            return False
        self.sleeps.append(due_ns)
        if due_ns > self._now:
            self._now = due_ns
        return True
