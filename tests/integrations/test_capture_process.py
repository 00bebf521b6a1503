"""The recorder as a long-running process: SIGHUP rolls a segment, SIGTERM/SIGINT stop it
cleanly (exit 0, recording closed), the status endpoint reports progress."""
from __future__ import annotations

import asyncio
import json
import signal
import socket
import time
import urllib.request

import pytest

from evlog.segments import Log

from .helpers import count_events, publish_numbered, recorder_cmd, spawn

pytestmark = pytest.mark.nats


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _status(port: int) -> dict:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/status", timeout=5) as r:
        return json.loads(r.read())


def _wait(pred, timeout=30.0, what="condition"):
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_signals_roll_and_clean_stop_with_status_endpoint(nats_url, unique, tmp_path, stop_signal):
    rec = str(tmp_path / "rec")
    port = _free_port()
    subject = f"proc{unique}"
    proc = spawn(recorder_cmd(rec, "--subject", f"{subject}.>", "--status-port", str(port),
                              "--status-interval", "0.2"))
    try:
        _wait(lambda: _try(lambda: _status(port)["connected"]), what="the status endpoint")
        time.sleep(0.2)
        asyncio.run(publish_numbered(nats_url, subject, 500))
        _wait(lambda: _status(port)["recorded"] == 500, what="500 events")
        _wait(lambda: count_events(rec) == 500, what="500 events on disk")
        proc.send_signal(signal.SIGHUP)
        time.sleep(0.3)
        asyncio.run(publish_numbered(nats_url, subject, 500, start=500))
        _wait(lambda: _status(port)["recorded"] == 1000, what="1000 events")
        snap = _status(port)
        assert snap["mode"] == "core" and snap["dropped"] == 0 and snap["last_error"] is None
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as r:
            assert r.status == 200
    finally:
        proc.send_signal(stop_signal)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err.decode()
    err_text = err.decode()
    assert "recorded 1000 events" in err_text and f"stopped: {signal.Signals(stop_signal).name}" in err_text
    assert "evlog record: recorded" in err_text   # status lines on stderr
    with Log.open(rec) as log:
        assert len(log) == 1000
        assert len(log.segments()) == 2, log.segments()
        assert log.segments()[1][1] == 500
        assert log.manifest.metadata["nats_capture"]["last_stop_reason"] == signal.Signals(stop_signal).name
    with Log.open(rec, "a") as log:  # closed cleanly: nothing to repair
        assert not log.recovery_report.truncated


def _try(fn):
    try:
        return fn()
    except OSError:
        return False


def test_unreachable_server_waits_then_gives_up_in_one_line(tmp_path):
    """The recorder waits for a server (with status lines saying so); --give-up-after ends it."""
    cmd = recorder_cmd(str(tmp_path / "rec"), "--subject", "x.>", "--give-up-after", "2s",
                       "--status-interval", "1")
    cmd[cmd.index("--from") + 1] = "nats://127.0.0.1:1"
    t0 = time.monotonic()
    proc = spawn(cmd)
    out, err = proc.communicate(timeout=60)
    assert time.monotonic() - t0 >= 2
    assert proc.returncode == 2
    lines = err.decode().strip().splitlines()
    assert "WAITING: connecting to nats://127.0.0.1:1" in lines[0], lines
    assert lines[-1] == "evlog: error: cannot connect to NATS at nats://127.0.0.1:1: " \
        "[Errno 111] Connect call failed ('127.0.0.1', 1) (gave up after 2s)"
    assert not (tmp_path / "rec").exists()
