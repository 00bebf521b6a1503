"""The bulk paths of the recorders (batch inserts, page reads): the same results as the
one-by-one forms they replace."""
from __future__ import annotations

import pickle
import random
from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import IntegrityError, Notification, StoredEvent, Tracking

from evlog.eventsourcing import envelope
from evlog.eventsourcing.recorders import EvlogApplicationRecorder, EvlogProcessRecorder
from evlog.eventsourcing.store import acquire

STATES = [b'{"a":1}', b'[1,2]', b'"x"', b"\x00bin", b"", b" 1", b"1 ", b'{"v":2,"u":true,"s":3}', b"12",
          b'{"a":\n 1}', b"1,2", b"[1", b"]"]


def _store(tmp_path, name: str = "s"):
    d = tmp_path / name
    return acquire(str(d / "events"), tracking_path=str(d / "tracking"), fsync="interval")


def test_envelope_bulk_equals_one_by_one():
    r = random.Random(1)
    for _ in range(2000):
        n = r.randint(1, 12)
        vs = [r.randint(-3, 10**12) for _ in range(n)]
        oids = [UUID(int=r.getrandbits(128)) if r.random() < 0.6 else f"id-{r.randint(0, 5)}" for _ in range(n)]
        us = [isinstance(o, UUID) for o in oids]
        states = [r.choice(STATES) for _ in range(n)]
        t = ("app", r.randint(1, 9)) if r.random() < 0.3 else None
        datas = envelope.encode_many(vs, us, states, t)
        assert datas == [envelope.encode(v, u, s, t if i == 0 else None)
                         for i, (v, u, s) in enumerate(zip(vs, us, states))]
        assert envelope.all_json_states(states) == all(map(envelope.is_json_state, states))
        # pages mixing plain envelopes, tracking, base64 and both kinds of ids
        datas = [envelope.encode(v, u, s, ("app", 1) if r.random() < 0.2 else None)
                 for v, u, s in zip(vs, us, states)]
        got = envelope.decode_many(datas, [str(o) for o in oids])
        assert list(zip(*got)) == list(zip(vs, oids, states))
        assert [type(o) for o in got[1]] == [type(o) for o in oids]


def test_bulk_uuids_are_ordinary_uuids():
    envelope._uuids.clear()
    u = uuid4()
    made = envelope.uuids_of([str(u), str(u)])
    assert made[0] is made[1]
    m = made[0]
    assert type(m) is UUID and m == u and hash(m) == hash(u) and str(m) == str(u) and repr(m) == repr(u)
    assert m.is_safe == u.is_safe and pickle.loads(pickle.dumps(m)) == u and m.version == 4


def test_batch_insert_interleaved_originators_and_pages(tmp_path):
    rec = EvlogProcessRecorder(_store(tmp_path))
    a, b, c = uuid4(), "order-1", uuid4()
    a2 = UUID(str(a))   # equal id, another object
    batch = [StoredEvent(a, 1, "t:A", b'{"n":1}'), StoredEvent(b, 1, "t:B", b"\x01"),
             StoredEvent(a2, 2, "t:A", b'{"n":2}'), StoredEvent(c, 5, "t:C", b"[]"),
             StoredEvent(a, 3, "t:A", b'"s"')]
    assert rec.insert_events(batch, tracking=Tracking("up", 7)) == [1, 2, 3, 4, 5]
    assert rec.insert_events([StoredEvent(c, 3, "t:C", b"1"), StoredEvent(c, 4, "t:C", b"2")]) == [6, 7]
    assert [e.originator_version for e in rec.select_events(a)] == [1, 2, 3]
    assert [e.originator_version for e in rec.select_events(c)] == [3, 4, 5]
    assert [e.originator_version for e in rec.select_events(c, desc=True, limit=2)] == [5, 4]
    assert rec.select_events(b) == [StoredEvent(b, 1, "t:B", b"\x01")]
    assert rec.max_tracking_id("up") == 7
    notes = rec.select_notifications(None, 10)
    assert notes == [Notification(id=i + 1, originator_id=s.originator_id, originator_version=s.originator_version,
                                  topic=s.topic, state=s.state)
                     for i, s in enumerate(batch + [StoredEvent(c, 3, "t:C", b"1"), StoredEvent(c, 4, "t:C", b"2")])]
    assert rec.select_notifications(3, 2, stop=4) == notes[2:4]
    assert rec.select_notifications(3, 10, topics=["t:C"]) == [notes[3], notes[5], notes[6]]
    rec.close()


@pytest.mark.parametrize("batch", [
    lambda a, b: [StoredEvent(a, 9, "t", b"{}"), StoredEvent(b, 1, "t", b"{}"), StoredEvent(a, 9, "t", b"{}")],
    lambda a, b: [StoredEvent(b, 1, "t", b"{}"), StoredEvent(a, 2, "t", b"{}")],   # a 2 is stored
    lambda a, b: [StoredEvent(a, 4, "t", b"{}"), StoredEvent(a, 4, "t", b"{}")],
    lambda a, b: [StoredEvent(b, 1, "t", b"{}"), StoredEvent(UUID(str(a)), 1, "t", b"{}")],
])
def test_batch_integrity_errors_write_nothing(tmp_path, batch):
    rec = EvlogApplicationRecorder(_store(tmp_path))
    a = uuid4()
    rec.insert_events([StoredEvent(a, v, "t", b"{}") for v in (1, 2, 3)])
    end = rec.store.log.end_offset
    with pytest.raises(IntegrityError):
        rec.insert_events(batch(a, uuid4()))
    assert rec.store.log.end_offset == end and rec.max_notification_id() == 3
    assert rec.insert_events([StoredEvent(a, 4, "t", b"{}"), StoredEvent(a, 5, "t", b"{}")]) == [4, 5]
    rec.close()


def test_out_of_order_versions_in_a_batch(tmp_path):
    rec = EvlogApplicationRecorder(_store(tmp_path))
    a = uuid4()
    rec.insert_events([StoredEvent(a, v, "t", b"%d" % v) for v in (5, 2, 9)])
    rec.insert_events([StoredEvent(a, v, "t", b"%d" % v) for v in (1, 7)])
    assert [(e.originator_version, e.state) for e in rec.select_events(a)] == \
        [(1, b"1"), (2, b"2"), (5, b"5"), (7, b"7"), (9, b"9")]
    assert [e.originator_version for e in rec.select_events(a, gt=2, lte=7)] == [5, 7]
    rec.close()


def test_long_read_pages(tmp_path):
    rec = EvlogApplicationRecorder(_store(tmp_path))
    ids = [uuid4() for _ in range(50)]
    expected = []
    for k in range(60):
        batch = [StoredEvent(ids[(k + i) % 50], k * 100 + i, "t", b'{"k":%d}' % k) for i in range(100)]
        if k % 7 == 0:
            batch = batch[:1]
        rec.insert_events(batch)
        expected += batch
    got, start = [], None
    while True:
        page = rec.select_notifications(start, 333, inclusive_of_start=False) if start else \
            rec.select_notifications(None, 333)
        if not page:
            break
        got += page
        start = page[-1].id
    assert [n.id for n in got] == list(range(1, len(expected) + 1))
    assert [(n.originator_id, n.originator_version, n.state) for n in got] == \
        [(s.originator_id, s.originator_version, s.state) for s in expected]
    rec.close()
