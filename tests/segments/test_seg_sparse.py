"""Sparse reads (a rare name or source: a few records of each block) build their records from
the stored columns (`DecodedBlock._points`, `block._column_sums`) instead of the unshuffled
ones: they must give exactly the records of a plain read then a filter (offsets, both times,
names, sources, flags, data, typed values, headers), in format versions 1 and 2, and a
damaged block must raise the same error either way."""
from __future__ import annotations

import json
from bisect import bisect_left, bisect_right
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evlog import Log
from evlog.segments import CorruptBlockError
from evlog.segments import block as blk
from evlog.segments.codec import FLAG_TYPED

NAMES = ["common"] * 12 + ["other"] * 4 + ["rare"]

rows_strategy = st.lists(st.tuples(
    st.sampled_from(NAMES), st.sampled_from(["s1", "s1", "s1", "s2"]),
    st.integers(0, 10**9),                    # monotonic step
    st.one_of(st.none(), st.integers(-10**6, 10**6)),   # None: a measured time, else a wall offset
    st.booleans(),                            # typed data (a type map)
    st.booleans(),                            # headers (v2)
), min_size=1, max_size=900)


def _block_rows(events: list, version: int) -> tuple[list, int]:
    rows = []
    mono = 5
    for i, (name, source, step, wall, typed, with_headers) in enumerate(events):
        mono += step
        ts = 1_760_000_000_000_000_000 + mono + (wall or 0)
        data = b'{"i":%d,"p":"%d.25"}' % (i, i) if typed else b'{"i":%d}' % i
        types = b'[[["p"],"decimal"]]' if typed else b""
        headers = json.dumps({"k": f"v{i}"}).encode() if with_headers and version >= 2 else b""
        rows.append((name, source, FLAG_TYPED if typed else 0, ts, mono, data, types, headers))
    return rows, mono


def _frame_and_records(events: list, version: int) -> tuple[bytes, list]:
    """A block of `events` in format `version` and its records decoded whole."""
    rows, _ = _block_rows(events, version)
    if version < 2:
        rows = [r[:7] for r in rows]
    frame = blk.encode_block(0, rows, None, version=version)[0]
    return frame, blk.decode_frame(frame).records()


@settings(max_examples=80, deadline=None)
@given(rows_strategy, st.sampled_from([1, 2]), st.data())
def test_sparse_block_records_equal_the_dense_ones(events, version, data):
    frame, dense = _frame_and_records(events, version)
    n = len(dense)
    indices = sorted(data.draw(st.sets(st.integers(0, n - 1), max_size=min(n, 40))))
    # a fresh block: nothing unshuffled yet, the sparse path reads the stored columns
    assert blk.decode_frame(frame).records(indices) == [dense[i] for i in indices]
    for i in indices[:5]:
        fresh = blk.decode_frame(frame)
        assert fresh.record_times(i) == (dense[i].timestamp, dense[i].monotonic)
        assert fresh.data(i) == dense[i].data and fresh.headers(i) == dense[i].headers
    # and the sums agree with the unshuffled columns once those exist
    block = blk.decode_frame(frame)
    block.timestamps, block._positions()
    assert block.records(indices) == [dense[i] for i in indices]
    for name in set(block.meta.names):
        sparse = [r for r in blk.decode_frame(frame).records(
            [i for i, r in enumerate(dense) if r.name == name])]
        assert sparse == [r for r in dense if r.name == name]


@settings(max_examples=60, deadline=None)
@given(rows_strategy, st.sampled_from([1, 2]), st.data())
def test_spans_and_a_first_record_alone_equal_the_dense_records(events, version, data):
    """A bounded read hands the block a `range`: chunk by chunk by arithmetic, and with
    `first_alone` (a read's first block) its first record in a list of its own. Both give
    the dense records; the monotonic position found through the chunks' last times is the
    bisection of the whole column."""
    frame, dense = _frame_and_records(events, version)
    n = len(dense)
    lo = data.draw(st.integers(0, n - 1))
    hi = data.draw(st.integers(lo, n))
    for alone in (False, True):
        parts = list(blk.decode_frame(frame).iter_records(range(lo, hi), first_alone=alone))
        assert [r for part in parts for r in part] == dense[lo:hi]
        assert all(0 < len(part) <= blk.CHUNK_RECORDS for part in parts)
        if alone and (hi - lo) * 4 >= blk.CHUNK_RECORDS:   # (fewer are built together, alone or not)
            assert len(parts[0]) == 1
        listed = list(blk.decode_frame(frame).iter_records(list(range(lo, hi)), first_alone=alone))
        assert [r for part in listed for r in part] == dense[lo:hi]
    monos = [r.monotonic for r in dense]
    probes = {monos[0] - 1, monos[-1] + 1, *(m + d for m in data.draw(st.lists(st.sampled_from(monos), max_size=8))
                                             for d in (-1, 0, 1))}
    for after in (False, True):
        for t in probes:
            want = (bisect_right if after else bisect_left)(monos, t)
            assert blk.decode_frame(frame).mono_position(t, after) == want
            block = blk.decode_frame(frame)
            assert block.monotonics == monos   # the whole column known: bisected directly
            assert block.mono_position(t, after) == want


@pytest.mark.parametrize("version", [1, 2])
@pytest.mark.parametrize("span", [(0, 700), (1, 700), (5, 600), (100, 400), (255, 257), (256, 600), (300, 350),
                                  (640, 700)])
def test_spans_of_a_big_block(version, span):
    """The same on a block of three chunks (the generated ones are mostly small): spans
    starting at, before and within a chunk, crossing chunks, of a few records or many."""
    events = [(NAMES[i % len(NAMES)], "s1", i % 5 * 1000, None if i % 3 else i, i % 11 == 5, i % 4 == 0)
              for i in range(700)]
    rows, _ = _block_rows(events, version)
    if version < 2:
        rows = [r[:7] for r in rows]
    frame = blk.encode_block(0, rows, None, version=version)[0]
    dense = blk.decode_frame(frame).records()
    lo, hi = span
    for alone in (False, True):
        parts = list(blk.decode_frame(frame).iter_records(range(lo, hi), first_alone=alone))
        assert [r for part in parts for r in part] == dense[lo:hi]
        many = (hi - lo) * 4 >= blk.CHUNK_RECORDS
        # (a record with a type map is not built alone: it comes with its chunk)
        first = 1 if alone and many and not rows[lo][2] & FLAG_TYPED else min(hi - lo, 256 - lo % 256) if many else hi - lo
        assert len(parts[0]) == first
    for r in dense[lo:hi:37]:
        for after in (False, True):
            t = r.monotonic
            assert blk.decode_frame(frame).mono_position(t, after) == \
                (bisect_right if after else bisect_left)([d.monotonic for d in dense], t)


@settings(max_examples=25, deadline=None)
@given(rows_strategy, st.sampled_from([50, 300, 1000]))
def test_filtered_log_reads_equal_a_plain_read_then_a_filter(tmp_path_factory, events, block_max):
    path = str(tmp_path_factory.mktemp("sparse") / "rec")
    with Log.create(path, fsync="never", block_max_records=block_max) as log:
        mono = 0
        for i, (name, source, step, wall, typed, with_headers) in enumerate(events):
            mono += step
            log.append(name, {"i": i, "p": Decimal(i) / 4} if typed else {"i": i}, source,
                       None if wall is None else 1_760_000_000_000_000_000 + mono + wall, mono,
                       headers={"k": f"v{i}"} if with_headers else None)
    with Log.open(path) as log:
        every = list(log.read())
        for name in ("rare", "other", "common", "absent"):
            assert list(log.read(names=name)) == [r for r in every if r.name == name]
        assert list(log.read(sources="s2")) == [r for r in every if r.source == "s2"]
        assert list(log.read(names=["rare", "other"], sources="s1")) == \
            [r for r in every if r.name in ("rare", "other") and r.source == "s1"]
        if every:
            lo, hi = len(every) // 3, 2 * len(every) // 3 + 1
            assert list(log.read(lo, hi, names="rare")) == [r for r in every[lo:hi] if r.name == "rare"]
            mid = every[len(every) // 2].monotonic
            assert list(log.read(start_mono=mid, names="rare")) == \
                [r for r in every if r.name == "rare" and r.monotonic >= mid]
            assert list(log.read(lo, hi)) == every[lo:hi]
            assert list(log.read(start_mono=mid)) == [r for r in every if r.monotonic >= mid]
            assert list(log.read(end_mono=mid)) == [r for r in every if r.monotonic <= mid]


def _forged(rows: list, change) -> tuple[blk.BlockHeader, blk.BlockMeta, bytes]:
    """A block whose payload `change(bytearray)` altered after encoding (its checksum would
    not match: the payload is handed to DecodedBlock directly, as a frame that passed it)."""
    frame, header, meta = blk.encode_block(0, rows, None)
    payload = bytearray(blk.decode_frame(frame)._raw)
    change(payload)
    return header, meta, bytes(payload)


def _errors(header, meta, payload, indices):
    """The error of decoding a block and reading `indices` (None: all): its kind and where
    (the block's offsets). Not the JSON decoder's own detail: a chunk decoded whole and a
    record decoded alone name other byte positions, as they did before the sparse path."""
    try:
        blk.DecodedBlock(header, meta, payload).records(indices)
    except CorruptBlockError as exc:
        text = str(exc)
        if text.startswith("bad event data"):
            return text.split(":")[0], text.rsplit("(", 1)[-1], exc.offsets
        return text, exc.offsets
    return None


def _span_error(header, meta, payload, span: range):
    """`_errors` of a bounded read's first block: `span` read with its first record alone."""
    try:
        for _part in blk.DecodedBlock(header, meta, payload).iter_records(span, first_alone=True):
            pass
    except CorruptBlockError as exc:
        text = str(exc)
        return text.split(":")[0], text.rsplit("(", 1)[-1], exc.offsets
    return None


@pytest.mark.parametrize("what", ["rare data", "data lengths", "mono delta", "wall delta", "header bytes"])
def test_a_damaged_block_raises_the_same_error_sparse_or_dense(what):
    names = ["c"] * 99 + ["r"]
    rows = [(names[i % 100], "s", 0, 10**18 + 2 * i, i, b'{"i":%d}' % i, b"", b'{"h":"x"}' if i % 7 == 0 else b"")
            for i in range(600)]
    n = len(rows)
    rare = [i for i in range(n) if i % 100 == 99]
    frame, header, meta = blk.encode_block(0, rows, None)
    block = blk.decode_frame(frame)
    start = block._start(rare[2])
    ends = [0, 2 * n, 4 * n, 5 * n, 13 * n, 21 * n, 25 * n, 29 * n, 33 * n]

    def change(p: bytearray) -> None:
        if what == "rare data":
            p[start] = ord("}")            # record 299's JSON no longer parses
        elif what == "data lengths":
            p[ends[5] + 7] += 1            # one length a byte longer: the sections no longer add up
        elif what == "mono delta":
            p[ends[3] + 9] += 1            # the times disagree with the header
        elif what == "wall delta":
            p[ends[4] + 13 * n // 8] ^= 4  # a high byte of a wall delta: not constant, wrong last time
        else:
            p[block._header_pos[rare[0] - 1 - (rare[0] - 1) % 7] + 1] = ord("[")   # a header no longer an object
    header, meta, payload = _forged(rows, change)
    dense = _errors(header, meta, payload, None)
    assert dense is not None
    if what == "header bytes":
        # headers are decoded only for the records read: the damaged one is record 98's
        assert _errors(header, meta, payload, list(range(90, 100))) == dense
    elif what == "rare data":
        assert _errors(header, meta, payload, rare) == dense
        # a span read from the damaged record (its first record alone) or from before it
        for lo in (rare[2], rare[2] - 60):
            assert _span_error(header, meta, payload, range(lo, 500)) == \
                _errors(header, meta, payload, list(range(lo, 500))) == dense
        assert _errors(header, meta, payload, rare[:2]) is None   # only the damaged record raises
    else:
        assert _errors(header, meta, payload, rare) == dense == _errors(header, meta, payload, [])
        assert ("data lengths do not match" if what == "data lengths" else "timestamps disagree") in dense[0]
