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
