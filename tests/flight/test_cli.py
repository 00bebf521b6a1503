"""`evlog record --snapshot`: stdin (a trigger_on filter, SIGUSR1, EOF without a trigger writes
nothing) and a core NATS subject."""
from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest
from click.testing import CliRunner
from flighttools import read_recording

from evlog.cli import cli

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def lines(n: int, start: int = 0, name: str = "Tick") -> str:
    return "".join(json.dumps({"event_name": name, "event_data": {"i": i}}) + "\n" for i in range(start, start + n))


def test_stdin_snapshot_with_trigger_on(tmp_path):
    text = lines(100) + json.dumps({"event_name": "OrderFailed", "event_data": {"id": 1}}) + "\n" + lines(50, 100)
    result = CliRunner().invoke(cli, ["record", "--snapshot", "60s", "--after", "10s", "--out", str(tmp_path),
                                      "--trigger-on", "OrderFailed"], input=text)
    assert result.exit_code == 0, result.output
    (path,) = tmp_path.iterdir()
    records, meta = read_recording(path)
    assert [r.name for r in records].count("OrderFailed") == 1 and len(records) == 151
    assert "OrderFailed" in meta["trigger_reason"] and meta["flight"]["ended"] == "end of input"
    assert "1 recording(s)" in result.output


def test_stdin_snapshot_without_trigger_writes_nothing(tmp_path):
    result = CliRunner().invoke(cli, ["record", "--snapshot", "60s", "--out", str(tmp_path / "out")], input=lines(200))
    assert result.exit_code == 0, result.output
    assert "no trigger: nothing written" in result.output
    assert list((tmp_path / "out").iterdir()) == []


@pytest.mark.parametrize("args, message", [
    (["--trigger-on", "X"], "--trigger-on goes with --snapshot"),
    (["--snapshot", "60s", "-o", "x"], "not to RECORDING or -o"),
    (["--snapshot", "soon"], "duration must be a duration"),
    (["--snapshot", "60s", "--snapshot-bytes", "1k"], "keep_bytes must be at least"),
    (["--snapshot", "60s", "--trigger-on", "data.x >"], "trigger_on"),
    (["--snapshot", "60s", "--from", "nats://127.0.0.1:4222", "--subject", "a", "--stream", "S"], "core NATS"),
])
def test_bad_snapshot_options_are_one_line_errors(tmp_path, args, message):
    result = CliRunner().invoke(cli, ["record", "--out", str(tmp_path), *args], input="")
    assert result.exit_code != 0 and message in result.output, result.output
    assert "Traceback" not in result.output


def test_sigusr1_triggers_evlog_record_snapshot(tmp_path):
    env = dict(os.environ, PYTHONPATH=ROOT)
    proc = subprocess.Popen([sys.executable, "-m", "evlog", "record", "--snapshot", "30s", "--after", "0.3s",
                             "--out", str(tmp_path)], stdin=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    try:
        assert b"kill -USR1" in proc.stderr.readline()
        proc.stdin.write(lines(300).encode())
        proc.stdin.flush()
        time.sleep(0.5)
        proc.send_signal(signal.SIGUSR1)
        time.sleep(0.1)
        proc.stdin.write(lines(100, 300).encode())
        proc.stdin.flush()
        time.sleep(0.8)          # past `after`: the window ends on its own
        proc.stdin.write(lines(100, 400).encode())
        proc.stdin.close()
        err = proc.stderr.read().decode()
        assert proc.wait(30) == 0, err
    finally:
        proc.kill()
    (path,) = tmp_path.iterdir()
    records, meta = read_recording(path)
    assert meta["trigger_reason"] == "SIGUSR1" and meta["flight"]["ended"] == "after elapsed"
    assert [r.data["i"] for r in records] == list(range(400))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _connected(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/status", timeout=2) as r:
            return bool(json.loads(r.read())["connected"])
    except OSError:
        return False


@pytest.mark.nats
def test_nats_snapshot_with_trigger_on(tmp_path, nats_url):
    import nats
    subject = f"flight{os.getpid()}{int(time.time() * 1000) % 100000}"
    port = _free_port()
    env = dict(os.environ, PYTHONPATH=ROOT)
    proc = subprocess.Popen([sys.executable, "-m", "evlog", "record", "--from", "nats://127.0.0.1:4222",
                             "--subject", f"{subject}.>", "--snapshot", "30s", "--after", "0.2s",
                             "--trigger-on", "data.n == 300", "--out", str(tmp_path),
                             "--status-interval", "0", "--status-port", str(port)], stderr=subprocess.PIPE, env=env)

    async def publish() -> None:
        nc = await nats.connect("nats://127.0.0.1:4222")
        for i in range(600):
            await nc.publish(f"{subject}.tick", json.dumps({"n": i}).encode())
            if i % 50 == 49:
                await nc.flush()
                await asyncio.sleep(0.05)
        await nc.flush()
        await nc.close()

    try:
        deadline = time.monotonic() + 30
        while not _connected(port):
            assert time.monotonic() < deadline and proc.poll() is None, proc.stderr.read().decode()
            time.sleep(0.1)
        time.sleep(0.3)
        asyncio.run(publish())
        time.sleep(0.5)
        proc.send_signal(signal.SIGTERM)
        err = proc.communicate(timeout=60)[1].decode()
        assert proc.returncode == 0, err
    finally:
        proc.kill()
    (path,) = tmp_path.iterdir()
    records, meta = read_recording(path)
    assert "data.n == 300" in meta["trigger_reason"]
    numbers = [r.data["n"] for r in records]   # from the first (within keep) to 0.2 s after n == 300
    assert numbers == list(range(numbers[-1] + 1)) and 300 < numbers[-1] < 599
    assert meta["flight"]["ended"] == "after elapsed"
