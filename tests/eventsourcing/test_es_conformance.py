"""The eventsourcing package's own conformance cases, run unmodified against evlog.

The base cases are reached through their modules so that pytest does not collect them
(they need a subclass to run)."""
from __future__ import annotations

import os
import shutil
import tempfile
from typing import Any

from eventsourcing.persistence import (
    AggregateRecorder, ApplicationRecorder, InfrastructureFactory, ProcessRecorder, TrackingRecorder,
)
from eventsourcing.tests import application as es_app
from eventsourcing.tests import persistence as es_p
from eventsourcing.utils import Environment

from evlog.eventsourcing import EvlogFactory
from evlog.eventsourcing.recorders import (
    EvlogAggregateRecorder, EvlogApplicationRecorder, EvlogProcessRecorder, EvlogTrackingRecorder,
)
from evlog.eventsourcing.store import acquire

FSYNC = os.environ.get("EVLOG_TEST_FSYNC", "interval")


class TempStore:
    """A fresh store directory per test; recorders closed at tearDown."""

    def setUp(self) -> None:  # noqa: N802
        self.tmp = tempfile.mkdtemp(prefix="evlog-es-")
        self._opened: list[Any] = []
        super().setUp()  # type: ignore[misc]

    def tearDown(self) -> None:  # noqa: N802
        super().tearDown()  # type: ignore[misc]
        for recorder in self._opened:
            recorder.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def store(self, kind: str = "events") -> Any:
        tracking = os.path.join(self.tmp, "tracking") if kind == "events" else None
        return acquire(os.path.join(self.tmp, kind), kind=kind, tracking_path=tracking, fsync=FSYNC)

    def keep(self, recorder: Any) -> Any:
        self._opened.append(recorder)
        return recorder


class TestEvlogAggregateRecorder(TempStore, es_p.AggregateRecorderTestCase):
    def create_recorder(self) -> AggregateRecorder:
        return self.keep(EvlogAggregateRecorder(self.store("snapshots")))


class TestEvlogApplicationRecorder(TempStore, es_p.ApplicationRecorderTestCase):
    def create_recorder(self) -> ApplicationRecorder:
        return self.keep(EvlogApplicationRecorder(self.store()))

    def test_insert_subscribe(self) -> None:
        self.optional_test_insert_subscribe()


class TestEvlogTrackingRecorder(TempStore, es_p.TrackingRecorderTestCase):
    def create_recorder(self) -> TrackingRecorder:
        return self.keep(EvlogTrackingRecorder(self.store()))


class TestEvlogProcessRecorder(TempStore, es_p.ProcessRecorderTestCase):
    def create_recorder(self) -> ProcessRecorder:
        return self.keep(EvlogProcessRecorder(self.store()))


class TestEvlogNonInterleaving(TempStore, es_p.NonInterleavingNotificationIDsBaseCase):
    def create_recorder(self) -> ApplicationRecorder:
        return self.keep(EvlogApplicationRecorder(self.store()))


class MyTrackingRecorder(EvlogTrackingRecorder):
    pass


class TestEvlogInfrastructureFactory(es_p.InfrastructureFactoryTestCase[EvlogFactory]):
    def setUp(self) -> None:
        self.tmp = tempfile.mkdtemp(prefix="evlog-es-")
        self.env = Environment("TestCase")
        self.env[InfrastructureFactory.PERSISTENCE_MODULE] = "evlog.eventsourcing"
        self.env["EVLOG_PATH"] = self.tmp
        self.env["EVLOG_FSYNC"] = FSYNC
        super().setUp()

    def tearDown(self) -> None:
        super().tearDown()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def expected_factory_class(self) -> type[EvlogFactory]:
        return EvlogFactory

    def expected_aggregate_recorder_class(self) -> type[AggregateRecorder]:
        return EvlogAggregateRecorder

    def expected_application_recorder_class(self) -> type[ApplicationRecorder]:
        return EvlogApplicationRecorder

    def expected_tracking_recorder_class(self) -> type[TrackingRecorder]:
        return EvlogTrackingRecorder

    def tracking_recorder_subclass(self) -> type[TrackingRecorder]:
        return MyTrackingRecorder

    def expected_process_recorder_class(self) -> type[ProcessRecorder]:
        return EvlogProcessRecorder


class EvlogEnviron:
    """Point the package's default persistence at evlog for the application cases."""

    def setUp(self) -> None:  # noqa: N802
        self.tmp = tempfile.mkdtemp(prefix="evlog-es-")
        self._saved = {k: os.environ.get(k) for k in ("PERSISTENCE_MODULE", "EVLOG_PATH", "EVLOG_FSYNC")}
        os.environ["PERSISTENCE_MODULE"] = "evlog.eventsourcing"
        os.environ["EVLOG_PATH"] = self.tmp
        os.environ["EVLOG_FSYNC"] = FSYNC
        super().setUp()  # type: ignore[misc]

    def tearDown(self) -> None:  # noqa: N802
        super().tearDown()  # type: ignore[misc]
        for k, v in self._saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        shutil.rmtree(self.tmp, ignore_errors=True)


class TestEvlogExampleApplication(EvlogEnviron, es_app.ExampleApplicationTestCase):
    expected_factory_topic = "evlog.eventsourcing.factory:EvlogFactory"


class TestEvlogApplication(EvlogEnviron, es_app.ApplicationTestCase):
    pass
