"""`evlog record --from nats://...` and `evlog replay REC --to-nats nats://...` (the top-level commands)."""
from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time

import pytest

from evlog.segments import Log

pytestmark = pytest.mark.nats


def _publish(url: str, subject: str, payloads: list[dict]) -> None:
    import nats

    async def main() -> None:
        nc = await nats.connect(url)
        for p in payloads:
            await nc.publish(subject, json.dumps(p).encode())
        await nc.flush()
        await nc.close()
    asyncio.run(main())


def test_record_from_nats_then_replay_into_nats(nats_url, unique, tmp_path):
    out = tmp_path / "rec"
    # the form of docs/production.md: the recording as a positional argument
    cmd = [sys.executable, "-m", "evlog", "record", str(out), "--from", nats_url, "--subject", f"{unique}.>",
           "--max-events", "4", "--map", f"{unique}.*={{last}}", "--status-interval", "30"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while not (out / "manifest.json").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)  # the subscription is made right after the recording is created
        _publish(nats_url, f"{unique}.price", [{"i": i} for i in range(4)])
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert "recorded 4 events" in err
    records = list(Log.open(out).read())
    assert [r.name for r in records] == ["price"] * 4
    assert [r.data["i"] for r in records] == [0, 1, 2, 3]

    dry = subprocess.run([sys.executable, "-m", "evlog", "replay", str(out), "--to-nats", nats_url, "--dry-run",
                          "--subject-template", f"{unique}-replay.{{event_name}}"],
                         capture_output=True, text=True, timeout=60)
    assert dry.returncode == 0, dry.stderr
    lines = dry.stdout.strip().splitlines()
    assert len(lines) == 4 and all(line.startswith(f"{unique}-replay.price ") for line in lines)
    assert "Evlog-Replay=" in lines[0] and "would send 4 messages" in dry.stderr
    # --sink URL is the general form; --to is a time, never a URL
    limited = subprocess.run([sys.executable, "-m", "evlog", "replay", str(out), "--sink", nats_url, "--dry-run",
                              "--limit", "2"], capture_output=True, text=True, timeout=60)
    assert limited.returncode == 0 and len(limited.stdout.strip().splitlines()) == 2, limited.stderr
    refused = subprocess.run([sys.executable, "-m", "evlog", "replay", str(out), "--to", nats_url, "--dry-run"],
                             capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2 and "--to is a time" in refused.stderr and "Traceback" not in refused.stderr


def test_replay_dry_run_needs_a_nats_target(tmp_path):
    path = tmp_path / "r"
    with Log.create(path) as log:
        log.append("a", 1)
    res = subprocess.run([sys.executable, "-m", "evlog", "replay", str(path), "--dry-run"],
                         capture_output=True, text=True, timeout=60, env={**os.environ})
    assert res.returncode == 2
    assert "--dry-run and --limit go with --to-nats nats://" in res.stderr
    assert "Traceback" not in res.stderr
