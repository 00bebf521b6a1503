"""The parts of a capture that waits, without a server: backoff, the status line and endpoint
while waiting, and the pull loop telling a lost consumer leader from an idle stream."""
from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from types import SimpleNamespace

import pytest

from evlog.integrations import natspull
from evlog.integrations.natsclient import Backoff
from evlog.integrations.natspull import PullFeeder
from evlog.integrations.status import CaptureStats, StatusLine, StatusServer


def test_backoff_doubles_to_its_cap_and_resets():
    b = Backoff(0.25, 2.0)
    delays = [b.next() for _ in range(6)]
    for d, nominal in zip(delays, [0.25, 0.5, 1.0, 2.0, 2.0, 2.0]):
        assert nominal * 0.8 <= d <= nominal * 1.2
    b.reset()
    assert b.next() <= 0.3


def test_status_line_and_healthz_say_what_the_capture_waits_for():
    stats = CaptureStats(mode="jetstream", connected=True)
    stats.waiting_for = "waiting for JetStream leader of stream S"
    stats.waiting_since = stats.updated_at - 12
    line = StatusLine().format(stats.snapshot())
    assert line.endswith("WAITING: waiting for JetStream leader of stream S (12s)")
    server = StatusServer(stats.snapshot)
    try:
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(f"http://127.0.0.1:{server.port}/healthz", timeout=5)
        assert err.value.code == 503
        assert json.loads(err.value.read())["waiting_for"] == stats.waiting_for
        stats.waiting_for = None
        with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/healthz", timeout=5) as r:
            assert r.status == 200
        assert "WAITING" not in StatusLine().format(stats.snapshot())
    finally:
        server.close()


class FakeNats:
    """Takes the feeder's pull requests; a test answers them with `status`."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        self.cb = None

    def new_inbox(self) -> str:
        return "_INBOX.t"

    async def subscribe(self, subject, cb, **_kw):
        self.cb = cb
        return SimpleNamespace(unsubscribe=self._noop)

    async def _noop(self) -> None:
        pass

    async def publish(self, subject, body, reply=""):
        self.requests.append(reply)

    async def status(self, reply: str, code: str, description: str = "") -> None:
        await self.cb(SimpleNamespace(reply="", subject=reply, headers={"Status": code, "Description": description}))


def _run(coro):
    return asyncio.run(coro)


@pytest.mark.parametrize("code, description, broken", [
    ("408", "Request Timeout", False),          # an idle stream: the request simply expired
    ("503", "", True),                          # no responders: no leader for the consumer
    ("409", "Leadership Change", True),
    ("409", "Exceeded MaxWaiting", False),
])
def test_pull_request_endings(code, description, broken):
    async def main():
        nc = FakeNats()
        reasons: list[str] = []
        feeder = PullFeeder(nc, "S", "D", lambda m: None, lambda t: None, batch=10, expires=5.0,
                            on_broken=reasons.append)
        await feeder.start()
        assert len(nc.requests) == 2
        await nc.status(nc.requests[0], code, description)
        await asyncio.sleep(0)
        return reasons, feeder.answered
    reasons, answered = _run(main())
    assert bool(reasons) is broken, reasons
    assert answered is (code != "503")


def test_unanswered_pull_requests_break_the_session(monkeypatch):
    monkeypatch.setattr(natspull, "LOST_AFTER", 0.05)
    monkeypatch.setattr(natspull, "ENDED_AFTER", 0.01)

    async def main():
        nc = FakeNats()
        reasons: list[str] = []
        feeder = PullFeeder(nc, "S", "D", lambda m: None, lambda t: None, batch=10, expires=0.01,
                            on_broken=reasons.append)
        await feeder.start()
        assert feeder.credit() == 20 and not reasons
        await asyncio.sleep(0.1)
        assert feeder.credit() == 0
        sent = len(nc.requests)
        await feeder.top_up()        # broken: no more requests until the session resumes
        return reasons, len(nc.requests) - sent
    reasons, more = _run(main())
    assert reasons and "unanswered" in reasons[0]
    assert more == 0


@pytest.mark.parametrize("pattern, subject, covers", [
    ("a.>", "a.>", True), ("a.>", "a.b", True), ("a.>", "a.*", True), (">", "x.y", True),
    ("a.*", "a.b", True), ("a.*.c", "a.x.c", True),
    ("a.b", "a.>", False), ("a.*", "a.>", False), ("a.b", "a.*", False), ("b.>", "a.>", False),
    ("a.*", "a.b.c", False),
])
def test_a_filter_covering_the_stream_is_left_out(pattern, subject, covers):
    from evlog.integrations.nats import _covers
    assert _covers(pattern, subject) is covers


def test_cluster_options_need_their_partners(tmp_path):
    import subprocess
    import sys
    base = [sys.executable, "-m", "evlog", "record", str(tmp_path / "r")]
    shared = subprocess.run(base + ["--from", "nats://127.0.0.1:1", "--subject", "a.>", "--shared"],
                            capture_output=True, text=True, timeout=60)
    assert shared.returncode == 2
    assert shared.stderr.strip().splitlines()[-1].endswith("--shared needs --durable (the consumer the recorders share)")
    no_from = subprocess.run(base + ["--give-up-after", "5s"], capture_output=True, text=True, timeout=60,
                             input="")
    assert no_from.returncode == 2 and "go with --from nats://" in no_from.stderr
    no_subject = subprocess.run(base + ["--from", "nats://127.0.0.1:1"], capture_output=True, text=True, timeout=60)
    assert no_subject.returncode == 2 and "--from needs --subject (or --stream: the whole stream)" in no_subject.stderr
    assert not (tmp_path / "r").exists()
