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
    rec.store.log.flush()   # a is written (batches may share a block until it is written)
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
    real = log.read_at

    def spy(offsets, **kw):
        calls.append(list(offsets))
        return real(offsets, **kw)
    log.read_at = spy  # type: ignore[method-assign]
    log.read = None   # type: ignore[assignment]  # no scan
    got = rec.select_events(target)
    assert [e.originator_version for e in got] == [1, 2, 3]
    assert len(calls) == 1 and len(calls[0]) == 3   # one point read of the three offsets
    del log.read
    rec.close()


def test_select_events_point_reads_use_the_block_cache(tmp_path):
    """Interleaved aggregates: a second read of the same blocks decodes none of them again."""
    from evlog.segments.reader import SegmentView
    rec = EvlogApplicationRecorder(_store(tmp_path))
    oids = [uuid4() for _ in range(50)]
    for v in range(1, 21):
        rec.insert_events([ev(o, v) for o in oids])
    decoded = []
    real = SegmentView.read_block
    SegmentView.read_block = lambda self, entry: decoded.append(entry) or real(self, entry)
    try:
        for o in oids:
            assert [e.originator_version for e in rec.select_events(o)] == list(range(1, 21))
        first = len(decoded)
        assert 0 < first <= len(rec.store.log.index_entries()) + 1
        for o in oids:
            assert [e.originator_version for e in rec.select_events(o, desc=True, limit=5)] == [20, 19, 18, 17, 16]
        assert len(decoded) == first
    finally:
        SegmentView.read_block = real
    assert rec.store.log.keys == ["source"]
    assert [r.offset for r in rec.store.log.lookup("source", [str(oids[3])])] == list(range(3, 1000, 50))
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
    assert sorted(os.listdir(tmp_path / "y" / "application")) == [
        "events", "events.index", "snapshots", "snapshots.index", "tracking"]
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


# the persisted originator index (side file) -------------------------------------------------

def _fill(rec, n_aggregates: int = 20, versions: int = 3) -> list:
    ids = [uuid4() if i % 2 else f"order-{i}" for i in range(n_aggregates)]
    for v in range(1, versions + 1):
        rec.insert_events([ev(oid, v, b'{"v":%d}' % v) for oid in ids])
    return ids


def _check_contents(rec, ids: list, versions: int) -> None:
    for oid in ids:
        got = rec.select_events(oid)
        assert [(e.originator_id, e.originator_version) for e in got] == \
            [(oid, v) for v in range(1, versions + 1)]
    assert rec.max_notification_id() == len(ids) * versions
    with pytest.raises(IntegrityError):
        rec.insert_events([ev(ids[0], versions)])


def test_reopen_loads_the_side_index_without_reading_the_log(tmp_path):
    rec = EvlogProcessRecorder(_store(tmp_path))
    ids = _fill(rec)
    rec.insert_events([], tracking=Tracking("up", 7))
    rec.close()
    assert os.path.exists(tmp_path / "s" / "events.index")
    rec = EvlogProcessRecorder(_store(tmp_path))
    assert rec.store.open_stats["index"] == "side file"
    assert rec.store.open_stats["records_read"] == 0
    _check_contents(rec, ids, 3)
    assert rec.max_tracking_id("up") == 7
    rec.close()


def _crash_copy(tmp_path, rec, name: str = "crashed") -> str:
    """The store's files as a process crash leaves them (the log flushed, no close)."""
    rec.store.log.flush()
    shutil.copytree(tmp_path / "s", tmp_path / name)
    return name


def test_side_index_behind_the_log_catches_up_from_the_tail(tmp_path):
    rec = EvlogProcessRecorder(_store(tmp_path, index_save_events=10**9))
    ids = _fill(rec, versions=2)
    rec.store.save_index()                      # covers 40 events
    more = [uuid4(), "late"]
    rec.insert_events([ev(oid, 3, b'{"v":3}') for oid in ids], tracking=Tracking("up", 3))
    rec.insert_events([ev(oid, 1) for oid in more])
    name = _crash_copy(tmp_path, rec)            # crash before the next save
    rec.close()
    again = EvlogProcessRecorder(_store(tmp_path, name))
    assert again.store.open_stats["index"] == "side file"
    assert again.store.open_stats["records_read"] == 22   # only the tail
    assert [e.originator_version for e in again.select_events(more[0])] == [1]
    assert again.max_tracking_id("up") == 3
    assert again.max_notification_id() == 62
    assert [e.originator_version for e in again.select_events(ids[3])] == [1, 2, 3]
    with pytest.raises(IntegrityError):
        again.insert_events([ev(ids[0], 3)])
    assert again.insert_events([ev(ids[0], 4)]) == [63]
    again.close()


def test_side_index_is_saved_every_n_events(tmp_path):
    rec = EvlogApplicationRecorder(_store(tmp_path, index_save_events=25))
    ids = _fill(rec, versions=3)                 # inserts of 20 events: saved once 40 are in
    name = _crash_copy(tmp_path, rec)
    rec.close()
    again = EvlogApplicationRecorder(_store(tmp_path, name))
    assert again.store.open_stats["index"] == "side file"
    assert again.store.open_stats["records_read"] == 20   # 60 - 40: the last insert
    _check_contents(again, ids, 3)
    again.close()


def _corrupt(path) -> None:
    data = bytearray(path.read_bytes())
    data[-30] ^= 0xFF
    path.write_bytes(bytes(data))


def _wrong_format(path) -> None:
    data = path.read_bytes()
    path.write_bytes(data.replace(b'"format":1', b'"format":9', 1))


@pytest.mark.parametrize("damage", ["corrupt", "truncated", "format", "stale", "other log", "garbage"])
def test_unusable_side_index_falls_back_to_a_rebuild(tmp_path, damage):
    rec = EvlogProcessRecorder(_store(tmp_path))
    ids = _fill(rec)
    rec.insert_events([], tracking=Tracking("up", 5))
    rec.close()
    side = tmp_path / "s" / "events.index"
    if damage == "corrupt":
        _corrupt(side)
    elif damage == "truncated":
        side.write_bytes(side.read_bytes()[:-8])
    elif damage == "format":
        _wrong_format(side)
    elif damage == "garbage":
        side.write_bytes(b"not an index")
    else:
        # a side file of a longer log ("stale") or of another log of the same length
        other = EvlogProcessRecorder(_store(tmp_path, "other"))
        _fill(other, versions=4 if damage == "stale" else 3)
        other.close()
        shutil.copy(tmp_path / "other" / "events.index", side)
    rec = EvlogProcessRecorder(_store(tmp_path))
    assert rec.store.open_stats["index"].startswith("rebuilt")
    assert rec.store.open_stats["records_read"] == 60
    _check_contents(rec, ids, 3)
    assert rec.max_tracking_id("up") == 5
    rec.close()
    rec = EvlogProcessRecorder(_store(tmp_path))   # the rebuilt index was saved at close
    assert rec.store.open_stats == {**rec.store.open_stats, "index": "side file", "records_read": 0}
    rec.close()


def test_readonly_store_uses_the_side_index_and_never_writes_it(tmp_path):
    rec = EvlogApplicationRecorder(_store(tmp_path))
    ids = _fill(rec)
    rec.close()
    side = tmp_path / "s" / "events.index"
    before = side.read_bytes()
    ro = EvlogApplicationRecorder(acquire(str(tmp_path / "s" / "events"), readonly=True))
    assert ro.store.open_stats["records_read"] == 0
    _check_contents_readonly = [len(ro.select_events(oid)) for oid in ids]
    assert _check_contents_readonly == [3] * len(ids)
    ro.close()
    assert side.read_bytes() == before
