"""Replay into the cluster: every replayed message carries a `Nats-Msg-Id` derived from the
recording and the offset, so a replay interrupted (--limit, or SIGKILL) and run again publishes
nothing twice into an R3 stream (its duplicate window drops what was already sent)."""
from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time

import pytest

from evlog.segments import Log

from .harness import ROOT

pytestmark = pytest.mark.nats
N = 3000


def _replay(rec: str, urls: str, prefix: str, *extra: str, wait: bool = True):
    cmd = [sys.executable, "-m", "evlog", "replay", rec, "--to-nats", urls, "--speed", "max",
           "--subject-template", prefix + ".out.{event_name}", *extra]
    env = dict(os.environ, PYTHONPATH=ROOT)
    if not wait:
        return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=180)


def _numbers_in_stream(urls: str, stream: str, expected: int) -> list[int]:
    """Every message of the stream, read by an ephemeral pull consumer until `expected` have
    come (or 90 s pass): under load a fetch may time out before the cluster answers, which is
    no reason to stop reading."""
    import json

    import nats

    async def read() -> list[int]:
        nc = await nats.connect(servers=urls.split(","))
        js = nc.jetstream(timeout=10)
        sub = await js.pull_subscribe("", durable=None, stream=stream)
        out: list[int] = []
        deadline = time.monotonic() + 90
        while len(out) < expected and time.monotonic() < deadline:
            try:
                msgs = await sub.fetch(500, timeout=5)
            except TimeoutError:   # asyncio's and nats.errors.TimeoutError both derive from it
                continue
            for m in msgs:
                out.append(json.loads(m.data)["n"])
                await m.ack()   # (a pull consumer stops at max_ack_pending unacknowledged)
        await nc.close()
        return out
    return asyncio.run(read())


@pytest.fixture
def recording(tmp_path) -> str:
    rec = str(tmp_path / "src")
    with Log.create(rec, "replayed") as log:
        for i in range(N):
            log.append("tick", {"n": i}, "app")
    return rec


def _sets_msg_id(rec: str, prefix: str) -> bool:
    proc = _replay(rec, "nats://127.0.0.1:1", prefix, "--dry-run", "--limit", "1")
    return "Nats-Msg-Id=" in proc.stdout


@pytest.mark.timeout(300)
def test_interrupted_and_repeated_replay_publishes_nothing_twice(cluster, recording, tmp_path):
    name = "RP" + os.urandom(4).hex().upper()
    prefix = name.lower()
    if not _sets_msg_id(recording, prefix):
        pytest.skip("evlog replay --to-nats sets no Nats-Msg-Id yet (derived from recording and offset: "
                    "branch natshdr)")
    cluster.create_stream(name, [f"{prefix}.out.>"])
    try:
        first = _replay(recording, cluster.urls, prefix, "--limit", "1000")
        assert first.returncode == 0, first.stderr
        killed = _replay(recording, cluster.urls, prefix, wait=False)
        deadline = time.monotonic() + 60
        while cluster.stream_messages(name) < 1500 and time.monotonic() < deadline:
            time.sleep(0.05)
        killed.send_signal(signal.SIGKILL)
        killed.wait(30)
        again = _replay(recording, cluster.urls, prefix)
        assert again.returncode == 0, again.stderr
        assert cluster.stream_messages(name) == N
        numbers = _numbers_in_stream(cluster.urls, name, N)
        assert sorted(numbers) == list(range(N))
    finally:
        cluster.delete_stream(name)
