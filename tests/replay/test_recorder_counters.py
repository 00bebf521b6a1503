"""EventRecorder's counters tell the truth: `flush()` never reports more than is durable, and
every captured event is recorded, lost or pending, whatever the disk does."""
from __future__ import annotations

import errno
import threading

import pytest

from evlog.recorder import EventRecorder
from evlog.recording import open_recording
from segments.test_seg_iofaults import FaultyFS, synced_prefix


def payload(i: int) -> dict:
    return {"i": i, "pad": "p" * (i * 7 % 90)}


def check_balance(info: dict) -> None:
    assert info["recorded"] + info["lost"] + info["pending"] == info["captured"], info
    assert min(info["recorded"], info["lost"], info["pending"]) >= 0, info


@pytest.mark.parametrize("op,err,k", [("write", errno.ENOSPC, 21), ("write", errno.ENOSPC, 3),
                                      ("sync", errno.EIO, 17)])
def test_a_failing_disk_never_over_reports(tmp_path, op, err, k) -> None:
    """The issue's case: ENOSPC after N writes, flush() every 500 events. Each flush()
    returns at most what is fsynced; after the failure the events that were handed to the
    writer but never made durable, and the queued ones, are lost, not recorded."""
    fs = FaultyFS(op, k, err)
    rec = EventRecorder("enospc", tmp_path, fs=fs, block_max_records=250)
    rec.start_recording()
    returned = []
    for i in range(20_000):
        rec.record("E", payload(i), "src")
        if i % 500 == 499:
            n = rec.flush()
            returned.append(n)
            assert n <= synced_prefix(str(rec.path), fs), (i, n)
            check_balance(rec.info())
    assert fs.fired and not rec.is_recording and rec.error
    info = rec.info()
    check_balance(info)
    assert info["captured"] == 20_000 and info["pending"] == 0
    durable = synced_prefix(str(rec.path), fs)
    assert rec.flush() == rec.recorded == info["recorded"] == durable
    assert rec.lost == 20_000 - durable > 0
    assert returned == sorted(returned) and returned[-1] == durable
    rec.close()
    with open_recording(rec.path) as recording:
        got = [(r.name, r.data, r.source) for r in recording.read()]
    assert len(got) >= durable
    assert got[:durable] == [("E", payload(i), "src") for i in range(durable)]


def test_counters_balance_while_publishers_run(tmp_path) -> None:
    rec = EventRecorder("balance", tmp_path, block_max_records=100)
    rec.start_recording()
    stop = threading.Event()

    def work(t: int) -> None:
        i = 0
        while not stop.is_set() and i < 30_000:
            rec.record("E", {"t": t, "i": i})
            i += 1
    threads = [threading.Thread(target=work, args=(t,)) for t in range(2)]
    for t in threads:
        t.start()
    seen = 0
    while any(t.is_alive() for t in threads) or seen < 5:
        info = rec.info()
        check_balance(info)
        seen += 1
        if seen > 2000:
            stop.set()
    for t in threads:
        t.join()
    assert rec.flush() == rec.info()["captured"] == rec.recorded
    info = rec.info()
    check_balance(info)
    assert info["pending"] == 0 and info["lost"] == 0
    rec.close()


def test_recording_again_after_a_failure_reopens_and_counts_on(tmp_path) -> None:
    fs = FaultyFS("write", 3, errno.ENOSPC)
    rec = EventRecorder("again", tmp_path, fs=fs, block_max_records=10)
    rec.start_recording()
    for i in range(200):
        rec.record("E", payload(i), "src")
        if i % 20 == 19:
            rec.flush()
    assert rec.error and not rec.is_recording
    before = rec.info()
    assert before["lost"] > 0 and before["captured"] == 200
    rec.start_recording()   # the disk has room again (the fault fired once)
    for i in range(200, 250):
        rec.record("E", payload(i), "src")
    assert rec.flush() == before["recorded"] + 50
    info = rec.info()
    check_balance(info)
    assert info["captured"] == 250 and info["lost"] == before["lost"] and rec.error is None
    rec.close()
    with open_recording(rec.path) as recording:
        got = [r.data for r in recording.read()]
    assert got[-50:] == [payload(i) for i in range(200, 250)]
