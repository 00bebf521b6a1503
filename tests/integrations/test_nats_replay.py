"""Replay into NATS: subjects from the template, the original payload, Evlog-Replay headers,
filters, and --dry-run that connects to nothing."""
from __future__ import annotations

import asyncio
import json
import threading

import pytest
from click.testing import CliRunner

from evlog.cli import cli
from evlog.ops import replay_to_nats
from evlog.integrations.natsformat import DROPPED_EVENT, make_envelope
from evlog.segments import Log


def _recording(path) -> str:
    with Log.create(path, "session1") as log:
        env, _ = make_envelope("trading.btc.price", b'{"price": 1}', {"Nats-Msg-Id": "x1", "Trace": "t"},
                               stream="S", seq=7)
        log.append("PriceTick", env, "pricer", monotonic=0)
        env, _ = make_envelope("trading.raw", b"\x00\x01", None, stream="S", seq=8)
        log.append("Raw", env, "nats", monotonic=1_000_000)
        log.append("OrderPlaced", {"qty": 3}, "trader", monotonic=2_000_000)   # a plain evlog event
        log.append(DROPPED_EVENT, {"dropped": 5}, "evlog", monotonic=3_000_000)
    return str(path)


@pytest.mark.nats
def test_replay_publishes_tagged_messages(nats_url, unique, tmp_path):
    import nats
    rec = _recording(tmp_path / "rec")
    got: list = []
    ready, done = threading.Event(), threading.Event()

    async def listen() -> None:
        nc = await nats.connect(nats_url)

        async def cb(msg) -> None:
            got.append((msg.subject, msg.data, msg.headers))
            if len(got) == 3:
                done.set()
        await nc.subscribe(f"r{unique}.>", cb=cb)
        await nc.flush()
        ready.set()
        while not done.is_set():
            await asyncio.sleep(0.02)
        await nc.close()

    t = threading.Thread(target=lambda: asyncio.run(listen()))
    t.start()
    assert ready.wait(10)
    result = replay_to_nats(rec, nats_url, subject_template=f"r{unique}.{{event_name}}", speed="max")
    assert done.wait(10)
    t.join(10)
    assert result.sent == 3 and result.skipped == 1
    subjects = [g[0] for g in got]
    assert subjects == [f"r{unique}.PriceTick", f"r{unique}.Raw", f"r{unique}.OrderPlaced"]
    assert got[0][1] == b'{"price": 1}' or json.loads(got[0][1]) == {"price": 1}
    assert got[1][1] == b"\x00\x01"
    assert json.loads(got[2][1]) == {"qty": 3}
    h = got[0][2]
    assert h["Evlog-Replay"] == "session1" and h["Evlog-Event"] == "PriceTick" and h["Evlog-Source"] == "pricer"
    assert h["Trace"] == "t" and h["Evlog-Orig-Msg-Id"] == "x1" and "Nats-Msg-Id" not in h
    assert h["Evlog-Orig-Subject"] == "trading.btc.price" and h["Evlog-Orig-Seq"] == "7"
    assert all(g[2]["Evlog-Replay"] == "session1" for g in got)


def test_dry_run_prints_and_connects_to_nothing(tmp_path):
    rec = _recording(tmp_path / "rec")
    # port 1 is never a NATS server: a dry run must not try it
    result = CliRunner().invoke(cli, ["replay", rec, "--to-nats", "nats://127.0.0.1:1", "--dry-run",
                                             "--subject-template", "replay.{subject}", "--filter", "not Raw"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("replay.trading.btc.price [") and "Evlog-Replay=session1" in lines[0]
    assert lines[1].startswith("replay.OrderPlaced [") and lines[1].endswith('{"qty":3}')
    assert "would send 2 messages" in result.stderr


def test_replay_errors_are_one_line(tmp_path):
    rec = _recording(tmp_path / "rec")
    runner = CliRunner()
    for args, text in ((["--to-nats", "http://x"], "bad NATS URL"),
                       (["--to-nats", "nats://127.0.0.1:1"], "cannot connect to NATS at nats://127.0.0.1:1"),
                       (["--to-nats", "nats://127.0.0.1:1", "--subject-template", "a.{nope}", "--dry-run"],
                        "unknown field"),
                       (["--to-nats", "nats://127.0.0.1:1", "--filter", "data.x ==", "--dry-run"], "filter"),
                       (["--to-nats", "nats://127.0.0.1:1", "--from", "2", "--dry-run"], "has no unit"),
                       (["--to-nats", "nats://127.0.0.1:1", "--speed", "fast", "--dry-run"], "invalid speed")):
        result = runner.invoke(cli, ["replay", rec, *args])
        assert result.exit_code == 2, (args, result.output)
        errors = [line for line in result.stderr.splitlines() if line.startswith(("Error:", "evlog: error:"))]
        assert len(errors) == 1 and text in errors[0], result.stderr


def test_dry_run_limit_and_start(tmp_path):
    rec = _recording(tmp_path / "rec")
    runner = CliRunner()
    result = runner.invoke(cli, ["replay", rec, "--to-nats", "nats://127.0.0.1:1", "--dry-run", "--limit", "1",
                                        "--speed", "max"])
    assert result.exit_code == 0 and len(result.stdout.strip().splitlines()) == 1
    result = runner.invoke(cli, ["replay", rec, "--to-nats", "nats://127.0.0.1:1", "--dry-run", "--from", "2ms"])
    assert result.exit_code == 0 and result.stdout.startswith("replay.OrderPlaced ")
    assert len(result.stdout.strip().splitlines()) == 1


@pytest.mark.nats
def test_a_recorded_replay_keeps_names_and_is_tagged(nats_url, unique, tmp_path):
    from evlog.integrations.nats import CaptureConfig

    from .helpers import CaptureThread
    rec = _recording(tmp_path / "rec")
    with Log.create(tmp_path / "again") as log:
        run = CaptureThread(log, CaptureConfig(url=nats_url, subject=f"rr{unique}.>"))
        run.wait(lambda: run.capture.stats.connected, what="connection")
        import time
        time.sleep(0.3)
        replay_to_nats(rec, nats_url, subject_template=f"rr{unique}.{{event_name}}", speed="max")
        run.wait(lambda: run.capture.stats.recorded == 3, what="3 replayed events")
        run.stop()
        recs = list(log.read())
    assert [r.name for r in recs] == ["PriceTick", "Raw", "OrderPlaced"]
    assert [r.source for r in recs] == ["pricer", "nats", "trader"]
    assert all(r.data["nats"]["headers"]["Evlog-Replay"] == "session1" for r in recs)
    assert recs[0].data["data"] == {"price": 1} and recs[1].data["data"] == b"\x00\x01"
