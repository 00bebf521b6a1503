"""Benchmark of the user's path: `EventRecorder` on an in-process `ServiceBus`, pydantic trading
events with Decimal and datetime fields (`evlog.demo`). Every figure is measured against its
baseline in the same run, rounds interleaved (the machine is shared and noisy); PASS/MISS per
target with the ratio.

    .venv/bin/python bench/bench_recorder.py            # 200,000 events, 3 rounds (~1-2 min)
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
(d) Mutation after publish: one object mutated in place and published again 20,000 times
    (a pydantic model with Decimal and datetime fields, a dict, nested lists); every recorded
    event must equal its value at publish: 0 wrong.
"""
from __future__ import annotations

import argparse
import copy
import datetime as _dt
import gc
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from decimal import Decimal
from typing import Any, Callable

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.dirname(HERE)]

from baselines import FloorRecorder, OriginalRecorder  # noqa: E402
from benchutil import cpu_model, pct, verdict  # noqa: E402

from evlog.bus import ServiceBus  # noqa: E402
from evlog.codec import encode  # noqa: E402
from evlog.demo import MarketPriceFetched, trading_session  # noqa: E402
from evlog.recorder import EventRecorder  # noqa: E402
from evlog.recording import open_recording  # noqa: E402


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
def durable_round(events: list, tmp: str, rnd: int) -> dict:
    gc.collect()
    path = os.path.join(tmp, f"floor{rnd}.bin")
    t0 = time.perf_counter()
    floor = FloorRecorder(path)
    for name, event, source, off in events:
        floor.append(name, event, source, off)
    floor.close()
    out = {"floor": time.perf_counter() - t0}
    os.remove(path)
    bus = new_bus()
    rec = EventRecorder(f"durable{rnd}", tmp)   # fsync="always"
    gc.collect()
    t0 = time.perf_counter()
    rec.start_recording(bus)
    publish = bus.publish
    for name, event, source, _ in events:
        publish(name, event, source)
    durable = rec.flush()
    out["evlog"] = time.perf_counter() - t0
    assert durable == len(events), (durable, rec.info())
    rec.close()
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


# (d) mutation after publish ------------------------------------------------------------------
T0 = _dt.datetime(2025, 10, 12, 10, 0, tzinfo=_dt.timezone.utc)


def _mutate_model(m: MarketPriceFetched, i: int) -> None:
    m.cycle_id = i
    m.current_price = Decimal(50_000) + Decimal(i) / 100
    m.timestamp = T0 + _dt.timedelta(microseconds=i)


def _mutate_dict(d: dict, i: int) -> None:
    d["i"] = i
    d["price"] = Decimal(i) / 8
    d["at"] = T0 + _dt.timedelta(seconds=i)
    d["levels"][0].append(i)


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
    ap.add_argument("--events", type=int, default=200_000, help="events of (a) and (b)")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds of (a) and (b)")
    ap.add_argument("--paced-events", type=int, default=50_000, help="events of (c), at --rate")
    ap.add_argument("--rate", type=float, default=10_000.0, help="events/s of (c)")
    ap.add_argument("--mutations", type=int, default=20_000, help="publishes per object in (d)")
    ap.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    args = ap.parse_args()
    if args.quick:
        args.events, args.rounds, args.paced_events, args.mutations = 20_000, 1, 5_000, 2_000
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
            durables.append(durable_round(events, tmp, rnd))
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

        lat = latency_round(events[: args.paced_events], tmp, 0, args.rate)
        print(f"\n(c) publish latency at a paced {args.rate:,.0f} events/s, {args.paced_events:,} events "
              f"(writer compressing meanwhile)")
        print(f"    evlog recorder p50 {lat['p50'] / 1e3:.2f} us, p99 {lat['p99'] / 1e3:.2f} us "
              f"[{verdict(lat['p99'] <= 20_000)} <= 20], max {lat['max'] / 1e3:.0f} us")
        for key, label in (("bus", "bus alone"), ("snap", "snapshot alone (codec.encode, no recorder)"),
                           ("orig", "original recorder (model_dump)")):
            print(f"    {label:43s} p50 {lat[key + '_p50'] / 1e3:.2f} us, p99 {lat[key + '_p99'] / 1e3:.2f} us")

        wrong = mutation_check(tmp, args.mutations)
        print(f"\n(d) mutation after publish, {args.mutations:,} publishes of one object mutated in place")
        for label, w in wrong.items():
            print(f"    {label:15s}: {w} wrong [{verdict(w == 0)} = 0]")
        print(f"\nload average at the end {os.getloadavg()[0]:.2f}; median loop ratio "
              f"{statistics.median(r['evlog'] / r['original'] for r in loops):.2f}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
