"""Key index benchmark: a key lookup against the scan it replaces, and the point-read layouts.

    python bench/bench_keys.py                      # 10,000,000 events (the issue's size; minutes)
    python bench/bench_keys.py --events 1000000     # smaller
    python bench/bench_keys.py --compare-blocks     # point reads by block size, cache on/off
    python bench/bench_keys.py --quick              # smoke run (seconds)

The recording is written by the fast raw append path: `Log.append_rows(EncodedRows(...),
validate=False)` with the data bytes formatted beforehand, 8,192 rows per call, fsync=never,
`keys=["data.position_id"]`: one position id per 100 events, round-robin, so each id's 100
events lie in 100 different blocks (the worst case for a point read). Printed, same run:

* lookup: `Log.lookup("data.position_id", [id])` of random ids, 100 events each: the first
  one after `Log.open` (the key files mapped), then the median of the next ones (other ids,
  the decoded-block cache cold for them), then the median of repeated lookups of one id
  (cache warm);
* scan: the same selection by `Log.read(where=...)` over the whole recording, as a filter
  did before the key index; the ratio scan / lookup.
"""
from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.dirname(HERE)]

from evlog.segments import EncodedRows, Log  # noqa: E402

PATH = "data.position_id"
BATCH = 8192


def build(path: str, n: int, keys: list[str], **options: object) -> float:
    """Write n events by the raw append path; returns events/s."""
    ids = max(1, n // 100)
    t = time.perf_counter()
    with Log.create(path, keys=keys, fsync="never", **options) as log:
        for a in range(0, n, BATCH):
            m = min(BATCH, n - a)
            datas = [b'{"position_id":"p-%d","seq":%d,"price":101.25,"qty":3,"side":"buy"}' % (i % ids, i)
                     for i in range(a, a + m)]
            log.append_rows(EncodedRows(["Fill"] * m, ["trader"] * m, [0] * m, datas, [b""] * m), validate=False)
    return n / (time.perf_counter() - t)


def lookups(path: str, n: int, samples: int, cache: int | None = None) -> dict:
    ids = max(1, n // 100)
    rng = random.Random(7)
    pick = [f"p-{rng.randrange(ids)}" for _ in range(samples + 1)]
    kw = {} if cache is None else {"block_cache_bytes": cache}
    with Log.open(path, **kw) as log:
        t = time.perf_counter()
        got = list(log.lookup(PATH, [pick[0]]))
        first = time.perf_counter() - t
        expect = min(100, n)
        assert len(got) == expect, (len(got), expect)
        cold = []
        for key in pick[1:]:
            t = time.perf_counter()
            got = list(log.lookup(PATH, [key]))
            cold.append(time.perf_counter() - t)
            assert len(got) == expect and all(r.data["position_id"] == key for r in got)
        warm = []
        for _ in range(samples):
            t = time.perf_counter()
            list(log.lookup(PATH, [pick[1]]))
            warm.append(time.perf_counter() - t)
        blocks = len(log.index_entries())
    return {"first": first, "cold": statistics.median(cold), "warm": statistics.median(warm), "blocks": blocks,
            "key": pick[1]}


def scan(path: str, key: str) -> tuple[float, int]:
    with Log.open(path) as log:
        t = time.perf_counter()
        n = sum(1 for _ in log.read(where=lambda r: isinstance(r.data, dict) and r.data.get("position_id") == key))
        return time.perf_counter() - t, n


def du(path: str, suffix: str = "") -> int:
    return sum(os.path.getsize(os.path.join(path, f)) for f in os.listdir(path) if f.endswith(suffix))


def main_lookup(n: int, samples: int, tmp: str, block_bytes: int | None = None) -> None:
    path = os.path.join(tmp, "rec")
    rate = build(path, n, [PATH], **({} if block_bytes is None else {"block_max_bytes": block_bytes}))
    r = lookups(path, n, samples)
    scan_s, found = scan(path, r["key"])
    assert found == min(100, n)
    print(f"# key lookup on {n:,} events ({r['blocks']:,} blocks of "
          f"{'the default size' if block_bytes is None else f'{block_bytes >> 10} KiB'}; written at {rate:,.0f} events/s by the raw "
          f"append path, keys=[{PATH!r}]; {du(path) / n:.1f} B/event on disk, key files {du(path, '.keys') / n:.1f} "
          f"B/event)")
    print(f"lookup of 100 events: first after open {r['first'] * 1e3:.2f} ms, other ids (cold blocks) "
          f"{r['cold'] * 1e3:.2f} ms (target < 20 ms), same id again (cached blocks) {r['warm'] * 1e3:.2f} ms")
    print(f"scan of the whole recording for one id: {scan_s * 1e3:,.0f} ms; ratio scan / lookup: "
          f"{scan_s / r['cold']:,.0f}x (target >= 100x), scan / first lookup {scan_s / r['first']:,.0f}x")


def main_blocks(n: int, samples: int, tmp: str) -> None:
    print(f"# point reads by layout: {n:,} events, lookups of 100 events each in 100 blocks")
    print(f"{'block':>8}{'blocks':>8}{'write ev/s':>12}{'B/event':>9}{'cold ms':>9}{'no-cache ms':>12}"
          f"{'warm ms':>9}{'scan ms':>9}")
    for size in (384 << 10, 64 << 10, 16 << 10):
        path = os.path.join(tmp, f"b{size}")
        rate = build(path, n, [PATH], block_max_bytes=size)
        r = lookups(path, n, samples)
        nc = lookups(path, n, samples, cache=0)
        scan_s, _ = scan(path, r["key"])
        print(f"{size >> 10:>6}Ki{r['blocks']:>8,}{rate:>12,.0f}{du(path) / n:>9.1f}{r['cold'] * 1e3:>9.2f}"
              f"{nc['warm'] * 1e3:>12.2f}{r['warm'] * 1e3:>9.2f}{scan_s * 1e3:>9,.0f}")
        shutil.rmtree(path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=10_000_000)
    ap.add_argument("--samples", type=int, default=30)
    ap.add_argument("--compare-blocks", action="store_true", help="point reads by block size, cache on/off")
    ap.add_argument("--block-bytes", type=int, default=None, help="the writer's block_max_bytes")
    ap.add_argument("--quick", action="store_true", help="smoke run")
    args = ap.parse_args()
    n = 20_000 if args.quick else args.events
    samples = 5 if args.quick else args.samples
    tmp = tempfile.mkdtemp(prefix="evlog-keys-bench-")
    try:
        if args.compare_blocks:
            main_blocks(n if (args.quick or args.events != 10_000_000) else 1_000_000, samples, tmp)
        else:
            main_lookup(n, samples, tmp, args.block_bytes)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
