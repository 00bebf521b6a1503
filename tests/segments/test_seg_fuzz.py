"""Parsers fed arbitrary bytes and mutated valid frames raise only the engine's own errors."""
from __future__ import annotations

import os
import struct
import tracemalloc

import pytest
import xxhash
import zstandard
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evlog.segments import CorruptBlockError, CorruptRecordingError, NotARecordingError, UnsupportedFormatError
from evlog.segments import block, segment
from evlog.segments.block import HEADER_SIZE, decode_frame, encode_block, parse_header, parse_meta
from evlog.segments.index import SegmentIndex, SegmentSummary, encode_index, parse_index
from evlog.segments.manifest import Manifest, read_manifest
from evlog.segments.segment import BlockEntry, encode_segment_header, parse_segment_header

from segtools import examples

OK_ERRORS = (CorruptRecordingError, UnsupportedFormatError, NotARecordingError)
FUZZ = settings(max_examples=examples(200), deadline=None, suppress_health_check=list(HealthCheck))


def _rows(n: int, typed: bool = False):
    rows = []
    for i in range(n):
        data = b'{"i":%d,"s":"%s"}' % (i, b"x" * (i % 5))
        types = b'[[["s"],"bytes"]]' if typed and i % 2 else b""
        rows.append((f"N{i % 3}", f"S{i % 2}", 1 if types else 0, 1000 + i, 10 * i, data, types))
    return rows


def valid_frames():
    cctx = zstandard.ZstdCompressor(write_content_size=True)
    return [encode_block(5, _rows(7), cctx)[0], encode_block(0, _rows(1), None)[0],
            encode_block(100, _rows(30, typed=True), cctx)[0]]


FRAMES = valid_frames()


def decode_all(buf: bytes) -> None:
    """Run every parsing step a reader runs on a frame."""
    blk = decode_frame(buf, "seg", 0)
    blk.records()
    blk.raw_records()
    for i in range(len(blk)):
        blk.data(i)


def _refresh_checksum(buf: bytearray) -> bytes:
    """Make the frame checksum valid again so the deeper parsers are reached."""
    if len(buf) >= HEADER_SIZE:
        h = xxhash.xxh3_64(bytes(buf[:HEADER_SIZE - 8]))
        h.update(bytes(buf[HEADER_SIZE:]))
        buf[HEADER_SIZE - 8:HEADER_SIZE] = struct.pack("<Q", h.intdigest())
    return bytes(buf)


mutations = st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), min_size=1, max_size=6)


@FUZZ
@given(buf=st.binary(max_size=600))
def test_arbitrary_bytes(buf):
    for fn in (lambda b: decode_all(b), lambda b: parse_header(b), lambda b: parse_index(b, "i"),
               lambda b: parse_segment_header(b, "s")):
        try:
            fn(buf)
        except OK_ERRORS:
            pass


@FUZZ
@given(which=st.integers(0, len(FRAMES) - 1), muts=mutations, fix=st.booleans(),
       cut=st.none() | st.integers(0, 2000))
def test_mutated_frames(which, muts, fix, cut):
    buf = bytearray(FRAMES[which])
    for pos, val in muts:
        buf[pos % len(buf)] = val
    if cut is not None:
        del buf[cut % len(buf):]
    data = _refresh_checksum(buf) if fix else bytes(buf)
    try:
        decode_all(data)
    except OK_ERRORS:
        pass
    try:
        header = parse_header(data)
        parse_meta(header, data[HEADER_SIZE:HEADER_SIZE + header.meta_len])
    except OK_ERRORS:
        pass


@FUZZ
@given(meta=st.binary(max_size=200), count=st.integers(1, 70000))
def test_parse_meta_arbitrary(meta, count):
    header = parse_header(FRAMES[0])._replace(count=count)
    try:
        parse_meta(header, meta)
    except OK_ERRORS:
        pass


def _valid_index() -> bytes:
    entries, pos, off = [], segment.SEGMENT_HEADER_SIZE, 10
    for n in (3, 4, 1):
        entries.append(BlockEntry(off, n, pos, 200, 1, 2, 1, 2, 0, 5))
        off += n
        pos += 200
    summary = SegmentSummary(count=8, blocks=3)
    return encode_index(SegmentIndex(10, pos, entries, summary))


INDEX = _valid_index()


def _refresh_index_checksum(buf: bytearray) -> bytes:
    if len(buf) >= 8:
        buf[-8:] = struct.pack("<Q", xxhash.xxh3_64_intdigest(bytes(buf[:-8])))
    return bytes(buf)


@FUZZ
@given(muts=mutations, fix=st.booleans(), cut=st.none() | st.integers(0, 2000))
def test_mutated_index(muts, fix, cut):
    parse_index(INDEX, "i")   # the original is valid
    buf = bytearray(INDEX)
    for pos, val in muts:
        buf[pos % len(buf)] = val
    if cut is not None:
        del buf[cut % len(buf):]
    try:
        parse_index(_refresh_index_checksum(buf) if fix else bytes(buf), "i")
    except OK_ERRORS:
        pass


@FUZZ
@given(muts=mutations, cut=st.none() | st.integers(0, 40))
def test_mutated_segment_header(muts, cut):
    buf = bytearray(encode_segment_header(77))
    assert parse_segment_header(bytes(buf), "s") == 77
    for pos, val in muts:
        buf[pos % len(buf)] = val
    if cut is not None:
        del buf[cut:]
    try:
        assert parse_segment_header(bytes(buf), "s") == 77 or bytes(buf) != encode_segment_header(77)
    except OK_ERRORS:
        pass


manifest_docs = st.one_of(
    st.binary(max_size=300),
    st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=10),
                 lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=15), c, max_size=4),
                 max_leaves=10).map(lambda v: __import__("json").dumps(v).encode()),
    st.fixed_dictionaries({"format": st.just("evlog"), "format_version": st.integers(0, 3) | st.text(max_size=2)},
                          optional={"session_name": st.text(max_size=5) | st.integers() | st.none(),
                                    "start_time_ns": st.integers() | st.text(max_size=5) | st.none(),
                                    "metadata": st.none() | st.integers() | st.lists(st.integers(), max_size=2)
                                    | st.dictionaries(st.text(max_size=3), st.integers(), max_size=2)}
                          ).map(lambda v: __import__("json").dumps(v).encode()),
)


@FUZZ
@given(doc=manifest_docs)
def test_manifest_reading(tmp_path_factory, doc):
    d = tmp_path_factory.mktemp("m")
    (d / "manifest.json").write_bytes(doc)
    try:
        m = read_manifest(str(d))
    except OK_ERRORS as exc:
        assert str(exc)
    else:
        assert isinstance(m, Manifest) and m.format_version in (1, 2)


def _huge_claim_frame(field: str) -> bytes:
    """A 32 KB frame whose header claims a 1 GiB (or 16 MiB) payload, with a valid checksum."""
    junk = os.urandom(32 << 10)
    meta = bytearray()
    meta += struct.pack("<H", 1) + struct.pack("<H", 1) + b"A" + struct.pack("<I", 1)
    meta += struct.pack("<H", 1) + struct.pack("<H", 1) + b"S" + struct.pack("<I", 1)
    meta += struct.pack("<H", 0)
    raw_len = block.MAX_RAW_LEN if field == "raw_len" else 1 << 30
    fields = [b"EVBK", 1, block.CODEC_ZSTD, 0, len(meta), len(junk), raw_len, 1, 0, 1, 1, 1, 1, 0, 0, 0]
    if field == "payload_len":
        fields[5] = 1 << 30
    if field == "zstd":   # a real zstd frame header announcing 16 MiB (the most allowed), raw_len agreeing
        fields[6] = block.MAX_RAW_LEN
        bomb = zstandard.ZstdCompressor(write_content_size=True).compress(b"\0" * block.MAX_RAW_LEN)
        junk = bomb[:zstandard.frame_header_size(bomb)] + junk
        fields[5] = len(junk)
    head = block._HEADER.pack(*fields)[:HEADER_SIZE - 8]
    h = xxhash.xxh3_64(head)
    h.update(bytes(meta))
    h.update(junk)
    return head + struct.pack("<Q", h.intdigest()) + bytes(meta) + junk


@pytest.mark.parametrize("field", ["raw_len", "payload_len", "zstd"])
def test_lying_frame_is_cheap(field):
    frame = _huge_claim_frame(field)
    assert len(frame) < 40 << 10
    tracemalloc.start()
    try:
        with pytest.raises(CorruptBlockError):
            decode_all(frame)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 << 20, peak


def test_lying_frame_in_a_segment_costs_nothing(tmp_path):
    """read_frame never reads past the end of the file, whatever the header claims."""
    frame = _huge_claim_frame("payload_len")
    path = tmp_path / "s.seg"
    path.write_bytes(encode_segment_header(0) + frame)
    fd = os.open(path, os.O_RDONLY)
    try:
        tracemalloc.start()
        with pytest.raises(CorruptBlockError):
            segment.read_frame(fd, segment.SEGMENT_HEADER_SIZE, os.path.getsize(path), "s.seg")
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    finally:
        os.close(fd)
    assert peak < 8 << 20
