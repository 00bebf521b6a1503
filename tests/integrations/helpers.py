"""Helpers of the NATS integration tests: spawning the recorder, a paced numbered publisher,
reading numbers back from a recording, an older capture's envelope."""
from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time

from evlog.segments import Log

NATS_URL = "nats://127.0.0.1:4222"
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def recorder_cmd(rec: str, *args: str) -> list[str]:
    return [sys.executable, "-m", "evlog", "record", rec, "--from", NATS_URL, *args]


def spawn(cmd: list[str], **kw) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=ROOT)
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)


async def publish_numbered(url: str, subject_prefix: str, n: int, rate: float = 0, start: int = 0,
                           subjects: int = 4) -> None:
    """Publish {"n": i} for i in [start, start+n) on '<prefix>.s<i % subjects>', paced at `rate`/s."""
    import nats
    nc = await nats.connect(url)
    t0 = time.monotonic()
    for i in range(start, start + n):
        await nc.publish(f"{subject_prefix}.s{i % subjects}", json.dumps({"n": i}).encode(),
                         headers={"Evlog-Source": "publisher", "Nats-Msg-Id": f"m{i}"})
        if rate and (i - start) % 200 == 199:
            await nc.flush()
            ahead = t0 + (i - start + 1) / rate - time.monotonic()
            if ahead > 0:
                await asyncio.sleep(ahead)
    await nc.flush()
    await nc.close()


async def stream_count(url: str, stream: str) -> int:
    import nats
    nc = await nats.connect(url)
    info = await nc.jetstream().stream_info(stream)
    await nc.close()
    return info.state.messages


def recorded_numbers(path: str) -> list[int]:
    out = []
    with Log.open(path) as log:
        for rec in log.read():
            if rec.source != "evlog":
                out.append(rec.data["n"])
    return out


def old_envelope(subject: str, payload: bytes, headers: dict | None, *, stream: str | None = None,
                 seq: int | None = None) -> dict:
    """The data an older NATS capture (before per-event headers) stored for a message."""
    try:
        value, binary = json.loads(payload), False
    except ValueError:
        value, binary = payload, True
    meta: dict = {"subject": subject}
    if stream is not None:
        meta["stream"] = stream
    if seq is not None:
        meta["seq"] = seq
    if headers:
        if headers.get("Nats-Msg-Id"):
            meta["msg_id"] = headers["Nats-Msg-Id"]
        meta["headers"] = dict(headers)
    if binary:
        meta["binary"] = True
    return {"nats": meta, "data": value}


def count_events(path: str) -> int:
    try:
        with Log.open(path) as log:
            return len(log)
    except Exception:  # noqa: BLE001 - not created yet
        return 0


class CaptureThread:
    """A NatsCapture running in a thread (no signal handlers), for in-process tests."""

    def __init__(self, log, config) -> None:
        import threading

        from evlog.integrations.nats import NatsCapture
        self.capture = NatsCapture(log, config, status_stream=None)
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            asyncio.run(self.capture.run())
        except BaseException as exc:  # noqa: BLE001 - reported by stop()
            self.error = exc

    def wait(self, predicate, timeout: float = 30.0, what: str = "condition") -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if self.error is not None:
                raise self.error
            assert time.monotonic() < deadline, f"timed out waiting for {what}: {self.capture.stats}"
            time.sleep(0.02)

    def stop(self) -> None:
        self.capture.request_stop("test")
        self._thread.join(30)
        assert not self._thread.is_alive()
        if self.error is not None:
            raise self.error


async def consumer_state(url: str, stream: str, durable: str):
    import nats
    nc = await nats.connect(url)
    info = await nc.jetstream().consumer_info(stream, durable)
    await nc.close()
    return info


class TcpProxy:
    """A loopback TCP proxy to the NATS server whose connections a test can cut."""

    def __init__(self, target_port: int = 4222) -> None:
        import socket
        import threading
        self._target = target_port
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(16)
        self.port = self._listener.getsockname()[1]
        self._conns: list = []
        self._lock = threading.Lock()
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        import socket
        import threading
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self._target))
            with self._lock:
                self._conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src, dst) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.close()
            except OSError:
                pass

    def cut(self) -> None:
        """Close every open connection (the clients see the server go away)."""
        import socket
        with self._lock:
            conns, self._conns = self._conns, []
        for s in conns:
            try:
                s.shutdown(socket.SHUT_RDWR)
                s.close()
            except OSError:
                pass

    def close(self) -> None:
        self._closed = True
        self.cut()
        self._listener.close()
