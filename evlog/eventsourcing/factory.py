"""`EvlogFactory`: PERSISTENCE_MODULE=evlog.eventsourcing.

Settings (each looked up as <APPNAME>_KEY, then KEY, like every setting of the package):

    EVLOG_PATH            root directory of the stores (required)
    EVLOG_FSYNC           always (default) | interval | never  (the storage engine's policy)
    EVLOG_FSYNC_INTERVAL  seconds between fsyncs with `interval` (default 1.0)
    CREATE_TABLE          false: do not create a missing store (raise instead)

An application named "Orders" keeps its events in <EVLOG_PATH>/orders/events, its tracking
records in .../tracking and its snapshots in .../snapshots.
"""
from __future__ import annotations

import os
from typing import Any

from eventsourcing.persistence import (
    AggregateRecorder, ApplicationRecorder, InfrastructureFactory, ProcessRecorder,
)
from eventsourcing.utils import resolve_topic, strtobool

from .errors import EvlogConfigError
from .recorders import (
    EvlogAggregateRecorder, EvlogApplicationRecorder, EvlogProcessRecorder, EvlogRecorder,
    EvlogTrackingRecorder,
)
from .store import EvlogStore, acquire

FSYNC_POLICIES = ("always", "interval", "never")


class EvlogFactory(InfrastructureFactory[EvlogTrackingRecorder]):
    EVLOG_PATH = "EVLOG_PATH"
    EVLOG_FSYNC = "EVLOG_FSYNC"
    EVLOG_FSYNC_INTERVAL = "EVLOG_FSYNC_INTERVAL"
    CREATE_TABLE = "CREATE_TABLE"

    def __init__(self, env: Any) -> None:
        super().__init__(env)
        root = self.env.get(self.EVLOG_PATH)
        if not root:
            raise EvlogConfigError("PERSISTENCE_MODULE=evlog.eventsourcing needs EVLOG_PATH "
                                   "(the directory of the application's evlog stores)")
        self.fsync = (self.env.get(self.EVLOG_FSYNC) or "always").lower()
        if self.fsync not in FSYNC_POLICIES:
            raise EvlogConfigError(f"EVLOG_FSYNC must be one of {', '.join(FSYNC_POLICIES)}, "
                                   f"not {self.fsync!r}")
        try:
            self.fsync_interval = float(self.env.get(self.EVLOG_FSYNC_INTERVAL) or 1.0)
        except ValueError:
            raise EvlogConfigError("EVLOG_FSYNC_INTERVAL must be a number of seconds") from None
        if self.fsync_interval <= 0:
            raise EvlogConfigError("EVLOG_FSYNC_INTERVAL must be positive")
        self.directory = store_directory(root, self.env.name)
        self._recorders: list[EvlogRecorder] = []

    def _store(self, kind: str) -> EvlogStore:
        create = strtobool(self.env.get(self.CREATE_TABLE) or "yes")
        tracking = os.path.join(self.directory, "tracking") if kind == "events" else None
        return acquire(os.path.join(self.directory, kind), kind=kind, tracking_path=tracking,
                       create=create, fsync=self.fsync, fsync_interval=self.fsync_interval,
                       application=self.env.name)

    def _keep(self, recorder: Any) -> Any:
        self._recorders.append(recorder)
        return recorder

    def aggregate_recorder(self, purpose: str = "events") -> AggregateRecorder:
        kind = "snapshots" if purpose == "snapshots" else "events"
        return self._keep(EvlogAggregateRecorder(self._store(kind)))

    def application_recorder(self) -> ApplicationRecorder:
        topic = self.env.get(self.APPLICATION_RECORDER_TOPIC)
        cls = resolve_topic(topic) if topic else EvlogApplicationRecorder
        return self._keep(cls(self._store("events")))

    def tracking_recorder(self, tracking_recorder_class: type[EvlogTrackingRecorder] | None = None
                          ) -> EvlogTrackingRecorder:
        if tracking_recorder_class is None:
            topic = self.env.get(self.TRACKING_RECORDER_TOPIC)
            tracking_recorder_class = resolve_topic(topic) if topic else EvlogTrackingRecorder
        assert tracking_recorder_class is not None
        return self._keep(tracking_recorder_class(self._store("events")))

    def process_recorder(self) -> ProcessRecorder:
        topic = self.env.get(self.PROCESS_RECORDER_TOPIC)
        cls = resolve_topic(topic) if topic else EvlogProcessRecorder
        return self._keep(cls(self._store("events")))

    def close(self) -> None:
        recorders, self._recorders = self._recorders, []
        for recorder in recorders:
            recorder.close()
        super().close()


def store_directory(root: str, application_name: str = "") -> str:
    """The directory of an application's stores under EVLOG_PATH."""
    return os.path.join(root, application_name.lower()) if application_name else root
