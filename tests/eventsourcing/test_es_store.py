"""evlog-specific behaviour of the eventsourcing persistence module."""
from __future__ import annotations

import os
import shutil
from uuid import UUID, uuid4

import pytest
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError, StoredEvent, Tracking

from evlog.eventsourcing import EvlogFactory
from evlog.eventsourcing.errors import (
    EvlogBatchTooLargeError, EvlogConfigError, EvlogReadOnlyError, EvlogStoreMissingError,
)
from evlog.eventsourcing.recorders import EvlogApplicationRecorder, EvlogProcessRecorder
from evlog.eventsourcing.store import EvlogStore, acquire, release
from evlog.segments import Log


def _store(tmp_path, name: str = "s", **kw) -> EvlogStore:
    d = tmp_path / name
    return acquire(str(d / "events"), tracking_path=str(d / "tracking"), fsync=kw.pop("fsync", "interval"), **kw)


def ev(oid, v, state=b"{}", topic="t") -> StoredEvent:
    return StoredEvent(originator_id=oid, originator_version=v, topic=topic, state=state)


def test_json_state_is_stored_as_given_and_shown_decoded(tmp_path):
    rec = EvlogApplicationRecorder(_store(tmp_path))
    oid = uuid4()
    state = b'{"amount":"10.00","tags":["a","b"],"n":1.50}'
    rec.insert_events([ev(oid, 1, state, "app:Credited"), ev(oid, 2, b"\x00binary")])
    assert [e.state for e in rec.select_events(oid)] == [state, b"\x00binary"]
    rec.store.log.flush()
    with Log.open(str(tmp_path / "s" / "events")) as log:   # what evlog's tools see
        first, second = list(log)
    assert first.name == "app:Credited" and first.source == str(oid)
    assert first.data == {"v": 1, "u": True, "s": {"amount": "10.00", "tags": ["a", "b"], "n": 1.5}}
    assert second.data["b"]   # non-JSON state: base64
    rec.close()


def test_originator_ids_round_trip(tmp_path):
    rec = EvlogApplicationRecorder(_store(tmp_path))
    u, s = uuid4(), "order-17"
    rec.insert_events([ev(u, 1), ev(s, 1)])
    assert isinstance(rec.select_events(u)[0].originator_id, UUID)
    assert rec.select_events(str(u))[0].originator_id == u
    got = rec.select_events(s)[0].originator_id
    assert got == s and isinstance(got, str)
    assert [type(n.originator_id) for n in rec.select_notifications(None, 10)] == [UUID, str]
    rec.close()


def test_integrity_error_writes_nothing(tmp_path):
    rec = EvlogProcessRecorder(_store(tmp_path))
    oid = uuid4()
    rec.insert_events([ev(oid, 1)], tracking=Tracking("up", 5))
    end = rec.store.log.end_offset
    with pytest.raises(IntegrityError):
        rec.insert_events([ev(uuid4(), 1), ev(oid, 1)])
    with pytest.raises(IntegrityError):
        rec.insert_events([ev(uuid4(), 1)], tracking=Tracking("up", 5))
    with pytest.raises(IntegrityError):
        rec.insert_events([], tracking=Tracking("up", 4))
    assert rec.store.log.end_offset == end
    assert rec.max_notification_id() == 1
    rec.close()


def test_reopen_rebuilds_index_and_tracking(tmp_path):
    store = _store(tmp_path)
    rec = EvlogProcessRecorder(store)
    a, b = uuid4(), "b"
    rec.insert_events([ev(a, 1), ev(b, 1)], tracking=Tracking("up", 3))
    rec.insert_events([ev(a, 2)])
    rec.insert_events([], tracking=Tracking("other", 9))
    rec.close()   # last reference: the store closes
    rec = EvlogProcessRecorder(_store(tmp_path))
    assert [e.originator_version for e in rec.select_events(a)] == [1, 2]
    assert rec.max_tracking_id("up") == 3 and rec.max_tracking_id("other") == 9
    with pytest.raises(IntegrityError):
        rec.insert_events([ev(a, 2)])
    assert rec.insert_events([ev(a, 3)]) == [4]
    rec.close()


def test_crash_leaves_no_half_batch(tmp_path):
    rec = EvlogApplicationRecorder(_store(tmp_path))
    a, b = uuid4(), uuid4()
    rec.insert_events([ev(a, v) for v in range(1, 4)])
    rec.insert_events([ev(b, v, b'{"pad":"%s"}' % (b"x" * 50)) for v in range(1, 101)])
    rec.store.log.flush()
    crashed = tmp_path / "crashed"
    shutil.copytree(tmp_path / "s", crashed)   # the files as a crash would leave them (no close)
    rec.close()
    events = crashed / "events"
    seg = sorted(p for p in os.listdir(events) if p.endswith(".seg") or p.startswith("0"))
    seg = [p for p in seg if not p.endswith(".idx")][-1]
    size = os.path.getsize(events / seg)
    with open(events / seg, "r+b") as f:
        f.truncate(size - 40)   # tear the last block (the 100-event batch)
    for p in os.listdir(events):
        if p.endswith(".idx"):
            os.remove(events / p)
    again = EvlogApplicationRecorder(_store(tmp_path, "crashed"))
    assert len(again.select_events(a)) == 3
    assert again.select_events(b) == []
    assert again.max_notification_id() == 3
    assert [n.id for n in again.select_notifications(None, 10)] == [1, 2, 3]
    assert again.insert_events([ev(b, 1)]) == [4]
    again.close()


def test_select_events_reads_only_the_aggregates_offsets(tmp_path):
    rec = EvlogApplicationRecorder(_store(tmp_path))
    target = uuid4()
    for i in range(300):
        batch = [ev(uuid4(), 1)]
        if i in (10, 150, 290):
            batch.append(ev(target, len([x for x in (10, 150, 290) if x <= i])))
        rec.insert_events(batch)
    log = rec.store.log
    calls = []
    real = log.read

    def spy(start=None, end=None, **kw):
        calls.append((start, end))
        return real(start, end, **kw)
    log.read = spy  # type: ignore[method-assign]
    got = rec.select_events(target)
    assert [e.originator_version for e in got] == [1, 2, 3]
    assert sum(e - s for s, e in calls) == 3   # three one-offset reads, not a scan
    rec.close()


def test_readonly_store_follows_the_writer(tmp_path):
    rec = EvlogApplicationRecorder(_store(tmp_path))
    oid = uuid4()
    rec.insert_events([ev(oid, 1)])
    rec.store.log.flush()
    ro = EvlogApplicationRecorder(acquire(str(tmp_path / "s" / "events"), readonly=True))
    assert ro.max_notification_id() == 1
    rec.insert_events([ev(oid, 2)])
    rec.store.log.flush()
    assert [e.originator_version for e in ro.select_events(oid)] == [1, 2]
    with pytest.raises(EvlogReadOnlyError):
        ro.insert_events([ev(oid, 3)])
    ro.close()
    rec.close()


def test_batch_larger_than_a_block_is_refused(tmp_path):
    rec = EvlogApplicationRecorder(_store(tmp_path))
    with pytest.raises(EvlogBatchTooLargeError):
        rec.insert_events([ev(uuid4(), 1, b"x" * (6 << 20)), ev(uuid4(), 1, b"x" * (6 << 20))])
    assert rec.max_notification_id() is None
    rec.close()


def test_factory_settings_and_layout(tmp_path):
    with pytest.raises(EvlogConfigError):
        EvlogFactory({"PERSISTENCE_MODULE": "evlog.eventsourcing"})
    with pytest.raises(EvlogConfigError):
        EvlogFactory({"EVLOG_PATH": str(tmp_path), "EVLOG_FSYNC": "sometimes"})
    f = EvlogFactory({"EVLOG_PATH": str(tmp_path / "nope"), "CREATE_TABLE": "f"})
    with pytest.raises(EvlogStoreMissingError):
        f.application_recorder()
    # <APPNAME>_EVLOG_PATH wins over EVLOG_PATH; stores live in <path>/<app name>/
    app = Application[UUID](env={"PERSISTENCE_MODULE": "evlog.eventsourcing", "EVLOG_PATH": str(tmp_path / "x"),
                                 "APPLICATION_EVLOG_PATH": str(tmp_path / "y"), "IS_SNAPSHOTTING_ENABLED": "y",
                                 "EVLOG_FSYNC": "never"})
    agg = Aggregate()
    app.save(agg)
    app.take_snapshot(agg.id)
    app.close()
    assert sorted(os.listdir(tmp_path / "y" / "application")) == ["events", "snapshots", "tracking"]
    assert not (tmp_path / "x").exists()
    with Log.open(str(tmp_path / "y" / "application" / "snapshots")) as log:
        assert len(log) == 1


def test_stores_are_shared_and_closed_with_the_last_recorder(tmp_path):
    s1 = _store(tmp_path)
    s2 = _store(tmp_path)
    assert s1 is s2 and s1.refs == 2
    release(s1)
    assert s1.log.writable and s1.refs == 1
    release(s2)
    s3 = _store(tmp_path)
    assert s3 is not s1
    release(s3)
