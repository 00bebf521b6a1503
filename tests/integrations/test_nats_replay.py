"""Replay into NATS: subjects from the template, the original payload, Evlog-Replay headers,
filters, and --dry-run that connects to nothing."""
from __future__ import annotations

import asyncio
import json
import threading
import time

import pytest
from click.testing import CliRunner

from evlog.cli import cli
from evlog.ops import replay_to_nats
from evlog.integrations.natsformat import DROPPED_EVENT, record_headers
from evlog.segments import Log

from .helpers import old_envelope


def _recording(path) -> str:
    """A recording as the NATS capture writes it (payloads as data, metadata in headers), with
    a plain evlog event and a capture marker."""
    with Log.create(path, "session1", metadata={"nats_capture": {"subject": "trading.>", "envelopes_before": 0}}) as log:
        log.append("PriceTick", {"price": 1}, "pricer", monotonic=0,
                   headers=record_headers("trading.btc.price", {"Nats-Msg-Id": "x1", "Trace": "t",
                                                                "Evlog-Source": "pricer"}, stream="S", seq=7))
        log.append("Raw", b"\x00\x01", "nats", monotonic=1_000_000,
                   headers=record_headers("trading.raw", None, stream="S", seq=8, binary=True))
        log.append("OrderPlaced", {"qty": 3}, "trader", monotonic=2_000_000)   # a plain evlog event
        log.append(DROPPED_EVENT, {"dropped": 5}, "evlog", monotonic=3_000_000)
    return str(path)


def _old_recording(path, metadata: dict) -> str:
    """A recording as an older capture wrote it: `{"nats": META, "data": PAYLOAD}` as the data."""
    with Log.create(path, "old1", metadata=metadata) as log:
        log.append("PriceTick", old_envelope("trading.btc.price", b'{"price": 1}', {"Nats-Msg-Id": "x1", "Trace": "t"},
                                             stream="S", seq=7), "pricer", monotonic=0)
        log.append("Raw", old_envelope("trading.raw", b"\x00\x01", None, stream="S", seq=8), "nats", monotonic=1)
    return str(path)


def _listen(url: str, subject: str, count: int):
    """(messages, thread): (subject, payload, headers) of `count` messages on `subject`."""
    import nats
    got: list = []
    ready, done = threading.Event(), threading.Event()

    async def listen() -> None:
        nc = await nats.connect(url)

        async def cb(msg) -> None:
            got.append((msg.subject, msg.data, msg.headers or {}))
            if len(got) == count:
                done.set()
        await nc.subscribe(subject, cb=cb)
        await nc.flush()
        ready.set()
        deadline = time.monotonic() + 15
        while not done.is_set() and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        await nc.close()

    t = threading.Thread(target=lambda: asyncio.run(listen()))
    t.start()
    assert ready.wait(10)
    return got, t


@pytest.mark.nats
def test_replay_publishes_tagged_messages(nats_url, unique, tmp_path):
    rec = _recording(tmp_path / "rec")
    start = Log.open(rec).manifest.start_time_ns
    got, t = _listen(nats_url, f"r{unique}.>", 3)
    result = replay_to_nats(rec, nats_url, subject_template=f"r{unique}.{{event_name}}", speed="max")
    t.join(20)
    assert result.sent == 3 and result.skipped == 1
    subjects = [g[0] for g in got]
    assert subjects == [f"r{unique}.PriceTick", f"r{unique}.Raw", f"r{unique}.OrderPlaced"]
    assert json.loads(got[0][1]) == {"price": 1}     # the payload, not an envelope
    assert got[1][1] == b"\x00\x01"
    assert json.loads(got[2][1]) == {"qty": 3}
    h = got[0][2]
    assert h["Evlog-Replay"] == "session1" and h["Evlog-Event"] == "PriceTick" and h["Evlog-Source"] == "pricer"
    assert h["Trace"] == "t" and h["Evlog-Orig-Msg-Id"] == "x1"
    assert h["Evlog-Orig-Subject"] == "trading.btc.price" and h["Evlog-Orig-Seq"] == "7"
    assert [g[2]["Nats-Msg-Id"] for g in got] == [f"evlog:session1:{start}:{i}" for i in range(3)]
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
    assert all(r.headers["nats.h.Evlog-Replay"] == "session1" for r in recs)
    assert recs[0].data == {"price": 1} and recs[1].data == b"\x00\x01"
    assert recs[0].headers["nats.h.Trace"] == "t" and recs[0].headers["subject"] == f"rr{unique}.PriceTick"


def test_an_older_captures_envelopes_are_unwrapped(tmp_path):
    """Records of an older capture (its metadata has no `envelopes_before`) replay as their
    payload with their NATS metadata as headers; an envelope-shaped event of a recording no
    NATS capture made is data like any other."""
    rec = _old_recording(tmp_path / "old", {"nats_capture": {"subject": "trading.>", "mode": "jetstream"}})
    result = CliRunner().invoke(cli, ["replay", rec, "--to-nats", "nats://127.0.0.1:1", "--dry-run",
                                      "--subject-template", "replay.{subject}"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert lines[0].startswith("replay.trading.btc.price [Trace=t Evlog-Orig-Subject=trading.btc.price "
                               "Evlog-Orig-Seq=7 Evlog-Orig-Msg-Id=x1 Nats-Msg-Id=evlog:old1:")
    assert lines[0].endswith('] {"price":1}')
    assert lines[1].startswith("replay.trading.raw [") and lines[1].endswith("] \x00\x01")
    plain = _old_recording(tmp_path / "plain", {})
    result = CliRunner().invoke(cli, ["replay", plain, "--to-nats", "nats://127.0.0.1:1", "--dry-run",
                                      "--subject-template", "replay.{subject}"])
    assert result.exit_code == 0, result.output
    first = result.stdout.splitlines()[0]
    assert first.startswith("replay.PriceTick [Nats-Msg-Id=") and '{"nats":{"subject":"trading.btc.price"' in first


def test_a_duplicate_fault_gets_its_own_message_id(tmp_path):
    import io
    rec = _recording(tmp_path / "rec")
    out = io.StringIO()
    replay_to_nats(rec, "nats://127.0.0.1:1", dry_run=True, out=out, faults="dup=1", seed=1)
    ids = [line.split("Nats-Msg-Id=")[1].split(" ")[0] for line in out.getvalue().splitlines()]
    start = Log.open(rec).manifest.start_time_ns
    assert ids == [f"evlog:session1:{start}:{o}{r}" for o in range(3) for r in ("", ":1")]


@pytest.mark.nats
def test_capture_then_replay_to_the_original_subjects_restores_subject_and_headers(nats_url, unique, tmp_path):
    from evlog.integrations.nats import CaptureConfig

    from .helpers import CaptureThread
    p = f"o{unique}"
    sent = [(f"{p}.prices.btc", b'{"pair": "BTC/USDT", "price": 1}',
             {"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "Correlation-Id": "c-1",
              "X-Desk": "fx", "Nats-Msg-Id": "m-1"}),
            (f"{p}.raw", b"\xff\x00 binary", {"X-Desk": "rates"}),
            (f"{p}.orders.new", b'{"qty": 2}', None)]
    with Log.create(tmp_path / "rec", "cap") as log:
        run = CaptureThread(log, CaptureConfig(url=nats_url, subject=f"{p}.>"))
        run.wait(lambda: run.capture.stats.connected, what="connection")
        time.sleep(0.3)

        async def publish() -> None:
            import nats
            nc = await nats.connect(nats_url)
            for subject, payload, headers in sent:
                await nc.publish(subject, payload, headers=headers)
            await nc.flush()
            await nc.close()
        asyncio.run(publish())
        run.wait(lambda: run.capture.stats.recorded == 3, what="3 events")
        run.stop()
    got, t = _listen(nats_url, f"{p}.>", 3)
    replay_to_nats(str(tmp_path / "rec"), nats_url, subject_template="{subject}", speed="max")
    t.join(20)
    assert [g[0] for g in got] == [s[0] for s in sent]
    assert [g[1] for g in got][1] == sent[1][1]
    assert [json.loads(g[1]) for g in got[::2]] == [json.loads(s[1]) for s in sent[::2]]
    for (_, _, headers), (_, _, original) in zip(got, sent):
        own = {k: v for k, v in headers.items() if not k.startswith(("Evlog-", "Nats-"))}
        assert own == {k: v for k, v in (original or {}).items() if not k.startswith("Nats-")}
        assert headers["Evlog-Replay"] == "cap" and headers["Nats-Msg-Id"].startswith("evlog:cap:")
    assert got[0][2]["Evlog-Orig-Msg-Id"] == "m-1"


@pytest.mark.nats
def test_a_replay_run_again_or_resumed_publishes_each_message_once(nats_url, unique, tmp_path):
    """Into a stream with a duplicate window, the second replay and the rest of an interrupted
    one add nothing (Nats-Msg-Id: the recording and the offset)."""
    import nats
    from nats.js.api import StreamConfig

    from .helpers import stream_count
    name, p = f"D{unique.upper()}", f"d{unique}"
    with Log.create(tmp_path / "rec", "dedup") as log:
        for i in range(20):
            log.append("Tick", {"i": i}, "feed", headers={"correlation_id": f"c{i}"})
    rec = str(tmp_path / "rec")

    async def stream(create: bool) -> None:
        nc = await nats.connect(nats_url)
        if create:
            await nc.jetstream().add_stream(StreamConfig(name=name, subjects=[f"{p}.>"], duplicate_window=120))
        else:
            await nc.jetstream().delete_stream(name)
        await nc.close()

    asyncio.run(stream(True))
    try:
        template = f"{p}.{{event_name}}"
        assert replay_to_nats(rec, nats_url, subject_template=template, speed="max", limit=7).sent == 7
        assert asyncio.run(stream_count(nats_url, name)) == 7
        assert replay_to_nats(rec, nats_url, subject_template=template, speed="max").sent == 20   # resumed
        assert asyncio.run(stream_count(nats_url, name)) == 20
        assert replay_to_nats(rec, nats_url, subject_template=template, speed="max").sent == 20   # again
        assert asyncio.run(stream_count(nats_url, name)) == 20
        # another recording's offsets are other messages
        with Log.create(tmp_path / "other", "dedup") as log:
            log.append("Tick", {"i": 0}, "feed")
        replay_to_nats(str(tmp_path / "other"), nats_url, subject_template=template, speed="max")
        assert asyncio.run(stream_count(nats_url, name)) == 21

        async def first() -> tuple:
            nc = await nats.connect(nats_url)
            msg = await nc.jetstream().get_msg(name, 1)
            await nc.close()
            return msg.data, msg.headers
        data, headers = asyncio.run(first())
        assert json.loads(data) == {"i": 0} and headers["correlation_id"] == "c0"
    finally:
        asyncio.run(stream(False))
