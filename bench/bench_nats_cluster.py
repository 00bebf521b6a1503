"""Capture from a 3-node JetStream cluster (scripts/nats-cluster.sh, started and stopped here).

    .venv/bin/python bench/bench_nats_cluster.py [all|scenarios|scale|cpu] [--events 100000]

scenarios: 100,000 numbered events published (Nats-Msg-Id, retried until acknowledged) into an
    R3 stream while (a) the stream leader's node is killed with SIGKILL and restarted, (b) the
    recorder is killed with SIGKILL three times and restarted, (c) a node that is not the leader
    is stopped for 10 s; prints recorded / lost / duplicated / out of order and how long the
    recording stalled after each failure (time to resume).
scale: 1, 2 and 4 recorders sharing one durable consumer (--shared) drain a stream prefilled
    with --events messages; prints the rate once all are up, each one's share, CPU per event, and
    the merge --by-sequence check (every message once, in order).
cpu: capture CPU per event (user + system time of the recorder process / events recorded)
    at --rate (20,000/s) from the cluster and from the single node on 127.0.0.1:4222.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "tests"))

from integrations.cluster.harness import (  # noqa: E402 - the test harness, shared
    SCENARIOS,
    Cluster,
    count_events,
    free_port,
    recorder_cmd,
    recorder_cpu,
    run_scenario,
    run_shared,
    spawn,
    stop,
    wait_healthy,
)
from integrations.helpers import publish_numbered  # noqa: E402

SINGLE = "nats://127.0.0.1:4222"


def scenarios(cluster: Cluster, events: int, work: str, rate: float) -> list[dict]:
    rows = []
    for name in SCENARIOS:
        r = run_scenario(cluster, name, events, work, rate=rate)
        r.pop("stderr")
        rows.append(r)
        print(f"{name:14s} published {r['published']:>7} recorded {r['recorded']:>7} lost {r['lost']} "
              f"duplicated {r['duplicated']} out-of-order {r['out_of_order']}  "
              f"stall after each failure {r['resume_seconds']} s, sessions resumed {r['resumes']}, "
              f"publisher retries {r['publisher_retries']}, {r['seconds']} s", flush=True)
    return rows


def scale(cluster: Cluster, events: int, work: str) -> list[dict]:
    rows = []
    for k in (1, 2, 4):
        r = run_shared(cluster, k, events, work, timeout=600)
        rows.append(r)
        ok = (r["recorded"], r["lost"], r["duplicated"], r["out_of_order"]) == (events, 0, 0, 0)
        print(f"{k} recorder(s): {r['rate']:>6} events/s once all up ({r['before_all_up']} taken before), "
              f"shares {r['shares']}, CPU/event {r['cpu_us_per_event']} us, merge --by-sequence "
              f"{r['merge_seconds']} s: {'every message once, in order' if ok else r}", flush=True)
    return rows


async def _make_stream(url: str, name: str, subjects: list[str]) -> None:
    import nats
    from nats.js.api import StreamConfig
    nc = await nats.connect(url)
    await nc.jetstream().add_stream(StreamConfig(name=name, subjects=subjects))
    await nc.close()


async def _delete_stream(url: str, name: str) -> None:
    import nats
    nc = await nats.connect(url)
    try:
        await nc.jetstream().delete_stream(name)
    finally:
        await nc.close()


def cpu(cluster: Cluster, events: int, work: str, rate: float) -> list[dict]:
    rows = []
    for where in ("single node (127.0.0.1:4222)", "3-node cluster, R3 stream"):
        name = f"U{uuid.uuid4().hex[:8].upper()}"
        prefix = name.lower()
        if where.startswith("single"):
            urls, publish_url = SINGLE, SINGLE
            asyncio.run(_make_stream(SINGLE, name, [f"{prefix}.>"]))
        else:
            cluster.create_stream(name, [f"{prefix}.>"])
            urls, publish_url = cluster.urls, cluster.url(1)
        rec = os.path.join(work, f"cpu-{name}")
        port = free_port()
        proc = spawn(recorder_cmd(rec, urls, name, f"{prefix}.>", "cpu", "--status-port", str(port)), rec + ".log")
        try:
            wait_healthy(port, proc)
            c0 = recorder_cpu(proc)
            t0 = time.monotonic()
            asyncio.run(publish_numbered(publish_url, prefix, events, rate=rate))
            published_in = time.monotonic() - t0
            deadline = time.monotonic() + 120
            last, still = -1, time.monotonic()
            while time.monotonic() < deadline:
                n = count_events(rec)
                if n >= events or (n == last and time.monotonic() - still > 5):
                    break
                if n != last:
                    last, still = n, time.monotonic()
                time.sleep(0.1)
            c1 = recorder_cpu(proc)
            n = count_events(rec)
        finally:
            stop(proc)
        if where.startswith("single"):
            asyncio.run(_delete_stream(SINGLE, name))
        else:
            cluster.delete_stream(name)
        row = {"where": where, "events": n, "published_rate": round(events / published_in),
               "cpu_us_per_event": round((c1 - c0) / max(1, n) * 1e6, 1)}
        rows.append(row)
        print(f"{where:30s} {n} events recorded at {row['published_rate']}/s published: "
              f"{row['cpu_us_per_event']} us CPU per event", flush=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("what", nargs="?", default="all", choices=["all", "scenarios", "scale", "cpu"])
    ap.add_argument("--events", type=int, default=100_000)
    ap.add_argument("--rate", type=float, default=5000.0, help="scenarios: publish rate (events/s)")
    ap.add_argument("--cpu-rate", type=float, default=20000.0, help="cpu: publish rate (events/s)")
    ap.add_argument("--json", help="also write the figures to this file")
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="evlog-bench-cluster-")
    cluster = Cluster(os.path.join(work, "cluster"))
    cluster.start()
    out: dict = {}
    try:
        if args.what in ("all", "scenarios"):
            out["scenarios"] = scenarios(cluster, args.events, work, args.rate)
        if args.what in ("all", "scale"):
            out["scale"] = scale(cluster, args.events, work)
        if args.what in ("all", "cpu"):
            out["cpu"] = cpu(cluster, args.events, work, args.cpu_rate)
    finally:
        cluster.stop()
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
