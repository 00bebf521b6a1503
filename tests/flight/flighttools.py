"""Helpers of the flight recorder's tests."""
from __future__ import annotations

import time

from evlog.segments import Log


def read_recording(path) -> tuple[list, dict]:
    """(records, metadata) of a recording."""
    with Log.open(path) as log:
        return list(log.read()), dict(log.manifest.metadata)


def expected_window(flight, window) -> list:
    """The ring's events of a window's [start, end] (the ring must still hold them)."""
    return [r for r in flight.ring_records() if window.start <= r.monotonic <= window.end]


def publish_for(bus, seconds: float, *, start: int = 0, pause: float = 0.0005, name: str = "Tick") -> int:
    """Publish {"i": n} events for about `seconds`; returns the next n."""
    n = start
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        bus.publish(name, {"i": n}, "test")
        n += 1
        time.sleep(pause)
    return n
