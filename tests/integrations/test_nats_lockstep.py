"""Lock-step replay into NATS: each message is a request, the next one leaves only when the
consumer has replied (one message in flight, whatever the consumer's pace); no reply is an
error naming the timeout; the CLI's --lockstep --to-nats and --faults do the same."""
from __future__ import annotations

import asyncio
import threading

import pytest
from click.testing import CliRunner

from evlog.cli import cli
from evlog.ops import replay_to_nats
from evlog.segments import Log


def _recording(path, n=6) -> str:
    with Log.create(path, "ticks") as log:
        for i in range(n):
            log.append("Tick", {"i": i}, "feed", monotonic=i * 20_000_000_000)   # 20 s apart
    return str(path)


class Responder:
    """A NATS consumer in its own thread that takes 20 ms per message, then replies."""

    def __init__(self, url: str, subject: str) -> None:
        self.url, self.subject = url, subject
        self.got: list[bytes] = []
        self.in_flight = self.max_in_flight = 0
        self.ready, self.done = threading.Event(), threading.Event()
        self.thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)
        self.thread.start()
        assert self.ready.wait(10)

    async def _main(self) -> None:
        import nats
        nc = await nats.connect(self.url)

        async def cb(msg) -> None:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            await asyncio.sleep(0.02)
            self.got.append(msg.data)
            self.in_flight -= 1
            await msg.respond(b"ok")
        await nc.subscribe(self.subject, cb=cb)
        await nc.flush()
        self.ready.set()
        while not self.done.is_set():
            await asyncio.sleep(0.02)
        await nc.close()

    def stop(self) -> None:
        self.done.set()
        self.thread.join(10)


@pytest.mark.nats
def test_lockstep_waits_for_each_reply(nats_url, unique, tmp_path):
    rec = _recording(tmp_path / "rec")
    responder = Responder(nats_url, f"ls{unique}.>")
    try:
        result = replay_to_nats(rec, nats_url, subject_template=f"ls{unique}.{{event_name}}", speed=1.0,
                                lockstep=True)   # 100 s of recorded time: the virtual clock does not wait
    finally:
        responder.stop()
    assert result.sent == 6
    assert [b'{"i":%d}' % i for i in range(6)] == responder.got
    assert responder.max_in_flight == 1


@pytest.mark.nats
def test_lockstep_without_a_reply_is_an_error(nats_url, unique, tmp_path):
    from evlog.integrations.natsformat import NatsSetupError
    rec = _recording(tmp_path / "rec", 2)
    with pytest.raises(NatsSetupError, match="replay stopped after 0 messages"):
        replay_to_nats(rec, nats_url, subject_template=f"none{unique}.{{event_name}}", lockstep=True,
                       reply_timeout=0.3)


@pytest.mark.nats
def test_cli_lockstep_to_nats_with_faults(nats_url, unique, tmp_path):
    rec = _recording(tmp_path / "rec", 40)
    responder = Responder(nats_url, f"cl{unique}.>")
    try:
        r = CliRunner().invoke(cli, ["replay", rec, "--to-nats", nats_url, "--subject-template",
                                     f"cl{unique}.{{event_name}}", "--lockstep", "--faults", "drop=0.2,dup=0.1",
                                     "--seed", "5"])
    finally:
        responder.stop()
    assert r.exit_code == 0, r.output
    drops = r.stderr.count(": drop")
    dups = r.stderr.count(": dup")
    assert drops + dups > 0 and f"sent {40 - drops + dups} messages" in r.stderr
    assert len(responder.got) == 40 - drops + dups and responder.max_in_flight == 1
    assert "with seed 5" in r.stderr
