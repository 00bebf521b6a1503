"""Soak and crash benchmarks of the NATS capture (loopback only: nats://127.0.0.1:4222).

    .venv/bin/python bench/bench_nats_soak.py soak [--rate 20000 --seconds 60 --mode jetstream]
    .venv/bin/python bench/bench_nats_soak.py kill [--events 100000 --kills 3]

soak: a publisher sends numbered events at a steady rate; `evlog record` (a subprocess, with
small segments and size retention so segments roll and old ones are deleted) records them.
Prints RSS at start and end, CPU per event, rates, and checks that no event was lost or
duplicated (offset i of the recording holds number i, for every event retention kept).

kill: the recorder is killed with SIGKILL three times while the publisher runs, then restarted
and stopped with SIGTERM; each number must be recorded exactly once.
"""
from __future__ import annotations

import argparse
import asyncio
import atexit
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import uuid

import psutil

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from evlog import Log

URL = "nats://127.0.0.1:4222"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def status(port: int) -> dict:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/status", timeout=5) as r:
            return json.loads(r.read())
    except OSError:
        return {}


async def make_stream(name: str, prefix: str) -> None:
    import nats
    from nats.js.api import StreamConfig
    nc = await nats.connect(URL)
    await nc.jetstream().add_stream(StreamConfig(name=name, subjects=[f"{prefix}.>"]))
    await nc.close()


async def delete_stream(name: str) -> None:
    import nats
    nc = await nats.connect(URL)
    try:
        await nc.jetstream().delete_stream(name)
    finally:
        await nc.close()


async def publish(prefix: str, n: int, rate: float, report: dict) -> None:
    """Numbered events, ~120 bytes of JSON each, paced at `rate` per second."""
    import nats
    nc = await nats.connect(URL)
    t0 = time.monotonic()
    pairs = ("BTC/USDT", "ETH/USDT", "SOL/USDT", "XRP/USDT")
    for i in range(n):
        body = {"n": i, "pair": pairs[i % 4], "price": 50000 + (i % 1000) * 0.5, "qty": i % 7, "side": "buy"}
        await nc.publish(f"{prefix}.{pairs[i % 4][:3].lower()}", json.dumps(body).encode())
        if i % 500 == 499:
            ahead = t0 + (i + 1) / rate - time.monotonic()
            if ahead > 0:
                await asyncio.sleep(ahead)
            else:
                await asyncio.sleep(0)
    await nc.flush()
    await nc.close()
    report["publish_seconds"] = time.monotonic() - t0


def spawn_recorder(rec: str, args: list[str]) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "evlog", "record", rec, "--from", URL, *args]
    return subprocess.Popen(cmd, cwd=ROOT, env=dict(os.environ, PYTHONPATH=ROOT),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def check_continuity(rec: str, total: int) -> tuple[int, int]:
    """(first kept offset, events kept); asserts offset i holds number i and nothing is missing."""
    with Log.open(rec) as log:
        first = log.start_offset
        expected = first
        for r in log.read():
            if r.source == "evlog":
                continue
            n = r.data["n"]
            if n != expected or r.offset != n:
                raise SystemExit(f"FAIL: offset {r.offset} holds number {n}, expected {expected}")
            expected += 1
    if expected != total:
        raise SystemExit(f"FAIL: the recording ends at number {expected - 1}, {total} were published")
    return first, total - first


def soak(args: argparse.Namespace) -> None:
    tag = uuid.uuid4().hex[:8]
    stream, prefix = f"SOAK{tag.upper()}", f"soak{tag}"
    rec = os.path.join(args.dir, f"soak-{tag}")
    total = int(args.rate * args.seconds)
    port = free_port()
    asyncio.run(make_stream(stream, prefix))
    if not args.keep:
        atexit.register(lambda: asyncio.run(delete_stream(stream)))   # also after a FAIL
    rec_args = ["--subject", f"{prefix}.>", "--status-port", str(port), "--status-interval", "10",
                "--segment-size", args.segment_size, "--retain-max-bytes", args.retain_max_bytes,
                "--fsync", args.fsync]
    if args.mode == "jetstream":
        rec_args += ["--stream", stream, "--durable", "soak"]
    proc = spawn_recorder(rec, rec_args)
    ps = psutil.Process(proc.pid)
    try:
        deadline = time.monotonic() + 30
        while not status(port).get("connected"):
            if time.monotonic() > deadline or proc.poll() is not None:
                raise SystemExit("FAIL: the recorder did not start: " + proc.stderr.read().decode())
            time.sleep(0.1)
        time.sleep(0.5)
        rss_start = ps.memory_info().rss
        cpu_start = sum(ps.cpu_times()[:2])
        report: dict = {}
        samples: list[tuple[float, int, int]] = []
        publisher = threading.Thread(target=lambda: asyncio.run(publish(prefix, total, args.rate, report)))
        t0 = time.monotonic()
        publisher.start()
        while publisher.is_alive():
            publisher.join(5)
            samples.append((time.monotonic() - t0, ps.memory_info().rss, status(port).get("recorded", 0)))
        deadline = time.monotonic() + 120
        while status(port).get("recorded", 0) < total and time.monotonic() < deadline:
            time.sleep(0.2)
        caught_up = time.monotonic() - t0
        snap = status(port)
        rss_end = ps.memory_info().rss
        cpu = sum(ps.cpu_times()[:2]) - cpu_start
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    if proc.returncode != 0:
        raise SystemExit(f"FAIL: recorder exited {proc.returncode}: {err.decode()}")
    if args.verbose:
        print(err.decode())
    first, kept = check_continuity(rec, total) if args.mode == "jetstream" or snap.get("dropped") == 0 else (0, 0)
    with Log.open(rec) as log:
        segments = len(log.segments())
    size = sum(os.path.getsize(os.path.join(rec, f)) for f in os.listdir(rec))
    print(f"mode {args.mode}, fsync {args.fsync}, {total} events at {args.rate}/s target "
          f"({total / report['publish_seconds']:,.0f}/s achieved by the publisher over {report['publish_seconds']:.1f} s)")
    print(f"recorded {snap.get('recorded')} events, caught up {caught_up:.1f} s after the start; "
          f"dropped {snap.get('dropped')}, duplicates {snap.get('duplicates')}, errors {snap.get('errors')}")
    print(f"retention: first kept offset {first}, {kept} events kept in {segments} segments, {size / 2**20:.1f} MiB")
    print(f"RSS start {rss_start / 2**20:.1f} MiB, end {rss_end / 2**20:.1f} MiB; "
          f"samples (s, MiB, recorded): " + ", ".join(f"({t:.0f}, {r / 2**20:.1f}, {n})" for t, r, n in samples))
    print(f"recorder CPU {cpu:.1f} s for {total} events = {cpu / total * 1e6:.1f} us/event "
          f"({cpu / caught_up * 100:.0f}% of a core)")
    print("OK: no event lost or duplicated" if args.mode == "jetstream" or snap.get("dropped") == 0
          else f"core NATS dropped {snap.get('dropped')} (reported)")


def kill(args: argparse.Namespace) -> None:
    tag = uuid.uuid4().hex[:8]
    stream, prefix = f"KILL{tag.upper()}", f"kill{tag}"
    rec = os.path.join(args.dir, f"kill-{tag}")
    n = args.events
    asyncio.run(make_stream(stream, prefix))
    atexit.register(lambda: asyncio.run(delete_stream(stream)))
    rec_args = ["--subject", f"{prefix}.>", "--stream", stream, "--durable", "k", "--status-interval", "0"]
    report: dict = {}
    publisher = threading.Thread(target=lambda: asyncio.run(publish(prefix, n, args.rate, report)))
    publisher.start()
    rng = random.Random(args.seed)
    kills = []

    def count() -> int:
        try:
            with Log.open(rec) as log:
                return len(log)
        except Exception:  # noqa: BLE001 - not created yet
            return 0

    t0 = time.monotonic()
    for _ in range(args.kills):
        proc = spawn_recorder(rec, rec_args)
        before = count()
        while count() <= before:
            time.sleep(0.05)
        time.sleep(rng.uniform(1.0, 4.0))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        kills.append(count())
    publisher.join()
    proc = spawn_recorder(rec, rec_args)
    while count() < n:
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err.decode()
    with Log.open(rec) as log:
        numbers = [r.data["n"] for r in log.read()]
    dup = len(numbers) - len(set(numbers))
    missing = n - len(set(numbers))
    print(f"{n} events, SIGKILL at {kills} recorded events, total {time.monotonic() - t0:.1f} s; "
          f"recorded {len(numbers)}, duplicates {dup}, missing {missing}")
    if numbers != list(range(n)):
        raise SystemExit("FAIL: not exactly once")
    print("OK: each number recorded exactly once, in order")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("soak")
    s.add_argument("--rate", type=float, default=20000)
    s.add_argument("--seconds", type=float, default=60)
    s.add_argument("--mode", choices=("jetstream", "core"), default="jetstream")
    s.add_argument("--fsync", choices=("always", "interval", "never"), default="always")
    s.add_argument("--segment-size", default="4M")
    s.add_argument("--retain-max-bytes", default="24M")
    s.add_argument("--keep", action="store_true", help="keep the JetStream stream")
    s.add_argument("--verbose", action="store_true", help="print the recorder's status lines")
    k = sub.add_parser("kill")
    k.add_argument("--events", type=int, default=100_000)
    k.add_argument("--rate", type=float, default=10_000)
    k.add_argument("--kills", type=int, default=3)
    k.add_argument("--seed", type=int, default=None)
    for p in (s, k):
        p.add_argument("--dir", default="/tmp")
    args = ap.parse_args()
    soak(args) if args.cmd == "soak" else kill(args)


if __name__ == "__main__":
    main()
