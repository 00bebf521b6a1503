"""The ring of compressed blocks: bounded by bytes and by age, never more; blocks the engine can read."""
from __future__ import annotations

import random

import pytest

from evlog.flight.ring import MIN_RING_BYTES, Ring
from evlog.segments import EncodedRows


def rows(first: int, n: int, mono0: int, step: int, size: int = 50) -> EncodedRows:
    datas = [b'{"i":%d,"pad":"%s"}' % (first + k, b"x" * size) for k in range(n)]
    return EncodedRows(["E"] * n, ["s"] * n, [0] * n, datas, [b""] * n, None, None,
                       [mono0 + k * step for k in range(n)])


def test_bytes_bound_holds_after_every_add_and_oldest_go_first():
    ring = Ring(MIN_RING_BYTES, 10**18, 0)
    rng = random.Random(1)
    seq = mono = 0
    for _ in range(300):
        n = rng.randint(1, 200)
        ring.add(rows(seq, n, mono, 1000, rng.randint(0, 2000)))
        seq += n
        mono += n * 1000
        assert ring.bytes <= ring.max_bytes
    assert ring.evicted_events > 0
    ring.seal()
    kept = [r.offset for b in ring.blocks for r in b.raw_records()]
    assert kept == list(range(seq - len(kept), seq))   # the newest, contiguous: the oldest went first
    assert ring.first_seq == seq - len(kept) == ring.evicted_events


def test_age_bound_drops_blocks_older_than_keep_and_keeps_every_younger_event():
    age = 5_000_000
    ring = Ring(1 << 30, age, 0, block_bytes=4096)
    mono = 0
    for k in range(100):
        ring.add(rows(k * 50, 50, mono, 10_000))
        mono += 500_000
        ring.seal()
        ring.evict(mono)
        assert all(b.last_mono >= mono - age for b in ring.blocks)
    records = [r for b in ring.blocks for r in b.raw_records()]
    all_monos = [k * 500_000 + j * 10_000 for k in range(100) for j in range(50)]
    assert [r.monotonic for r in records] == all_monos[len(all_monos) - len(records):]
    assert min(r.monotonic for r in records) <= mono - age   # nothing younger than the cutoff was dropped
    assert ring.evicted_last_mono < mono - age


def test_blocks_are_the_engine_s_blocks_with_their_times_clamped():
    ring = Ring(1 << 20, 10**18, 0)
    r = EncodedRows(["A", "B", "C"], ["s", "t", "s"], [0, 0, 0], [b"1", b'"x"', b"[2]"], [b""] * 3,
                    [b"", b'{"k":"v"}', b""], None, [30, 10, 40])
    ring.add(r)
    ring.seal()
    got = ring.blocks[0].raw_records()
    assert [(x.name, x.source, x.data, x.headers) for x in got] == [
        ("A", "s", b"1", b""), ("B", "t", b'"x"', b'{"k":"v"}'), ("C", "s", b"[2]", b"")]
    assert [x.monotonic for x in got] == [30, 30, 40]   # never back
    assert ring.blocks[0].first_mono == 30 and ring.blocks[0].last_mono == 40


def test_bounds_are_checked():
    with pytest.raises(ValueError, match="keep_bytes"):
        Ring(1000, 10, 0)
    with pytest.raises(ValueError, match="keep"):
        Ring(1 << 20, 0, 0)
