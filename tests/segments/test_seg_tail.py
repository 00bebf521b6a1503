"""A last segment ending in garbage opens in time linear in the garbage, and damage that
intact blocks follow is still told from a torn tail.

The work is counted, not timed: the bytes read through os.pread (every read of the engine)
while a recording is opened and read, verified, and opened for append, for a tail of 256 KiB
and one of 1 MiB. Linear work grows 4 times; the old quadratic search grew ~16 times.
"""
from __future__ import annotations

import os
import struct

import pytest
import xxhash

from evlog.segments import (
    CorruptRecordingError, Log, SalvageReport, UnsupportedFormatError, salvage, verify,
)
from evlog.segments.segment import SEGMENT_HEADER_SIZE, list_segments, segment_filename

from tails import EVENTS, KINDS, add_tail, make_recording


class PreadCounter:
    def __init__(self, monkeypatch) -> None:
        self.bytes = 0
        self.calls = 0
        real = os.pread

        def pread(fd, n, offset):
            data = real(fd, n, offset)
            self.bytes += len(data)
            self.calls += 1
            return data
        monkeypatch.setattr(os, "pread", pread)


def work(tmp_path, monkeypatch, kind: str, size: int) -> tuple[int, int]:
    """(bytes read, pread calls) to open and read, verify, and recover a recording whose last
    segment ends in `size` bytes of `kind`; checks what each one says of the tail."""
    path = str(tmp_path / f"{kind}-{size}")
    good = add_tail(path, kind, size)
    counter = PreadCounter(monkeypatch)
    with Log.open(path) as log:
        assert [r.data["i"] for r in log.read()] == list(range(EVENTS))
        assert len(log) == EVENTS
    report = verify(path)
    seg = os.path.join(path, segment_filename(list_segments(path)[-1]))
    assert report.ok and report.torn_tail == (None if kind == "zeros" else (os.path.basename(seg), good))
    with Log.open(path, "a", fsync="never") as log:
        assert log.end_offset == EVENTS
        if kind == "zeros":   # reserved space, not data: cut off, and not reported as dropped
            assert log.recovery_report.truncated == [] and os.path.getsize(seg) == good
        else:
            (_, position, dropped), = log.recovery_report.truncated
            assert (position, dropped) == (good, size)
    monkeypatch.undo()
    return counter.bytes, counter.calls


@pytest.mark.parametrize("kind", KINDS)
def test_garbage_tail_costs_linear_work(tmp_path, monkeypatch, kind):
    small, small_calls = work(tmp_path, monkeypatch, kind, 256 << 10)
    big, big_calls = work(tmp_path, monkeypatch, kind, 1 << 20)
    assert big <= 5 * small, (kind, small, big)          # linear: 4x; quadratic: 16x
    assert big_calls <= 5 * max(small_calls, 20), (kind, small_calls, big_calls)
    # three searches (open, verify, recover), each a few passes over the tail, not one per candidate
    assert big <= 32 * (1 << 20), (kind, big)


def test_reading_again_does_not_search_the_torn_tail_again(tmp_path, monkeypatch):
    path = str(tmp_path / "rec")
    add_tail(path, "within", 1 << 20)
    with Log.open(path) as log:
        assert sum(1 for _ in log.read()) == EVENTS
        counter = PreadCounter(monkeypatch)
        for _ in range(5):
            assert sum(1 for _ in log.read()) == EVENTS
            assert log.end_offset == EVENTS
        monkeypatch.undo()
    assert counter.bytes < 64 << 10, counter.bytes   # the blocks, not the megabyte of tail


def _frames(seg: str) -> list[tuple[int, int]]:
    """(position, length) of each frame of a segment."""
    from evlog.segments.block import HEADER_SIZE, parse_header
    out = []
    with open(seg, "rb") as f:
        data = f.read()
    pos = SEGMENT_HEADER_SIZE
    while pos < len(data):
        length = parse_header(data[pos:pos + HEADER_SIZE]).frame_len
        out.append((pos, length))
        pos += length
    return out


def _unindexed_last_segment(path: str) -> str:
    """A recording whose last segment has no index (as after a crash)."""
    seg = make_recording(path)
    os.remove(seg[:-4] + ".idx")
    return seg


@pytest.mark.parametrize("field,delta", [(20, 1 << 10), (20, 3), (16, 7)])   # payload_len, meta_len
def test_damaged_length_followed_by_blocks_is_damage_not_torn(tmp_path, field, delta):
    """A block whose length field is damaged claims bytes of the blocks after it: those are
    still found, so the damage is reported (never cut off as a torn tail)."""
    path = str(tmp_path / "rec")
    seg = _unindexed_last_segment(path)
    frames = _frames(seg)
    pos, _ = frames[2]
    with open(seg, "r+b") as f:
        f.seek(pos + field)
        (value,) = struct.unpack("<I", f.read(4))
        f.seek(pos + field)
        f.write(struct.pack("<I", value + delta))
    with pytest.raises(CorruptRecordingError):
        list(Log.open(path).read())
    with pytest.raises(CorruptRecordingError):
        Log.open(path, "a")
    assert os.path.getsize(seg) == frames[-1][0] + frames[-1][1]   # nothing cut
    report = verify(path)
    assert not report.ok and report.torn_tail is None
    salvaged = SalvageReport()
    got = [r.data["i"] for r in salvage(path, salvaged)]
    assert got == [i for i in range(EVENTS) if not 20 <= i < 30]   # only the damaged block is lost


def test_intact_block_of_a_newer_version_at_the_end_is_not_cut(tmp_path):
    path = str(tmp_path / "rec")
    seg = _unindexed_last_segment(path)
    pos, length = _frames(seg)[-1]
    with open(seg, "r+b") as f:
        f.seek(pos)
        frame = bytearray(f.read(length))
        frame[4] = 99   # block format version 99, checksum valid
        hasher = xxhash.xxh3_64(bytes(frame[:80]))
        hasher.update(bytes(frame[88:]))
        frame[80:88] = struct.pack("<Q", hasher.intdigest())
        f.seek(pos)
        f.write(frame)
    size = os.path.getsize(seg)
    with pytest.raises(UnsupportedFormatError):
        list(Log.open(path).read())
    with pytest.raises(UnsupportedFormatError):
        Log.open(path, "a")
    assert os.path.getsize(seg) == size
    assert verify(path).torn_tail is None


def test_torn_tail_cut_by_a_writer_is_forgotten_by_a_reader(tmp_path):
    """A reader that saw a torn tail, after a writer recovered it and rolled on, reads on."""
    path = str(tmp_path / "rec")
    add_tail(path, "random", 5000)
    with Log.open(path) as reader:
        assert len(reader) == EVENTS
        with Log.open(path, "a", fsync="never") as log:
            for i in range(EVENTS, EVENTS + 200):
                log.append("E", {"i": i}, "src")
                if i % 50 == 0:
                    log.roll()
        assert [r.data["i"] for r in reader.read()] == list(range(EVENTS + 200))
    assert len(list_segments(path)) > 1


def test_damaged_last_block_of_an_indexed_segment_is_damage_not_torn(tmp_path):
    """The index shows the last block was whole once: its damage is not an unfinished write,
    so verify says recover (not reindex) and reindex refuses (it would drop the block)."""
    from evlog.segments import reindex
    from evlog.segments.recovery import RECOVER
    path = str(tmp_path / "rec")
    seg = make_recording(path)
    pos, length = _frames(seg)[-1]
    with open(seg, "r+b") as f:
        f.seek(pos + length - 3)
        f.write(b"\x00\x01\x02")
    report = verify(path)
    assert not report.ok and report.torn_tail is None and report.repair == RECOVER
    before = {n: open(os.path.join(path, n), "rb").read() for n in os.listdir(path) if n != ".lock"}
    with pytest.raises(CorruptRecordingError, match="evlog recover"):
        reindex(path)
    assert {n: open(os.path.join(path, n), "rb").read() for n in os.listdir(path) if n != ".lock"} == before
    salvaged = SalvageReport()
    assert [r.data["i"] for r in salvage(path, salvaged)] == list(range(EVENTS - 10))
