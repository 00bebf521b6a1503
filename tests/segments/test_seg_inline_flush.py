"""flush(sync=True) at fsync=always writes and fdatasyncs on the calling thread while the
writer's I/O thread is idle (`LogWriter._io_inline_locked`): the same durability, no thread
hand-off."""
from __future__ import annotations

import threading
import time

import pytest

from evlog.segments import FileSystem, Log, LogWriteError


class ThreadsFS(FileSystem):
    """Records the thread of every fdatasync; `interrupt` raises KeyboardInterrupt in the next."""

    def __init__(self) -> None:
        self.sync_threads: list[str] = []
        self.interrupt = False

    def fdatasync(self, fd: int) -> None:
        if self.interrupt:
            self.interrupt = False
            raise KeyboardInterrupt
        super().fdatasync(fd)
        self.sync_threads.append(threading.current_thread().name)


def test_flush_syncs_on_the_calling_thread(tmp_path):
    fs = ThreadsFS()
    with Log.create(str(tmp_path / "rec"), fs=fs, fsync="always") as log:
        fs.sync_threads.clear()
        for i in range(20):
            log.append("e", {"i": i})
            assert log.flush() == i + 1 == log.durable_offset
        assert fs.sync_threads == [threading.current_thread().name] * 20   # one fdatasync per flush, here
    with Log.open(str(tmp_path / "rec")) as log:
        assert [r.data["i"] for r in log.read()] == list(range(20))


def test_interval_and_timeout_flushes_still_use_the_io_thread(tmp_path):
    fs = ThreadsFS()
    with Log.create(str(tmp_path / "rec"), fs=fs, fsync="interval", fsync_interval=60) as log:
        fs.sync_threads.clear()
        log.append("e", 1)
        assert log.flush() == 1
        assert fs.sync_threads and all(t.startswith("evlog-writer") for t in fs.sync_threads)
    with Log.create(str(tmp_path / "rec2"), fs=fs, fsync="always") as log:
        fs.sync_threads.clear()
        log.append("e", 1)
        assert log._w().flush(sync=True, timeout=5.0) == 1
        assert fs.sync_threads and all(t.startswith("evlog-writer") for t in fs.sync_threads)


def test_quiet_block_still_sealed_by_age(tmp_path):
    """The I/O thread is not woken for each block opened while it looks again soon anyway;
    a block that nobody flushes still reaches the disk after block_max_age."""
    with Log.create(str(tmp_path / "rec"), fsync="always", block_max_age=0.05) as log:
        for i in range(5):          # flushed inserts: the I/O thread stays asleep
            log.append("e", i)
            log.flush()
        log.append("e", 5)          # not flushed
        deadline = time.monotonic() + 5
        while log.durable_offset < 6 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert log.durable_offset == 6
        time.sleep(1.2)             # past the I/O thread's active spell: it sleeps until notified
        log.append("e", 6)
        deadline = time.monotonic() + 5
        while log.durable_offset < 7 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert log.durable_offset == 7


def test_concurrent_flushers(tmp_path):
    """Threads appending and flushing at once: each flush covers its own event, on whichever
    thread did the write."""
    path = str(tmp_path / "rec")
    errors: list[BaseException] = []
    with Log.create(path, fsync="always") as log:
        def work(t: int) -> None:
            try:
                for i in range(50):
                    off = log.append("e", {"t": t, "i": i})
                    assert log.flush() > off
                    assert log.durable_offset > off
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)
        threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        assert not errors, errors
        assert log.durable_offset == 200
    with Log.open(path) as log:
        got = sorted((r.data["t"], r.data["i"]) for r in log.read())
    assert got == [(t, i) for t in range(4) for i in range(50)]


def test_interrupt_in_the_calling_threads_sync_fails_the_writer(tmp_path):
    """An exception that is not an OSError (here KeyboardInterrupt) inside the caller's own
    fdatasync fails the writer, as in the I/O thread (nothing unsynced is reported durable),
    and reaches the caller."""
    path = str(tmp_path / "rec")
    fs = ThreadsFS()
    log = Log.create(path, fs=fs, fsync="always")
    log.append("e", 0)
    log.flush()
    fs.interrupt = True
    log.append("e", 1)
    with pytest.raises(KeyboardInterrupt):
        log.flush()
    assert log.durable_offset == 1 and log.lost_count == 1
    with pytest.raises(LogWriteError):
        log.append("e", 2)
    with pytest.raises(LogWriteError):
        log.close()
    with Log.open(path) as again:
        assert again.end_offset >= 1 and again.get(0).data == 0


class SlowWriteFS(FileSystem):
    """Each write gives up the GIL for a while (as a busy disk would): the I/O thread gets to
    run while a caller does its own I/O."""

    def write(self, fd: int, data: bytes) -> int:
        time.sleep(0.0005)
        return super().write(fd, data)


def test_the_io_thread_is_not_woken_by_every_flushing_insert(tmp_path):
    """While callers write their own blocks one after another, the I/O thread (finding one
    of them busy) looks again within block_max_age or when work is left for it, not after
    each caller's I/O: a wake per insert cost it a GIL hand-off per insert."""
    with Log.create(str(tmp_path / "rec"), fs=SlowWriteFS(), fsync="always", block_max_age=0.05) as log:
        w = log._w()
        wakes = []
        wait = w._io_cond.wait

        def counted(timeout=None):
            wakes.append(timeout)
            return wait(timeout)
        w._io_cond.wait = counted
        log.append("e", 0)
        log.flush()
        t = time.monotonic()
        for i in range(1, 400):
            log.append("e", i)
            assert log.flush() == i + 1
        elapsed = time.monotonic() - t
        assert len(wakes) <= 5 + 2 * elapsed / 0.05, (len(wakes), elapsed)


class HeldWriteFS(FileSystem):
    """`hold()`: the next write waits until `release()` (a caller's I/O that takes a while)."""

    def __init__(self) -> None:
        self.held = threading.Event()
        self.entered = threading.Event()
        self.go = threading.Event()

    def write(self, fd: int, data: bytes) -> int:
        if self.held.is_set():
            self.held.clear()
            self.entered.set()
            assert self.go.wait(10)
        return super().write(fd, data)


@pytest.mark.parametrize("then", ["flush", "close"])
def test_work_left_during_a_callers_io_is_done_when_it_ends(tmp_path, then):
    """Another thread's flush through the I/O thread, or a close, while a caller writes its
    own block: the I/O thread, which found the caller busy, is woken when the caller is done
    (not at its next look, block_max_age later)."""
    fs = HeldWriteFS()
    log = Log.create(str(tmp_path / "rec"), fs=fs, fsync="always", block_max_age=30)
    w = log._w()
    log.append("e", 0)
    fs.held.set()
    caller = threading.Thread(target=log.flush)
    caller.start()
    assert fs.entered.wait(10)    # the caller is in its own write
    done = []
    if then == "flush":
        log.append("e", 1)
        other = threading.Thread(target=lambda: done.append(w.flush(sync=True, timeout=20)))
    else:
        other = threading.Thread(target=lambda: done.append(log.close()))
    other.start()
    time.sleep(0.2)               # the I/O thread has been notified and found the caller busy
    t = time.monotonic()
    fs.go.set()
    caller.join(10)
    other.join(10)
    assert done and time.monotonic() - t < 5
    if then == "flush":
        assert done == [2] and log.durable_offset == 2
        log.close()
    with Log.open(str(tmp_path / "rec")) as again:
        assert again.end_offset == (2 if then == "flush" else 1)
