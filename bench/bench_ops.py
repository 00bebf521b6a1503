"""Benchmark of the log operations (evlog.ops) on large recordings.

Each operation runs in a fresh child process (peak RSS from the kernel's rusage), on a
recording of N events and on one of N/10: equal peaks mean memory does not grow with the
recording. Throughputs are compared with the floor measured in the same run: reading every
record raw (`Log.read(raw=True)`), the least any operation must do.

    python bench/bench_ops.py            # N = 1,000,000 (~3-5 min on 2 cores)
    python bench/bench_ops.py --quick    # smoke run (N = 20,000)
    python bench/bench_ops.py --only merge   # one operation (repeatable), its floor included

Workload: the simulated trading bot of `evlog.demo` (~200-byte pydantic events); merge
inputs are two N/2 recordings with interleaved timestamps; the diff's second recording has
1% of its events changed (0.5% data changed, 0.25% inserted, 0.25% deleted).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path[:0] = [ROOT]

from evlog import ops
from evlog.demo import trading_session
from evlog import Log   # the engine's Log with an encoder of pydantic models
from evlog.segments.codec import encode_json

START = 1_760_000_000_000_000_000
TARGET_RATE = 200_000     # events/s
TARGET_INFO_MS = 100
# --only NAME -> the operation's row
SHORT_NAMES = {"info": "info", "export": "export jsonl", "export-json": "export json (original)",
               "slice": "slice (all)", "merge": "merge 2 x N/2", "diff": "diff (1% changes)"}


# building the recordings ------------------------------------------------------------------
def templates(k: int = 4096) -> list[tuple]:
    return [(name, source, off) + Log.encoder(model) for name, model, source, off in trading_session(k)]


def build(path: str, n: int, pre: list[tuple], *, step: int = 1, phase: int = 0, edit_every: int = 0) -> None:
    """n events cycling over pre-encoded payloads, wall time = START + i*step + phase (µs).
    With edit_every, every edit_every-th event is changed, inserted before or deleted, in turn."""
    k = len(pre)
    with Log.create(path, os.path.basename(path), start_time_ns=START + phase * 1000, fsync="never") as log:
        append = log.append_encoded
        edits = 0
        for i in range(n):
            name, source, _off, data, flags, types = pre[i % k]
            mono = (i * step) * 1000
            ts = START + phase * 1000 + mono
            if edit_every and i % edit_every == edit_every // 2:
                edits += 1
                kind = edits % 4
                if kind == 1:     # deleted
                    continue
                if kind == 2:     # inserted before
                    append("Injected", "bench", 0, encode_json({"i": i}), b"", timestamp=ts, monotonic=mono)
                else:             # data changed
                    data = data.replace(b'"pair":"', b'"pair":"X', 1) if b'"pair":"' in data else encode_json({"changed": i})
                    flags &= ~1
                    types = b""
            append(name, source, flags, data, types, timestamp=ts, monotonic=mono)


# the children --------------------------------------------------------------------------------
def child(args: list[str]) -> None:
    op = args[0]
    t0 = time.perf_counter()
    c0 = time.process_time()
    if op == "read":
        n = sum(1 for _ in Log.open(args[1]).read(raw=True))
    elif op == "info":
        n = ops.info(args[1])["total_events"]
    elif op == "export":
        n = ops.export(args[1], args[2], format="jsonl")
    elif op == "export-json":
        n = ops.export(args[1], args[2], format="json")
    elif op == "slice":
        n = ops.slice_recording(args[1], args[2])
    elif op == "merge":
        n = ops.merge([args[1], args[2]], args[3])
    elif op == "diff":
        r = ops.diff(args[1], args[2], max_differences=0)
        n = r.summary.baseline_events
        assert not r.equal
    else:
        raise SystemExit(f"unknown child op {op}")
    print(json.dumps({"events": n, "seconds": time.perf_counter() - t0, "cpu_seconds": time.process_time() - c0}))


def run_child(*args: str) -> dict:
    proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--child", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _pid, status, usage = os.wait4(proc.pid, 0)
    out, err = proc.stdout.read(), proc.stderr.read()  # type: ignore[union-attr]
    proc.stdout.close()  # type: ignore[union-attr]
    proc.stderr.close()  # type: ignore[union-attr]
    if status != 0:
        raise SystemExit(f"child {args} failed:\n{err}")
    result = json.loads(out.strip().splitlines()[-1])
    result["peak_rss_mib"] = usage.ru_maxrss / 1024
    return result


# the run --------------------------------------------------------------------------------------
def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="smoke run on 20,000 events")
    ap.add_argument("--events", type=int, default=None, help="N (default 1,000,000; 20,000 with --quick)")
    ap.add_argument("--dir", default=None, help="work directory (default: a temporary one)")
    ap.add_argument("--only", action="append", choices=list(SHORT_NAMES), default=None,
                    help="run only this operation (repeatable); default: all")
    ap.add_argument("--child", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        child(a.child)
        return 0
    n = a.events or (20_000 if a.quick else 1_000_000)
    small = max(n // 10, 1000)
    work = a.dir or tempfile.mkdtemp(prefix="evlog-bench-ops-")
    os.makedirs(work, exist_ok=True)
    try:
        return run(work, n, small, [v for k, v in SHORT_NAMES.items() if not a.only or k in a.only])
    finally:
        if a.dir is None:
            shutil.rmtree(work, ignore_errors=True)


def run(work: str, n: int, small: int, ops_list: list[str]) -> int:
    print(f"evlog ops benchmark: N={n:,} (memory check at N/10={small:,}); {platform.python_implementation()} "
          f"{platform.python_version()}, {os.cpu_count()} cpus, {platform.machine()}")
    pre = templates()
    t = time.perf_counter()
    sets = {}
    for size in (small, n):
        d = os.path.join(work, str(size))
        os.makedirs(d, exist_ok=True)
        p = {k: os.path.join(d, k) for k in ("base", "edited", "half1", "half2")}
        build(p["base"], size, pre)                           # every operation's floor is read from it
        if "diff (1% changes)" in ops_list:
            build(p["edited"], size, pre, edit_every=100)
        if "merge 2 x N/2" in ops_list:
            build(p["half1"], size // 2, pre, step=2)             # even microseconds
            build(p["half2"], size // 2, pre, step=2, phase=1)    # odd ones: fully interleaved
        sets[size] = p
    print(f"built the recordings in {time.perf_counter() - t:.0f} s\n")

    results: dict = {}
    floors: dict = {}
    for size in (small, n):
        p = sets[size]
        out = os.path.join(work, f"out{size}")
        os.makedirs(out, exist_ok=True)
        commands = {
            "info": ("info", p["base"]),
            "export jsonl": ("export", p["base"], os.path.join(out, "x.jsonl")),
            "export json (original)": ("export-json", p["base"], os.path.join(out, "x.json")),
            "slice (all)": ("slice", p["base"], os.path.join(out, "slice")),
            "merge 2 x N/2": ("merge", p["half1"], p["half2"], os.path.join(out, "merged")),
            "diff (1% changes)": ("diff", p["base"], p["edited"]),
        }
        results[size] = {}
        for op in ops_list:
            if size == n:   # the floor right before each operation: the machine's load drifts
                floor = run_child("read", p["base"])
                floors[op] = (floor["events"] / floor["seconds"], floor["events"] / floor["cpu_seconds"])
            results[size][op] = run_child(*commands[op])
        shutil.rmtree(out, ignore_errors=True)
    print(f"{'operation':<24} {'events':>10} {'time':>9} {'events/s':>11} {'read/s':>9} {'vs read':>8} "
          f"{'ev/CPU-s':>10} {'read/CPU-s':>10} {'RSS N/10':>9} {'RSS N':>8} {'RSS ratio':>9}  target")
    ok = True
    for op in ops_list:
        big, little = results[n][op], results[small][op]
        rate = big["events"] / big["seconds"] if big["seconds"] else float("inf")
        ratio = big["peak_rss_mib"] / little["peak_rss_mib"]
        if op == "info":
            target = f"< {TARGET_INFO_MS} ms: {'yes' if big['seconds'] * 1000 < TARGET_INFO_MS else 'NO'}"
            ok &= big["seconds"] * 1000 < TARGET_INFO_MS
            time_s = f"{big['seconds'] * 1000:.1f} ms"
        else:
            time_s = f"{big['seconds']:.2f} s"
            target = ""
            if op in ("export jsonl", "merge 2 x N/2", "diff (1% changes)"):
                met = rate >= TARGET_RATE
                ok &= met
                target = f">= {TARGET_RATE:,}/s: {'yes' if met else 'NO'}"
        cpu_rate = big["events"] / big["cpu_seconds"] if big["cpu_seconds"] else float("inf")
        print(f"{op:<24} {big['events']:>10,} {time_s:>9} {rate:>11,.0f} {floors[op][0]:>9,.0f} "
              f"{rate / floors[op][0]:>7.2f}x {cpu_rate:>10,.0f} {floors[op][1]:>10,.0f} "
              f"{little['peak_rss_mib']:>7.0f}Mi {big['peak_rss_mib']:>6.0f}Mi {ratio:>8.2f}x  {target}")
    print("\nread/s: the N-event recording read raw (Log.read(raw=True)), measured right before each operation;")
    if "diff (1% changes)" in ops_list:
        d = results[n]["diff (1% changes)"]
        print(f"diff: events/s counts the baseline's events; it reads both recordings, "
              f"{2 * d['events'] / d['seconds']:,.0f} events/s in all.")
        print("diff reads two recordings, so its floor is 0.50x of read/s.")
    print("ev/CPU-s: events per second of CPU time of the process (all threads): the figure least")
    print("sensitive to a loaded machine.")
    print("\nmemory flat = peak RSS at N close to peak RSS at N/10 (ratio ~1.0x).")
    print(f"targets {'met' if ok else 'NOT all met'} on this machine (shared, noisy: compare the 'vs read' ratios).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
