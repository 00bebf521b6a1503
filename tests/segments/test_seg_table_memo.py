"""A reader's TableMemo (the last large name/source tables decoded, reused by a block whose
table bytes are the same): decoding with it gives the blocks decoding without it gives, on
arbitrary runs of blocks; it hands a table out again only for the same bytes and record
count; a log of interleaved keys reads the same through it."""
from __future__ import annotations

import pytest
import zstandard
from hypothesis import given, settings
from hypothesis import strategies as st

from evlog import Log
from evlog.segments import CorruptBlockError
from evlog.segments import block as blk

CCTX = zstandard.ZstdCompressor(level=1)


def _frame(first: int, sources: list[str], names: list[str]) -> bytes:
    n = len(sources)
    frame, _, _ = blk.encode_columns(first, names, sources, [0] * n, [10**18 + i for i in range(n)], list(range(n)),
                                     [b'{"i":%d}' % i for i in range(n)], [b""] * n, CCTX)
    return frame


def _same(a: blk.DecodedBlock, b: blk.DecodedBlock) -> None:
    assert a.meta == b.meta
    n = a.header.count
    assert a.raw_records() == b.raw_records()
    assert a.raw_points(list(range(0, n, 7))) == b.raw_points(list(range(0, n, 7)))


aggregates = st.lists(st.sampled_from([f"agg-{i}" for i in range(300)]), min_size=64, max_size=400)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(aggregates, st.sampled_from(["A", "B"]), st.booleans()), min_size=1, max_size=6))
def test_decoding_through_the_memo_equals_decoding_without(blocks):
    memo = blk.TableMemo()
    previous: list[str] | None = None
    for first, (sources, name, repeat) in enumerate(blocks):
        if repeat and previous is not None:
            sources = previous   # the same table as the block before: a hit
        frame = _frame(first * 1000, sources, [name] * len(sources))
        _same(blk.decode_frame(frame, memo=memo), blk.decode_frame(frame))
        previous = sources


def test_a_table_is_reused_only_for_the_same_bytes_and_count():
    memo = blk.TableMemo()
    sources = [f"agg-{i}" for i in range(100)]
    first = blk.decode_frame(_frame(0, sources, ["A"] * 100), memo=memo)
    again = blk.decode_frame(_frame(100, sources, ["A"] * 100), memo=memo)
    assert again.meta.sources is first.meta.sources   # reused, not decoded again
    renamed = blk.decode_frame(_frame(200, sources[:-1] + ["agg-X"], ["A"] * 100), memo=memo)
    assert renamed.meta.sources[-1] == "agg-X" and renamed.meta.sources is not first.meta.sources
    twice = blk.decode_frame(_frame(300, sources + sources, ["A"] * 200), memo=memo)
    assert twice.meta.source_counts == [2] * 100   # same values, other counts: decoded
    small = [f"s{i}" for i in range(10)]
    a = blk.decode_frame(_frame(400, small, ["A"] * 10), memo=memo)
    b = blk.decode_frame(_frame(500, small, ["A"] * 10), memo=memo)
    assert a.meta.sources == b.meta.sources and a.meta.sources is not b.meta.sources   # small: not kept


def test_a_damaged_table_after_a_kept_one_is_still_refused():
    memo = blk.TableMemo()
    sources = [f"agg-{i}" for i in range(100)]
    blk.decode_frame(_frame(0, sources, ["A"] * 100), memo=memo)
    frame = bytearray(_frame(100, sources, ["A"] * 100))
    header = blk.parse_header(bytes(frame))
    meta_at = blk.HEADER_SIZE + blk.LINK_SIZE
    # a source count raised by one, the checksum made to match: the counts no longer add up
    table = blk.parse_meta(header, bytes(frame[blk.HEADER_SIZE:blk.HEADER_SIZE + header.meta_len]))
    names_len = 2 + sum(2 + len(x.encode()) + 4 for x in table.names)
    count_at = meta_at + names_len + 2 + 2 + len(sources[0])
    frame[count_at] += 1
    with pytest.raises(CorruptBlockError):
        blk.parse_meta(header, bytes(frame[blk.HEADER_SIZE:blk.HEADER_SIZE + header.meta_len]), memo=memo)


def test_interleaved_keys_read_the_same_through_a_reader(tmp_path):
    path = tmp_path / "rec"
    with Log.create(path, "memo", fsync="never", block_max_records=200) as log:
        for rnd in range(5):
            for a in range(200):
                log.append("Added", {"round": rnd, "agg": a}, source=f"agg-{a}")
    with Log.open(path) as log:
        got = log.read_at([a * 200 + 17 for a in range(5)])
        assert [(r.source, r.data) for r in got] == [("agg-17", {"round": a, "agg": 17}) for a in range(5)]
        assert [(r.source, r.data) for r in log.read()] == [
            (f"agg-{a}", {"round": rnd, "agg": a}) for rnd in range(5) for a in range(200)]
