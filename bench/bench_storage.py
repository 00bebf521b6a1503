"""Storage benchmark of evlog's engine (`evlog.segments.Log`) against its baselines.

Workload: the simulated trading bot of `evlog.demo` (pydantic models of ~150-200 bytes of
JSON), 0.5% of the events (every 200th) replaced by a rare `CircuitBreakerTripped`.
Baselines, measured in the same run and interleaved with evlog (best of --reps):
the plain JSON recorder evlog replaces, MCAP's Python writer/reader, and the floor
(serialize + zstd-3 in 1 MiB blocks + one fsync); see bench/baselines.py.

    python bench/bench_storage.py            # default set, 200k events (~2 min)
    python bench/bench_storage.py --big      # + seek and memory at 10 million events
    python bench/bench_storage.py --quick    # smoke run (20k events, 1 repetition)
"""
from __future__ import annotations

import argparse
import datetime as _dt
import gc
import inspect
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path[:0] = [HERE, ROOT]

import psutil
from baselines import FloorRecorder, JsonRecorder, McapRecorder, file_size
from pydantic import BaseModel

from evlog.demo import trading_session
from evlog import Log   # the engine's Log with an encoder of pydantic models

RARE = "CircuitBreakerTripped"
RARE_EVERY = 200          # 0.5% of the events
MIB = 1 << 20


class CircuitBreakerTripped(BaseModel):
    pair: str
    reason: str
    consecutive_failures: int
    cooldown_s: float
    tripped_at: _dt.datetime


def workload(n: int) -> list[tuple[str, BaseModel, str, int]]:
    """The events, materialized; every RARE_EVERY-th one replaced by the rare event."""
    events = list(trading_session(n))
    for i in range(RARE_EVERY // 2, n, RARE_EVERY):
        _name, _model, _source, off = events[i]
        events[i] = (RARE, CircuitBreakerTripped(
            pair="BTC/USDT", reason="5 consecutive order failures", consecutive_failures=5,
            cooldown_s=300.0, tripped_at=_dt.datetime(2025, 10, 12, 10, 0, tzinfo=_dt.timezone.utc)
            + _dt.timedelta(microseconds=off // 1000)), "RiskManager", off)
    return events


# helpers ------------------------------------------------------------------------------
def best(results: dict, key: str, value: float) -> None:
    results[key] = min(results.get(key, float("inf")), value)


def timed(fn: Callable[[], Any]) -> tuple[float, Any, float]:
    """(wall seconds, result, CPU seconds of the process)."""
    gc.collect()
    c0 = time.process_time()
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out, time.process_time() - c0


def fresh(base: str, name: str) -> str:
    path = os.path.join(base, name)
    if os.path.isdir(path):
        shutil.rmtree(path)
    elif os.path.exists(path):
        os.remove(path)
    return path


def write_evlog(path: str, events: list, fsync: str) -> tuple[float, float, float, float]:
    """Seconds of the append loop and from Log.create to the end of close: wall, then the
    process's CPU (all threads: the caller's and the writer's I/O thread)."""
    gc.collect()
    c0, t0 = time.process_time(), time.perf_counter()
    log = Log.create(path, "bench", fsync=fsync)
    append = log.append
    c1, t1 = time.process_time(), time.perf_counter()
    for name, model, source, _off in events:
        append(name, model, source)
    c2, t2 = time.process_time(), time.perf_counter()
    log.close()
    c3, t3 = time.process_time(), time.perf_counter()
    return t2 - t1, t3 - t0, c2 - c1, c3 - c0


BATCH = 1000   # events per Log.append_batch call in the batched variant


def write_evlog_batched(path: str, chunks: list[list[tuple]], fsync: str) -> tuple[float, float, float, float]:
    """As write_evlog, with `Log.append_batch` of BATCH (name, model, source) tuples a call
    (how a producer that holds events in hand, e.g. a recorder's drain thread, appends)."""
    gc.collect()
    c0, t0 = time.process_time(), time.perf_counter()
    log = Log.create(path, "bench", fsync=fsync)
    append_batch = log.append_batch
    c1, t1 = time.process_time(), time.perf_counter()
    for chunk in chunks:
        append_batch(chunk)
    c2, t2 = time.process_time(), time.perf_counter()
    log.close()
    c3, t3 = time.process_time(), time.perf_counter()
    return t2 - t1, t3 - t0, c2 - c1, c3 - c0


def write_baseline(cls: type, path: str, events: list) -> tuple[float, float, float, float]:
    gc.collect()
    c0, t0 = time.process_time(), time.perf_counter()
    rec = cls(path)
    append = rec.append
    c1, t1 = time.process_time(), time.perf_counter()
    for name, model, source, off in events:
        append(name, model, source, off)
    c2, t2 = time.process_time(), time.perf_counter()
    rec.close()
    c3, t3 = time.process_time(), time.perf_counter()
    return t2 - t1, t3 - t0, c2 - c1, c3 - c0


def read_evlog(path: str, **kw: Any) -> int:
    n = 0
    with Log.open(path) as log:
        for rec in log.read(**kw):
            rec.data  # noqa: B018 - decoded already; touch it
            n += 1
    return n


def seek_times(path: str, offsets: list[int]) -> tuple[float, float]:
    """Median ms to the first record of read(start=o) and of read(start_time=t), on an open Log."""
    with Log.open(path) as log:
        stamps = [log.get(o).timestamp for o in offsets]
        by_offset, by_time = [], []
        reader = log._read()

        def cold() -> None:   # every seek decodes its block: the reader's last-block cache emptied
            reader._last_block = None

        for o, t in zip(offsets, stamps):
            cold()
            t0 = time.perf_counter()
            it = log.read(start=o)
            rec = next(it)
            by_offset.append(time.perf_counter() - t0)
            it.close()
            assert rec.offset == o, (rec.offset, o)
            cold()
            t0 = time.perf_counter()
            it = log.read(start_time=t)
            rec = next(it)
            by_time.append(time.perf_counter() - t0)
            it.close()
            assert rec.timestamp >= t
    return statistics.median(by_offset) * 1e3, statistics.median(by_time) * 1e3


def mid_offsets(n: int, count: int) -> list[int]:
    """`count` offsets spread over the middle 10% of the recording (deterministic)."""
    lo, span = int(n * 0.45), max(1, n // 10)
    return [lo + (i * 7919) % span for i in range(count)]


def read_rss_subprocess(path: str) -> dict:
    """Read the whole recording in a fresh process sampling its RSS; returns its report."""
    out = subprocess.run([sys.executable, os.path.abspath(__file__), "--_read-rss", path],
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _read_rss_main(path: str) -> None:
    proc = psutil.Process()
    log = Log.open(path)
    gc.collect()
    baseline = proc.memory_info().rss
    peak = [baseline]
    done = threading.Event()

    def sampler() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], proc.memory_info().rss)
            time.sleep(0.002)

    thread = threading.Thread(target=sampler, daemon=True)
    thread.start()
    t0 = time.perf_counter()
    n = 0
    for rec in log.read():
        rec.data  # noqa: B018
        n += 1
        if not n & 0x3FFF:
            peak[0] = max(peak[0], proc.memory_info().rss)
    seconds = time.perf_counter() - t0
    done.set()
    thread.join()
    peak[0] = max(peak[0], proc.memory_info().rss)
    log.close()
    print(json.dumps({"baseline": baseline, "peak": peak[0], "events": n, "seconds": seconds}))


def build_big(path: str, events: list, n: int) -> float:
    """A recording of `n` events from a few thousand pre-encoded payloads; returns seconds."""
    sample = events[:4096]
    pre = [(name, source) + Log.encoder(model) for name, model, source, _off in sample]
    k = len(pre)
    # the payloads come from the encoder: skip re-validating them where the engine allows it
    extra = {"validate": False} if "validate" in inspect.signature(Log.append_encoded).parameters else {}
    t0 = time.perf_counter()
    with Log.create(path, "big", fsync="never") as log:
        append = log.append_encoded
        for i in range(n):
            name, source, data, flags, types = pre[i % k]
            append(name, source, flags, data, types, **extra)
    return time.perf_counter() - t0


# the run ------------------------------------------------------------------------------
def machine() -> str:
    from benchutil import cpu_model
    cpu = cpu_model()
    return (f"nproc {os.cpu_count()}, CPU {cpu}, Python {platform.python_version()}, "
            f"{platform.system()} {platform.release()}, {_dt.datetime.now(_dt.timezone.utc):%Y-%m-%d %H:%M UTC}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="smoke run: 20k events, 1 repetition")
    ap.add_argument("--big", action="store_true", help="also measure seek and memory at --big-events")
    ap.add_argument("--events", type=int, default=None, help="events of the main workload (200,000)")
    ap.add_argument("--big-events", type=int, default=10_000_000)
    ap.add_argument("--reps", type=int, default=None, help="repetitions, best taken (3)")
    ap.add_argument("--dir", default=None, help="where to write (default: a temporary directory)")
    ap.add_argument("--_read-rss", dest="read_rss", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.read_rss:
        _read_rss_main(args.read_rss)
        return 0

    n = args.events or (20_000 if args.quick else 200_000)
    reps = args.reps or (1 if args.quick else 3)
    slow_reps = min(reps, 2)   # the JSON recorder and MCAP are slow and only give ratios
    seeks = 30 if args.quick else 100
    print(f"# evlog storage benchmark: {n:,} events, best of {reps} (JSON recorder and MCAP: {slow_reps})")
    print(f"# machine: {machine()}")
    print(f"# command: {' '.join([os.path.basename(sys.executable)] + sys.argv)}")
    print(f"# load average at start: {' '.join(f'{x:.1f}' for x in os.getloadavg())} "
          f"(other jobs share the cores: figures are best of the repetitions)")
    t0 = time.perf_counter()
    events = workload(n)
    raw_mean = sum(len(m.__pydantic_serializer__.to_json(m)) for _, m, _, _ in events) / n
    print(f"# workload built in {time.perf_counter() - t0:.1f}s; mean event JSON {raw_mean:.0f} bytes; "
          f"{sum(e[0] == RARE for e in events)} x {RARE}")

    chunks = [[(name, model, source) for name, model, source, _off in events[i:i + BATCH]]
              for i in range(0, n, BATCH)]   # materialized before timing, as the models are
    base = tempfile.mkdtemp(prefix="evlog-bench-", dir=args.dir)
    r: dict[str, float] = {}
    try:
        # writes, interleaved so the noise of the machine hits every contender alike
        for rep in range(reps):
            for policy in ("always", "interval", "never"):
                a, t, ac, tc = write_evlog(fresh(base, f"evlog-{policy}"), events, policy)
                best(r, f"evlog_{policy}_append", a)
                best(r, f"evlog_{policy}_total", t)
                best(r, f"evlog_{policy}_append_cpu", ac)
                best(r, f"evlog_{policy}_total_cpu", tc)
            a, t, ac, tc = write_evlog_batched(fresh(base, "evlog-batched"), chunks, "always")
            best(r, "evlog_batched_append", a)
            best(r, "evlog_batched_total", t)
            best(r, "evlog_batched_total_cpu", tc)
            for label, cls, name in (("floor", FloorRecorder, "floor.bin"), ("json", JsonRecorder, "rec.json"),
                                     ("mcap", McapRecorder, "rec.mcap")):
                if label != "floor" and rep >= slow_reps:
                    continue
                a, t, ac, tc = write_baseline(cls, fresh(base, name), events)
                best(r, f"{label}_append", a)
                best(r, f"{label}_total", t)
                best(r, f"{label}_append_cpu", ac)
                best(r, f"{label}_total_cpu", tc)
        ev_path = os.path.join(base, "evlog-always")
        sizes = {"evlog": file_size(ev_path), "floor": file_size(os.path.join(base, "floor.bin")),
                 "json": file_size(os.path.join(base, "rec.json")), "mcap": file_size(os.path.join(base, "rec.mcap"))}

        # reads
        for rep in range(reps):
            sec, got, cpu = timed(lambda: read_evlog(ev_path))
            assert got == n, got
            best(r, "evlog_read", sec)
            best(r, "evlog_read_cpu", cpu)
            sec, got, cpu = timed(lambda: read_evlog(ev_path, names=RARE))
            assert got == len(range(RARE_EVERY // 2, n, RARE_EVERY)), got
            best(r, "evlog_rare", sec)
            best(r, "evlog_rare_cpu", cpu)
            # len(): the decoded events are freed inside the timing, as evlog's records are
            sec, _, cpu = timed(lambda: len(FloorRecorder.read_all(os.path.join(base, "floor.bin"))))
            best(r, "floor_read", sec)
            best(r, "floor_read_cpu", cpu)
            if rep >= slow_reps:
                continue
            best(r, "json_read", timed(lambda: len(JsonRecorder.read_all(os.path.join(base, "rec.json"))))[0])
            best(r, "mcap_read", timed(lambda: len(McapRecorder.read_all(os.path.join(base, "rec.mcap"))))[0])
            best(r, "mcap_rare", timed(lambda: sum(1 for _ in McapRecorder.iter_read(
                os.path.join(base, "rec.mcap"), topics=[RARE])))[0])
        seek_off, seek_time = seek_times(ev_path, mid_offsets(n, seeks))
        mem = read_rss_subprocess(ev_path)

        big: dict[str, Any] = {}
        if args.big:
            big_path = os.path.join(base, "evlog-big")
            print(f"# building the {args.big_events:,}-event recording...", flush=True)
            big["build"] = build_big(big_path, events, args.big_events)
            big["size"] = file_size(big_path)
            big["seek_off"], big["seek_time"] = seek_times(big_path, mid_offsets(args.big_events, seeks))
            big["mem"] = read_rss_subprocess(big_path)
            shutil.rmtree(big_path)
    finally:
        shutil.rmtree(base, ignore_errors=True)

    report(n, r, sizes, seek_off, seek_time, mem, big, args.big_events)
    return 0


def report(n: int, r: dict, sizes: dict, seek_off: float, seek_time: float, mem: dict, big: dict,
           big_n: int) -> None:
    def rate(sec: float) -> str:
        return f"{n / sec:,.0f} ev/s"

    def verdict(ok: bool) -> str:
        return "PASS" if ok else "MISS"

    rows: list[tuple[str, str, str, str]] = []
    append_rate = n / r["evlog_always_append"]
    rows.append(("sustained append >= 300,000 ev/s (fsync=always)",
                 f"{rate(r['evlog_always_append'])} ({n / r['evlog_always_append_cpu']:,.0f} per CPU-s)",
                 (f"floor {rate(r['floor_append'])} ({n / r['floor_append_cpu']:,.0f} per CPU-s), "
                 f"JSON rec. {rate(r['json_append'])}, "
                 f"MCAP {rate(r['mcap_append'])}"), verdict(append_rate >= 300_000)))
    dur = r["evlog_always_total"]
    rows.append(("durable file (create..close, fsync=always) <= 1.3x floor",
                 f"{dur:.2f} s ({r['evlog_always_total_cpu']:.2f} CPU-s)",
                 (f"{dur / r['floor_total']:.2f}x floor ({r['floor_total']:.2f} s; CPU "
                 f"{r['evlog_always_total_cpu'] / r['floor_total_cpu']:.2f}x), "
                 f"{dur / r['json_total']:.2f}x JSON rec. ({r['json_total']:.2f} s), "
                 f"{dur / r['mcap_total']:.2f}x MCAP ({r['mcap_total']:.2f} s)"),
                 verdict(dur <= 1.3 * r["floor_total"])))
    bt = r["evlog_batched_total"]
    rows.append((f"  context: Log.append_batch of {BATCH:,} models a call (fsync=always)",
                 f"{rate(r['evlog_batched_append'])} / {bt:.2f} s ({r['evlog_batched_total_cpu']:.2f} CPU-s)",
                 f"{bt / r['floor_total']:.2f}x floor", "-"))
    for policy in ("interval", "never"):
        rows.append((f"  context: fsync={policy} append / durable file",
                     f"{rate(r[f'evlog_{policy}_append'])} / {r[f'evlog_{policy}_total']:.2f} s",
                     f"{r[f'evlog_{policy}_total'] / r['floor_total']:.2f}x floor", "-"))
    s = sizes["evlog"]
    rows.append(("size on disk <= 1.1x floor", f"{s / MIB:.2f} MiB ({s / n:.1f} B/ev)",
                 (f"{s / sizes['floor']:.2f}x floor ({sizes['floor'] / MIB:.2f} MiB), "
                 f"JSON rec. {sizes['json'] / s:.1f}x bigger ({sizes['json'] / MIB:.1f} MiB), "
                 f"MCAP {sizes['mcap'] / MIB:.2f} MiB"), verdict(s <= 1.1 * sizes["floor"])))
    rd = r["evlog_read"]
    rows.append(("full read >= 600,000 ev/s (data decoded)",
                 f"{rate(rd)} ({n / r['evlog_read_cpu']:,.0f} per CPU-s)",
                 (f"{r['json_read'] / rd:.2f}x JSON rec. ({rate(r['json_read'])}), "
                 f"{r['mcap_read'] / rd:.2f}x MCAP ({rate(r['mcap_read'])}), "
                 f"floor {rate(r['floor_read'])} ({n / r['floor_read_cpu']:,.0f} per CPU-s)"),
                 verdict(n / rd >= 600_000)))
    rare = r["evlog_rare"]
    rows.append((f"read of rare name ({RARE}) >= 5x faster than full", f"{rare * 1e3:.0f} ms",
                 (f"{rd / rare:.1f}x faster than full read (CPU: {r['evlog_read_cpu'] / r['evlog_rare_cpu']:.1f}x); "
                 f"MCAP topic read {r['mcap_rare'] * 1e3:.0f} ms "
                 f"({r['mcap_read'] / r['mcap_rare']:.1f}x its full)"), verdict(rd / rare >= 5)))
    rows.append(("seek to mid offset / time < 2 ms (median)", f"{seek_off:.2f} / {seek_time:.2f} ms", "",
                 verdict(max(seek_off, seek_time) < 2)))
    grow = (mem["peak"] - mem["baseline"]) / MIB
    rows.append((f"memory while reading ({n:,}) within 64 MiB", f"+{grow:.1f} MiB",
                 f"baseline RSS {mem['baseline'] / MIB:.0f} MiB, peak {mem['peak'] / MIB:.0f} MiB",
                 verdict(grow <= 64)))
    if big:
        rows.append((f"seek at {big_n:,} events < 5 ms (offset / time)",
                     f"{big['seek_off']:.2f} / {big['seek_time']:.2f} ms",
                     (f"built in {big['build']:.0f} s with append_encoded ({big_n / big['build']:,.0f} ev/s), "
                     f"{big['size'] / MIB:.0f} MiB"), verdict(max(big["seek_off"], big["seek_time"]) < 5)))
        bm = big["mem"]
        bgrow = (bm["peak"] - bm["baseline"]) / MIB
        rows.append((f"memory while reading ({big_n:,}) within 64 MiB", f"+{bgrow:.1f} MiB",
                     (f"baseline {bm['baseline'] / MIB:.0f} MiB, peak {bm['peak'] / MIB:.0f} MiB; "
                     f"read at {bm['events'] / bm['seconds']:,.0f} ev/s"), verdict(bgrow <= 64)))

    print()
    print("| target | evlog | baselines | result |")
    print("|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    misses = sum(row[3] == "MISS" for row in rows)
    print(f"\n# {sum(row[3] == 'PASS' for row in rows)} PASS, {misses} MISS")
    print(f"# load average at the end: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    sys.exit(main())
