"""Space reserved ahead at fsync=always (`WriterOptions.preallocate_bytes`): the active segment
ends in zeros its writer has not written yet, so each fdatasync syncs data and no new file
size. Readers take the zeros for the end of the data (never a torn tail, never damage), see
frames written into them although the size does not change, and writers cut them off at
roll, close and reopen."""
from __future__ import annotations

import os
import threading

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evlog.segments import FileSystem, Log, reindex, verify
from evlog.segments.index import parse_index
from evlog.segments.segment import SEGMENT_HEADER_SIZE, index_filename, list_segments, segment_filename

from test_seg_follow import N, event, reader_loop


def segment_paths(path: str) -> list[str]:
    return [os.path.join(path, segment_filename(b)) for b in list_segments(path)]


def data_end(seg: str) -> int:
    """The end of the last frame, read frame by frame (whatever the file's size)."""
    from evlog.segments.block import HEADER_SIZE, parse_header
    with open(seg, "rb") as f:
        data = f.read()
    pos = SEGMENT_HEADER_SIZE
    while pos + HEADER_SIZE <= len(data) and data[pos:pos + 4] == b"EVBK":
        pos += parse_header(data[pos:pos + HEADER_SIZE]).frame_len
    return pos


def test_always_reserves_ahead_and_close_cuts_it_off(tmp_path):
    path = str(tmp_path / "rec")
    log = Log.create(path, fsync="always")
    try:
        for i in range(50):
            log.append("E", {"i": i})
            log.flush()
        seg, = segment_paths(path)
        size, end = os.path.getsize(seg), data_end(seg)
        assert size >= SEGMENT_HEADER_SIZE + (1 << 20) > end   # reserved a megabyte ahead, of zeros
        with open(seg, "rb") as f:
            assert f.read()[end:] == bytes(size - end)
        with Log.open(path) as reader:   # the zeros are the end of the data
            assert [r.data["i"] for r in reader.read()] == list(range(50))
        report = verify(path)
        assert report.ok and report.torn_tail is None, report.lines()
    finally:
        log.close()
    assert os.path.getsize(seg) == data_end(seg)   # cut off: a closed recording has no zeros
    with open(os.path.join(path, index_filename(0)), "rb") as f:
        assert parse_index(f.read(), "idx").covered_bytes == os.path.getsize(seg)


@pytest.mark.parametrize("options", [{"fsync": "interval"}, {"fsync": "never"},
                                     {"fsync": "always", "preallocate_bytes": 0}])
def test_no_reservation_unless_always(tmp_path, options):
    path = str(tmp_path / "rec")
    with Log.create(path, **options) as log:
        for i in range(20):
            log.append("E", {"i": i})
            log.flush()
        seg, = segment_paths(path)
        assert os.path.getsize(seg) == data_end(seg)


def test_rolled_segments_are_cut_to_their_data(tmp_path):
    path = str(tmp_path / "rec")
    with Log.create(path, fsync="always", segment_max_bytes=8192, block_max_records=5) as log:
        for i in range(400):
            log.append("E", {"i": i, "pad": "x" * 20})
            if i % 5 == 4:
                log.flush()
        *sealed, active = segment_paths(path)
        assert len(sealed) >= 2
        assert os.path.getsize(active) == 8192 > data_end(active)   # reserved up to the segment's limit
        for seg in sealed:
            assert os.path.getsize(seg) == data_end(seg)
    assert verify(path).ok
    with Log.open(path) as log:
        assert [r.data["i"] for r in log.read()] == list(range(400))


class NoPreallocation(FileSystem):
    def __init__(self) -> None:
        self.asked = 0

    def preallocate(self, fd: int, offset: int, length: int) -> bool:
        self.asked += 1
        return False


def test_a_file_system_that_cannot_reserve_gets_plain_appends(tmp_path):
    fs = NoPreallocation()
    path = str(tmp_path / "rec")
    with Log.create(path, fsync="always", fs=fs) as log:
        for i in range(30):
            log.append("E", {"i": i})
            log.flush()
        seg, = segment_paths(path)
        assert os.path.getsize(seg) == data_end(seg)
    assert fs.asked == 1   # asked once, then no more
    with Log.open(path) as log:
        assert [r.data["i"] for r in log.read()] == list(range(30))


def test_a_crashed_writer_s_zeros_are_cut_quietly_on_reopen(tmp_path):
    """A writer that never closed (killed) leaves its reserved zeros: the next writer cuts them
    without reporting anything dropped, and appends after the data."""
    path = str(tmp_path / "rec")
    log = Log.create(path, fsync="always")
    for i in range(10):
        log.append("E", {"i": i})
    log.flush()
    seg, = segment_paths(path)
    crashed = str(tmp_path / "crashed")
    os.makedirs(crashed)
    for name in os.listdir(path):   # the files as the kill left them
        if name != ".lock":
            with open(os.path.join(path, name), "rb") as src, open(os.path.join(crashed, name), "wb") as dst:
                dst.write(src.read())
    log.close()
    copy = os.path.join(crashed, os.path.basename(seg))
    assert os.path.getsize(copy) > data_end(copy)
    assert verify(crashed).ok and verify(crashed).torn_tail is None
    assert reindex(crashed) and verify(crashed).ok   # the zeros are no damage to reindex either
    with Log.open(crashed) as log:
        assert [r.data["i"] for r in log.read()] == list(range(10))
    with Log.open(crashed, "a", fsync="always") as log:
        assert not log.recovery_report.truncated and log.end_offset == 10
        log.append("E", {"i": 10})
    with Log.open(crashed) as log:
        assert [r.data["i"] for r in log.read()] == list(range(11))
    assert os.path.getsize(copy) == data_end(copy)


def test_a_frame_finished_in_reserved_space_is_seen(tmp_path):
    """A reader that saw a frame half written into reserved space (torn, the file's size the
    same as when it is whole) reads it once it is whole: the torn state is not cached while
    the file may still be being written."""
    path = str(tmp_path / "rec")
    with Log.create(path, fsync="never", block_max_records=1) as log:
        for i in range(6):
            log.append("E", {"i": i})
    seg, = segment_paths(path)
    with open(seg, "rb") as f:
        data = f.read()
    # the last frame, cut in the middle, then zeros to 4 KiB past the end: as a writer mid-write
    last = data_end_positions(data)[-2]
    whole = data[last:]
    half = data[:last] + whole[:len(whole) // 2]
    with open(seg, "wb") as f:
        f.write(half + bytes(len(data) + 4096 - len(half)))
    os.remove(os.path.join(path, index_filename(0)))
    reader = Log.open(path)
    try:
        assert [r.data["i"] for r in reader.read()] == list(range(5))   # the half frame: torn, unseen
        with open(seg, "r+b") as f:   # the write finishes: same size
            f.seek(last)
            f.write(whole)
        assert [r.data["i"] for r in reader.read()] == list(range(6))
    finally:
        reader.close()


def data_end_positions(data: bytes) -> list[int]:
    from evlog.segments.block import HEADER_SIZE, parse_header
    out, pos = [], SEGMENT_HEADER_SIZE
    while pos + HEADER_SIZE <= len(data) and data[pos:pos + 4] == b"EVBK":
        out.append(pos)
        pos += parse_header(data[pos:pos + HEADER_SIZE]).frame_len
    out.append(pos)
    return out


def test_concurrent_reader_follows_writes_into_reserved_space(tmp_path):
    path = str(tmp_path / "rec")
    done = threading.Event()
    errors: list = []
    seen: list = []
    t = threading.Thread(target=reader_loop, args=(path, done, errors, seen))
    t.start()
    try:
        with Log.create(path, "f", fsync="always", block_max_records=3, block_max_age=0.005,
                        segment_max_bytes=16384) as log:
            for i in range(N):
                assert log.append(*event(i)) == i
                if i % 3 == 2:
                    log.flush()
    finally:
        done.set()
        t.join(60)
    assert not errors, errors
    assert seen[-1] == N and len(set(seen)) > 2


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(events=st.integers(1, 30), zeros=st.integers(1, 200_000), torn=st.integers(0, 99))
def test_any_recording_with_zeros_after_it_reads_the_same(tmp_path_factory, events, zeros, torn):
    """A recording followed by any run of zeros reads as itself, verifies intact, and is cut
    back by the next writer; with a frame torn before the zeros (`torn` % of it), that frame
    is a torn tail, as without the zeros."""
    path = str(tmp_path_factory.mktemp("rec"))
    with Log.create(path, fsync="never", block_max_records=4) as log:
        for i in range(events):
            log.append("E", {"i": i, "s": "v" * (i % 7)})
    seg, = segment_paths(path)
    os.remove(os.path.join(path, index_filename(0)))
    with open(seg, "rb") as f:
        data = f.read()
    ends = data_end_positions(data)
    keep = len(data)
    expect = events
    if torn and len(ends) > 2:
        last = ends[-2]
        keep = last + max(1, (ends[-1] - last) * torn // 100)
        expect = (len(ends) - 2) * 4
    with open(seg, "wb") as f:
        f.write(data[:keep] + bytes(zeros))
    check_prefix_reads(path, expect)
    report = verify(path)
    assert report.ok
    assert report.torn_tail == (None if keep == len(data) else (os.path.basename(seg), ends[-2]))
    with Log.open(path, "a", fsync="never") as log:
        assert log.end_offset == expect
    assert os.path.getsize(seg) == (len(data) if keep == len(data) else ends[-2])


def check_prefix_reads(path: str, n: int) -> None:
    with Log.open(path) as log:
        got = [r.data["i"] for r in log.read()]
    assert got == list(range(n))


def test_looking_again_at_reserved_zeros_reads_a_few_bytes(tmp_path, monkeypatch):
    """A reader polling a live recording reads the start of the reserved zeros, not all of them,
    while nothing new was written; a frame written there is found at the next look."""
    from test_seg_tail import PreadCounter
    path = str(tmp_path / "rec")
    with Log.create(path, fsync="always") as log:
        for i in range(5):
            log.append("E", {"i": i})
        log.flush()
        with Log.open(path) as reader:
            assert len(list(reader.read())) == 5
            counter = PreadCounter(monkeypatch)
            for _ in range(5):
                assert len(list(reader.read())) == 5
            monkeypatch.undo()
            assert counter.bytes < 64 << 10, counter.bytes   # not the megabyte of zeros each time
            log.append("E", {"i": 5})
            log.flush()
            assert [r.data["i"] for r in reader.read()] == list(range(6))


def _recording_with_a_frame_mid_write(tmp_path) -> tuple[str, str, int, bytes]:
    """A recording of 8 one-record blocks, unindexed, its 6th frame zeroed (as a reader sees
    a frame being written into reserved space while later frames are already there) and
    zeros reserved after it all. Returns (path, segment, the frame's position, its bytes)."""
    path = str(tmp_path / "rec")
    with Log.create(path, fsync="never", block_max_records=1) as log:
        for i in range(8):
            log.append("E", {"i": i})
    seg, = segment_paths(path)
    os.remove(os.path.join(path, index_filename(0)))
    with open(seg, "rb") as f:
        data = f.read()
    ends = data_end_positions(data)
    at, whole = ends[5], data[ends[5]:ends[6]]
    with open(seg, "wb") as f:
        f.write(data[:at] + bytes(len(whole)) + data[ends[6]:] + bytes(4096))
    return path, seg, at, whole


@pytest.mark.parametrize("finished", [True, False])
def test_a_frame_written_while_a_scan_looked_is_read_not_damage(tmp_path, monkeypatch, finished):
    """A scan that found a frame invalid with an intact one after it (in a file with reserved
    space, its size covers frames written after the scan began) looks at that frame again:
    whole now, it was being written, and the reader, verify and verify --chain read on;
    still invalid, it is damage."""
    import evlog.segments.segment as segment_module
    from evlog.segments import CorruptRecordingError
    from evlog.segments.chainverify import verify_chain
    path, seg, at, whole = _recording_with_a_frame_mid_write(tmp_path)

    def finish_then_search(module):
        real = module.is_torn_tail

        def is_torn_tail(fd, scan, where):
            torn = real(fd, scan, where)   # the search finds the frames after it: not torn
            if finished:
                with open(seg, "r+b") as f:   # meanwhile the writer's write of that frame ends
                    f.seek(at)
                    f.write(whole)
            return torn
        monkeypatch.setattr(module, "is_torn_tail", is_torn_tail)

    finish_then_search(segment_module)   # the search scan_settled makes for the reader, verify and the chain
    if finished:
        with Log.open(path) as log:
            assert [r.data["i"] for r in log.read()] == list(range(8))
        path2, seg, at, whole = _recording_with_a_frame_mid_write(tmp_path / "again")
        report = verify(path2)
        assert report.ok and report.events == 8, report.lines()
        path3, seg, at, whole = _recording_with_a_frame_mid_write(tmp_path / "chain")
        assert verify_chain(path3).ok
    else:
        with pytest.raises(CorruptRecordingError):
            with Log.open(path) as log:
                list(log.read())
        assert not verify(path).ok
        assert not verify_chain(path).ok
