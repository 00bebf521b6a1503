"""Capture: copy the domain events of an application that keeps its own store (POPO, SQLite,
PostgreSQL...) into an evlog recording by following its notification log.

Each batch of notifications is inserted with a Tracking(application name, last notification
id) record in the same atomic block, so a restarted capture resumes after the last captured
notification: no loss, no duplicates.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable

from eventsourcing.persistence import ApplicationRecorder, StoredEvent, Tracking

from .access import open_store
from .store import release


@dataclass
class CaptureReport:
    captured: int          # notifications copied by this call
    position: int | None   # the source's last captured notification id
    recording_end: int     # events in the recording


def capture(source: Any, path: str, *, name: str | None = None, batch: int = 500, follow: bool = False,
            stop: Callable[[], bool] | None = None, poll_interval: float = 0.2, fsync: str = "always",
            topics: tuple[str, ...] = ()) -> CaptureReport:
    """Copy `source`'s notifications (an Application, or an ApplicationRecorder with `name`)
    into the evlog store at `path` (created if missing).

    Without `follow`, returns once caught up; with it, keeps following until `stop()` is true.
    """
    recorder: ApplicationRecorder = getattr(source, "recorder", source)
    name = name or getattr(source, "name", None)
    if not name:
        raise ValueError("capture needs the source application's name (name=...)")
    store = open_store(path, readonly=False, fsync=fsync, create=True)
    captured = 0
    try:
        position = store.max_tracking_id(name)
        while True:
            notifications = recorder.select_notifications(position or 0, batch, topics=topics,
                                                          inclusive_of_start=False)
            if notifications:
                events = [StoredEvent(n.originator_id, n.originator_version, n.topic, n.state)
                          for n in notifications]
                last = notifications[-1].id
                store.insert(events, Tracking(name, last))
                captured += len(events)
                position = last
                continue
            if not follow or (stop is not None and stop()):
                break
            time.sleep(poll_interval)
        return CaptureReport(captured, position, store.end)
    finally:
        release(store)
