"""Targeted tests for the engine's less travelled branches."""
from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import errno
import os
import random
import shutil
import struct
import time
from decimal import Decimal

import pytest
import xxhash
import zstandard

from evlog.segments import (
    CorruptBlockError, CorruptIndexError, CorruptRecordingError, EventEncodeError, FileSystem, Log,
    LogWriteError, SalvageReport, decode_data, encode_data, reindex, salvage, to_json_mode, verify,
)
from evlog.segments import block as blk
from evlog.segments import codec
from evlog.segments.chain import LINK_SIZE
from evlog.segments.index import SegmentIndex, SegmentSummary, encode_index, parse_index
from evlog.segments.reader import LogReader, name_predicate
from evlog.segments.recovery import Problem
from evlog.segments.segment import (
    SEGMENT_HEADER_SIZE, BlockEntry, encode_segment_header, find_next_frame, index_filename,
    list_segments, segment_filename,
)


def make(path, n=30, **opts):
    o = dict(fsync="never", block_max_records=4, segment_max_bytes=4096)
    o.update(opts)
    with Log.create(path, "edge", **o) as log:
        for i in range(n):
            log.append(f"N{i % 3}", {"i": i, "p": random.Random(i).randbytes(60).hex()}, f"s{i % 2}",
                       timestamp=1000 + i, monotonic=10 * i)
    return [(r.offset, r.data) for r in Log.open(path).read()]


# codec ------------------------------------------------------------------------------------
class Color(enum.Enum):
    RED = "red"


class MyInt(int):
    pass


class MyStr(str):
    pass


class MyFloat(float):
    pass


@dataclasses.dataclass
class Point:
    x: int
    y: tuple


def _fields(value):
    return dataclasses.asdict(value) if dataclasses.is_dataclass(value) else value


def test_codec_conversions():
    value = {"e": Color.RED, Color.RED: 1, 5: "k", "i": MyInt(3), "s": MyStr("a"),
             "f": MyFloat(1.5), "nf": MyFloat("inf"), "d": Decimal("-inf"),
             "dc": Point(1, (2, 3)), "mixed": {1, "a"}, "ba": bytearray(b"\x00"),
             "od": __import__("collections").OrderedDict(a=1), "l": [1, (2,)]}
    with pytest.raises(EventEncodeError, match="test_seg_edges.Point"):   # the engine knows no dataclass...
        encode_data(value)
    raw, flags, types = encode_data(value, _fields)                      # ...a default turns it into a dict
    back = decode_data(raw, flags, types)
    assert back["e"] == "red" and back["red"] == 1 and back["5"] == "k"
    assert back["i"] == 3 and type(back["i"]) is int and back["s"] == "a" and back["f"] == 1.5
    assert back["nf"] == float("inf") and back["d"] == Decimal("-inf")
    assert back["dc"] == {"x": 1, "y": (2, 3)}
    assert back["mixed"] == {1, "a"} and back["ba"] == b"\x00" and back["od"] == {"a": 1}
    assert back["l"] == [1, (2,)]
    with pytest.raises(EventEncodeError, match="cannot store a value of type"):
        encode_data({"x": object()})
    with pytest.raises(EventEncodeError, match="cannot store a value of type"):
        encode_data({"x": object()}, _fields)   # a default that leaves a value as it is
    cyc: list = []
    cyc.append(cyc)
    with pytest.raises(EventEncodeError, match="nested too deeply"):
        encode_data(cyc)
    with pytest.raises(ValueError, match="unknown type"):
        decode_data(b'"x"', codec.FLAG_TYPED, b'[[[],"nope"]]')
    assert to_json_mode({"a": 1}) == {"a": 1}
    assert to_json_mode({"d": Decimal("1.5"), "t": (1,)}) == {"d": "1.5", "t": [1]}


def test_codec_zoneinfo_and_pydantic():
    from pydantic import BaseModel

    from evlog import Log as TopLog
    encode_model = TopLog.encoder   # the engine's codec knows no pydantic: evlog.Log's encoder does
    try:
        from zoneinfo import ZoneInfo
        zone = ZoneInfo("Europe/Paris")
    except Exception:  # no tz database on this machine
        zone = None
    if zone is not None:
        value = dt.datetime(2024, 10, 27, 2, 30, fold=1, tzinfo=zone)
        back = decode_data(*encode_data({"t": value}))["t"]
        assert back == value and back.fold == 1 and back.tzinfo.key == "Europe/Paris"

    class Raw(BaseModel):
        b: bytes

    class Inner(BaseModel):
        x: int

    raw, flags, types = encode_model(Raw(b=b"\xff\x00"))   # not UTF-8: the typed fallback
    assert flags & codec.FLAG_MODEL and flags & codec.FLAG_TYPED
    assert decode_data(raw, flags, types) == {"b": b"\xff\x00"}
    raw, flags, types = encode_model({"m": Inner(x=2)})
    assert decode_data(raw, flags, types) == {"m": {"x": 2}}
    with pytest.raises(EventEncodeError, match="Inner"):
        encode_data({"m": Inner(x=2)})

    class Broken(BaseModel):
        b: bytes

        def model_dump(self, *a, **k):
            raise RuntimeError("no dump")

    with pytest.raises(EventEncodeError, match="cannot be dumped"):
        encode_model(Broken(b=b"\xff"))


# block ------------------------------------------------------------------------------------
def test_encode_block_limits():
    with pytest.raises(ValueError, match="1 to"):
        blk.encode_block(0, [], None)
    row = ("n", "s", 0, 1, 1, b'"' + b"x" * (blk.MAX_RAW_LEN // 2) + b'"', b"")
    with pytest.raises(ValueError, match="exceeds"):
        blk.encode_block(0, [row, row, row], None)


def _frame(rows=None, first=0, codec_=None):
    rows = rows or [("a", "s", 0, 5, 1, b"1", b""), ("b", "s", 0, 6, 2, b"2", b"")]
    return blk.encode_block(first, rows, codec_)[0]


def _reframe(buf: bytearray) -> bytes:
    h = xxhash.xxh3_64(bytes(buf[:blk.HEADER_SIZE - 8]))
    h.update(bytes(buf[blk.HEADER_SIZE:]))
    buf[blk.HEADER_SIZE - 8:blk.HEADER_SIZE] = struct.pack("<Q", h.intdigest())
    return bytes(buf)


def _set(frame: bytes, fmt: str, offset: int, value) -> bytes:
    buf = bytearray(frame)
    struct.pack_into(fmt, buf, offset, value)
    return _reframe(buf)


@pytest.mark.parametrize("patch,match", [
    (("<B", 5, 9), "unknown block codec"),
    (("<I", 20, 0), "record count"),
    (("<I", 8, 1 << 30), "out of range"),
    (("<I", 16, 3), "length mismatch"),
    (("<q", 48, 10**6), "out of order"),
])
def test_parse_header_checks(patch, match):
    with pytest.raises(CorruptBlockError, match=match):
        blk.decode_frame(_set(_frame(), *patch))


def test_payload_checks():
    cctx = zstandard.ZstdCompressor(write_content_size=True)
    rows = [("a", "s", 0, 5, 1, b'"' + b"z" * 300 + b'"', b"")] * 3
    frame = _frame(rows, codec_=cctx)
    header = blk.parse_header(frame)
    assert header.codec == blk.CODEC_ZSTD
    # zstd content size disagrees with raw_len (checksum made valid)
    with pytest.raises(CorruptBlockError, match="disagrees"):
        blk.decode_frame(_set(frame, "<I", 16, header.raw_len - 1))
    plain = _frame()
    h = blk.parse_header(plain)
    meta_end = blk.HEADER_SIZE + h.meta_len

    def payload_patch(mutate):
        buf = bytearray(plain)
        payload = bytearray(buf[meta_end:])
        mutate(payload)
        buf[meta_end:] = payload
        struct.pack_into("<II", buf, 12, len(payload), len(payload))
        return _reframe(buf)

    with pytest.raises(CorruptBlockError, match="shorter than its columns"):
        blk.decode_frame(payload_patch(lambda p: p.__delitem__(slice(10, None))))
    with pytest.raises(CorruptBlockError, match="id out of range"):
        blk.decode_frame(payload_patch(lambda p: p.__setitem__(0, 9)))
    with pytest.raises(CorruptBlockError, match="unknown record flag"):
        blk.decode_frame(payload_patch(lambda p: p.__setitem__(8, 0x40)))
    with pytest.raises(CorruptBlockError, match="timestamps disagree"):
        blk.decode_frame(payload_patch(lambda p: p.__setitem__(11, 7)))  # record 1, low byte of its monotonic delta
    with pytest.raises(CorruptBlockError, match="data lengths"):
        blk.decode_frame(payload_patch(lambda p: p.append(0x20)))
    # a JSON array with the right bytes but the wrong number of values
    bad = payload_patch(lambda p: p.__setitem__(slice(-5, None), b"[x,2]"))
    b = blk.decode_frame(bad)
    with pytest.raises(CorruptBlockError, match="bad event data"):
        b.records()
    with pytest.raises(CorruptBlockError, match="bad event data"):
        b.data(0)
    # uncompressed payload declared too short
    with pytest.raises(CorruptBlockError):
        blk.decode_frame(_set(plain, "<I", 16, h.raw_len + 1))


def test_typed_block_and_bad_type_map():
    rows = [("a", "s", codec.FLAG_TYPED, 5, 1, b'"AA=="', b'[[[],"bytes"]]'),
            ("a", "s", codec.FLAG_TYPED, 6, 2, b'"x"', b'[[[],"bogus"]]')]
    b = blk.decode_frame(_frame(rows))
    assert b.data(0) == b"\x00"
    with pytest.raises(CorruptBlockError, match="unknown type"):
        b.all_data()
    assert [r.data for r in b.raw_records([1])] == [b'"x"']


def test_meta_flag_table_truncated():
    frame = _frame([("a", "s", codec.FLAG_TYPED, 5, 1, b'"AA=="', b'[[[],"bytes"]]')])
    h = blk.parse_header(frame)
    meta = frame[blk.HEADER_SIZE:blk.HEADER_SIZE + h.meta_len]
    with pytest.raises(CorruptBlockError, match="truncated flag table"):
        blk.parse_meta(h, meta[:-2])
    with pytest.raises(CorruptBlockError, match="truncated flag table"):
        blk.parse_meta(h, meta[:-6])


# index ------------------------------------------------------------------------------------
def _index_bytes(**kw):
    e = BlockEntry(0, 2, SEGMENT_HEADER_SIZE, 100, 1, 2, 1, 2, 0, 1)
    idx = SegmentIndex(0, SEGMENT_HEADER_SIZE + 100, [e], SegmentSummary(count=2, blocks=1))
    for k, v in kw.items():
        setattr(idx, k, v)
    return encode_index(idx)


def test_index_checks():
    parse_index(_index_bytes(), "i")
    buf = bytearray(_index_bytes())
    struct.pack_into("<I", buf, 32, 1 << 30)
    buf[-8:] = struct.pack("<Q", xxhash.xxh3_64_intdigest(bytes(buf[:-8])))
    with pytest.raises(CorruptIndexError, match="out of range"):
        parse_index(bytes(buf), "i")
    with pytest.raises(CorruptIndexError, match="disagrees"):
        parse_index(_index_bytes(summary=SegmentSummary(count=3)), "i")
    with pytest.raises(CorruptIndexError, match="covered"):
        parse_index(_index_bytes(covered_bytes=10_000), "i")


# reader -----------------------------------------------------------------------------------
def test_name_predicate_forms():
    assert name_predicate(None) is None
    assert name_predicate(["a", "b"])("b") and not name_predicate(["a"])("c")
    assert name_predicate("P*")("Pos") and name_predicate({"x", "P?"})("Pa")


def test_reader_time_bounds_and_filters(rec_path):
    make(rec_path, 40)
    log = Log.open(rec_path)
    assert list(log.read(start_time=10**12)) == []
    assert list(log.read(start_mono=10**9)) == []
    assert [r.offset for r in log.read(start_mono=55, end_mono=100, reverse=True)] == [10, 9, 8, 7, 6]
    assert [r.offset for r in log.read(35, start_time=1030)] == [35, 36, 37, 38, 39]
    assert [r.offset for r in log.read(sources="s1", names=["N0", "N1"], start=30)] == [31, 33, 37, 39]
    assert [r.offset for r in log.read(start=2, end=3, names="N2")] == [2]
    assert [r.offset for r in log.read(names="N*", sources="s0", end=9, reverse=True)] == [8, 6, 4, 2, 0]
    assert len(log.index_entries()) == 10 and log.session_name == "edge"
    assert log.segments()[0][1] == 0 and repr(log).endswith(" r>")
    log.close()


def test_reader_sees_retention_and_new_segments(rec_path):
    make(rec_path, 60)
    reader = LogReader(rec_path)
    first_seg = reader.segments[0]
    with Log.open(rec_path, "a", fsync="never", block_max_records=4, segment_max_bytes=4096) as log:
        res = log.retain(max_bytes=1)
        assert res.removed and res.first_offset > 0 and res.lines()[0].startswith("removed")
        for i in range(60, 120):
            log.append("N", {"i": i, "p": random.Random(i).randbytes(60).hex()})
    reader.refresh()
    assert reader.start_offset == res.first_offset and reader.end_offset == 120
    assert first_seg.fd is None   # the removed segment's view was closed
    assert [r.offset for r in reader.read()][0] == res.first_offset
    reader.close()


def test_reader_detects_gap_and_damage_between_segments(rec_path, tmp_path):
    make(rec_path, 120)
    bases = list_segments(rec_path)
    os.remove(os.path.join(rec_path, segment_filename(bases[1])))
    with pytest.raises(CorruptRecordingError, match="missing between segments"):
        Log.open(rec_path)
    with pytest.raises(CorruptRecordingError, match="events missing"):
        Log.open(rec_path, "a")
    assert any("missing" in p.message for p in verify(rec_path).problems)
    # a sealed segment whose index covers less than the segment, and one with a damaged tail
    p2 = str(tmp_path / "r2")
    make(p2, 120)
    b = list_segments(p2)
    first = os.path.join(p2, segment_filename(b[0]))
    with open(first, "ab") as f:
        f.write(b"junk-after-the-last-block")
    os.remove(os.path.join(p2, index_filename(b[0])))
    with pytest.raises(CorruptRecordingError, match="damaged block|truncated block|bad block"):
        Log.open(p2)
    report = SalvageReport()
    assert len(list(salvage(p2, report))) == 120 and report.skipped


def test_index_mismatch_and_stale_index(rec_path):
    make(rec_path, 120)
    b = list_segments(rec_path)
    # the index of segment 1 replaced by the index of segment 2 (a different base): stale
    shutil.copy(os.path.join(rec_path, index_filename(b[2])), os.path.join(rec_path, index_filename(b[1])))
    assert len(list(Log.open(rec_path).read())) == 120
    assert any("stale" in p.message for p in verify(rec_path).problems)
    with Log.open(rec_path, "a") as log:
        assert index_filename(b[1]) in log.recovery_report.rebuilt_indexes
    assert verify(rec_path).ok


def test_segment_header_naming_another_base(rec_path):
    make(rec_path, 120)
    b = list_segments(rec_path)
    with open(os.path.join(rec_path, segment_filename(b[1])), "r+b") as f:
        f.write(encode_segment_header(b[1] + 1))
    with pytest.raises(CorruptRecordingError, match="another base offset"):
        Log.open(rec_path)


def test_raw_records_and_reverse_raw(rec_path):
    make(rec_path, 12)
    log = Log.open(rec_path)
    raws = list(log.read(raw=True, reverse=True, names="N1"))
    assert [r.offset for r in raws] == [10, 7, 4, 1]
    assert all(isinstance(r.data, bytes) for r in raws)
    assert [r.offset for r in log.read(where=lambda r: r.data["i"] > 9)] == [10, 11]


# writer -----------------------------------------------------------------------------------
def test_interval_fsync_and_age_sealing(rec_path):
    with Log.create(rec_path, fsync="interval", fsync_interval=0.01, block_max_age=0.005) as log:
        log.append("a", 1)
        deadline = time.monotonic() + 30
        while log.durable_offset < 1 and time.monotonic() < deadline:
            time.sleep(0.005)
        assert log.durable_offset == 1      # sealed by age, fsynced by interval: no flush needed
        assert log.flush(sync=False) == 1
        log.roll()
        log.append("b", 2)
    assert [r.data for r in Log.open(rec_path).read()] == [1, 2]
    assert len(Log.open(rec_path).segments()) == 2


def test_segment_max_age_rolls(rec_path):
    with Log.create(rec_path, fsync="never", segment_max_age=0.001, block_max_records=1) as log:
        for i in range(3):
            log.append("a", i)
            log.flush()
            time.sleep(0.005)
    assert len(Log.open(rec_path).segments()) >= 2


def test_backpressure_small_queue(rec_path):
    with Log.create(rec_path, fsync="never", block_max_records=1, max_pending_blocks=1) as log:
        for i in range(200):
            log.append("a", i)
    assert [r.data for r in Log.open(rec_path).read()] == list(range(200))


def test_atomic_batch_and_limits(rec_path):
    from evlog.segments import EventTooLargeError
    with Log.create(rec_path, fsync="never", block_max_records=2) as log:
        log.append("x", 0)
        r = log.append_batch([("b", i) for i in range(5)], atomic=True)
        assert r == range(1, 6)
        assert log.append_batch([]) == range(6, 6)
        with pytest.raises(EventTooLargeError, match="atomic batch"):
            log.append_batch([("b", 1)] * (blk.MAX_RECORDS + 1), atomic=True)
        log.append_batch([{"name": "d", "data": 1, "source": None}])
    blocks = Log.open(rec_path).index_entries()
    assert any(e.first_offset == 1 and e.count == 5 for _, e in blocks)


def test_flush_after_close_and_double_close(rec_path):
    log = Log.create(rec_path, fsync="never")
    log.append("a", 1)
    w = log._writer
    log.close()
    assert w.flush() == 1 and w.flush(sync=False) == 1
    w.close()
    log.close()


class FailOpen(FileSystem):
    def __init__(self):
        self.fail = False

    def open_append(self, path):
        if self.fail:
            raise OSError(errno.EACCES, "denied")
        return super().open_append(path)


def test_failure_while_rolling_and_retention_failure(rec_path):
    fs = FailOpen()
    log = Log.create(rec_path, fs=fs, fsync="never", block_max_records=1, segment_max_bytes=4096)
    x = random.Random(1).randbytes(3000).hex()
    log.append("a", x)
    log.flush()
    fs.fail = True
    log.append("b", random.Random(2).randbytes(3000).hex())
    with pytest.raises(LogWriteError):
        log.flush()
    with pytest.raises(LogWriteError):
        log.close()
    assert [r.data for r in Log.open(rec_path).read()] == [x]

    class NoRemove(FileSystem):
        def remove(self, path):
            raise OSError(errno.EPERM, "nope")

    p2 = rec_path + "2"
    with Log.create(p2, fs=NoRemove(), fsync="never", block_max_records=1, segment_max_bytes=4096,
                    retain_max_bytes=1) as log:
        for i in range(5):
            log.append("a", random.Random(i).randbytes(1500).hex())
            log.flush()
    assert len(list(Log.open(p2).read())) == 5   # retention failed, the capture did not


def test_retention_by_age_and_size(rec_path):
    # make() data is random enough that 120 events fill several segments
    from evlog.segments.retention import parse_age, parse_size, retain
    assert parse_size("10G") == 10 << 30 and parse_size("500 MiB") == 500 << 20 and parse_size("4096") == 4096
    assert parse_age("2w") == 14 * 86400 and parse_age("1.5h") == 5400
    for bad in ("", "10X", "G"):
        with pytest.raises(ValueError):
            parse_size(bad)
    for bad in ("", "7", "xd"):
        with pytest.raises(ValueError):
            parse_age(bad)
    make(rec_path, 120)
    bases = list_segments(rec_path)
    assert len(bases) >= 3
    assert retain(rec_path, max_age_seconds=1e9, now_ns=2000).removed == []
    assert retain(rec_path).lines() == ["nothing to remove"]
    os.remove(os.path.join(rec_path, index_filename(bases[1])))    # no index: size only
    res = retain(rec_path, max_age_seconds=1e-9, now_ns=10**6)
    assert res.removed == [segment_filename(bases[0])]           # stops at the unknown-age segment
    res = retain(rec_path, max_bytes=1)
    assert len(list_segments(rec_path)) == 1 and res.first_offset == bases[-1]
    with Log.create(rec_path + "w", fsync="never", block_max_records=1, segment_max_bytes=4096,
                    retain_max_bytes=6000) as log:
        for i in range(20):
            log.append("a", random.Random(i).randbytes(1000).hex())
            log.flush()
        assert log._writer.last_retention is not None
    assert Log.open(rec_path + "w").start_offset > 0


def test_empty_recording(rec_path):
    Log.create(rec_path).close()
    log = Log.open(rec_path)
    assert len(log) == 0 and list(log.read()) == [] and log.summary().count == 0
    assert list(log.read(reverse=True, start_time=1)) == []
    report = SalvageReport()
    assert list(salvage(rec_path, report)) == [] and not report.skipped
    os.remove(os.path.join(rec_path, segment_filename(0)))
    os.remove(os.path.join(rec_path, index_filename(0)))
    assert len(Log.open(rec_path)) == 0 and verify(rec_path).ok
    with Log.open(rec_path, "a") as log:
        log.append("first", 1)
    assert Log.open(rec_path).get(0).data == 1


def test_recovery_of_empty_last_segment_and_tmp_files(rec_path):
    make(rec_path, 30)
    assert list_segments(rec_path)
    # a writer that died right after creating the next segment file
    nxt = Log.open(rec_path).end_offset
    open(os.path.join(rec_path, segment_filename(nxt)), "wb").close()
    open(os.path.join(rec_path, "manifest.json.tmp"), "wb").close()
    assert verify(rec_path).ok
    assert len(list(Log.open(rec_path).read())) == 30
    with Log.open(rec_path, "a") as log:
        rep = log.recovery_report
        assert "manifest.json.tmp" in rep.removed_files
        assert rep.truncated == [(segment_filename(nxt), 0, 0)]
        assert all(isinstance(x, str) for x in rep.lines())
        log.append("more", 1)
    assert len(list(Log.open(rec_path).read())) == 31 and verify(rec_path).ok


def test_stale_index_of_last_segment_removed_on_append(rec_path):
    make(rec_path, 10, segment_max_bytes=1 << 20)
    idx = os.path.join(rec_path, index_filename(0))
    with open(idx, "r+b") as f:
        f.seek(40)
        f.write(b"\xff")
    with Log.open(rec_path, "a") as log:
        assert log.end_offset == 10
        assert not os.path.exists(idx)
        log.append("x", 1)
    assert verify(rec_path).ok


def test_verify_detects_count_mismatch_and_stale_cover(rec_path, tmp_path):
    make(rec_path, 10, segment_max_bytes=1 << 20)
    seg = os.path.join(rec_path, segment_filename(0))
    with open(seg, "rb") as f:
        buf = bytearray(f.read())
    pos = SEGMENT_HEADER_SIZE
    h = blk.parse_header(buf[pos:])
    frame = bytearray(buf[pos:pos + h.frame_len])
    meta = frame[blk.HEADER_SIZE:blk.HEADER_SIZE + h.meta_len]
    # swap the counts of the first two names: meta still adds up, records disagree
    n_off = (LINK_SIZE if h.version >= 2 else 0) + 2 + 2 + len(b"N0")
    n1_off = n_off + 4 + 2 + len(b"N1")
    c0, c1 = struct.unpack_from("<I", meta, n_off)[0], struct.unpack_from("<I", meta, n1_off)[0]
    if c0 == c1:
        pytest.skip("counts equal")
    struct.pack_into("<I", meta, n_off, c1)
    struct.pack_into("<I", meta, n1_off, c0)
    frame[blk.HEADER_SIZE:blk.HEADER_SIZE + h.meta_len] = meta
    buf[pos:pos + h.frame_len] = _reframe(frame)
    with open(seg, "wb") as f:
        f.write(buf)
    assert any("name counts" in p.message for p in verify(rec_path).problems)
    assert str(Problem("s", 3, (1, 2), "m")) == "s, byte 3, offsets 1..2: m"
    assert str(Problem(None, None, None, "m")) == "m"


def test_reindex_and_find_next_frame(rec_path):
    make(rec_path, 40)
    assert len(reindex(rec_path)) == len(list_segments(rec_path))
    seg = os.path.join(rec_path, segment_filename(0))
    fd = os.open(seg, os.O_RDONLY)
    try:
        size = os.fstat(fd).st_size
        assert find_next_frame(fd, SEGMENT_HEADER_SIZE, size, "s") == SEGMENT_HEADER_SIZE
        assert find_next_frame(fd, size, size, "s") is None
    finally:
        os.close(fd)


def test_reader_closed_and_set_metadata(rec_path):
    make(rec_path, 3)
    r = LogReader(rec_path)
    r.close()
    with pytest.raises(Exception, match="closed"):
        r.refresh()
    with Log.open(rec_path, "a") as log:
        log.set_metadata(owner="me")
    assert Log.open(rec_path).manifest.metadata["owner"] == "me"


def test_tool_version_from_source_tree(monkeypatch):
    import importlib.metadata

    from evlog.segments import manifest

    def boom(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "version", boom)
    assert manifest._tool_version() == "evlog (source)"


def test_append_batch_encoded_and_raw_validation(rec_path):
    from evlog.segments import EncodedRows, RawRecord
    with Log.create(rec_path, fsync="never") as log:
        r = log.append_batch_encoded([("a", "s", 0, b"1", b"", 5, 1), ("b", "s", 0, b'"x"', b"", 6, 2)],
                                     atomic=True)
        assert r == range(0, 2)
        assert log.append_batch_encoded([]) == range(2, 2)
        with pytest.raises(EventEncodeError):
            log.append_batch_encoded([("a", "s", 0, b"1", b"", None, None), ("b", "s", 0, b"{", b"", None, None)])
        with pytest.raises(EventEncodeError):
            log.append_rows(EncodedRows.from_raw([RawRecord(0, 1, 1, "n", "", b"[", 0, b"")]), validate=True)
        with pytest.raises(EventEncodeError, match="headers"):
            log.append_rows(EncodedRows.from_raw([RawRecord(0, 1, 1, "n", "", b"1", 0, b"", b'{"a":1}')]))
        log.append_rows(EncodedRows.from_raw([RawRecord(0, 1, 1, "n", "", b"[1]", 0, b"")]), validate=True)
        assert list(iter(log))[-1].data == [1]
    assert [r.data for r in Log.open(rec_path)] == [1, "x", [1]]


def test_reader_opened_before_segment_header(rec_path):
    """A reader that saw the last segment before its header existed picks it up later."""
    make(rec_path, 8, segment_max_bytes=1 << 20)
    nxt = Log.open(rec_path).end_offset
    open(os.path.join(rec_path, segment_filename(nxt)), "wb").close()
    reader = LogReader(rec_path)
    assert reader.end_offset == nxt
    with Log.open(rec_path, "a", fsync="never") as log:   # recovery writes the header; appends follow
        assert log.append("late", 1) == nxt
    reader.refresh()
    assert reader.end_offset == nxt + 1
    assert [r.data for r in reader.read(nxt)] == [1]
    reader.close()
    # the same, but a later segment appears while the empty one still has no header: damage
    p2 = rec_path + "2"
    make(p2, 8, segment_max_bytes=1 << 20)
    open(os.path.join(p2, segment_filename(nxt)), "wb").close()
    reader = LogReader(p2)
    open(os.path.join(p2, segment_filename(nxt + 5)), "wb").close()
    with pytest.raises(CorruptRecordingError, match="header is truncated"):
        reader.refresh()
    reader.close()


def test_last_segment_cut_below_its_header(rec_path):
    make(rec_path, 120)
    last = segment_filename(list_segments(rec_path)[-1])
    os.truncate(os.path.join(rec_path, last), 10)
    with pytest.raises(CorruptRecordingError, match="shorter than its index") as ei:
        list(Log.open(rec_path).read())
    assert ei.value.segment == last
    assert any(p.segment == last for p in verify(rec_path).problems)


def test_segment_shorter_than_index_after_open(rec_path):
    make(rec_path, 10, segment_max_bytes=1 << 20)
    reader = LogReader(rec_path)
    seg = os.path.join(rec_path, segment_filename(0))
    os.truncate(seg, os.path.getsize(seg) - 5)
    with pytest.raises(CorruptRecordingError, match="shorter than its index"):
        reader.refresh()
    reader.close()


def test_index_pointing_at_other_blocks(rec_path):
    """A valid index whose entries do not match the segment's blocks is caught on read."""
    make(rec_path, 12, segment_max_bytes=1 << 20)
    idx_path = os.path.join(rec_path, index_filename(0))
    with open(idx_path, "rb") as f:
        idx = parse_index(f.read(), "i")
    e0, e1 = idx.entries[0], idx.entries[1]
    # same positions and lengths, offsets shifted between the first two blocks
    idx.entries[0] = e0._replace(count=e0.count - 1)
    idx.entries[1] = e1._replace(first_offset=e1.first_offset - 1, count=e1.count + 1)
    with open(idx_path, "wb") as f:
        f.write(encode_index(idx))
    with pytest.raises(CorruptRecordingError, match="index does not match") as ei:
        list(Log.open(rec_path).read())
    assert ei.value.offsets == (0, e0.count - 2)
    assert any("stale" in p.message for p in verify(rec_path).problems)


def test_flush_timeout_and_monotonic_now(rec_path):
    class SlowSync(FileSystem):
        def fdatasync(self, fd):
            time.sleep(0.05)
            super().fdatasync(fd)

    log = Log.create(rec_path, fs=SlowSync(), fsync="always")
    w = log._writer
    assert w.monotonic_now() >= 0 and w.failed is None
    log.append("a", 1)
    assert w.flush(timeout=0.0) <= 1      # gives up at once: a lower bound, not an error
    assert log.flush() == 1 and w.written_offset == 1
    log.close()


def test_block_split_before_raw_limit(rec_path):
    chunk = random.Random(3).randbytes(3 << 20).hex()   # 6 MiB of JSON text per event
    with Log.create(rec_path, fsync="never", block_max_bytes=blk.MAX_RAW_LEN // 2) as log:
        for i in range(3):
            log.append("big", {"i": i, "c": chunk})
    log = Log.open(rec_path)
    assert len(log.index_entries()) >= 2
    assert [r.data["i"] for r in log.read()] == [0, 1, 2]


def test_atomic_batch_monotonic_clamped(rec_path):
    with Log.create(rec_path, fsync="never") as log:
        log.append("a", 0, monotonic=1000)
        log.append_batch([("b", 1, "", None, 5), ("c", 2, "", None, 2000)], atomic=True)
    monos = [r.monotonic for r in Log.open(rec_path).read()]
    assert monos == [1000, 1000, 2000]


def test_salvage_damaged_segment_header_and_bad_block_content(rec_path):
    make(rec_path, 12, segment_max_bytes=1 << 20)
    seg = os.path.join(rec_path, segment_filename(0))
    with open(seg, "r+b") as f:
        f.write(b"XXXXXXXX")
    report = SalvageReport()
    got = list(salvage(rec_path, report, raw=True))
    assert len(got) == 12 and any("segment header ignored" in p.message for p in report.skipped)
    # a block whose checksum is right but whose JSON is not: skipped by salvage, flagged by verify
    p2 = rec_path + "2"
    Log.create(p2).close()
    os.remove(os.path.join(p2, index_filename(0)))

    def rows(first, datas):
        return [("a", "", 0, 10 + first + k, first + k, d, b"") for k, d in enumerate(datas)]

    with open(os.path.join(p2, segment_filename(0)), "wb") as f:
        f.write(encode_segment_header(0))
        f.write(blk.encode_block(0, rows(0, [b"0", b"1"]), None)[0])
        f.write(blk.encode_block(2, rows(2, [b"x", b"3"]), None)[0])
        f.write(blk.encode_block(4, rows(4, [b"4", b"5"]), None)[0])
    report = SalvageReport()
    assert [r.data for r in salvage(p2, report)] == [0, 1, 4, 5]
    assert report.skipped
    assert any("bad event data" in p.message for p in verify(p2).problems)
