"""CPU cost of the engine's append paths, per call, on the calling thread.

    python bench/bench_append.py                  # this source tree
    python bench/bench_append.py --tree OTHER     # another checkout of evlog (e.g. before a change)
    python bench/bench_append.py --quick          # smoke run (fewer calls)

Each figure is the best of 7 runs of the CPU time of the calling thread (`time.thread_time`)
divided by the calls: descheduling on a shared machine does not inflate it (contention for
caches still does, so compare two trees by alternating runs, not across hours). Paths: a
`Log.append` of a dict, of a pydantic model (`evlog.Log`), one encoded row, 10,000 encoded rows
with monotonic times given (`append_rows`; on a tree without it `append_batch_encoded`),
and a raw copy of 10,000 records. Prints one JSON object (ns per event or row).
"""
from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import os
import shutil
import sys
import tempfile
import time
from decimal import Decimal
from typing import Any, Callable

ROWS = 10_000


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tree", default=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                    help="the evlog source tree to measure (default: this one)")
    ap.add_argument("--calls", type=int, default=50_000)
    ap.add_argument("--quick", action="store_true", help="smoke run: 10,000 calls")
    args = ap.parse_args()
    if args.quick:
        args.calls = 10_000
    sys.path.insert(0, os.path.abspath(args.tree))
    import evlog
    if not evlog.__file__.startswith(os.path.abspath(args.tree)):
        raise SystemExit(f"imported evlog from {evlog.__file__}, not from {args.tree}")
    from pydantic import BaseModel

    from evlog import Log as TopLog
    from evlog.segments import Log
    from evlog.segments.codec import encode_data
    try:
        from evlog.segments import EncodedRows
    except ImportError:   # a tree before the one append path
        EncodedRows = None

    class Tick(BaseModel):
        pair: str
        price: Decimal
        qty: float
        at: dt.datetime

    model = Tick(pair="BTC/USDT", price=Decimal("50000.10"), qty=1.5, at=dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc))
    data = {"pair": "BTC/USDT", "price": 50000.1, "qty": 3, "side": "buy", "n": [1, 2, 3]}
    raw, flags, types = encode_data(data)
    base = tempfile.mkdtemp(prefix="evlog-bench-append-")
    logs = [Log.create(os.path.join(base, "a"), fsync="never"), TopLog.create(os.path.join(base, "b"), fsync="never"),
            Log.create(os.path.join(base, "c"), fsync="never")]
    plain, top, copy = logs
    for _ in range(ROWS):
        plain.append("Tick", data, "src")
    top.append("Tick", model, "src")
    src = list(plain.read(0, ROWS, raw=True))
    results: dict[str, int] = {}

    def measure(label: str, fn: Callable[[int], Any], n: int) -> None:
        best = float("inf")
        for _ in range(7):
            gc.collect()
            t0 = time.thread_time()
            fn(n)
            best = min(best, (time.thread_time() - t0) / n)
        results[label] = round(best * 1e9)

    def append_dict(n: int) -> None:
        a = plain.append
        for _ in range(n):
            a("Tick", data, "src")

    def append_model(n: int) -> None:
        a = top.append
        for _ in range(n):
            a("Tick", model, "src")

    def append_encoded(n: int) -> None:
        a = plain.append_encoded
        for _ in range(n):
            a("Tick", "src", flags, raw, types, validate=False)

    def rows(validate: bool) -> Callable[[int], None]:
        def run(n: int) -> None:
            for _ in range(max(1, n // ROWS)):
                m0 = plain._writer.monotonic_now()
                monos = list(range(m0, m0 + ROWS))
                if EncodedRows is not None:
                    plain.append_rows(EncodedRows(["Tick"] * ROWS, ["src"] * ROWS, [flags] * ROWS, [raw] * ROWS,
                                                  [types] * ROWS, None, None, monos), validate=validate)
                else:
                    plain.append_batch_encoded([("Tick", "src", flags, raw, types, None, m) for m in monos],
                                               validate=validate)
        return run

    def raw_copy(n: int) -> None:
        for _ in range(max(1, n // ROWS)):
            if EncodedRows is not None:
                copy.append_rows(EncodedRows.from_raw(src), validate=False)
            else:
                copy.append_raw_many(src)

    gc.freeze()   # the objects made so far are not the collector's work
    try:
        measure("raw copy of 10,000 records, per row", raw_copy, args.calls)
        measure("segments.Log.append(dict)", append_dict, args.calls)
        measure("evlog.Log.append(pydantic model)", append_model, args.calls)
        measure("append_encoded(validate=False)", append_encoded, args.calls)
        measure("10,000 rows, monotonic given, validate=False, per row", rows(False), args.calls)
        measure("10,000 rows, monotonic given, validate=True, per row", rows(True), args.calls)
    finally:
        gc.unfreeze()
        for log in logs:
            log.close()
        shutil.rmtree(base, ignore_errors=True)
    print(json.dumps({"tree": os.path.abspath(args.tree), "ns": results}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
