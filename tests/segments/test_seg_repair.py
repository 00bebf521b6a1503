"""reindex's refusals and edge cases, the resync search's candidates, and the writer's cut
after a failure when the disk refuses that too."""
from __future__ import annotations

import errno
import logging
import os
import struct

import pytest
import xxhash

from evlog.segments import CorruptRecordingError, FileSystem, Log, LogWriteError, reindex, verify
from evlog.segments.block import HEADER_SIZE
from evlog.segments.segment import (
    SEGMENT_HEADER_SIZE, encode_segment_header, find_next_frame, index_filename, list_segments, segment_filename,
)

from tails import EVENTS, make_recording


def files(path: str) -> dict[str, bytes]:
    out = {}
    for name in sorted(os.listdir(path)):
        if name != ".lock":
            with open(os.path.join(path, name), "rb") as f:
                out[name] = f.read()
    return out


def test_reindex_refuses_events_missing_between_segments(tmp_path):
    path = str(tmp_path / "rec")
    with Log.create(path, fsync="never", segment_max_bytes=4096, block_max_records=5) as log:
        for i in range(400):
            log.append("E", {"i": i, "pad": str(i) * 20})
    bases = list_segments(path)
    assert len(bases) >= 3
    os.remove(os.path.join(path, segment_filename(bases[1])))
    os.remove(os.path.join(path, index_filename(bases[1])))
    before = files(path)
    with pytest.raises(CorruptRecordingError, match="events missing.*evlog recover"):
        reindex(path)
    assert files(path) == before


def test_reindex_skips_a_last_segment_never_written(tmp_path):
    path = str(tmp_path / "rec")
    make_recording(path)
    with Log.open(path, "a") as log:
        log.roll()
        log.append("E", {"i": EVENTS})
    last = list_segments(path)[-1]
    with open(os.path.join(path, segment_filename(last)), "r+b") as f:
        f.truncate(10)   # created, its header cut short: nothing to index
    os.remove(os.path.join(path, index_filename(last)))
    names = reindex(path)
    assert index_filename(last) not in names and len(names) == len(list_segments(path)) - 1
    assert not os.path.exists(os.path.join(path, index_filename(last)))
    with Log.open(path) as log:
        assert len(log) == EVENTS


def test_reindex_with_an_unreadable_index_of_the_last_segment(tmp_path):
    path = str(tmp_path / "rec")
    make_recording(path)
    idx = os.path.join(path, index_filename(list_segments(path)[-1]))
    with open(idx, "r+b") as f:
        f.write(b"garbage!")
    assert not verify(path).ok
    assert index_filename(list_segments(path)[-1]) in reindex(path)
    assert verify(path).ok


def _frame_positions(seg: str) -> list[tuple[int, int]]:
    from evlog.segments.block import parse_header
    with open(seg, "rb") as f:
        data = f.read()
    out, pos = [], SEGMENT_HEADER_SIZE
    while pos < len(data):
        n = parse_header(data[pos:pos + HEADER_SIZE]).frame_len
        out.append((pos, n))
        pos += n
    return out


def test_search_skips_bad_headers_and_finds_an_intact_newer_block(tmp_path):
    path = str(tmp_path / "rec")
    seg = make_recording(path)
    frames = _frame_positions(seg)
    pos, length = frames[-1]
    with open(seg, "r+b") as f:
        f.seek(pos)
        frame = bytearray(f.read(length))
        frame[4] = 7   # an intact block of format version 7
        hasher = xxhash.xxh3_64(bytes(frame[:80]))
        hasher.update(bytes(frame[88:]))
        frame[80:88] = struct.pack("<Q", hasher.intdigest())
        f.seek(pos)
        f.write(frame)
    with open(seg, "rb") as f:
        data = f.read()
    # a copy with junk before that block: "EVBK" + a header with impossible fields
    junk = b"EVBK" + b"\xff" * 84 + b"EVBK" + bytes(20)
    probe = str(tmp_path / "probe")
    with open(probe, "wb") as f:
        f.write(data[:pos] + junk + data[pos:])
    fd = os.open(probe, os.O_RDONLY)
    try:
        assert find_next_frame(fd, frames[-2][0] + 1, os.path.getsize(probe), "probe") == pos + len(junk)
    finally:
        os.close(fd)


def test_failed_cut_after_a_failed_fsync_is_logged(tmp_path, caplog):
    class Failing(FileSystem):
        fail = False

        def fdatasync(self, fd):
            if self.fail:
                raise OSError(errno.EIO, os.strerror(errno.EIO))
            super().fdatasync(fd)

        def truncate(self, path, size):
            raise OSError(errno.EIO, "the disk is gone")

    fs = Failing()
    path = str(tmp_path / "rec")
    log = Log.create(path, fs=fs, fsync="always", block_max_records=1)
    log.append("a", 1)
    assert log.flush() == 1
    fs.fail = True
    log.append("b", 2)
    with caplog.at_level(logging.WARNING, logger="evlog.segments"):
        with pytest.raises(LogWriteError):
            log.flush()
    assert "could not cut" in caplog.text and "the disk is gone" in caplog.text
    with pytest.raises(LogWriteError):
        log.close()
    assert log.durable_offset == 1


def test_segment_header_checksum_before_version():
    head = bytearray(encode_segment_header(5))
    head[8] = 2   # the version byte, not re-checksummed: damage
    from evlog.segments.segment import parse_segment_header
    with pytest.raises(CorruptRecordingError, match="checksum"):
        parse_segment_header(bytes(head), "x.seg")
