"""A 3-node JetStream cluster for tests and benchmarks (scripts/nats-cluster.sh), a publisher
of numbered events that retries until the cluster acknowledges each one (`Nats-Msg-Id`
deduplicates the retries), and the failure scenarios of the cluster tests (also run by
bench/bench_nats_cluster.py with 100,000 events)."""
from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field

from evlog.segments import Log
from evlog.segments.errors import EvlogError

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
SCRIPT = os.path.join(ROOT, "scripts", "nats-cluster.sh")


async def _quiet(exc: BaseException) -> None:
    """The client's error callback: a node going away is what these tests do."""


class Cluster:
    """scripts/nats-cluster.sh with its own directory, and a few JetStream questions."""

    def __init__(self, directory: str) -> None:
        self.directory = directory
        self.env = dict(os.environ, EVLOG_NATS_CLUSTER_DIR=directory)
        self.urls = ""

    def _run(self, *args: str) -> str:
        proc = subprocess.run(["bash", SCRIPT, *args], env=self.env, capture_output=True, text=True, timeout=120)
        if proc.returncode != 0:
            raise RuntimeError(f"nats-cluster.sh {' '.join(args)}: {proc.stderr.strip()}")
        return proc.stdout

    def start(self, timeout: float = 60.0) -> None:
        self.urls = self._run("start").strip()
        self.wait_ready(timeout)

    def stop(self) -> None:
        self._run("stop")

    def kill(self, node: int) -> None:
        self._run("kill", str(node))

    def stop_node(self, node: int) -> None:
        self._run("stop", str(node))

    def restart(self, node: int) -> None:
        self._run("restart", str(node))

    def running(self) -> dict[int, bool]:
        out = {}
        for line in self._run("status").splitlines():
            name, state = line.split()[:2]
            out[int(name[1:])] = state == "running"
        return out

    def ensure_running(self) -> None:
        for node, up in self.running().items():
            if not up:
                self.restart(node)

    def url(self, node: int) -> str:
        return self.urls.split(",")[node - 1]

    # JetStream ---------------------------------------------------------------------------
    async def _connect(self):
        import nats
        return await nats.connect(servers=self.urls.split(","), connect_timeout=2, max_reconnect_attempts=5,
                                  reconnect_time_wait=0.2, error_cb=_quiet)

    def _until(self, coro_fn, timeout: float, what: str):
        deadline = time.monotonic() + timeout
        last: BaseException | None = None
        while time.monotonic() < deadline:
            try:
                return asyncio.run(coro_fn())
            except Exception as exc:  # noqa: BLE001 - the cluster is electing leaders: try again
                last = exc
                time.sleep(0.3)
        raise RuntimeError(f"cluster: {what} within {timeout:.0f}s: {last!r}")

    def wait_ready(self, timeout: float = 60.0) -> None:
        async def ready():
            nc = await self._connect()
            try:
                await nc.jetstream(timeout=2).account_info()
            finally:
                await nc.close()
        self._until(ready, timeout, "no JetStream")

    def create_stream(self, name: str, subjects: list[str], replicas: int = 3, timeout: float = 60.0) -> None:
        from nats.js.api import StreamConfig

        async def create():
            nc = await self._connect()
            try:
                js = nc.jetstream(timeout=5)
                try:
                    await js.add_stream(StreamConfig(name=name, subjects=subjects, num_replicas=replicas))
                except Exception:  # noqa: BLE001 - created by an attempt that timed out?
                    await js.stream_info(name)
                await self._check_current(js, name)
            finally:
                await nc.close()
        self._until(create, timeout, f"no stream {name}")

    @staticmethod
    async def _check_current(js, name: str) -> None:
        info = await js.stream_info(name)
        if info.cluster is None or not info.cluster.leader:
            raise RuntimeError("no leader yet")
        if any(not p.current for p in info.cluster.replicas or []):
            raise RuntimeError("replicas not current yet")

    def wait_stream_healthy(self, name: str, timeout: float = 60.0) -> None:
        """Until the stream has a leader and every replica is current."""
        async def check():
            nc = await self._connect()
            try:
                await self._check_current(nc.jetstream(timeout=3), name)
            finally:
                await nc.close()
        self._until(check, timeout, f"stream {name} not healthy")

    def delete_stream(self, name: str) -> None:
        async def delete():
            nc = await self._connect()
            try:
                await nc.jetstream(timeout=5).delete_stream(name)
            finally:
                await nc.close()
        try:
            self._until(delete, 20, f"cannot delete {name}")
        except RuntimeError:
            pass

    def stream_leader(self, name: str) -> int:
        async def leader():
            nc = await self._connect()
            try:
                info = await nc.jetstream(timeout=3).stream_info(name)
            finally:
                await nc.close()
            if info.cluster is None or not info.cluster.leader:
                raise RuntimeError("no leader")
            return int(info.cluster.leader.lstrip("n"))
        return self._until(leader, 30, f"no leader for {name}")

    def consumer_outstanding(self, stream: str, durable: str) -> int:
        """Messages the consumer has not delivered, or delivered without an ack."""
        async def info():
            nc = await self._connect()
            try:
                ci = await nc.jetstream(timeout=3).consumer_info(stream, durable)
            finally:
                await nc.close()
            return ci.num_pending + ci.num_ack_pending
        return self._until(info, 30, f"no consumer {durable}")

    def stream_messages(self, name: str) -> int:
        async def count():
            nc = await self._connect()
            try:
                return (await nc.jetstream(timeout=3).stream_info(name)).state.messages
            finally:
                await nc.close()
        return self._until(count, 30, f"no info for {name}")


# publishing --------------------------------------------------------------------------------
@dataclass
class Publisher:
    """Publishes {"n": i} for i in range(n) on '<prefix>.s<i % 4>' with `Nats-Msg-Id: m<i>`,
    `window` at a time, paced at `rate`/s (0: as fast as acknowledged); a publish the cluster
    does not acknowledge (no leader, a node gone) is sent again until it is."""

    urls: str
    prefix: str
    n: int
    rate: float = 0.0
    window: int = 200
    acked: int = 0
    retried: int = 0
    duplicates: int = 0       # acknowledged as duplicates (a retry of a stored message)
    seconds: float = 0.0
    error: BaseException | None = None
    _thread: threading.Thread | None = field(default=None, repr=False)

    def start(self) -> Publisher:
        self._thread = threading.Thread(target=self._main, daemon=True)
        self._thread.start()
        return self

    def join(self, timeout: float = 600.0) -> None:
        assert self._thread is not None
        self._thread.join(timeout)
        assert not self._thread.is_alive(), f"the publisher is stuck at {self.acked}/{self.n}"
        if self.error is not None:
            raise self.error

    def wait_acked(self, count: int, timeout: float = 300.0) -> None:
        deadline = time.monotonic() + timeout
        while self.acked < count:
            if self.error is not None:
                raise self.error
            assert time.monotonic() < deadline, f"publisher at {self.acked}, waiting for {count}"
            time.sleep(0.02)

    def _main(self) -> None:
        try:
            asyncio.run(self._publish())
        except BaseException as exc:  # noqa: BLE001 - reported by join()
            self.error = exc

    async def _publish(self) -> None:
        import nats
        nc = await nats.connect(servers=self.urls.split(","), max_reconnect_attempts=-1, reconnect_time_wait=0.2,
                                connect_timeout=2, error_cb=_quiet)
        js = nc.jetstream(timeout=2.0)
        t0 = time.monotonic()
        todo = list(range(self.n))
        todo.reverse()
        retry: list[int] = []
        sent = 0

        async def one(i: int):
            ack = await js.publish(f"{self.prefix}.s{i % 4}", json.dumps({"n": i}).encode(),
                                   headers={"Nats-Msg-Id": f"m{i}", "Evlog-Source": "publisher"})
            return ack

        while todo or retry:
            batch = retry[:self.window]
            retry = retry[len(batch):]
            while todo and len(batch) < self.window:
                batch.append(todo.pop())
                sent += 1
            results = await asyncio.gather(*(one(i) for i in batch), return_exceptions=True)
            failed = [i for i, r in zip(batch, results) if isinstance(r, BaseException)]
            for r in results:
                if not isinstance(r, BaseException) and r.duplicate:
                    self.duplicates += 1
            self.acked += len(batch) - len(failed)
            if failed:
                self.retried += len(failed)
                retry = failed + retry
                await asyncio.sleep(0.1)
            if self.rate:
                ahead = t0 + sent / self.rate - time.monotonic()
                if ahead > 0:
                    await asyncio.sleep(ahead)
        self.seconds = time.monotonic() - t0
        await nc.close()


# recordings --------------------------------------------------------------------------------
def nats_seq(rec) -> int | None:
    """The stream sequence of a recorded NATS message: the `nats.seq` header, else the
    envelope's `data.nats.seq` (the format before headers)."""
    headers = rec.headers or {}
    if "nats.seq" in headers:
        return int(headers["nats.seq"])
    data = rec.data
    if isinstance(data, dict) and isinstance(data.get("nats"), dict):
        return data["nats"].get("seq")
    return None


def number(rec) -> int:
    data = rec.data
    if isinstance(data, dict) and "nats" in data and "data" in data and isinstance(data["data"], dict):
        data = data["data"]
    return data["n"]


def read_numbers(path: str) -> list[tuple[int, int]]:
    """(stream sequence, number) of every published event recorded, in recording order."""
    out = []
    with Log.open(path) as log:
        for rec in log.read():
            if rec.source != "evlog":
                out.append((nats_seq(rec), number(rec)))
    return out


def count_events(path: str) -> int:
    try:
        with Log.open(path) as log:
            return len(log)
    except (EvlogError, OSError):
        return 0


def check_exactly_once(pairs: list[tuple[int, int]], n: int) -> dict:
    """Lost, duplicated and out-of-order counts of `pairs` (stream seq, number) for 0..n-1."""
    numbers = [p[1] for p in pairs]
    seqs = [p[0] for p in pairs]
    unique = set(numbers)
    return {"recorded": len(numbers), "lost": n - len(unique & set(range(n))),
            "duplicated": len(numbers) - len(unique),
            "out_of_order": sum(1 for a, b in zip(seqs, seqs[1:]) if b <= a)}


# recorders ---------------------------------------------------------------------------------
def recorder_cmd(rec: str, urls: str, stream: str, subject: str, durable: str, *extra: str) -> list[str]:
    return [sys.executable, "-m", "evlog", "record", rec, "--from", urls, "--subject", subject, "--stream", stream,
            "--durable", durable, "--status-interval", "1", *extra]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def healthz(port: int) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
            return r.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return 0


def wait_healthy(port: int, proc: subprocess.Popen, timeout: float = 60.0) -> None:
    """Until the recorder's /healthz says ok (connected, waiting for nothing)."""
    deadline = time.monotonic() + timeout
    while healthz(port) != 200:
        assert proc.poll() is None, f"the recorder exited ({proc.returncode})"
        assert time.monotonic() < deadline, "the recorder is not healthy"
        time.sleep(0.1)


def spawn(cmd: list[str], log_path: str) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=ROOT)
    err = open(log_path, "ab")
    try:
        return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=err)
    finally:
        err.close()


def stop(proc: subprocess.Popen, sig: int = signal.SIGTERM, timeout: float = 60.0) -> int:
    if proc.poll() is None:
        proc.send_signal(sig)
    return proc.wait(timeout)


class Progress:
    """Samples the number of events in a recording (10 per second) to measure stalls."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append((time.monotonic(), count_events(self.path)))
            self._stop.wait(0.1)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def resume_after(self, t: float, until: float | None = None) -> float:
        """The longest time the recording did not grow between `t` and `until` (at most 60 s
        after `t`): how long the capture stopped recording because of what happened at `t`."""
        before = [c for ts, c in self.samples if ts <= t]
        base = before[-1] if before else 0
        end = min(t + 60, until) if until is not None else t + 60
        window = [(ts, c) for ts, c in self.samples if t <= ts <= end]
        longest, last_t, last_c = 0.0, t, base
        for ts, c in window:
            if c > last_c:
                longest = max(longest, ts - last_t)
                last_t, last_c = ts, c
        return longest


SCENARIOS = ("leader-kill", "recorder-kill", "follower-stop")


def run_scenario(cluster: Cluster, scenario: str, n: int, workdir: str, rate: float = 3000.0,
                 outage: float = 10.0, catch_up_timeout: float = 180.0) -> dict:
    """Publish `n` numbered events into a fresh R3 stream while one recorder records it, and:
    `leader-kill`: SIGKILL the stream leader's node at 30 % and restart it 3 s later;
    `recorder-kill`: SIGKILL the recorder at 25, 50 and 75 % and restart it each time;
    `follower-stop`: stop (SIGTERM) a node that is not the leader at 30 % for `outage` s.
    Returns the figures (lost, duplicated, out of order, time to resume, ...)."""
    assert scenario in SCENARIOS, scenario
    cluster.ensure_running()
    name = f"C{uuid.uuid4().hex[:8].upper()}"
    prefix = name.lower()
    cluster.create_stream(name, [f"{prefix}.>"])
    rec = os.path.join(workdir, f"rec-{scenario}")
    log_path = os.path.join(workdir, f"recorder-{scenario}.log")
    port = free_port()
    cmd = recorder_cmd(rec, cluster.urls, name, f"{prefix}.>", "evrec", "--status-port", str(port))
    t0 = time.monotonic()
    proc = spawn(cmd, log_path)
    wait_healthy(port, proc)
    time.sleep(0.5)   # its first pull requests are out
    progress = Progress(rec)
    publisher = Publisher(cluster.urls, prefix, n, rate=rate).start()
    faults: list[dict] = []
    try:
        if scenario == "leader-kill":
            publisher.wait_acked(int(n * 0.3))
            leader = cluster.stream_leader(name)
            t = time.monotonic()
            cluster.kill(leader)
            faults.append({"at": t, "what": f"SIGKILL n{leader} (stream leader)", "count": count_events(rec)})
            time.sleep(3)
            cluster.restart(leader)
        elif scenario == "recorder-kill":
            for k in (1, 2, 3):
                publisher.wait_acked(int(n * k / 4))
                t = time.monotonic()
                proc.send_signal(signal.SIGKILL)
                proc.wait(30)
                assert proc.returncode == -signal.SIGKILL
                faults.append({"at": t, "what": "SIGKILL recorder", "count": count_events(rec)})
                proc = spawn(cmd, log_path)
        else:
            publisher.wait_acked(int(n * 0.3))
            leader = cluster.stream_leader(name)
            other = next(i for i in (3, 2, 1) if i != leader)
            t = time.monotonic()
            cluster.stop_node(other)
            faults.append({"at": t, "what": f"stop n{other} (not the leader) for {outage:g}s",
                           "count": count_events(rec)})
            time.sleep(outage)
            cluster.restart(other)
        publisher.join()
        deadline = time.monotonic() + catch_up_timeout
        while count_events(rec) < n and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.1)
        elapsed = time.monotonic() - t0
    finally:
        progress.close()
        code = stop(proc)
    with open(log_path, "rb") as f:
        stderr = f.read().decode(errors="replace")
    pairs = read_numbers(rec)
    result = check_exactly_once(pairs, n)
    result.update({
        "scenario": scenario, "published": n, "stream_messages": cluster.stream_messages(name),
        "publisher_retries": publisher.retried, "publisher_duplicates": publisher.duplicates,
        "seconds": round(elapsed, 1), "exit": code, "faults": [f["what"] for f in faults],
        "resume_seconds": [round(progress.resume_after(f["at"], g["at"] if g else None), 1)
                           for f, g in zip(faults, faults[1:] + [None])],
        "resumes": sum(int(m) for m in re.findall(r"(\d+) sessions resumed", stderr)), "stderr": stderr[-4000:],
        "waiting_lines": sum(1 for line in stderr.splitlines() if "WAITING:" in line),
    })
    cluster.delete_stream(name)
    return result


# scale-out ---------------------------------------------------------------------------------
def recorder_cpu(proc: subprocess.Popen) -> float:
    """CPU seconds (user + system) the recorder process has used so far."""
    import psutil
    t = psutil.Process(proc.pid).cpu_times()
    return t.user + t.system


def run_shared(cluster: Cluster, recorders: int, n: int, workdir: str, *, kill_one_at: float | None = None,
               ack_wait: str = "5s", timeout: float = 300.0, rate: float = 0.0, prefill: bool = True) -> dict:
    """`recorders` recorders share one durable consumer (--shared) of a fresh R3 stream holding `n`
    numbered events (published first with `prefill`, else at `rate` while they record); with
    `kill_one_at` (a fraction of `n`) the last recorder is killed with SIGKILL then. Returns the
    drain rate, each recorder's share and CPU per event, and the check of their
    `merge --by-sequence`."""
    from evlog import ops
    name = f"S{uuid.uuid4().hex[:8].upper()}"
    prefix = name.lower()
    cluster.ensure_running()
    cluster.create_stream(name, [f"{prefix}.>"])
    publisher = Publisher(cluster.urls, prefix, n, rate=rate, window=500)
    if prefill:
        publisher.start().join()
    recs = [os.path.join(workdir, f"{name}-r{i}") for i in range(recorders)]
    ports = [free_port() for _ in recs]
    procs = [spawn(recorder_cmd(r, cluster.urls, name, f"{prefix}.>", "shared", "--shared", "--ack-wait", ack_wait,
                                "--status-port", str(p)), r + ".log") for r, p in zip(recs, ports)]
    killed = None
    try:
        for p, port in zip(procs, ports):
            wait_healthy(port, p)
        time.sleep(0.5)   # healthy once the stream answers: their first pull requests go out just after
        cpu0 = [recorder_cpu(p) for p in procs]
        t0 = time.monotonic()
        counts0 = [count_events(r) for r in recs]
        count0 = sum(counts0)   # prefilled: what the first ones took alone
        if not prefill:
            publisher.start()
        deadline = t0 + timeout
        while sum(count_events(r) for r in recs) < n and time.monotonic() < deadline:
            if kill_one_at is not None and killed is None and sum(count_events(r) for r in recs) >= n * kill_one_at:
                procs[-1].send_signal(signal.SIGKILL)
                procs[-1].wait(30)
                killed = len(procs) - 1
            time.sleep(0.05)
        seconds = time.monotonic() - t0
        if not prefill:
            publisher.join()
        while cluster.consumer_outstanding(name, "shared") and time.monotonic() < deadline:
            time.sleep(0.2)   # duplicates counted above: until every message is acknowledged
        cpu = [recorder_cpu(p) - c if i != killed else None for i, (p, c) in enumerate(zip(procs, cpu0))]
        counts1 = [count_events(r) for r in recs]
    finally:
        codes = [stop(p) for p in procs]
    shares = [count_events(r) for r in recs]
    out = os.path.join(workdir, f"{name}-merged")
    t = time.monotonic()
    merged = ops.merge_by_sequence(recs, out)
    merge_seconds = time.monotonic() - t
    pairs = read_numbers(out)
    result = check_exactly_once(pairs, n)
    result.update({
        "recorders": recorders, "events": n, "seconds": round(seconds, 2),
        "rate": round((n - count0) / seconds), "before_all_up": count0,
        "shares": shares, "killed": killed, "exit": codes, "merge_duplicates": merged.duplicates,
        "merge_seconds": round(merge_seconds, 2),
        "cpu_us_per_event": [round(c / s * 1e6, 1) if c is not None and s else None
                             for c, s in zip(cpu, [c1 - c0 for c1, c0 in zip(counts1, counts0)])],
    })
    cluster.delete_stream(name)
    return result
