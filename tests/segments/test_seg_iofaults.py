"""I/O faults: the k-th write or fsync fails with EIO or ENOSPC, for every k over a run."""
from __future__ import annotations

import errno
import os
import threading

import pytest

from evlog.segments import FileSystem, Log, LogClosedError, LogWriteError, verify


class FaultyFS(FileSystem):
    """Fails the k-th write (after writing half of it) or the k-th fdatasync/fsync."""

    def __init__(self, op: str, k: int, err: int) -> None:
        self.op, self.k, self.err = op, k, err
        self.calls = 0
        self.fired = False
        self._lock = threading.Lock()
        self.paths: dict[int, str] = {}
        self.synced: dict[str, int] = {}   # segment file name -> bytes known to be on stable storage

    def open_append(self, path):
        fd = super().open_append(path)
        self.paths[fd] = os.path.basename(path)
        return fd

    def close(self, fd):
        self.paths.pop(fd, None)
        super().close(fd)

    def _synced(self, fd):
        name = self.paths.get(fd)
        if name is not None:
            self.synced[name] = os.fstat(fd).st_size

    def _tick(self, op: str) -> bool:
        with self._lock:
            if op != self.op or self.fired:
                return False
            self.calls += 1
            if self.calls == self.k:
                self.fired = True
                return True
            return False

    def write(self, fd, data):
        if self._tick("write"):
            super().write(fd, bytes(data)[: len(data) // 2])   # a short write, then the error
            raise OSError(self.err, os.strerror(self.err))
        super().write(fd, data)

    def fdatasync(self, fd):
        if self._tick("sync"):
            raise OSError(self.err, os.strerror(self.err))
        super().fdatasync(fd)
        self._synced(fd)

    def fsync(self, fd):
        if self._tick("sync"):
            raise OSError(self.err, os.strerror(self.err))
        super().fsync(fd)
        self._synced(fd)


def synced_prefix(path: str, fs: FaultyFS) -> int:
    """How many events lie in blocks that were entirely fsynced (scanning the segments)."""
    log = Log.open(path)
    try:
        end = 0
        for seg, entry in log.index_entries():
            if entry.position + entry.frame_len > fs.synced.get(seg, 0):
                break
            end = entry.end_offset
        return end
    finally:
        log.close()


def event(i: int):
    return f"E{i % 3}", {"i": i, "pad": "z" * (i * 13 % 200)}, f"s{i % 2}"


def check_prefix(path: str, at_least: int) -> int:
    """The log reads as a correct prefix of the events, at least `at_least` long."""
    log = Log.open(path)
    try:
        recs = list(log.read())
    finally:
        log.close()
    assert [r.offset for r in recs] == list(range(len(recs)))
    for r in recs:
        assert (r.name, r.data, r.source) == event(r.offset)
    assert len(recs) >= at_least, (len(recs), at_least)
    return len(recs)


# events of one run: enough that the run makes more than 20 writes and 20 syncs (queued
# blocks share a write and a sync) for the every-k loop to mean something
RUN_EVENTS = 90


def run_once(path: str, fs: FaultyFS) -> bool:
    """One run with a fault injected; returns False when the run never reached the k-th call."""
    opts = {"fsync": "always", "block_max_records": 3, "segment_max_bytes": 4096}
    try:
        log = Log.create(path, "faults", fs=fs, **opts)
    except OSError:
        # failed while creating: nothing was acknowledged; the directory must not be locked
        assert fs.fired
        if os.path.exists(os.path.join(path, "manifest.json")):
            with Log.open(path, "a", **opts) as again:
                assert again.end_offset == 0
        return True
    acked = 0
    failure = None
    try:
        for i in range(RUN_EVENTS):
            assert log.append(*event(i)) == i
            if i % 4 == 3:
                acked = log.flush()
                assert acked == i + 1 == log.durable_offset and log.lost_count == 0
                assert acked <= synced_prefix(path, fs)
        log.close()
    except LogWriteError as exc:
        failure = exc
    if failure is None:
        assert not fs.fired
        check_prefix(path, RUN_EVENTS)
        return False
    assert fs.fired and str(failure)
    durable = log.durable_offset
    assert durable >= acked
    # every accepted event is durable or counted lost, none twice
    assert log.lost_count == log.end_offset - durable >= 0
    if not log._closed:
        # the failed log object itself still reads what was written
        recs = list(log.read())
        assert [r.offset for r in recs] == list(range(len(recs))) and len(recs) >= durable
    # nothing is reported durable that was not fsynced (a failed fsync may have lost it)
    assert durable <= synced_prefix(path, fs), (durable, fs.synced)
    # the writer stays failed: no retry, appends and flushes raise
    for _ in range(2):
        with pytest.raises((LogWriteError, LogClosedError)):
            log.append(*event(99))
    if not log._closed:
        with pytest.raises(LogWriteError):
            log.flush()
        with pytest.raises(LogWriteError):
            log.close()
    log.close()   # a second close is a no-op
    # readable up to the last good block; everything durable is there
    n = check_prefix(path, durable)
    # the lock was released: reopening for append recovers and appending works
    with Log.open(path, "a", **opts) as log2:
        start = log2.end_offset
        assert start >= n
        for i in range(start, start + 5):
            assert log2.append(*event(i)) == i
    check_prefix(path, start + 5)
    v = verify(path)
    assert v.ok and v.torn_tail is None, [str(p) for p in v.problems]
    return True


@pytest.mark.parametrize("op", ["write", "sync"])
@pytest.mark.parametrize("err", [errno.EIO, errno.ENOSPC])
def test_every_kth_failure(tmp_path, op, err):
    k = 1
    while True:
        fs = FaultyFS(op, k, err)
        if not run_once(str(tmp_path / f"rec{k}"), fs):
            break
        k += 1
    assert k > 20   # the run made enough calls for the loop to mean something


def test_failure_message_and_lock_release(tmp_path):
    path = str(tmp_path / "rec")
    fs = FaultyFS("sync", 10_000, errno.EIO)
    log = Log.create(path, fs=fs, fsync="always", block_max_records=1)
    log.append("a", 1)
    log.flush()
    fs.k = fs.calls + 1          # the next fsync fails
    log.append("b", 2)
    with pytest.raises(LogWriteError, match="flush failed"):
        log.flush()
    with pytest.raises(LogWriteError, match="accepts no more events"):
        log.append("c", 3)
    with pytest.raises(LogWriteError, match="may be lost"):
        log.close()
    assert (log.durable_offset, log.lost_count, log.end_offset) == (1, 1, 2)   # "b" accepted, not stored
    with Log.open(path, "a") as again:   # no RecordingLockedError
        assert again.end_offset >= 1
        assert again.get(0).data == 1
