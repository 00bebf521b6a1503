"""Dashboard benchmark: prints figures, asserts nothing.

    .venv/bin/python bench/bench_web.py                 # 1,000 recordings, 10M events, 1M vs 1M diff
    .venv/bin/python bench/bench_web.py --keep /tmp/evlog-bench-web   # build once, reuse after
    .venv/bin/python bench/bench_web.py --quick         # smoke run (50 recordings, 100,000 events)

Targets (issue 13): the list of 1,000 recordings < 200 ms; the first page of a 10M-event
recording < 300 ms; a diff of 1M vs 1M events with 1% changes streams its first differences in
< 2 s; the original tool's REST shapes suite passes every check. Each line gives the measured
figure, the target and their ratio (< 1.0 meets it).
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "web"))

from evlog.segments import Log, encode_data  # noqa: E402
from evlog.web import create_app  # noqa: E402
from evlog.web.catalog import CATALOG_FILE  # noqa: E402

START_NS = 1_760_263_200_000_000_000
NAMES = ["MarketPriceFetched", "IndicatorsCalculated", "PositionPurchased", "PositionSold", "OrderFailed"]


def build_many(root: str, n: int, events_each: int = 20) -> None:
    payload = encode_data({"pair": "BTC/USDT", "price": "50000.1"})
    for i in range(n):
        with Log.create(os.path.join(root, f"rec_{i:05d}"), f"rec_{i:05d}", start_time_ns=START_NS,
                        fsync="never") as log:
            raw, flags, types = payload
            for k in range(events_each):
                log.append_encoded(NAMES[k % 3], "bench", flags, raw, types, timestamp=START_NS + k * 10**7,
                                   monotonic=k * 10**7)


def build_big(root: str, n: int, name: str = "big", change_every: int | None = None) -> str:
    """`n` events from a few pre-encoded payloads (Log.append_encoded: no per-event JSON);
    every `change_every`-th event gets other data (the 'new' side of the diff)."""
    path = os.path.join(root, name)
    payloads = [encode_data({"cycle_id": i, "pair": p, "current_price": f"{50000 + i}.5", "volume": i * 1.5})
                for i, p in enumerate(["BTC/USDT", "ETH/USDT", "SOL/USDT", "BNB/USDT"] * 4)]
    changed = encode_data({"cycle_id": -1, "pair": "BTC/USDT", "current_price": "1.5", "volume": 0.0})
    rare = encode_data({"error": "timeout", "pair": "ETH/USDT"})
    with Log.create(path, name, start_time_ns=START_NS, fsync="never") as log:
        append = log.append_encoded
        for i in range(n):
            mono = i * 100_000   # 10k events/s
            if i % 10_000 == 9_999:
                raw, flags, types = rare
                append("OrderFailed", "OrderExecutor", flags, raw, types, START_NS + mono, mono)
                continue
            raw, flags, types = changed if change_every and i % change_every == 50 else payloads[i & 15]
            append(NAMES[i % 2], "MarketPriceFetcher", flags, raw, types, START_NS + mono, mono, validate=False)
    return path


def timed(client, url: str, repeat: int = 5) -> tuple[float, float, int]:
    times = []
    status = 0
    for _ in range(repeat):
        t0 = time.perf_counter()
        r = client.get(url)
        r.get_data()
        times.append((time.perf_counter() - t0) * 1000)
        status = r.status_code
    return times[0], statistics.median(times), status


def target(label: str, value: float, limit: float, unit: str = "ms") -> None:
    print(f"TARGET {label}: {value:.1f} {unit} (target < {limit:g} {unit}; ratio {value / limit:.2f})")


def diff_stream(client, a: str, b: str) -> dict:
    """Seconds from starting a streamed diff to its first differences (status), to the first
    rows drawn (what the page shows), and to the end; the counts."""
    t0 = time.perf_counter()
    jid = client.post("/api/v1/diff/jobs", json={"a": a, "b": b}).json["job_id"]
    first_found = first_rows = None
    while True:
        st = client.get(f"/api/v1/jobs/{jid}").json
        now = time.perf_counter() - t0
        if st["found"] and first_found is None:
            first_found = now
            rows = client.get(f"/api/v1/jobs/{jid}/rows?first=0&count=40").json
            first_rows = time.perf_counter() - t0
            n_rows = sum(r["kind"] != "equal" for r in rows["rows"])
        if st["state"] != "running":
            break
        time.sleep(0.02)
    return {"first_found": first_found, "first_rows": first_rows, "rows": n_rows if first_rows else 0,
            "total": time.perf_counter() - t0, "state": st["state"], "found": st["found"],
            "summary": st["summary"]}


def original_suite(root: str) -> tuple[int, int, list]:
    from original_shapes import Ctx, run_all
    from webtools import make_demo, make_legacy
    folder = os.path.join(root, "original-shapes")
    shutil.rmtree(folder, ignore_errors=True)   # the suite's own recordings, made anew (--keep reuses root)
    os.makedirs(folder)
    make_demo(folder)
    make_legacy(folder)
    app = create_app(folder)
    ctx = Ctx(app.test_client(), folder)
    try:
        results = run_all(ctx)
    finally:
        ctx.post("/api/replay/stop")
        ctx.close()
        app.extensions["evlog_replays"].stop_all()
    return sum(ok for _, ok, _ in results), len(results), [r for r in results if not r[1]]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small smoke run")
    ap.add_argument("--recordings", type=int, default=None)
    ap.add_argument("--events", type=int, default=None)
    ap.add_argument("--diff-events", type=int, default=None, help="events on each side of the diff")
    ap.add_argument("--keep", metavar="DIR", help="build in DIR and keep it (reused if present)")
    args = ap.parse_args()
    n_recs = args.recordings or (50 if args.quick else 1000)
    n_events = args.events or (100_000 if args.quick else 10_000_000)
    n_diff = args.diff_events or (20_000 if args.quick else 1_000_000)
    root = args.keep or tempfile.mkdtemp(prefix="evlog-bench-web-")
    os.makedirs(root, exist_ok=True)
    try:
        if not os.path.exists(os.path.join(root, "big")):
            t0 = time.perf_counter()
            build_many(root, n_recs)
            t1 = time.perf_counter()
            build_big(root, n_events)
            t2 = time.perf_counter()
            print(f"built {n_recs} recordings in {t1 - t0:.1f} s; {n_events:,} events in {t2 - t1:.1f} s "
                  f"({n_events / (t2 - t1):,.0f} events/s)")
        diff_dir = os.path.join(root, "diff")
        if not os.path.exists(os.path.join(diff_dir, "diff_b")):
            os.makedirs(diff_dir, exist_ok=True)
            t0 = time.perf_counter()
            build_big(diff_dir, n_diff, "diff_a")
            build_big(diff_dir, n_diff, "diff_b", change_every=100)
            print(f"built the diff pair ({n_diff:,} events each, 1% changed) in {time.perf_counter() - t0:.1f} s")
        saved = os.path.join(root, CATALOG_FILE)
        if os.path.exists(saved):
            os.unlink(saved)   # the first listing of a folder never listed before
        client = create_app(root).test_client()   # a new app: the first listing is cold
        print(f"{'request':<58} {'first ms':>9} {'median ms':>10}  status")
        rows = [
            ("GET /api/recordings (original shape; cold, then cached)", "/api/recordings"),
            ("GET /api/v1/recordings (evlog shape, cached)", "/api/v1/recordings"),
            ("GET / (server-rendered list)", "/"),
            ("GET /recording/big (page HTML)", "/recording/big"),
            ("GET /api/v1/recording/big/summary", "/api/v1/recording/big/summary"),
            ("GET /api/v1/recording/big/histogram?bins=160", "/api/v1/recording/big/histogram?bins=160"),
            ("GET /api/v1/recording/big?limit=100 (first page)", "/api/v1/recording/big?limit=100"),
            ("GET page at offset n/2", f"/api/v1/recording/big?offset={n_events // 2}&limit=100"),
            ("GET page before the end (read backwards)", f"/api/v1/recording/big?before={n_events}&limit=100"),
            ("GET page at time 60% (from_ms)", f"/api/v1/recording/big?limit=100&from_ms={n_events * 0.006:.0f}"),
            ("GET count of a name (OrderFailed, from the index)", "/api/v1/recording/big/count?filter=OrderFailed"),
            ("GET filtered by name (OrderFailed, pushdown)", "/api/v1/recording/big?limit=100&filter=OrderFailed"),
            ("GET filtered by data (data.volume < 3)", "/api/v1/recording/big?limit=100&filter=data.volume%20%3C%203"),
        ]
        measured = {}
        for label, url in rows:
            first, median, status = timed(client, url, repeat=3 if "filter" in url else 5)
            measured[url] = (first, median)
            print(f"{label:<58} {first:>9.1f} {median:>10.1f}  {status}")
        big = client.get("/api/v1/recording/big/summary").json["total_events"]
        n_listed = len(client.get("/api/recordings").json)
        print(f"folder: {n_listed} recordings; big: {big:,} events")
        ms = measured["/api/recordings"]
        restarted = create_app(root).test_client()   # the app started again: its kept catalog file
        t0 = time.perf_counter()
        assert len(restarted.get("/api/recordings").json) == n_listed
        restart_ms = (time.perf_counter() - t0) * 1000
        print(f"list of {n_listed} recordings: folder never listed {ms[0]:.0f} ms, "
              f"first after a restart {restart_ms:.0f} ms, cached {ms[1]:.0f} ms")
        target(f"list of {n_listed} recordings, first after a restart", restart_ms, 200)
        target(f"list of {n_listed} recordings, cached", ms[1], 200)
        page_ms = [measured[u][1] for u in ("/api/v1/recording/big/summary", "/api/v1/recording/big/histogram?bins=160",
                                            "/api/v1/recording/big?limit=100")]
        target(f"first page of a {big:,}-event recording (median)", measured["/api/v1/recording/big?limit=100"][1], 300)
        target("first page + summary + histogram together (median)", sum(page_ms), 300)
        dclient = create_app(diff_dir).test_client()
        d = diff_stream(dclient, "diff_a", "diff_b")
        print(f"diff {n_diff:,} vs {n_diff:,} (1% changed): first differences found {d['first_found']:.2f} s, "
              f"first {d['rows']} drawn {d['first_rows']:.2f} s, whole diff {d['total']:.1f} s ({d['state']}, "
              f"{d['found']:,} kept, changed {d['summary']['changed']:,}, matched {d['summary']['matched']:,})")
        target("diff 1M vs 1M: first differences on the page", d["first_rows"], 2, "s")
        passed, total, failed = original_suite(root)
        print(f"original tool's REST shapes suite: {passed}/{total}")
        for name, _, why in failed:
            print(f"  FAILED {name}: {why}")
        import resource
        print(f"max RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
