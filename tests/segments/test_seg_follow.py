"""Readers while a writer appends: follow mode and concurrent readers see whole-block prefixes."""
from __future__ import annotations

import os
import threading
import time

import pytest

from evlog.segments import Log

N = 600


def event(i: int):
    return f"E{i % 4}", {"i": i, "pad": "p" * (i % 50)}, "src" if i % 3 else "other"


def write_all(path: str, pause_every: int = 25, create: bool = True) -> None:
    opts = dict(fsync="never", block_max_records=3, block_max_bytes=400, block_max_age=0.005,
                segment_max_bytes=4096)
    log = Log.create(path, "f", **opts) if create else Log.open(path, "a", **opts)
    try:
        for i in range(log.end_offset, N):
            assert log.append(*event(i)) == i
            if i % pause_every == 0:
                time.sleep(0.001)
    finally:
        log.close()


def check_prefix(records) -> int:
    for n, r in enumerate(records):
        assert r.offset == n, (r.offset, n)
        assert (r.name, r.data, r.source) == event(n)
    return len(records)


def reader_loop(path: str, done: threading.Event, errors: list, seen: list) -> None:
    try:
        while not os.path.exists(os.path.join(path, "manifest.json")):
            time.sleep(0.001)
        log = Log.open(path)
        while True:
            finished = done.is_set()
            n = check_prefix(list(log.read()))
            assert n >= (seen[-1] if seen else 0)      # never goes backwards
            assert len(log) >= n
            seen.append(n)
            if finished:
                break
        log.close()
    except BaseException as exc:   # noqa: BLE001 - reported to the main thread
        errors.append(exc)


def test_concurrent_reader_thread(rec_path):
    done = threading.Event()
    errors, seen = [], []
    t = threading.Thread(target=reader_loop, args=(rec_path, done, errors, seen))
    t.start()
    try:
        write_all(rec_path)
    finally:
        done.set()
        t.join(60)
    assert not errors, errors
    assert seen[-1] == N
    assert len(set(seen)) > 2        # it saw the log grow


def test_follow_sees_everything_in_order(rec_path):
    got, got_filtered, errors = [], [], []
    done = threading.Event()

    def follower(out, **filters):
        try:
            while not os.path.exists(os.path.join(rec_path, "manifest.json")):
                time.sleep(0.001)
            log = Log.open(rec_path)
            want = N if not filters else sum(1 for i in range(N) if event(i)[0] == "E1")
            for rec in log.follow(0, poll_interval=0.002, stop=lambda: done.is_set() and len(out) >= want,
                                  **filters):
                out.append(rec)
            log.close()
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=follower, args=(got,)),
               threading.Thread(target=follower, args=(got_filtered,), kwargs={"names": "E1"})]
    for t in threads:
        t.start()
    try:
        write_all(rec_path)
    finally:
        done.set()
        for t in threads:
            t.join(60)
    assert not errors, errors
    assert check_prefix(got) == N
    assert [r.offset for r in got_filtered] == [i for i in range(N) if event(i)[0] == "E1"]
    assert all(r.data == event(r.offset)[1] for r in got_filtered)


def test_follow_from_end_and_stop(rec_path):
    with Log.create(rec_path, fsync="never") as log:
        for i in range(5):
            log.append(*event(i))
    reader = Log.open(rec_path)
    polls = []
    out = list(reader.follow(poll_interval=0.001, stop=lambda: polls.append(1) or len(polls) >= 3))
    assert out == [] and len(polls) == 3   # from the end: nothing old is replayed


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_concurrent_reader_process(rec_path):
    """A reader in another process, while this one writes (and reopens once)."""
    rfd, wfd = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(rfd)
        code = 0
        try:
            while not os.path.exists(os.path.join(rec_path, "manifest.json")):
                time.sleep(0.001)
            log = Log.open(rec_path)
            last = 0
            deadline = time.monotonic() + 60
            while last < N and time.monotonic() < deadline:
                n = check_prefix(list(log.read()))
                assert n >= last
                last = n
            os.write(wfd, str(last).encode())
        except BaseException as exc:  # noqa: BLE001
            os.write(wfd, f"ERR {type(exc).__name__}: {exc}".encode()[:500])
            code = 1
        finally:
            os._exit(code)
    os.close(wfd)
    try:
        write_all(rec_path)
        _, status = os.waitpid(pid, 0)
        out = os.read(rfd, 1000).decode()
    finally:
        os.close(rfd)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, out
    assert out == str(N)
