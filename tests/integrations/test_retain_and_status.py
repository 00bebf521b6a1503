"""`evlog retain` (through the storage engine's retention) and the capture status line."""
from __future__ import annotations

import json
import os
import time
import urllib.request

from click.testing import CliRunner

from evlog.cli import cli
from evlog.integrations.status import CaptureStats, StatusLine, StatusServer
from evlog.segments import Log


def _segmented(path, n_segments: int = 4, old: bool = True) -> None:
    ts = time.time_ns() - (30 * 86400 * 10**9 if old else 0)
    with Log.create(path, segment_max_bytes=4096) as log:
        for i in range(n_segments):
            log.append("E", {"i": i, "pad": os.urandom(2500).hex()}, "s", timestamp=ts + i)
            log.flush()   # one block of about 3 KiB: each segment (4 KiB at most) holds one
        log.append("E", {"i": "last"}, "s")   # the active segment: recent


def test_retain_by_age_keeps_the_active_segment(tmp_path):
    path = str(tmp_path / "rec")
    _segmented(path)
    before = Log.open(path).segments()
    assert len(before) >= 3
    result = CliRunner().invoke(cli, ["retain", path, "--max-age", "7d"])
    assert result.exit_code == 0, result.output
    assert "removed" in result.output
    after = Log.open(path).segments()
    assert len(after) == 1 and after[0][0] == before[-1][0]
    kept = [r.data["i"] for r in Log.open(path).read()]
    assert kept[-1] == "last" and 0 not in kept and 1 not in kept


def test_retain_by_size_and_nothing_to_do(tmp_path):
    path = str(tmp_path / "rec")
    _segmented(path, old=False)
    runner = CliRunner()
    assert "nothing to remove" in runner.invoke(cli, ["retain", path, "--max-age", "7d"]).output
    result = runner.invoke(cli, ["retain", path, "--max-bytes", "1"])
    assert result.exit_code == 0 and "removed" in result.output
    assert len(Log.open(path).segments()) == 1


def test_retain_errors_are_one_line(tmp_path):
    path = str(tmp_path / "rec")
    _segmented(path, 1)
    runner = CliRunner()
    for args, text in (([path], "give --max-age"), ([path, "--max-age", "soon"], "not an age"),
                       ([path, "--max-bytes", "lots"], "not a size"),
                       ([str(tmp_path / "none"), "--max-age", "1d"], "")):
        result = runner.invoke(cli, ["retain", *args])
        assert result.exit_code == 2, (args, result.output)
        errors = [line for line in result.stderr.splitlines() if line.startswith(("Error:", "evlog: error:"))]
        assert len(errors) == 1 and text in errors[0], result.stderr
        assert "Traceback" not in result.stderr


def test_status_line_and_endpoint():
    stats = CaptureStats(mode="jetstream", subject="a.>")
    line = StatusLine()
    stats.connected = True
    first = line.format(stats.snapshot())
    stats.recorded, stats.updated_at, stats.bytes, stats.lag_seconds = 2000, stats.updated_at + 2, 3 << 20, 0.25
    stats.error("nats: boom")
    second = line.format(stats.snapshot())
    assert first.startswith("evlog record: recorded 0")
    assert "recorded 2000, 1,000/s" in second and "lag 0.25s" in second and "3.0 MiB" in second
    assert "last error: nats: boom" in second
    server = StatusServer(stats.snapshot, port=0)
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/status", timeout=5) as r:
            body = json.loads(r.read())
        assert body["recorded"] == 2000 and body["errors"] == 1 and body["mode"] == "jetstream"
        stats.connected = False
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{server.port}/healthz", timeout=5)
            raise AssertionError("healthz must fail when disconnected")
        except urllib.error.HTTPError as exc:
            assert exc.code == 503
    finally:
        server.close()
