"""`BusRecorder`: the `evlog_recorder` fixture, recording what code publishes on a bus with
`EventRecorder` (the recorder of production code), into the test's temporary folder.

    def test_trader_buys(evlog_recorder):
        bus = ServiceBus()
        DemoTrader(bus)
        rec = evlog_recorder(bus)              # recording until the test ends (or rec.stop_recording())
        bus.publish("IndicatorsCalculated", {...}, "IndicatorEngine")
        assert [e["event_name"] for e in evlog_recorder.events(rec)] == ["IndicatorsCalculated", "PositionPurchased"]
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..recorder import EventRecorder
from ..replayer import EventReplayer

__all__ = ["BusRecorder"]


class BusRecorder:
    def __init__(self, out_dir: str | os.PathLike) -> None:
        self.out_dir = Path(out_dir)
        self.recorders: list[EventRecorder] = []

    def __call__(self, bus: Any, session_name: str = "test") -> EventRecorder:
        """Start recording `bus` (its publish is intercepted); returns the recorder."""
        rec = EventRecorder(session_name, output_dir=self.out_dir, fsync="never")
        rec.start_recording(bus)
        self.recorders.append(rec)
        return rec

    def path(self, recorder: EventRecorder | None = None) -> Path:
        """The recording of `recorder` (default: the last one started), made durable first."""
        rec = recorder or self._last()
        rec.flush()
        assert rec.path is not None
        return rec.path

    def events(self, recorder: EventRecorder | None = None) -> list[dict]:
        """What `recorder` (default: the last one) recorded so far, as `EventReplayer.events` shows it."""
        with EventReplayer(self.path(recorder)) as replayer:
            return list(replayer.events)

    def _last(self) -> EventRecorder:
        if not self.recorders:
            raise RuntimeError("evlog_recorder has recorded nothing yet: call evlog_recorder(bus) first")
        return self.recorders[-1]

    def close(self) -> None:
        """Stop every recording and save it (the fixture's teardown)."""
        for rec in self.recorders:
            rec.close()
