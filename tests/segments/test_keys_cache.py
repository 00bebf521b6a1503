"""Point reads (`Log.read_at`) and the bounded cache of decoded blocks."""
from __future__ import annotations

from hypothesis import given, settings, strategies as st

from evlog.segments import Log
from evlog.segments.blockcache import BlockCache
from evlog.segments.reader import SegmentView


def _log(tmp_path, n=400, **kw):
    path = str(tmp_path / "rec")
    log = Log.create(path, keys=["data.k"], block_max_records=16, **kw)
    log.append_batch([("E", {"k": f"k{i % 9}", "i": i}, "s", None, None, {"h": str(i)} if i % 3 else None)
                      for i in range(n)])
    log.roll()
    log.append_batch([("E", {"k": f"k{i % 9}", "i": i}, "s") for i in range(n, n + 50)])
    log.flush()
    return log


@settings(max_examples=30, deadline=None)
@given(offsets=st.lists(st.integers(-5, 500), max_size=40), raw=st.booleans())
def test_read_at_equals_reading_each_offset(tmp_path_factory, offsets, raw):
    log = _log(tmp_path_factory.mktemp("r"))
    try:
        expect = [r for o in sorted(set(offsets)) if 0 <= o < 450 for r in log.read(o, o + 1, raw=raw)]
        for _ in range(3):   # first decode, then the cached block, then the cached raw records
            assert log.read_at(offsets, raw=raw) == expect
    finally:
        log.close()


def test_cache_is_bounded_by_bytes_and_per_log(tmp_path, monkeypatch):
    log = _log(tmp_path, block_cache_bytes=40_000)
    other = Log.open(log.path, block_cache_bytes=0)
    decoded = []
    real = SegmentView.read_block
    monkeypatch.setattr(SegmentView, "read_block", lambda self, e: decoded.append(e) or real(self, e))
    try:
        for _ in range(3):
            assert [r.data["i"] for r in log.lookup("data.k", ["k4"])] == list(range(4, 450, 9))
        cache = log._read().cache
        assert 0 < cache.size <= 40_000 and len(cache) > 0
        before = len(decoded)
        assert len(list(other.lookup("data.k", ["k4"]))) == 50   # no cache: decodes again
        assert len(decoded) > before and len(other._read().cache) == 0
    finally:
        other.close()
        log.close()


def test_block_cache_lru():
    class B:
        def __init__(self, n):
            self.header = type("H", (), {"raw_len": n, "count": 0})()
    c = BlockCache(100)
    c.put("a", B(40))
    c.put("b", B(40))
    assert c.get("a") is not None   # a is now the most recent
    c.put("c", B(40))               # evicts b
    assert c.get("b") is None and c.get("a") is not None and c.get("c") is not None
    c.put("huge", B(500))           # larger than the cache: not kept
    assert c.get("huge") is None and c.size == 80
    assert c.pop("a") is not None and c.size == 40


@settings(max_examples=40, deadline=None)
@given(reads=st.lists(st.lists(st.integers(0, 299), max_size=12), max_size=25))
def test_raw_points_build_each_wanted_record_once(tmp_path_factory, reads):
    """A block's raw points equal its raw records, whichever order and grouping they are asked
    in (the first few placed by sums within their chunk, the others from the columns), and
    only the records asked for are built, once each; with type maps (bytes data), headers and
    wall-clock times that are not the block's base + monotonic (given timestamps)."""
    path = str(tmp_path_factory.mktemp("p") / "rec")
    with Log.create(path, block_max_records=300) as log:
        log.append_batch([("E", {"i": i, "b": b"x" * (i % 4)} if i % 3 == 0 else {"i": i}, f"s{i % 7}",
                           1_700_000_000_000_000_000 + 7_919 * i * (i % 11) if i % 2 else None, None,
                           {"h": str(i)} if i % 5 else None)
                          for i in range(300)])
        log.flush()
        view = log._read().segments[0]
        block = view.read_block(view.entries[0])
        everything = block.raw_records()
        assert any(r.types for r in everything) and any(r.headers for r in everything)
        assert len({r.timestamp - r.monotonic for r in everything}) > 1   # not one wall-clock base
        asked: set[int] = set()
        for indices in reads:
            indices = sorted(set(indices))
            assert block.raw_points(indices) == [everything[i] for i in indices]
            asked.update(indices)
        built = block._built or []
        assert {i for i, r in enumerate(built) if r is not None} == asked
        assert block.points_built == bool(reads)
