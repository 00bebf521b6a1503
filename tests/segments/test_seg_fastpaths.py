"""The engine's fast paths give the same results as the general ones: single-row and column
appends through the one block buffer, group commit under fsync=always, the C-level checks of
block decoding, the rare-name selection, and salvage's report of a cut middle segment."""
from __future__ import annotations

import os
import time
from itertools import accumulate

import pydantic
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evlog import Log
from evlog.segments import CorruptBlockError, EncodedRows, FileSystem, SalvageReport, salvage
from evlog.segments import block as blk
from evlog.segments.codec import FLAG_MODEL, FLAG_TYPED
from evlog.segments.buffer import ROW_OVERHEAD, BlockBuffer
from evlog.segments.reader import _select_ids


class Tick(pydantic.BaseModel):
    pair: str
    price: float
    blob: bytes = b""


def test_model_appends_and_the_typed_fallback_read_back(tmp_path):
    path = str(tmp_path / "rec")
    with Log.create(path, fsync="never") as log:
        log.append("Tick", Tick(pair="BTC", price=1.5), "feed")        # new name and source: checked
        log.append("Tick", Tick(pair="ETH", price=2.5), "feed")        # known ones: the few type tests
        log.append("Tick", Tick(pair="X", price=3.0, blob=b"\xff\xfe"), "feed")   # to_json fails: typed fallback
        log.append("Other", {"a": 1}, "feed")                         # plain data, new name
        log.append("Other", {"a": 2}, "feed")                         # plain data, hot path
        log.append("Big", {"x": "y" * (2 << 20)}, "feed")             # a big one
    with Log.open(path) as log:
        got = list(log.read())
    assert [r.name for r in got] == ["Tick", "Tick", "Tick", "Other", "Other", "Big"]
    assert got[1].data == {"pair": "ETH", "price": 2.5, "blob": ""} and got[1].flags == FLAG_MODEL
    assert got[2].flags & FLAG_TYPED and got[2].data["blob"] == b"\xff\xfe"
    assert [r.data for r in got[3:5]] == [{"a": 1}, {"a": 2}]
    assert len(got[5].data["x"]) == 2 << 20
    assert [r.offset for r in got] == list(range(6))
    monos = [r.monotonic for r in got]
    assert monos == sorted(monos)


def test_appends_after_close_are_rejected(tmp_path):
    from evlog.segments import LogClosedError
    log = Log.create(str(tmp_path / "rec"), fsync="never")
    log.append("Tick", Tick(pair="A", price=1.0), "s")
    log.append("Tick", Tick(pair="A", price=2.0), "s")   # known name and source
    log.close()
    with pytest.raises(LogClosedError):
        log.append("Tick", Tick(pair="A", price=3.0), "s")
    with Log.open(str(tmp_path / "rec")) as again:
        assert len(again) == 2


class SlowSync(FileSystem):
    def __init__(self):
        self.syncs = 0
        self.writes = 0

    def write(self, fd, data):
        self.writes += 1
        return super().write(fd, data)

    def fdatasync(self, fd):
        self.syncs += 1
        time.sleep(0.02)
        super().fdatasync(fd)


def test_group_commit_shares_syncs_and_reports_nothing_early(tmp_path):
    fs = SlowSync()
    path = str(tmp_path / "rec")
    log = Log.create(path, fsync="always", block_max_records=20, fs=fs)
    durable_seen = []
    for i in range(2000):
        log.append("E", {"i": i}, "s")
        if i % 100 == 0:
            durable_seen.append((log.durable_offset, log._writer.written_offset))
    assert log.flush() == 2000
    log.close()
    assert all(d <= w for d, w in durable_seen)
    blocks = 2000 // 20
    assert fs.syncs < blocks            # blocks queued behind a slow disk shared a sync
    with Log.open(path) as log:
        assert [r.data["i"] for r in log.read()] == list(range(2000))


def test_explicit_and_measured_times_mix_in_a_block(tmp_path):
    path = str(tmp_path / "rec")
    with Log.create(path, fsync="never") as log:
        log.append("A", 1, "s")
        log.append("A", 2, "s", timestamp=5_000_000_000)   # explicit wall clock: not the block's base
        log.append("A", 3, "s")
        written = [log.get(i) for i in range(3)]
    with Log.open(path) as log:
        got = list(log.read())
        assert got == written
        assert got[1].timestamp == 5_000_000_000
        assert [log.get(i).timestamp for i in range(3)] == [r.timestamp for r in got]


def _rows(names, n):
    return [(names[i % len(names)], "src", 0, 1000 + i, i, b'{"i":%d}' % i, b"") for i in range(n)]


def test_block_with_more_than_256_names_decodes():
    names = [f"name{i}" for i in range(300)]
    frame = blk.encode_block(0, _rows(names, 600), None)[0]
    block = blk.decode_frame(frame)
    assert block.names()[:300] == names and block.names()[300:] == names
    assert [r.data for r in block.records()] == [{"i": i} for i in range(600)]


def test_out_of_range_name_id_is_corruption():
    rows = _rows(["a", "b"], 10)
    frame, header, meta = blk.encode_block(0, rows, None)
    block = blk.decode_frame(frame)
    payload = bytearray(block._raw)
    payload[3] = 7           # a name id (low byte, shuffled column) past the table of 2 names
    with pytest.raises(CorruptBlockError, match="out of range"):
        blk.DecodedBlock(header, meta, bytes(payload))


def test_encode_flat_checks_its_shape():
    with pytest.raises(ValueError):
        blk.encode_flat(0, [], None)
    with pytest.raises(ValueError):
        blk.encode_flat(0, ["a", "s", 0, 1, 1, b"1", b""], None)   # 7 fields: a row has 8
    flat = [x for row in _rows(["a"], 3) for x in row + (b"",)]
    assert blk.encode_flat(0, flat, None)[0] == blk.encode_block(0, _rows(["a"], 3), None)[0]


def test_rare_name_selection_matches_a_scan_and_checks_counts():
    names = ["common"] * 99 + ["rare"]
    rows = [(names[i % 100], "s", 0, 1000 + i, i, b"%d" % i, b"") for i in range(1000)]
    block = blk.decode_frame(blk.encode_block(0, rows, None)[0])
    mask = [n == "rare" for n in block.meta.names]
    assert _select_ids(block, mask) == [i for i in range(1000) if i % 100 == 99]
    assert _select_ids(block, [not m for m in mask]) == [i for i in range(1000) if i % 100 != 99]
    k = block.meta.names.index("rare")
    for wrong in (9, 11):   # a count that disagrees with the column is damage, never a silent miss
        counts = list(block.meta.name_counts)
        counts[k] = wrong
        block.meta = block.meta._replace(name_counts=counts)
        with pytest.raises(CorruptBlockError, match="counts disagree"):
            _select_ids(block, mask)


def test_salvage_reports_events_cut_from_a_middle_segment(tmp_path):
    path = str(tmp_path / "rec")
    with Log.create(path, fsync="never", block_max_records=5, segment_max_bytes=4096) as log:
        for i in range(200):
            log.append("E", {"i": i, "pad": "x" * 40}, "s")
        segments = log.segments()
    assert len(segments) >= 2
    first = os.path.join(path, segments[0][0])
    os.truncate(first, os.path.getsize(first) - 10)   # the last block of the first segment
    report = SalvageReport()
    got = [r.offset for r in salvage(path, report)]
    lost = [p for p in report.skipped if p.message == "events lost at the end of the segment"]
    assert lost and lost[0].offsets[1] == segments[1][1] - 1
    assert set(got) | set(range(lost[0].offsets[0], lost[0].offsets[1] + 1)) == set(range(200))


def test_atomic_batches_take_one_block_checked_or_not(tmp_path):
    path = str(tmp_path / "rec")
    with Log.create(path, fsync="never") as log:
        log.append("A", {"i": -1}, "s")                       # names A and s now checked
        fast = log.append_batch_encoded([("A", "s", 0, b'{"i":%d}' % i, b"", None, None) for i in range(100)],
                                        atomic=True, validate=False)
        checked = log.append_batch_encoded([("B", "t", 0, b'{"i":%d}' % i, b"", None, None) for i in range(100, 150)],
                                           atomic=True)
        loose = log.append_batch_encoded([("A", "s", 0, b'{"i":150}', b"", None, None)])
        with pytest.raises(Exception, match="atomic batch is limited"):
            log.append_batch_encoded([("A", "s", 0, b"1", b"", None, None)] * 70_000, atomic=True, validate=False)
        entries = [e for _seg, e in log.index_entries()]
    assert (fast, checked, loose) == (range(1, 101), range(101, 151), range(151, 152))
    blocks = [range(e.first_offset, e.first_offset + e.count) for e in entries]
    for batch in (fast, checked):   # each atomic batch lies within one block
        assert any(batch.start in b and batch[-1] in b for b in blocks)
    with Log.open(path) as log:
        got = list(log.read())
    assert [r.data["i"] for r in got] == list(range(-1, 151))
    assert [r.name for r in got[1:101]] == ["A"] * 100 and {r.source for r in got[101:151]} == {"t"}
    assert [r.monotonic for r in got] == sorted(r.monotonic for r in got)


def test_read_columns_equal_raw_records(tmp_path):
    import datetime as dt
    path = str(tmp_path / "rec")
    with Log.create(path, fsync="never", block_max_records=7, segment_max_bytes=4096) as log:
        for i in range(300):
            data = {"i": i, "when": dt.date(2020, 1, 1 + i % 28)} if i % 10 == 0 else {"i": i}
            log.append(f"N{i % 4}", data, f"s{i % 3}")
        assert len(log.segments()) > 1
        raw = list(log.read(raw=True))
        decoded = list(log.read())
        for start, end in ((0, 300), (5, 6), (3, 250), (100, 999), (299, 300), (300, 400), (40, 40)):
            cols = log.read_columns(start, end)
            want = raw[start:end]
            assert cols.offsets == range(min(start, 300), min(start, 300) + len(want))
            assert cols.names == [r.name for r in want] and cols.sources == [r.source for r in want]
            assert cols.data == [r.data for r in want] and cols.types == [r.types for r in want]
            assert cols.flags == bytes(r.flags for r in want)
            values = log.read_columns(start, end, decoded=True)   # a chunk decoded at a time
            assert values.offsets == cols.offsets and values.names == cols.names and values.flags == cols.flags
            assert values.sources == cols.sources and values.types == []
            assert list(values.data) == [r.data for r in decoded[start:end]]   # type maps applied


def test_raw_copy_splits_blocks_by_size_and_clamps_times(tmp_path):
    import random
    from evlog.segments import RawRecord
    rng = random.Random(7)
    src = []
    for i in range(400):
        size = 5000 if i == 123 else rng.randrange(1, 300)
        mono = 1000 * i - (50_000 if i % 97 == 5 else 0)           # some times step back
        src.append(RawRecord(i, 10**18 + mono, mono, f"N{i % 5}", "s", b'"' + b"x" * size + b'"', 0, b""))
    path = str(tmp_path / "copy")
    with Log.create(path, fsync="never", block_max_bytes=4096) as log:
        log.append("first", 1, "s", monotonic=500)
        got_range = log.append_rows(EncodedRows.from_raw(src), validate=False)
        entries = [e for _seg, e in log.index_entries()]
    assert got_range == range(1, 401)
    with Log.open(path) as log:
        got = list(log.read(raw=True))
    assert [r.data for r in got[1:]] == [r.data for r in src]
    monos = [r.monotonic for r in got]
    assert monos == sorted(monos)                                  # clamped, never decreasing
    assert all(r.monotonic == s.monotonic for r, s in zip(got[1:], src) if s.monotonic >= monos[0] and
               all(t.monotonic <= s.monotonic for t in src[:s.offset]))
    with Log.open(path) as log:
        block_bytes = [(e.count, sum(len(r.data) + ROW_OVERHEAD for r in log.read(e.first_offset, e.first_offset + e.count,
                                                                                   raw=True)))
                       for e in entries]
    for count, size in block_bytes:
        assert size <= 4096 + ROW_OVERHEAD or count == 1          # only a row bigger than a block goes alone
    with pytest.raises(Exception):
        log2 = Log.create(str(tmp_path / "bad"), fsync="never")
        try:
            log2.append_rows(EncodedRows.from_raw([src[0]._replace(name=7)]), validate=False)
        finally:
            log2.close()


def test_atomic_batches_share_blocks_but_never_span_two(tmp_path):
    import random
    rng = random.Random(3)
    path = str(tmp_path / "rec")
    batches = []
    with Log.create(path, fsync="never", block_max_bytes=2048) as log:
        log.append("A", 0, "s")
        for k in range(60):
            n = rng.randrange(1, 30)
            rows = [("A", "s", 0, b'"%s"' % (b"y" * rng.randrange(0, 80)), b"", None, None) for _ in range(n)]
            batches.append(log.append_batch_encoded(rows, atomic=True, validate=False))
            if k % 7 == 0:
                log.append("A", k, "s")
        entries = [e for _seg, e in log.index_entries()]
    blocks = [range(e.first_offset, e.first_offset + e.count) for e in entries]
    assert len(blocks) < len(batches)                   # small batches share blocks
    for batch in batches:
        assert any(batch.start in b and batch[-1] in b for b in blocks), batch


def test_batch_of_models_spans_blocks_and_reads_back(tmp_path):
    from evlog.segments import EventEncodeError
    path = str(tmp_path / "rec")
    ticks = [Tick(pair=f"P{i}", price=i + 0.5) for i in range(3000)]
    with Log.create(path, fsync="never", block_max_bytes=8192) as log:
        log.append("Tick", ticks[0], "feed")
        got = log.append_batch([("Tick", t, "feed") for t in ticks[1:]])
        mixed = log.append_batch([("Tick", ticks[0], "feed"), ("Other", {"x": 1}, "s"), ("N", None)])  # mixed shapes
        with pytest.raises(EventEncodeError):
            log.append_batch([("Tick", ticks[0], "feed"), ("Tick", ticks[1], 7)])   # a bad source
        with pytest.raises(Exception):
            log.append_batch([("x" * 2000, ticks[0], "feed")])                        # a name too long: checked
        n_blocks = len(log.index_entries())
    assert got == range(1, 3000) and mixed == range(3000, 3003)
    assert n_blocks > 10                                            # the batch spans blocks
    with Log.open(path) as log:
        recs = list(log.read())
    assert [r.data["pair"] for r in recs[:3000]] == [t.pair for t in ticks]
    assert [r.name for r in recs[3000:]] == ["Tick", "Other", "N"] and recs[3002].source == ""
    batch_times = [r.monotonic for r in recs[1:3000]]
    assert batch_times == list(range(batch_times[0], batch_times[0] + 2999))   # one clock read, 1 ns apart
    assert [r.monotonic for r in recs] == sorted(r.monotonic for r in recs)
    assert [r.offset for r in recs] == list(range(len(recs)))


def test_writer_ids_across_many_names_and_table_restarts(tmp_path, monkeypatch):
    """The block buffer holds the writer's ids of names and sources: every append path maps
    them back to the right strings, above 255 ids (the slow mapping) and across restarts of
    the id table (forced small here)."""
    from evlog.segments import buffer as buffer_mod
    monkeypatch.setattr(buffer_mod, "MAX_IDS", 40)
    path = str(tmp_path / "rec")
    expected = []
    with Log.create(path, fsync="never", block_max_records=97) as log:
        log.append("Tick", Tick(pair="A", price=1.0), "feed")
        expected.append(("Tick", "feed"))
        for i in range(700):                                   # models and dicts, many names
            name, source = f"N{i % 350}", f"S{i % 7}"
            if i % 3:
                log.append(name, Tick(pair=name, price=i), source)
            else:
                log.append(name, {"i": i}, source)
            expected.append((name, source))
        batch = [(f"B{i % 300}", Tick(pair="b", price=i), f"S{i % 5}") for i in range(600)]
        log.append_batch(batch)                                 # column path, rows span blocks
        expected += [(n, s) for n, _, s in batch]
        atomic = [(f"A{i}", {"k": i}, "atom") for i in range(50)]
        log.append_batch(atomic, atomic=True)                   # atomic batch in one block
        expected += [(n, s) for n, _, s in atomic]
        assert len(log._writer._buffer.table) <= 40 + 2 * 97    # restarted: bounded by a block
        summary = log.summary()
    with Log.open(path) as log:
        got = [(r.name, r.source) for r in log.read()]
        raws = list(log.read(raw=True))
    copy = str(tmp_path / "copy")
    with Log.create(copy, fsync="never", block_max_records=61) as out:
        out.append_rows(EncodedRows.from_raw(raws[:900]), validate=False)   # raw copy: columns
        for raw in raws[900:1000]:                                          # one by one: a row each
            out.append_encoded(raw.name, raw.source, raw.flags, raw.data, raw.types, raw.timestamp, raw.monotonic)
        out.append_rows(EncodedRows.from_raw(raws[1000:]), validate=False)
    with Log.open(copy) as log:
        copied = [(r.name, r.source) for r in log.read()]
    assert got == expected
    assert copied == expected
    counts: dict[str, int] = {}
    for name, _ in expected:
        counts[name] = counts.get(name, 0) + 1
    assert summary.names == counts


def test_id_column_of_matches_the_string_column():
    table = [f"v{i}" for i in range(400)]
    cases = [[5] * 10, [9, 3, 9, 250, 3], [0, 1, 2, 1, 0], [7, 300, 7, 399, 0], [300] * 3, [4], [399]]
    for ids in cases:
        values = [table[i] for i in ids]
        got_table, got_counts, column = blk._id_column_of(ids, table)
        want_table, want_counts, _ = blk._id_column(values)
        assert dict(zip(got_table, got_counts)) == dict(zip(want_table, want_counts))
        n = len(ids)
        local = [column[k] | column[n + k] << 8 for k in range(n)]
        assert [got_table[i] for i in local] == values
    for small in ([0, 1, 0, 2, 2], [2, 2, 2]):   # a table of 3: the ids present found among its 3
        got_table, got_counts, _ = blk._id_column_of(small, table[:3])
        assert dict(zip(got_table, got_counts)) == dict(zip(*blk._id_column([table[i] for i in small])[:2]))
    for outside in ([0, 1, 3], [3, 3], [1, 1, 200]):   # an id past a table of 3 is an error, not a wrong count
        with pytest.raises(IndexError):
            blk._id_column_of(outside, table[:3])


@given(st.lists(st.lists(st.integers(0, 700), min_size=1, max_size=40), min_size=1, max_size=6),
       st.integers(1, 3000), st.integers(1, 20), st.lists(st.integers(0, 300), max_size=3))
@settings(max_examples=300, deadline=None)
def test_column_appends_cut_blocks_greedily(batches, max_bytes, max_records, singles):
    """Column appends fill each block as far as the next row fits (bytes: sizes + ROW_OVERHEAD
    each; records), a row bigger than a block alone; offsets and sizes add up."""
    sealed = []
    buf = BlockBuffer(0, 0, 0, max_bytes, max_records, lambda: None, lambda: sealed.append(buf.take()))
    sizes_of: list[int] = []
    for s in singles:   # rows already in the open block
        buf.add("a", "s", 0, None, None, b"x" * s, b"", b"", s)
        sizes_of.append(s)
    for sizes in batches:
        n = len(sizes)
        buf.add_columns(["a"] * n, ["s"] * n, [0] * n, [None] * n, None, [b"x" * s for s in sizes], [b""] * n,
                        [b""] * n, sizes, False)
        sizes_of += sizes
    last = buf.take()
    blocks = sealed + ([last] if last is not None else [])
    assert [b.first_offset for b in blocks] == list(accumulate([0] + [len(b.rows) // 8 for b in blocks[:-1]]))
    assert sum(len(b.rows) // 8 for b in blocks) == len(sizes_of)
    for k, b in enumerate(blocks):
        count = len(b.rows) // 8
        mine = sizes_of[b.first_offset:b.first_offset + count]
        assert b.size == sum(mine) + ROW_OVERHEAD * count
        assert count <= max_records
        if b.first_offset + count > len(singles):   # ends with appended columns: within max_bytes
            assert b.size <= max_bytes or count == 1
        if k + 1 < len(blocks) and b.first_offset + count >= len(singles):   # a block cut by add_columns
            nxt = sizes_of[b.first_offset + count]
            assert count == max_records or b.size + nxt + ROW_OVERHEAD > max_bytes or b.size >= max_bytes


def test_scratch_payload_buffer_is_reused_and_gives_the_same_blocks():
    import zstandard
    cctx = zstandard.ZstdCompressor(level=1, write_content_size=True)
    scratch = bytearray()
    for n, data in ((50, b'{"i":%d}'), (400, b'{"pad":"' + b"x" * 300 + b'%d"}'), (20, b'"%d"')):
        flat = []
        for i in range(n):
            flat += (i % 3, 3, 0, None, i, data % i, b"", b"")
        table = ["a", "b", "c", "src"]
        with_scratch = blk.encode_flat(0, flat, cctx, 10, table, scratch)
        without = blk.encode_flat(0, flat, cctx, 10, table)
        assert with_scratch[1].raw_len == without[1].raw_len
        a, b = blk.decode_frame(with_scratch[0]), blk.decode_frame(without[0])
        assert [tuple(r) for r in a.records()] == [tuple(r) for r in b.records()]
        assert [r.name for r in a.records()] == [table[i % 3] for i in range(n)]
    assert len(scratch) >= 400 * 300                          # grown once, kept
    random_rows = []
    for i in range(30):                                       # incompressible: stored raw
        random_rows += (0, 0, 0, None, i, b'"' + os.urandom(40).hex().encode() + b'"', b"", b"")
    frame, header, _ = blk.encode_flat(0, random_rows, cctx, 10, ["x"], scratch)
    assert [r.name for r in blk.decode_frame(frame).records()] == ["x"] * 30


def test_single_row_path_reports_a_bad_name_or_source_clearly(tmp_path):
    from evlog.segments import EventEncodeError
    with Log.create(str(tmp_path / "rec"), fsync="never") as log:
        log.append("Tick", Tick(pair="A", price=1.0), "s")      # name and source known
        for name, source in ((["not", "hashable"], "s"), ("Tick", {"a": 1}), (7, "s")):
            with pytest.raises(EventEncodeError, match="strings"):
                log.append(name, Tick(pair="A", price=2.0), source)
        assert log.append("Tick", Tick(pair="A", price=3.0), "s") == 1


def test_encode_flat_many_equals_encode_flat_block_by_block():
    import zstandard
    cctx = zstandard.ZstdCompressor(level=1, write_content_size=True)
    table = ["a", "b", "src"]
    blocks = []
    for first, n, pad in ((0, 30, 0), (30, 500, 200), (530, 1, 0), (531, 40, 1)):
        flat = []
        for i in range(n):
            data = b'"' + (os.urandom(20).hex().encode() if pad == 1 else b"x" * pad) + b'%d"' % i
            flat += (i % 2, 2, 0, None, 1000 + first + i, data, b"", b"")
        blocks.append((first, flat, 77, table))
    from evlog.segments.chain import Chain
    scratch = bytearray(b"\x01" * 10)
    many = blk.encode_flat_many(blocks, cctx, scratch, chain=Chain(bytes(32)))
    assert len(many) == len(blocks)
    one_by_one = Chain(bytes(32))   # the same chain, block after block
    for (first, flat, wall_base, tbl), (frame, header, meta) in zip(blocks, many):
        one = blk.encode_flat(first, flat, cctx, wall_base, tbl, chain=one_by_one)
        assert header == one[1] and meta == one[2]
        assert [tuple(r) for r in blk.decode_frame(frame).records()] == \
            [tuple(r) for r in blk.decode_frame(one[0]).records()]
    with pytest.raises(ValueError):
        blk.encode_flat_many([(0, ["a"], None, None)], cctx, scratch)


class SlowSyncNoted(SlowSync):
    """A slow disk that notes the size of each write: blocks queue up behind it."""

    def __init__(self):
        super().__init__()
        self.sizes = []

    def write(self, fd, data):
        self.sizes.append(len(data))
        return super().write(fd, data)


def test_queued_blocks_are_written_together_across_segment_rolls(tmp_path):
    from evlog.segments import verify
    fs = SlowSyncNoted()
    path = str(tmp_path / "rec")
    with Log.create(path, fsync="always", block_max_records=25, segment_max_bytes=4096, fs=fs) as log:
        for i in range(3000):
            log.append("Tick", Tick(pair=f"P{i % 7}", price=i), f"s{i % 3}")
        assert log.flush() == 3000
        n_blocks = len(log.index_entries())
    frame_writes = [s for s in fs.sizes if s > 64]
    assert n_blocks == 3000 // 25
    assert len(frame_writes) < n_blocks            # several blocks went out in one write
    with Log.open(path) as log:
        got = list(log.read())
        entries = log.index_entries()
    assert [r.data["price"] for r in got] == [float(i) for i in range(3000)]
    assert len({seg for seg, _ in entries}) > 5    # rolled, also inside batches
    assert [e.first_offset for _, e in entries] == list(range(0, 3000, 25))
    assert verify(path).ok


def test_decoded_columns_cut_chunks_and_blocks_alike(tmp_path):
    """Pages that start and end inside chunks (256 records) and blocks get the values of
    exactly their records, in order."""
    from decimal import Decimal
    path = str(tmp_path / "rec")
    with Log.create(path, fsync="never", block_max_records=700) as log:
        for i in range(2000):
            log.append("N", {"i": i, "p": Decimal(i) / 4} if i % 3 == 0 else {"i": i}, "s")
        want = [r.data for r in log.read()]
        for start, end in ((0, 2000), (255, 257), (200, 600), (699, 701), (1, 1999), (1500, 1501), (1990, 2100)):
            got = list(log.read_columns(start, end, decoded=True).data)
            assert got == want[start:end], (start, end)
