"""Benchmark of the user's path: `EventRecorder` on an in-process `ServiceBus`, pydantic trading
events with Decimal and datetime fields (`evlog.demo`). Every figure is measured against its
baseline in the same run, rounds interleaved (the machine is shared and noisy); PASS/MISS per
target with the ratio.

    .venv/bin/python bench/bench_recorder.py            # 200,000 events, 3 rounds (~6-10 min on 2 loaded cores)
    .venv/bin/python bench/bench_recorder.py --quick    # smoke run

(a) The tight publish loop's cost per event (bus + recorder, on the publishing thread, the
    recorder's threads sharing the GIL meanwhile) with evlog's recorder vs the original tool's
    (`model_dump()` and a dict appended to a list, bench/baselines.py); target evlog <= original.
(b) Record -> durable file: from `start_recording` to `flush()` returning (every event
    fsynced) vs the floor (pydantic JSON + zstd level 3 in 1 MiB blocks + write + fsync, the
    same events); target <= 1.3x.
(c) Publish latency p50/p99 at a paced 10,000 events/s while the writer compresses; target
    p99 <= 20 us. Beside it at the same pace: the bus alone, the snapshot alone (the codec's
    encode of each event, no recorder) and the original recorder.
(d) Size on disk of (b)'s recording vs the floor's file; target <= 1.1x.
(e) Full replay at max speed (`EventReplayer.replay(bus, "max")`) delivering dicts into a
    counting bus vs the floor's decode (zstd + `orjson.loads` of each event; msgspec where
    orjson is not installed); target evlog's rate >= 0.7x the floor's.
(f) Replay of a rare name (`event_filter=NAME`, ~0.35 % of the events) vs the full replay;
    target >= 5x faster.
(g) Seek: a replay from a mid-recording offset (and time) to its first event, median over
    offsets spread across the middle half (each in another block); target < 2 ms.
(h) Replay memory: a fresh process replays the first N/10 and then all N events; its peak
    RSS growth over the RSS after opening must not grow with what is replayed (flat: the two
    growths within 4 MiB).
(i) Beside it, the same events through the original tool (its recorder on the bus, its JSON
    file saved, its replay loop: whole-file `json.load`, `sleep`-free at max speed) and MCAP
    (the `mcap` package's writer and reader, zstd chunks; skipped, and said so, where it is
    not installed).
(m) Mutation after publish: one object mutated in place and published again 20,000 times
    (a pydantic model with Decimal and datetime fields, a dict, nested lists); every recorded
    event must equal its value at publish: 0 wrong.
"""
from __future__ import annotations

import argparse
import copy
import datetime as _dt
import gc
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from typing import Any, Callable

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.dirname(HERE)]

import zstandard  # noqa: E402
from baselines import FloorRecorder, McapRecorder, OriginalRecorder, file_size  # noqa: E402
from benchutil import cpu_model, pct, verdict  # noqa: E402

from evlog.bus import CountingBus, ServiceBus  # noqa: E402
from evlog.codec import encode  # noqa: E402
from evlog.demo import MarketPriceFetched, trading_session  # noqa: E402
from evlog.recorder import EventRecorder  # noqa: E402
from evlog.recording import open_recording  # noqa: E402
from evlog.replayer import EventReplayer  # noqa: E402

try:   # the floor's decoder, as issue 11 defines it; msgspec (a dependency) where orjson is absent
    from orjson import loads as json_loads
    FLOOR_DECODER = "orjson.loads"
except ImportError:  # pragma: no cover - depends on the environment
    import msgspec
    json_loads = msgspec.json.decode
    FLOOR_DECODER = "msgspec.json.decode (orjson not installed)"

try:   # the MCAP baseline is optional (evlog[bench])
    import mcap.reader  # noqa: F401
    import mcap.writer  # noqa: F401
    HAVE_MCAP = True
except ImportError:
    HAVE_MCAP = False

RARE = "PriceFetchFailed"   # the demo's name closest to 0.5 % of the events


def new_bus() -> ServiceBus:
    bus = ServiceBus()
    bus.subscribe("*", lambda name, event, source: None)   # one subscriber, as a real bus has
    return bus


def publish_loop(bus: Any, events: list, cpu: dict | None = None) -> float:
    """Seconds to publish every event, back to back; `cpu` gets the CPU seconds of the
    publishing thread and of the whole process (its other threads included) meanwhile."""
    publish = bus.publish
    gc.collect()
    c0, p0 = time.thread_time(), time.process_time()
    t0 = time.perf_counter()
    for name, event, source, _ in events:
        publish(name, event, source)
    t1 = time.perf_counter()
    if cpu is not None:
        cpu["thread"], cpu["process"] = time.thread_time() - c0, time.process_time() - p0
    return t1 - t0


# (a) the publish loop ----------------------------------------------------------------------
def loop_round(events: list, tmp: str, rnd: int) -> dict:
    out: dict = {"bus": publish_loop(new_bus(), events)}
    bus = new_bus()
    orig = OriginalRecorder()
    orig.start_recording(bus)
    cpu: dict = {}
    out["original"] = publish_loop(bus, events, cpu)
    out["original_cpu"] = cpu["process"]
    orig.stop_recording()
    assert len(orig.events) == len(events)
    del orig
    bus = new_bus()
    rec = EventRecorder(f"loop{rnd}", tmp)
    rec.start_recording(bus)
    out["evlog"] = publish_loop(bus, events, cpu)
    out["evlog_cpu"], out["evlog_thread_cpu"] = cpu["process"], cpu["thread"]
    rec.stop_recording()
    assert rec.flush() == len(events) and rec.info()["lost"] == 0
    rec.close()
    shutil.rmtree(rec.path)
    return out


# (b) record -> durable ---------------------------------------------------------------------
def durable_round(events: list, tmp: str, rnd: int, keep: bool = False) -> dict:
    """(b) one round; with `keep`, the floor's file and evlog's recording stay (for (d)-(h)):
    their paths are in the result."""
    gc.collect()
    path = os.path.join(tmp, f"floor{rnd}.bin")
    c0, t0 = time.process_time(), time.perf_counter()
    floor = FloorRecorder(path)
    for name, event, source, off in events:
        floor.append(name, event, source, off)
    floor.close()
    out: dict = {"floor": time.perf_counter() - t0, "floor_cpu": time.process_time() - c0,
                 "floor_size": file_size(path)}
    if keep:
        out["floor_path"] = path
    else:
        os.remove(path)
    bus = new_bus()
    rec = EventRecorder(f"durable{rnd}", tmp)   # fsync="always"
    gc.collect()
    c0, t0 = time.process_time(), time.perf_counter()
    rec.start_recording(bus)
    publish = bus.publish
    for name, event, source, _ in events:
        publish(name, event, source)
    durable = rec.flush()
    out["evlog"] = time.perf_counter() - t0
    out["evlog_cpu"] = time.process_time() - c0   # every thread: publisher, recorder, log writer
    assert durable == len(events), (durable, rec.info())
    rec.close()
    out["evlog_size"] = file_size(str(rec.path))
    if keep:
        out["evlog_path"] = str(rec.path)
    else:
        shutil.rmtree(rec.path)
    return out


# (c) paced latency -------------------------------------------------------------------------
def paced(bus: Any, events: list, rate: float) -> list[int]:
    """Publish at `rate` events/s (sleeping until each is due, as a bot waiting on I/O does);
    returns each publish call's duration in ns."""
    clock = time.perf_counter_ns
    publish = bus.publish
    gap = 1e9 / rate
    times = []
    gc.collect()
    start = clock()
    for i, (name, event, source, _) in enumerate(events):
        wait = start + i * gap - clock()
        if wait > 0:
            time.sleep(wait / 1e9)
        t0 = clock()
        publish(name, event, source)
        times.append(clock() - t0)
    return times


def latency_round(events: list, tmp: str, rnd: int, rate: float) -> dict:
    """The recorder's publish latencies at `rate`, and beside them (same pace, a fifth of the
    events each) the bus alone, the snapshot alone (`evlog.codec.encode` of each event kept in
    a list, no recorder: the floor of any faithful capture) and the original recorder."""
    bus = new_bus()
    rec = EventRecorder(f"paced{rnd}", tmp)
    rec.start_recording(bus)
    times = paced(bus, events, rate)
    rec.stop_recording()
    info = rec.info()
    rec.close()
    shutil.rmtree(rec.path)
    assert info["recorded"] == len(events)
    some = events[: len(events) // 5]
    base = paced(new_bus(), some, rate)
    snap_bus = new_bus()
    kept: list = []
    inner = snap_bus.publish

    def snapshot_publish(name: str, event: Any, source: str) -> Any:
        kept.append(encode(event))
        return inner(name, event, source)
    snap_bus.publish = snapshot_publish   # type: ignore[method-assign]
    snap = paced(snap_bus, some, rate)
    orig_bus = new_bus()
    orig = OriginalRecorder()
    orig.start_recording(orig_bus)
    original = paced(orig_bus, some, rate)
    orig.stop_recording()
    return {"p50": pct(times, 0.5), "p99": pct(times, 0.99), "max": float(max(times)),
            "bus_p50": pct(base, 0.5), "bus_p99": pct(base, 0.99),
            "snap_p50": pct(snap, 0.5), "snap_p99": pct(snap, 0.99),
            "orig_p50": pct(original, 0.5), "orig_p99": pct(original, 0.99)}


# (e)-(i) reading it back ---------------------------------------------------------------------
def floor_decode(path: str) -> int:
    """The floor's read: each 1 MiB block decompressed, each event's JSON decoded to a dict."""
    dctx = zstandard.ZstdDecompressor()
    loads = json_loads
    n = 0
    with open(path, "rb") as f:
        while True:
            head = f.read(4)
            if not head:
                return n
            raw = dctx.decompress(f.read(int.from_bytes(head, "little")))
            for line in raw.split(b"\n"):
                loads(line)
                n += 1


def original_replay(path: str, only: str | None = None) -> int:
    """The original tool's replay loop at max speed: the whole file loaded, then each event
    published (its `sleep` per gap skipped); a name filter is the same loop with a test."""
    bus = CountingBus()
    with open(path, encoding="utf-8") as f:
        events = json.load(f)["events"]
    for ev in events:
        if only is None or ev["event_name"] == only:
            bus.publish(ev["event_name"], ev["event_data"], ev["source"])
    return bus.count


def mcap_replay(path: str, only: str | None = None) -> int:
    bus = CountingBus()
    for topic, _t, data in McapRecorder.iter_read(path, topics=None if only is None else [only]):
        bus.publish(topic, data, "")
    return bus.count


def evlog_replay(replayer: EventReplayer, only: str | None = None) -> int:
    bus = CountingBus()
    res = replayer.replay(bus, speed_multiplier="max", event_filter=only)
    assert bus.count == res.published
    return bus.count


def cli_replay(path: str) -> int:
    """`evlog replay PATH --speed max` in a child process, its JSON Lines to /dev/null."""
    subprocess.run([sys.executable, "-m", "evlog", "replay", path, "--speed", "max", "-q"], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return 0


def timed(fn: Callable[[], int]) -> tuple[float, int]:
    gc.collect()
    t0 = time.perf_counter()
    n = fn()
    return time.perf_counter() - t0, n


def baseline_files(events: list, tmp: str) -> dict:
    """The original tool's file (its recorder on a bus, then save) and an MCAP file of the
    same events, each timed from the first event to durable, beside a floor round."""
    out: dict = {}
    bus = new_bus()
    orig = OriginalRecorder()
    gc.collect()
    t0 = time.perf_counter()
    orig.start_recording(bus)
    publish = bus.publish
    for name, event, source, _ in events:
        publish(name, event, source)
    orig.stop_recording()
    out["orig_path"] = os.path.join(tmp, "original.json")
    orig.save(out["orig_path"])
    out["orig_durable"] = time.perf_counter() - t0
    del orig
    out["orig_size"] = file_size(out["orig_path"])
    if HAVE_MCAP:
        out["mcap_path"] = os.path.join(tmp, "events.mcap")
        gc.collect()
        t0 = time.perf_counter()
        w = McapRecorder(out["mcap_path"])
        for name, event, source, off in events:
            w.append(name, event, source, off)
        w.close()
        out["mcap_durable"] = time.perf_counter() - t0
        out["mcap_size"] = file_size(out["mcap_path"])
    return out


def read_rounds(floor_path: str, evlog_path: str, files: dict, rounds: int) -> dict:
    """(e), (f) and (i)'s reads, interleaved, best of `rounds`."""
    replayer = EventReplayer(evlog_path)
    runs: list[tuple[str, Callable[[], int]]] = [
        ("floor", lambda: floor_decode(floor_path)),
        ("full", lambda: evlog_replay(replayer)),
        ("rare", lambda: evlog_replay(replayer, RARE)),
        ("orig_full", lambda: original_replay(files["orig_path"])),
        ("orig_rare", lambda: original_replay(files["orig_path"], RARE)),
    ]
    if HAVE_MCAP:
        runs += [("mcap_full", lambda: mcap_replay(files["mcap_path"])),
                 ("mcap_rare", lambda: mcap_replay(files["mcap_path"], RARE))]
    best: dict = {}
    counts: dict = {}
    for _ in range(rounds):
        for key, fn in runs:
            t, n = timed(fn)
            best[key] = min(best.get(key, t), t)
            counts[key] = n
    replayer.close()
    assert counts["full"] == counts["floor"] == counts["orig_full"], counts
    assert counts["rare"] == counts["orig_rare"], counts
    return {"best": best, "counts": counts}


def seeks(evlog_path: str, n: int, samples: int) -> dict:
    """(g) A replay from each of `samples` offsets (then times) spread over the middle half,
    to its first event: the time of the whole `replay` call, median."""
    replayer = EventReplayer(evlog_path)
    offsets = [n // 4 + i * (n // 2) // samples for i in range(samples)]
    with open_recording(evlog_path) as recording:
        monos = {r.offset: r.monotonic for o in offsets for r in recording.read(o, o + 1)}
    out: dict = {}
    for kind in ("offset", "time"):
        times = []
        for o in offsets:
            bus = CountingBus()
            gc.collect()
            t0 = time.perf_counter()
            if kind == "offset":
                replayer.replay(bus, speed_multiplier="max", start=o, end=o + 1)
            else:
                _first_from(replayer, bus, _dt.timedelta(microseconds=monos[o] / 1000))
            times.append(time.perf_counter() - t0)
            assert bus.count == 1, bus.count
        out[kind] = statistics.median(times) * 1e3
    replayer.close()
    return out


class _StopAfterOne(Exception):
    pass


def _first_from(replayer: EventReplayer, bus: CountingBus, start: Any) -> None:
    """A replay from a time, ended by the bus at its first event (stop_on_error)."""
    def publish(name: str, event: Any, source: str) -> None:
        bus.publish(name, event, source)
        raise _StopAfterOne
    res = replayer.replay(publish, speed_multiplier="max", start=start, stop_on_error=True)
    assert res.failed == 1


def replay_memory(evlog_path: str, n: int) -> dict:
    """(h) In a fresh process per size: RSS after opening, then the peak while replaying."""
    out = {}
    for end in (n // 10, n):
        proc = subprocess.run([sys.executable, os.path.abspath(__file__), "--replay-memory", evlog_path,
                               "--end", str(end)], capture_output=True, text=True, check=True)
        opened, peak = map(int, proc.stdout.split())
        out[end] = (peak - opened) / 2**20
    return out


def _status_kib(key: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {key} in /proc/self/status")


def replay_memory_child(path: str, end: int) -> int:
    replayer = EventReplayer(path)
    opened = _status_kib("VmRSS")
    replayer.replay(CountingBus(), speed_multiplier="max", end=end)
    print(opened, _status_kib("VmHWM"))
    return 0


# (m) mutation after publish ------------------------------------------------------------------
T0 = _dt.datetime(2025, 10, 12, 10, 0, tzinfo=_dt.timezone.utc)


def _mutate_model(m: MarketPriceFetched, i: int) -> None:
    m.cycle_id = i
    m.current_price = Decimal(50_000) + Decimal(i) / 100
    m.timestamp = T0 + _dt.timedelta(microseconds=i)


def _mutate_dict(d: dict, i: int) -> None:
    d["i"] = i
    d["price"] = Decimal(i) / 8
    d["at"] = T0 + _dt.timedelta(seconds=i)
    d["levels"][0][:] = [i, -i]   # a nested list changed in place (not grown: the check stays linear)


def _mutate_list(x: list, i: int) -> None:
    x[0] = i
    x[1][0] = [i, str(i)]


MUTATIONS: dict[str, tuple[Callable[[], Any], Callable[[Any, int], None], Callable[[Any], Any],
                           Callable[[Any, Any], bool]]] = {
    "pydantic model": (lambda: MarketPriceFetched(cycle_id=0, pair="BTC/USDT", current_price=Decimal(1),
                                                  bid=Decimal(1), ask=Decimal(2), volume_24h=1.0,
                                                  exchange="binance", timestamp=T0),
                       _mutate_model, lambda m: m.model_copy(deep=True),
                       lambda data, want: MarketPriceFetched.model_validate(data) == want),
    "dict": (lambda: {"i": 0, "price": Decimal(0), "at": T0, "levels": [[]]}, _mutate_dict, copy.deepcopy,
             lambda data, want: data == want),
    "nested lists": (lambda: [0, [[0, "0"]]], _mutate_list, copy.deepcopy, lambda data, want: data == want),
}


def mutation_check(tmp: str, n: int) -> dict[str, int]:
    wrong = {}
    for label, (make, mutate, snapshot, equal) in MUTATIONS.items():
        bus = new_bus()
        rec = EventRecorder("mutation", tmp)
        rec.start_recording(bus)
        obj, wanted = make(), []
        for i in range(n):
            mutate(obj, i)
            wanted.append(snapshot(obj))
            bus.publish("Tick", obj, "bot")
        rec.stop_recording()
        path = rec.save()
        with open_recording(path) as recording:
            got = [r.data for r in recording.read()]
        wrong[label] = (n - len(got)) + sum(1 for g, w in zip(got, wanted) if not equal(g, w))
        shutil.rmtree(path)
    return wrong


# --------------------------------------------------------------------------------------------
def spread(values: list[float]) -> str:
    return f"{min(values):.2f}-{max(values):.2f}" if len(values) > 1 else f"{values[0]:.2f}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=200_000, help="events of (a), (b) and the recording read back")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds of (a), (b) and the reads")
    ap.add_argument("--paced-events", type=int, default=50_000, help="events of (c), at --rate")
    ap.add_argument("--rate", type=float, default=10_000.0, help="events/s of (c)")
    ap.add_argument("--seeks", type=int, default=50, help="seeks of (g), each kind")
    ap.add_argument("--mutations", type=int, default=20_000, help="publishes per object in (m)")
    ap.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    ap.add_argument("--replay-memory", metavar="PATH", help=argparse.SUPPRESS)   # (h)'s child process
    ap.add_argument("--end", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.replay_memory:
        return replay_memory_child(args.replay_memory, args.end)
    if args.quick:
        args.events, args.rounds, args.paced_events, args.mutations, args.seeks = 20_000, 1, 5_000, 2_000, 10
    tmp = tempfile.mkdtemp(prefix="evlog-bench-recorder-")
    try:
        print(f"machine: {cpu_model()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
              f"load average {os.getloadavg()[0]:.2f}")
        events = list(trading_session(args.events))
        size = sum(len(e[1].model_dump_json()) for e in events[:2000]) / min(2000, len(events))
        print(f"workload: {len(events):,} demo events (pydantic, Decimal and datetime fields, "
              f"~{size:.0f} bytes of JSON), a ServiceBus with one subscriber")

        loops, durables = [], []
        for rnd in range(args.rounds):
            loops.append(loop_round(events, tmp, rnd))
            durables.append(durable_round(events, tmp, rnd, keep=rnd == args.rounds - 1))
        n = len(events)
        print(f"\n(a) tight publish loop, per event ({args.rounds} rounds; best, then the range of the ratio)")
        best = {k: min(r[k] for r in loops) / n * 1e6 for k in ("bus", "original", "evlog")}
        ratios = [r["evlog"] / r["original"] for r in loops]
        ratio = best["evlog"] / best["original"]
        print(f"    bus alone {best['bus']:.2f} us; original recorder {best['original']:.2f} us "
              f"(+{best['original'] - best['bus']:.2f}); evlog recorder {best['evlog']:.2f} us "
              f"(+{best['evlog'] - best['bus']:.2f})")
        print(f"    evlog / original = {ratio:.2f} (rounds {spread(ratios)}) [{verdict(ratio <= 1.0)} <= 1.0]")
        cpu_best = {k: min(r[k] for r in loops) / n * 1e6 for k in ("original_cpu", "evlog_cpu", "evlog_thread_cpu")}
        print(f"    CPU per event during the loop: original {cpu_best['original_cpu']:.2f} us; evlog "
              f"{cpu_best['evlog_cpu']:.2f} us (publishing thread {cpu_best['evlog_thread_cpu']:.2f} us, "
              f"the recorder's and the log's threads the rest)")

        print(f"\n(b) record -> durable file, {n:,} events ({args.rounds} rounds)")
        fl = min(r["floor"] for r in durables)
        ev = min(r["evlog"] for r in durables)
        ratios = [r["evlog"] / r["floor"] for r in durables]
        print(f"    floor (pydantic JSON + zstd-3 1 MiB blocks + write + fsync) {fl:.3f} s; "
              f"EventRecorder start_recording -> flush() {ev:.3f} s")
        print(f"    evlog / floor = {ev / fl:.2f} (rounds {spread(ratios)}) [{verdict(ev / fl <= 1.3)} <= 1.3]")
        fc, ec = min(r["floor_cpu"] for r in durables), min(r["evlog_cpu"] for r in durables)
        print(f"    CPU (all threads, best round): floor {fc:.3f} s, evlog {ec:.3f} s = {ec / fc:.2f}x "
              f"(the figure a loaded machine distorts least)")

        lat = latency_round(events[: args.paced_events], tmp, 0, args.rate)
        print(f"\n(c) publish latency at a paced {args.rate:,.0f} events/s, {args.paced_events:,} events "
              f"(writer compressing meanwhile)")
        print(f"    evlog recorder p50 {lat['p50'] / 1e3:.2f} us, p99 {lat['p99'] / 1e3:.2f} us "
              f"[{verdict(lat['p99'] <= 20_000)} <= 20], max {lat['max'] / 1e3:.0f} us")
        for key, label in (("bus", "bus alone"), ("snap", "snapshot alone (codec.encode, no recorder)"),
                           ("orig", "original recorder (model_dump)")):
            print(f"    {label:43s} p50 {lat[key + '_p50'] / 1e3:.2f} us, p99 {lat[key + '_p99'] / 1e3:.2f} us")

        last = durables[-1]
        files = baseline_files(events, tmp)
        del events
        mib = 2 ** 20
        print(f"\n(d) size on disk, {n:,} events")
        size_ratio = last["evlog_size"] / last["floor_size"]
        print(f"    evlog recording {last['evlog_size'] / mib:.2f} MiB ({last['evlog_size'] / n:.1f} B/event); "
              f"floor {last['floor_size'] / mib:.2f} MiB; evlog / floor = {size_ratio:.2f} "
              f"[{verdict(size_ratio <= 1.1)} <= 1.1]")

        reads = read_rounds(last["floor_path"], last["evlog_path"], files, max(2, args.rounds))
        b = reads["best"]
        rare_n = reads["counts"]["rare"]
        print(f"\n(e) full replay at max speed delivering dicts, {n:,} events (best of {max(2, args.rounds)})")
        e_ratio = b["floor"] / b["full"]
        print(f"    EventReplayer.replay(bus, 'max') {n / b['full']:,.0f} ev/s ({b['full']:.3f} s); floor decode "
              f"(zstd + {FLOOR_DECODER} per event) {n / b['floor']:,.0f} ev/s ({b['floor']:.3f} s)")
        print(f"    evlog / floor = {e_ratio:.2f} [{verdict(e_ratio >= 0.7)} >= 0.7]")
        cli_s, _ = timed(lambda: cli_replay(last["evlog_path"]))
        print(f"    beside it, the CLI: evlog replay --speed max (JSON Lines to /dev/null, the process's start "
              f"included) {n / cli_s:,.0f} ev/s ({cli_s:.3f} s) = {b['floor'] / cli_s:.2f}x the floor's decode")
        f_ratio = b["full"] / b["rare"]
        print(f"\n(f) rare-name replay ({RARE}, {rare_n:,} events = {rare_n / n * 100:.2f} %)")
        print(f"    event_filter={RARE!r} {b['rare'] * 1e3:.1f} ms vs the full replay {b['full'] * 1e3:.1f} ms: "
              f"{f_ratio:.1f}x faster [{verdict(f_ratio >= 5)} >= 5]")

        sk = seeks(last["evlog_path"], n, args.seeks)
        print(f"\n(g) seek: replay from a mid-recording point to its first event (median of {args.seeks} each)")
        print(f"    by offset {sk['offset']:.2f} ms [{verdict(sk['offset'] < 2)} < 2], by time {sk['time']:.2f} ms "
              f"[{verdict(sk['time'] < 2)} < 2]")

        mem = replay_memory(last["evlog_path"], n)
        small, big = mem[n // 10], mem[n]
        print(f"\n(h) replay memory: peak RSS growth over the RSS after opening, fresh process "
              f"(recording {last['evlog_size'] / mib:.1f} MiB)")
        print(f"    replaying {n // 10:,} events +{small:.1f} MiB, {n:,} events +{big:.1f} MiB "
              f"[{verdict(big - small <= 4)} flat: within 4 MiB]")

        print("\n(i) beside it: the original tool and MCAP, the same events")
        print(f"    original (recorder on the bus, JSON file saved): durable {files['orig_durable']:.3f} s = "
              f"{files['orig_durable'] / fl:.2f}x the floor; {files['orig_size'] / mib:.2f} MiB = "
              f"{files['orig_size'] / last['floor_size']:.2f}x; replay (whole json.load) {n / b['orig_full']:,.0f} ev/s "
              f"= {b['floor'] / b['orig_full']:.2f}x the floor's decode; rare name {b['orig_rare'] * 1e3:.0f} ms "
              f"= {b['orig_full'] / b['orig_rare']:.1f}x faster than its full replay; seek: none (the whole file loads)")
        if HAVE_MCAP:
            print(f"    MCAP (zstd chunks, a JSON channel per name): durable {files['mcap_durable']:.3f} s = "
                  f"{files['mcap_durable'] / fl:.2f}x the floor; {files['mcap_size'] / mib:.2f} MiB = "
                  f"{files['mcap_size'] / last['floor_size']:.2f}x; read dicts {n / b['mcap_full']:,.0f} ev/s = "
                  f"{b['floor'] / b['mcap_full']:.2f}x the floor's decode; topic read {b['mcap_rare'] * 1e3:.0f} ms "
                  f"= {b['mcap_full'] / b['mcap_rare']:.1f}x faster than its full read")
        else:
            print("    MCAP: skipped (the mcap package is not installed: pip install 'evlog[bench]')")

        wrong = mutation_check(tmp, args.mutations)
        print(f"\n(m) mutation after publish, {args.mutations:,} publishes of one object mutated in place")
        for label, w in wrong.items():
            print(f"    {label:15s}: {w} wrong [{verdict(w == 0)} = 0]")
        print(f"\nload average at the end {os.getloadavg()[0]:.2f}; median loop ratio "
              f"{statistics.median(r['evlog'] / r['original'] for r in loops):.2f}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
