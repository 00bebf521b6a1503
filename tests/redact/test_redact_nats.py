"""`evlog record --from nats://... --redact`: the real NATS server; a planted secret (payload
field, value pattern, message header) reaches no byte of the recording."""
from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid

import pytest
from redacttools import all_bytes, leaks

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NATS_URL = "nats://127.0.0.1:4222"
POLICY = """
id = "nats"
[[rules]]
paths = ["data.**.api_key", "headers.nats.h.Authorization"]
mode = "hmac"
[[rules]]
patterns = ['sk-[A-Za-z0-9]{20,}']
mode = "mask"
"""


@pytest.mark.nats
def test_record_from_nats_through_a_policy(tmp_path, nats_url) -> None:
    import nats
    (tmp_path / "p.toml").write_text(POLICY)
    subject = f"redact{uuid.uuid4().hex[:8]}"
    n = 20
    rec = str(tmp_path / "rec")
    env = dict(os.environ, PYTHONPATH=ROOT, EVLOG_TEST_NATS_KEY="nats-test-key-0123456789")
    proc = subprocess.Popen([sys.executable, "-m", "evlog", "record", rec, "--from", NATS_URL, "--subject",
                             f"{subject}.>", "--max-events", str(n), "--status-interval", "0.2",
                             "--redact", str(tmp_path / "p.toml"), "--redact-key-env", "EVLOG_TEST_NATS_KEY"],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    secrets = [f"PLANTEDNATS{i}" for i in range(n)] + [f"PLANTEDHDR{i}" for i in range(n)] + ["Z" * 24]

    async def publish() -> None:
        nc = await nats.connect(NATS_URL)
        for i in range(n):
            body = {"order": {"api_key": f"PLANTEDNATS{i}"}, "note": "token sk-" + "Z" * 24, "i": i}
            await nc.publish(f"{subject}.x", json.dumps(body).encode(),
                             headers={"Authorization": f"Bearer PLANTEDHDR{i}"})
        await nc.flush()
        await nc.close()
    first = proc.stderr.readline()   # status lines: wait for the first one that waits for nothing
    while first.startswith(b"evlog record:") and b"WAITING" in first:
        first = proc.stderr.readline()
    assert first.startswith(b"evlog record:"), first
    asyncio.run(publish())
    try:
        _out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err.decode()
    assert not leaks(all_bytes(rec), secrets)
    from evlog.recording import open_recording
    with open_recording(rec) as r:
        records = [x for x in r.read() if x.source != "evlog"]
        assert r.metadata["redaction"]["id"] == "nats"
    assert len(records) == n
    assert all(x.data["order"]["api_key"].startswith("hmac:") and x.data["note"] == "token ***"
               and x.headers["nats.h.Authorization"].startswith("hmac:") for x in records)
