"""A JetStream capture killed with SIGKILL at random moments and restarted records every
published event exactly once (the 100,000-event version is bench/bench_nats_soak.py --kill)."""
from __future__ import annotations

import asyncio
import random
import signal
import threading
import time

import pytest

from evlog.segments import Log

from .helpers import (
    count_events,
    publish_numbered,
    recorded_numbers,
    recorder_cmd,
    spawn,
    stream_count,
)

pytestmark = pytest.mark.nats

N = 20_000


def _wait_for_growth(path: str, before: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while count_events(path) <= before:
        assert time.monotonic() < deadline, "the recorder recorded nothing"
        time.sleep(0.05)


@pytest.mark.timeout(150)
def test_sigkill_three_times_records_each_event_exactly_once(nats_url, js_stream, tmp_path):
    stream, prefix = js_stream
    rec = str(tmp_path / "rec")
    args = ["--subject", f"{prefix}.>", "--stream", stream, "--durable", "evlog-test", "--status-interval", "0"]
    publisher = threading.Thread(target=lambda: asyncio.run(publish_numbered(nats_url, prefix, N, rate=1500)))
    publisher.start()
    rng = random.Random()
    at_kill = []
    try:
        for _ in range(3):
            proc = spawn(recorder_cmd(rec, *args))
            try:
                _wait_for_growth(rec, count_events(rec))
                time.sleep(rng.uniform(0.05, 0.5))
            finally:
                proc.send_signal(signal.SIGKILL)
                proc.wait(10)
            assert proc.returncode == -signal.SIGKILL
            at_kill.append(count_events(rec))
    finally:
        publisher.join()
    assert asyncio.run(stream_count(nats_url, stream)) == N
    assert at_kill[0] < N, "the first kill must interrupt the capture"

    proc = spawn(recorder_cmd(rec, *args[:-1], "1"))   # status lines every second
    deadline = time.monotonic() + 60
    while count_events(rec) < N and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.1)
    print(f"kills at {at_kill} events; final run caught up in {time.monotonic() - deadline + 60:.1f} s")
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    print(err.decode()[-3000:])
    assert proc.returncode == 0, err.decode()

    numbers = recorded_numbers(rec)
    assert len(numbers) == N, f"{len(numbers)} events recorded for {N} published (kills at {at_kill})"
    assert sorted(numbers) == list(range(N))
    with Log.open(rec) as log:
        seqs = [int(r.headers["nats.seq"]) for r in log.read()]
    assert seqs == sorted(seqs) and len(set(seqs)) == N
