"""Dashboard benchmark: prints figures, asserts nothing.

    .venv/bin/python bench/bench_web.py            # 1,000 recordings + one 10-million-event recording
    .venv/bin/python bench/bench_web.py --quick    # smoke run (50 recordings, 100,000 events)

Targets (issue): GET /api/recordings < 200 ms with 1,000 recordings (from the index, cached);
the detail page's first page of events and its charts < 300 ms on 10 million events.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time

from evlog.segments import Log, encode_data
from evlog.web import create_app

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


def build_big(root: str, n: int) -> str:
    """`n` events from a few pre-encoded payloads (Log.append_encoded: no per-event JSON)."""
    path = os.path.join(root, "big")
    payloads = [encode_data({"cycle_id": i, "pair": p, "current_price": f"{50000 + i}.5", "volume": i * 1.5})
                for i, p in enumerate(["BTC/USDT", "ETH/USDT", "SOL/USDT", "BNB/USDT"] * 4)]
    rare = encode_data({"error": "timeout", "pair": "ETH/USDT"})
    with Log.create(path, "big", start_time_ns=START_NS, fsync="never") as log:
        append = log.append_encoded
        for i in range(n):
            mono = i * 100_000   # 10k events/s
            if i % 10_000 == 9_999:
                raw, flags, types = rare
                append("OrderFailed", "OrderExecutor", flags, raw, types, START_NS + mono, mono)
            else:
                raw, flags, types = payloads[i & 15]
                append(NAMES[i % 2], "MarketPriceFetcher", flags, raw, types, START_NS + mono, mono)
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


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small smoke run")
    ap.add_argument("--recordings", type=int, default=None)
    ap.add_argument("--events", type=int, default=None)
    ap.add_argument("--keep", metavar="DIR", help="build in DIR and keep it (reused if present)")
    args = ap.parse_args()
    n_recs = args.recordings or (50 if args.quick else 1000)
    n_events = args.events or (100_000 if args.quick else 10_000_000)
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
        client = create_app(root).test_client()
        print(f"{'request':<58} {'first ms':>9} {'median ms':>10}  status")
        rows = [
            ("GET /api/recordings (cold, then cached)", "/api/recordings"),
            ("GET /recording/big (page HTML)", "/recording/big"),
            ("GET /api/recording/big/summary", "/api/recording/big/summary"),
            ("GET /api/recording/big/histogram?bins=120", "/api/recording/big/histogram?bins=120"),
            ("GET /api/recording/big?limit=100 (first page)", "/api/recording/big?limit=100"),
            ("GET page at offset n/2", f"/api/recording/big?offset={n_events // 2}&limit=100"),
            ("GET page at time 60% (from_ms)", f"/api/recording/big?limit=100&from_ms={n_events * 0.06:.0f}"),
            ("GET filtered by name (OrderFailed, pushdown)", "/api/recording/big?limit=100&filter=OrderFailed"),
            ("GET filtered by data (data.volume < 3)", "/api/recording/big?limit=100&filter=data.volume%20%3C%203"),
        ]
        for label, url in rows:
            first, median, status = timed(client, url, repeat=3 if "filter" in url else 5)
            print(f"{label:<58} {first:>9.1f} {median:>10.1f}  {status}")
        import resource
        print(f"max RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
