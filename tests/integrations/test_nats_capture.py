"""Capture from NATS: record content, JetStream acks after fsync, resume without duplicates,
core NATS drops reported."""
from __future__ import annotations

import asyncio
import json
import time

import pytest

from evlog.integrations.nats import CaptureConfig, last_recorded_seq
from evlog.integrations.natsformat import DROPPED_EVENT, SubjectMapper
from evlog.ops.cloudevents import parse_rfc3339
from evlog.segments import Log

from .helpers import CaptureThread, consumer_state, publish_numbered, recorded_numbers

pytestmark = pytest.mark.nats


async def _publish(url: str, items: list[tuple[str, bytes, dict | None]]) -> None:
    import nats
    nc = await nats.connect(url)
    for subject, payload, headers in items:
        await nc.publish(subject, payload, headers=headers)
    await nc.flush()
    await nc.close()


def test_jetstream_record_keeps_subject_seq_headers_timestamp_and_binary(nats_url, js_stream, tmp_path):
    stream, p = js_stream
    items = [(f"{p}.prices.btc", b'{"price": 50000.5}', {"Evlog-Source": "pricer", "Nats-Msg-Id": "id-1"}),
             (f"{p}.orders.new", b'{"qty": 2}', None),
             (f"{p}.raw", b"\xff\x00not json", None),
             (f"{p}.prices.eth", b'{"price": 3000}', {"Evlog-Event": "Explicit"})]
    asyncio.run(_publish(nats_url, items))
    mapper = SubjectMapper.from_specs([f"{p}.prices.*=PriceTick", f"{p}.orders.>={{last}}"], "{subject}")
    with Log.create(tmp_path / "rec") as log:
        t0 = time.time_ns()
        run = CaptureThread(log, CaptureConfig(url=nats_url, subject=f"{p}.>", stream=stream, mapper=mapper))
        run.wait(lambda: run.capture.stats.recorded == 4, what="4 events")
        run.stop()
        recs = list(log.read())
    assert [r.name for r in recs] == ["PriceTick", "new", f"{p}.raw", "Explicit"]
    assert [r.source for r in recs] == ["pricer", "nats", "nats", "nats"]
    # the payload is the data; the broker's metadata is in the headers
    assert recs[0].data == {"price": 50000.5}
    first = recs[0].headers
    assert first["subject"] == f"{p}.prices.btc" and first["nats.stream"] == stream
    assert first["id"] == "id-1" and first["nats.h.Nats-Msg-Id"] == "id-1"
    assert first["nats.h.Evlog-Source"] == "pricer"
    assert [r.headers["nats.seq"] for r in recs] == ["1", "2", "3", "4"]
    assert [r.headers["nats.consumer_seq"] for r in recs] == ["1", "2", "3", "4"]
    assert recs[2].data == b"\xff\x00not json" and recs[2].headers["datacontenttype"] == "application/octet-stream"
    assert "datacontenttype" not in first and "nats.reply" not in first and "id" not in recs[1].headers
    assert all(parse_rfc3339(r.headers["time"], "t") == r.timestamp for r in recs)
    # the record's timestamp is the stream's, taken before the capture started
    assert all(r.timestamp <= t0 for r in recs)
    assert recs[0].timestamp <= recs[3].timestamp


def test_jetstream_acks_only_what_is_durable(nats_url, js_stream, tmp_path):
    stream, p = js_stream
    asyncio.run(publish_numbered(nats_url, p, 300))

    class WithheldDurability:
        """A Log whose fsyncs never complete until `hold` is cleared."""

        def __init__(self, log: Log) -> None:
            self._log, self.hold = log, True

        def __getattr__(self, name):
            return getattr(self._log, name)

        @property
        def durable_offset(self) -> int:
            return 0 if self.hold else self._log.durable_offset

        def flush(self, sync: bool = True) -> int:
            return 0 if self.hold else self._log.flush(sync)

    with Log.create(tmp_path / "rec") as real:
        log = WithheldDurability(real)
        run = CaptureThread(log, CaptureConfig(url=nats_url, subject=f"{p}.>", stream=stream, durable="d1",
                                               ack_flush_after=0.1))
        run.wait(lambda: run.capture.stats.recorded == 300, what="300 events")
        time.sleep(0.5)
        info = asyncio.run(consumer_state(nats_url, stream, "d1"))
        assert info.ack_floor.stream_seq == 0 and info.num_ack_pending == 300
        log.hold = False
        run.wait(lambda: run.capture.stats.acked == 300, what="acks")
        run.stop()
    info = asyncio.run(consumer_state(nats_url, stream, "d1"))
    assert info.ack_floor.stream_seq == 300 and info.num_ack_pending == 0


def test_jetstream_restart_resumes_after_last_recorded_sequence(nats_url, js_stream, tmp_path):
    stream, p = js_stream
    rec = tmp_path / "rec"
    asyncio.run(publish_numbered(nats_url, p, 500))
    cfg = dict(url=nats_url, subject=f"{p}.>", stream=stream)   # ephemeral consumer each run
    with Log.create(rec) as log:
        run = CaptureThread(log, CaptureConfig(**cfg, max_events=200, fetch_batch=50))
        run.wait(lambda: run.capture.stop_reason is not None, what="200 events")
        run.stop()
        assert last_recorded_seq(log, stream) == len(log) >= 200
    asyncio.run(publish_numbered(nats_url, p, 500, start=500))
    with Log.open(rec, "a") as log:
        run = CaptureThread(log, CaptureConfig(**cfg))
        run.wait(lambda: run.capture.stats.last_seq == 1000, what="sequence 1000")
        run.stop()
        assert run.capture.stats.duplicates == 0
    assert recorded_numbers(str(rec)) == list(range(1000))
    meta = Log.open(rec).manifest.metadata["nats_capture"]
    assert meta["runs"] == 2 and meta["mode"] == "jetstream" and meta["stream"] == stream


def test_jetstream_redelivered_messages_already_recorded_are_skipped(nats_url, js_stream, tmp_path):
    """A durable consumer whose acks were lost redelivers; the recording keeps one copy."""
    stream, p = js_stream
    rec = tmp_path / "rec"
    asyncio.run(publish_numbered(nats_url, p, 100))
    with Log.create(rec) as log:   # recorded by another consumer: the durable below never acked them
        run = CaptureThread(log, CaptureConfig(url=nats_url, subject=f"{p}.>", stream=stream))
        run.wait(lambda: run.capture.stats.recorded == 100, what="100 events")
        run.stop()
    with Log.open(rec, "a") as log:
        # a fresh durable starting at sequence 1 (as if created before the recording)
        import nats
        from nats.js.api import AckPolicy, ConsumerConfig

        async def make() -> None:
            nc = await nats.connect(nats_url)
            await nc.jetstream().add_consumer(stream, ConsumerConfig(durable_name="late", ack_policy=AckPolicy.EXPLICIT,
                                                                     filter_subject=f"{p}.>"))
            await nc.close()
        asyncio.run(make())
        run = CaptureThread(log, CaptureConfig(url=nats_url, subject=f"{p}.>", stream=stream, durable="late"))
        run.wait(lambda: run.capture.stats.duplicates == 100 and run.capture.stats.acked == 100, what="dups")
        run.stop()
    assert recorded_numbers(str(rec)) == list(range(100))


def test_core_nats_record_and_dropped_messages_reported(nats_url, unique, tmp_path):
    subject = f"core{unique}"
    n = 3000

    class SlowLog:
        def __init__(self, log: Log) -> None:
            self._log = log

        def __getattr__(self, name):
            return getattr(self._log, name)

        def append_encoded(self, *args, **kwargs):
            time.sleep(0.001)
            return self._log.append_encoded(*args, **kwargs)

    with Log.create(tmp_path / "rec") as real:
        run = CaptureThread(SlowLog(real), CaptureConfig(url=nats_url, subject=f"{subject}.>",
                                                         pending_msgs_limit=20))
        run.wait(lambda: run.capture.stats.connected, what="connection")
        time.sleep(0.3)  # the subscription is registered before the first publish
        asyncio.run(_publish(nats_url, [(f"{subject}.x", json.dumps({"n": i}).encode(), None) for i in range(n)]))
        stats = run.capture.stats
        run.wait(lambda: stats.received + stats.dropped == n, what="all messages received or dropped")
        run.stop()
    assert stats.dropped > 0 and stats.recorded == stats.received == n - stats.dropped
    with Log.open(tmp_path / "rec") as log:
        markers = [r for r in log.read() if r.name == DROPPED_EVENT]
        assert markers and markers[-1].source == "evlog"
        assert sum(m.data["dropped"] for m in markers) == stats.dropped
        assert log.manifest.metadata["nats_capture"]["dropped"] == stats.dropped
        assert log.summary().names[DROPPED_EVENT] == len(markers)
        assert len(log) == n - stats.dropped + len(markers)


def test_roll_daily_starts_a_segment_when_the_date_changes(nats_url, unique, tmp_path):
    import datetime as dt
    subject = f"day{unique}"
    with Log.create(tmp_path / "rec") as log:
        run = CaptureThread(log, CaptureConfig(url=nats_url, subject=f"{subject}.>", roll_daily=True))
        run.wait(lambda: run.capture.stats.connected, what="connection")
        time.sleep(0.3)
        asyncio.run(publish_numbered(nats_url, subject, 100))
        run.wait(lambda: log.durable_offset == 100, what="100 events on disk")
        assert len(log.segments()) == 1
        run.capture._day -= dt.timedelta(days=1)   # as if the capture started yesterday
        time.sleep(0.3)
        asyncio.run(publish_numbered(nats_url, subject, 100, start=100))
        run.wait(lambda: log.durable_offset == 200, what="200 events on disk")
        run.stop()
        assert [(base, n) for _, base, n in log.segments()] == [(0, 100), (100, 100)]


@pytest.mark.timeout(120)
def test_jetstream_capture_survives_lost_connections_exactly_once(nats_url, js_stream, tmp_path):
    """Messages in flight when the connection drops were delivered but never received; the
    capture resumes from the consumer's state and records each message once, in order."""
    from .helpers import TcpProxy
    stream, p = js_stream
    n = 20_000
    asyncio.run(publish_numbered(nats_url, p, n))   # a backlog: the server streams while we cut
    proxy = TcpProxy()
    try:
        with Log.create(tmp_path / "rec") as log:
            run = CaptureThread(log, CaptureConfig(url=proxy.url, subject=f"{p}.>", stream=stream, durable="d"))
            for cut in (2000, 8000):
                run.wait(lambda: run.capture.stats.recorded > cut, what="progress")  # noqa: B023 - called at once
                reconnects = run.capture.stats.reconnects
                proxy.cut()
                run.wait(lambda: run.capture.stats.reconnects > reconnects, timeout=20,  # noqa: B023
                         what="a reconnection")
            run.wait(lambda: run.capture.stats.last_seq == n, timeout=60, what=f"sequence {n}")
            run.stop()
            stats = run.capture.stats
    finally:
        proxy.close()
    assert stats.reconnects >= 2
    assert recorded_numbers(str(tmp_path / "rec")) == list(range(n))


def test_record_command_with_clirunner(nats_url, js_stream, tmp_path):
    from click.testing import CliRunner

    from evlog.cli import cli
    stream, p = js_stream
    asyncio.run(publish_numbered(nats_url, p, 250))
    rec = str(tmp_path / "rec")
    result = CliRunner().invoke(cli, ["record", rec, "--from", nats_url, "--subject", f"{p}.>", "--stream", stream,
                                      "--map", f"{p}.*={{last}}", "--max-events", "250", "--status-interval", "0"])
    assert result.exit_code == 0, result.output
    assert "recorded 250 events" in result.stderr and "stopped: event count reached" in result.stderr
    with Log.open(rec) as log:
        assert {r.name for r in log.read()} == {"s0", "s1", "s2", "s3"}
        assert [r.source for r in log.read()][:1] == ["publisher"]
    bad = CliRunner().invoke(cli, ["record", rec, "--from", nats_url, "--subject", "a b"])
    assert bad.exit_code == 2 and bad.stderr.strip() == "evlog: error: invalid NATS subject 'a b'"


def test_captured_payloads_are_the_data_for_filters_and_replay(nats_url, js_stream, tmp_path):
    """`data.pair == ...` finds captured messages, `headers.subject == ...` too, and a replay
    into an in-process bus publishes the payload itself (issue 11)."""
    from click.testing import CliRunner

    from evlog import EventReplayer
    from evlog.cli import cli
    stream, p = js_stream
    items = [(f"{p}.prices.btc", json.dumps({"pair": "BTC/USDT", "price": 50000 + i}).encode(),
              {"Correlation-Id": f"c{i}"}) for i in range(3)]
    items += [(f"{p}.prices.eth", b'{"pair": "ETH/USDT", "price": 3000}', None),
              (f"{p}.prices.btc", b'{\n  "pair": "BTC/USDT",\n  "price": 1\n}\n', None)]   # pretty-printed
    asyncio.run(_publish(nats_url, items))
    rec = str(tmp_path / "rec")
    with Log.create(rec) as log:
        run = CaptureThread(log, CaptureConfig(url=nats_url, subject=f"{p}.>", stream=stream))
        run.wait(lambda: run.capture.stats.recorded == 5, what="5 events")
        run.stop()
    runner = CliRunner()
    found = runner.invoke(cli, ["cat", rec, "--filter", 'data.pair == "BTC/USDT"'])
    assert found.exit_code == 0, found.output
    lines = [json.loads(line) for line in found.stdout.splitlines()]
    assert [e["event_data"]["price"] for e in lines] == [50000, 50001, 50002, 1]   # one line each
    assert lines[0]["headers"]["correlation_id"] == "c0" and lines[0]["headers"]["nats.seq"] == "1"
    by_subject = runner.invoke(cli, ["cat", rec, "--filter", f'headers.subject == "{p}.prices.eth"'])
    assert [json.loads(line)["event_data"] for line in by_subject.stdout.splitlines()] == \
        [{"pair": "ETH/USDT", "price": 3000}]
    by_header = runner.invoke(cli, ["cat", rec, "--filter", 'headers.correlation_id == "c1"'])
    assert [json.loads(line)["event_data"]["price"] for line in by_header.stdout.splitlines()] == [50001]

    class Bus:
        def __init__(self) -> None:
            self.got: list = []

        def publish(self, name, event, source, headers=None) -> None:
            self.got.append((name, event, headers))

    bus = Bus()
    EventReplayer(rec).replay(bus, "max")
    assert [g[1] for g in bus.got] == [json.loads(i[1]) for i in items]
    assert [g[2]["subject"] for g in bus.got] == [i[0] for i in items]


def test_a_capture_resumes_an_older_captures_recording(nats_url, js_stream, tmp_path):
    """Appending to a recording an older capture made (envelopes, no headers): the last
    recorded sequence is read from its envelopes, new messages are stored with headers, and
    the metadata says where the envelopes end."""
    from evlog.integrations.natsformat import envelope_limit

    from .helpers import old_envelope
    stream, p = js_stream
    asyncio.run(publish_numbered(nats_url, p, 30))
    rec = tmp_path / "rec"
    with Log.create(rec, metadata={"nats_capture": {"subject": f"{p}.>", "mode": "jetstream", "stream": stream}}) as log:
        for i in range(10):
            log.append(f"{p}.s{i % 4}", old_envelope(f"{p}.s{i % 4}", json.dumps({"n": i}).encode(), None,
                                                     stream=stream, seq=i + 1), "publisher")
        assert last_recorded_seq(log, stream) == 10
    with Log.open(rec, "a") as log:
        run = CaptureThread(log, CaptureConfig(url=nats_url, subject=f"{p}.>", stream=stream))
        run.wait(lambda: run.capture.stats.last_seq == 30, what="sequence 30")
        run.stop()
        assert run.capture.stats.recorded == 20
        assert last_recorded_seq(log, stream) == 30
    with Log.open(rec) as log:
        assert envelope_limit(log.manifest.metadata) == 10
        recs = list(log.read())
    assert [r.data["data"]["n"] for r in recs[:10]] == list(range(10))
    assert [r.data["n"] for r in recs[10:]] == list(range(10, 30))
    assert [r.headers["nats.seq"] for r in recs[10:]] == [str(s) for s in range(11, 31)]


def test_a_format_1_recording_is_refused(tmp_path):
    """Version 1 has no headers: the capture says so in one line, before connecting."""
    import os
    import shutil

    from evlog.integrations.nats import NatsCapture
    from evlog.integrations.natsformat import NatsSetupError
    shutil.copytree(os.path.join(os.path.dirname(__file__), "..", "format", "v1", "typed"), tmp_path / "v1")
    with Log.open(tmp_path / "v1", "a") as log:
        assert log.format_version == 1
        capture = NatsCapture(log, CaptureConfig(url="nats://127.0.0.1:1", subject="a.>"), status_stream=None)
        with pytest.raises(NatsSetupError, match="format version 1 recording.*record into a new recording"):
            asyncio.run(capture.run())
        n = len(log)
    assert len(Log.open(tmp_path / "v1")) == n


def test_a_message_too_large_to_store_leaves_a_marker_with_its_sequence(nats_url, js_stream, tmp_path):
    from evlog.integrations.nats import REJECTED_EVENT
    stream, p = js_stream
    # 40 KB of NATS headers (JetStream takes up to 64 KB), twice that as JSON (each " escaped):
    # more than an event's headers may hold (64 KiB)
    huge = {f"H{i}": '"' * 1000 for i in range(40)}
    asyncio.run(_publish(nats_url, [(f"{p}.a", b'{"n": 0}', huge), (f"{p}.b", b'{"n": 1}', None)]))
    with Log.create(tmp_path / "rec") as log:
        run = CaptureThread(log, CaptureConfig(url=nats_url, subject=f"{p}.>", stream=stream))
        run.wait(lambda: run.capture.stats.last_seq == 2, what="sequence 2")
        run.stop()
        recs = list(log.read())
        assert last_recorded_seq(log, stream) == 2
    assert recs[0].name == REJECTED_EVENT and recs[0].source == "evlog"
    assert "exceed" in recs[0].data["error"] and recs[0].data["size"] == len(b'{"n": 0}')
    assert recs[0].headers == {"subject": f"{p}.a", "nats.stream": stream, "nats.seq": "1"}
    assert recs[1].data == {"n": 1} and run.capture.stats.recorded == 1
