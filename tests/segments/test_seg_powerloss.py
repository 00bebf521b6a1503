"""Power loss after a failed write or fsync: what was fsynced reads as a valid prefix.

A run appends events through `DiskModelFS` (powerloss.py), which fails its k-th write or
sync and keeps a model of what is on stable storage. For every k, and for random runs
(hypothesis), the files a power loss could leave (`view`) must open, read as a prefix of
what was appended that holds at least every event reported durable, open for append
(recovery cuts the torn tail) and verify clean. The durability reported never exceeds
what the view holds, and every accepted event is either durable or counted as not.
A second session on the same disk (reopening the failed recording, as a recorder restarted
by its supervisor would) must keep the same promises.
"""
from __future__ import annotations

import errno
import os
import signal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evlog.segments import Log, LogClosedError, LogWriteError, NotARecordingError, verify
from evlog.segments.segment import list_segments, segment_filename

from powerloss import DiskModelFS, NoSyncFS

RUN_EVENTS = 90
OPTS = {"fsync": "always", "block_max_records": 3, "segment_max_bytes": 4096}


def event(i: int) -> tuple[str, dict, str]:
    """The event at offset `i`: a pure function of the offset, so any view can be checked."""
    return f"E{i % 3}", {"i": i, "pad": "z" * (i * 13 % 200)}, f"s{i % 2}"


def check_view(fs: DiskModelFS, dst: str, at_least: int, opts: dict) -> list[int]:
    """Both views (pessimistic, optimistic) of the disk now: each reads as a prefix of the
    events, at least `at_least` long, opens for append and verifies clean. Returns their lengths."""
    lengths = []
    for pessimistic in (True, False):
        view = fs.view(f"{dst}-{'p' if pessimistic else 'o'}", pessimistic)
        if not os.path.exists(os.path.join(view, "manifest.json")):
            # the manifest's atomic replace never completed: Log.create failed, nothing was acknowledged
            assert at_least == 0
            with pytest.raises(NotARecordingError):
                Log.open(view)
            lengths.append(0)
            continue
        with Log.open(view) as log:
            recs = list(log.read())
        assert [r.offset for r in recs] == list(range(len(recs)))
        for r in recs:
            assert (r.name, r.data, r.source) == event(r.offset)
        assert len(recs) >= at_least, (pessimistic, len(recs), at_least)
        with Log.open(view, "a", fs=NoSyncFS(), **opts) as again:   # recovery cuts what a torn write left
            assert again.end_offset == len(recs)
            again.append(*event(len(recs)))
        report = verify(view)
        assert report.ok and report.torn_tail is None, [str(p) for p in report.problems]
        lengths.append(len(recs))
    return lengths


def run_session(path: str, fs: DiskModelFS, opts: dict, first: int, n: int, flush_every: int,
                create: bool) -> tuple[Log | None, int, int]:
    """Append events first..first+n through `fs`, flushing every `flush_every`. Returns the log
    (None if it could not be opened), the events accepted and the most reported durable."""
    try:
        log = Log.create(path, "powerloss", fs=fs, **opts) if create else Log.open(path, "a", fs=fs, **opts)
    except OSError:
        assert fs.fired   # failed while opening: nothing acknowledged, the directory not locked
        return None, 0, 0
    assert log.end_offset == first
    accepted = 0
    reported = log.durable_offset
    try:
        for i in range(first, first + n):
            assert log.append(*event(i)) == i
            accepted += 1
            reported = max(reported, log.durable_offset)
            if (i + 1) % flush_every == 0:
                reported = max(reported, log.flush())
        reported = max(reported, log.flush())
    except (LogWriteError, LogClosedError):
        assert fs.fired
    return log, accepted, reported


def check_accounting(log: Log, first: int, accepted: int, reported: int, readable: int) -> None:
    """Never over-report: durable <= what a power loss leaves; every accepted event is either
    durable or counted as not (end_offset - durable_offset, or the `lost` counter)."""
    durable = log.durable_offset
    assert reported <= readable and durable <= readable, (reported, durable, readable)
    assert reported <= durable   # durable_offset never goes back
    assert log.end_offset == first + accepted      # no accepted event left uncounted
    not_durable = log.end_offset - durable
    assert not_durable >= 0
    lost = getattr(log, "lost", None)   # the engine's counter of events not stored, where it exists
    if lost is not None:
        assert lost == not_durable


def faulty_run(tmp: str, op: str, k: int, err: int, opts: dict = OPTS, flush_every: int = 4,
               n: int = RUN_EVENTS) -> bool:
    """One run with the k-th `op` failing, then a second session on the same disk.
    Returns False when the run never reached the k-th call."""
    path = os.path.join(tmp, "rec")
    fs = DiskModelFS(path, op, k, err)
    log, accepted, reported = run_session(path, fs, opts, 0, n, flush_every, create=True)
    closed = False
    if log is not None and not fs.fired:
        assert accepted == n and reported == n
        closed = True
        try:
            log.close()   # its fsync or the index it writes may be the k-th call
        except LogWriteError:
            assert fs.fired
    if not fs.fired:
        assert check_view(fs, os.path.join(tmp, "clean"), n, opts) == [n, n]
        return False
    readable = min(check_view(fs, os.path.join(tmp, "v1"), reported, opts))
    if log is not None:
        check_accounting(log, 0, accepted, reported, readable)
        if not closed:
            with pytest.raises(LogWriteError):
                log.close()
            check_view(fs, os.path.join(tmp, "v1-closed"), reported, opts)
    if not os.path.exists(os.path.join(path, "manifest.json")):
        return True
    # the same disk, now healthy: the failed recording reopened and continued
    with Log.open(path, "a", fs=fs, **opts) as log2:
        first = log2.end_offset
        assert first >= reported
        check_view(fs, os.path.join(tmp, "v2-open"), log2.durable_offset, opts)
        for i in range(first, first + 5):
            assert log2.append(*event(i)) == i
        done = log2.flush()
        assert done == first + 5
        check_view(fs, os.path.join(tmp, "v2-flushed"), done, opts)
    check_view(fs, os.path.join(tmp, "v2-closed"), first + 5, opts)
    return True


@pytest.mark.parametrize("op", ["write", "sync"])
@pytest.mark.parametrize("err", [errno.EIO, errno.ENOSPC])
def test_power_loss_after_every_kth_failure(tmp_path, op, err):
    k = 1
    while faulty_run(str(tmp_path / f"k{k}"), op, k, err):
        k += 1
    assert k > 20   # the run made enough calls for the loop to mean something


@settings(max_examples=25)
@given(op=st.sampled_from(["write", "sync"]), k=st.integers(1, 60), err=st.sampled_from([errno.EIO, errno.ENOSPC]),
       fsync=st.sampled_from(["always", "interval"]), block_max_records=st.sampled_from([1, 3, 20]),
       segment_max_bytes=st.sampled_from([4096, 16384]), index_interval=st.sampled_from([None, 1e-6]),
       flush_every=st.integers(1, 30))
def test_power_loss_property(tmp_path_factory, op, k, err, fsync, block_max_records, segment_max_bytes,
                             index_interval, flush_every):
    opts = {"fsync": fsync, "fsync_interval": 0.001, "block_max_records": block_max_records,
            "segment_max_bytes": segment_max_bytes, "index_interval": index_interval}
    faulty_run(str(tmp_path_factory.mktemp("pl")), op, k, err, opts, flush_every, n=60)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_reopened_after_kill_reports_only_what_is_on_disk(tmp_path):
    """A writer killed before its fsync leaves its last segment's new bytes in the page cache
    only. The writer that reopens the recording reports them durable: they must be on disk."""
    path = str(tmp_path / "rec")
    opts = {"fsync": "never", "block_max_records": 3, "segment_max_bytes": 4096}
    pid = os.fork()
    if pid == 0:   # pragma: no cover - the child is killed
        try:
            log = Log.create(path, **opts)
            for i in range(50):
                log.append(*event(i))
            log.flush(sync=False)
        finally:
            os.kill(os.getpid(), signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status)
    last = segment_filename(list_segments(path)[-1])
    # rolled segments were fsynced at the roll; of the last one only its header reached the disk
    fs = DiskModelFS(path, on_disk={last: 32})
    with Log.open(path, "a", fs=fs, **opts) as log:
        assert log.durable_offset == log.end_offset == 50
        assert check_view(fs, str(tmp_path / "view"), log.durable_offset, opts) == [50, 50]
