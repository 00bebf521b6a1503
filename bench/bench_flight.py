"""Benchmark of the flight recorder (evlog.flight): a paced publisher at 20,000 events/s for
120 s on an in-process `ServiceBus`, `FlightRecorder(keep=60s, after=10s)`.

    .venv/bin/python bench/bench_flight.py                 # 120 s at 20,000 events/s (~2.5 min)
    .venv/bin/python bench/bench_flight.py --seconds 6     # smoke run (keep and after scaled down)

(a) Memory: the ring's bytes (sampled each second) against keep_bytes, the process's RSS
    (max, and its growth over the second half of the run, when the ring is full: flat = a
    few MiB at most).
(b) Window: one trigger at 7/12 of the run (t = 70 s) writes [t - keep, t + after]; the
    recording (copied when written) is checked against the publisher's own clock: each event
    is stamped by the recorder between the publisher's clock reads before it and before the
    next one, so an event is surely in the window, surely out, or (at a bound, within a
    microsecond or two) undecided. Missing (surely in, not recorded), outside (recorded,
    surely out) and doubled must be 0; the sequence numbers must be contiguous.
(c) Trigger cost on the publishing thread: that trigger and up to 1,000 more while its window
    is collected (with after=0: each meets the window, none moves its end), max and p99,
    wall clock and the thread's own CPU time; target < 1 ms.
(d) Publish latency p50/p99 with the flight recorder, and the bus alone at the same pace
    (measured first, in the same run).
"""
from __future__ import annotations

import argparse
import array
import os
import shutil
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.dirname(HERE)]

import psutil  # noqa: E402
from benchutil import cpu_model, pct, verdict  # noqa: E402

from evlog.bus import ServiceBus  # noqa: E402
from evlog.flight import FlightRecorder  # noqa: E402
from evlog.segments import Log  # noqa: E402

PAIRS = ("BTC/USDT", "ETH/USDT", "SOL/USDT", "BNB/USDT")
MiB = 1 << 20


def payload(i: int) -> dict:
    """An event of about 150 bytes of JSON, varied like market data."""
    return {"i": i, "pair": PAIRS[i & 3], "price": 50_000 + (i * 7919) % 10_000 / 100, "qty": (i * 31) % 997,
            "side": "buy" if i % 3 else "sell", "venue": "binance", "cycle": i // 100}


def paced(bus: ServiceBus, rate: int, seconds: float, lat: array.array, pub: array.array | None,
          on_tick=None) -> int:
    """Publish at `rate` events/s for `seconds` (bursts each half millisecond); every
    publish's latency into `lat` (ns), the publisher's clock before each into `pub`."""
    mono = time.monotonic_ns
    perf = time.perf_counter_ns
    t0 = mono()
    total = int(rate * seconds)
    i = 0
    while i < total:
        due = min(total, (mono() - t0) * rate // 1_000_000_000)
        while i < due:
            ev = payload(i)
            if pub is not None:
                pub[i] = mono()
            a = perf()
            bus.publish("MarketTick", ev, "bench")
            lat[i] = perf() - a
            i += 1
            if on_tick is not None and not i & 63:   # also within a long burst (when behind)
                on_tick(i, mono() - t0)
        time.sleep(0.0005)
    return i


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--rate", type=int, default=20_000)
    parser.add_argument("--keep", type=float, help="seconds (default: 60, or half the run if shorter)")
    parser.add_argument("--after", type=float, help="seconds (default: 10, or a twelfth of the run if shorter)")
    parser.add_argument("--keep-bytes", default="256MiB")
    args = parser.parse_args()
    seconds, rate = args.seconds, args.rate
    keep = args.keep if args.keep is not None else min(60.0, seconds / 2)
    after = args.after if args.after is not None else min(10.0, seconds / 12)
    t_trigger = seconds * 7 / 12
    total = int(rate * seconds)
    print(f"flight recorder benchmark: {rate:,} events/s for {seconds:g} s, keep={keep:g}s after={after:g}s "
          f"keep_bytes={args.keep_bytes}; {os.cpu_count()} cpu(s) {cpu_model()}, python {sys.version.split()[0]}")
    tmp = tempfile.mkdtemp(prefix="evlog-bench-flight-")
    proc = psutil.Process()
    try:
        # (d) baseline: the bus alone at the same pace
        base_s = max(1.0, min(5.0, seconds / 10))
        base_lat = array.array("q", bytes(8 * int(rate * base_s)))
        paced(ServiceBus(), rate, base_s, base_lat, None)

        lat = array.array("q", bytes(8 * total))
        pub = array.array("q", bytes(8 * total))
        bus = ServiceBus()
        flight = FlightRecorder("bench", keep=keep, after=after, keep_bytes=args.keep_bytes,
                                output_dir=os.path.join(tmp, "out"))
        flight.start_recording(bus)
        samples: list[tuple[float, int, int]] = []   # (t, rss, ring bytes)
        costs: list[int] = []   # wall clock (waits for the GIL and the CPU included)
        cpu: list[int] = []     # the publishing thread's own CPU time
        state: dict = {"main": None, "next_sample": 0.0, "extra_at": None, "extra_every": 0.0, "extras": 0,
                 "copied": False}
        copy_dir = os.path.join(tmp, "window")

        def copy_when_written(window) -> None:
            window.written.wait()
            shutil.copytree(window.path, copy_dir)
            state["copied"] = True

        queue = flight._queue   # noqa: SLF001 - its length only: how far the recorder's thread is behind
        backlog = [0]

        def on_tick(i: int, elapsed_ns: int) -> None:
            t = elapsed_ns / 1e9
            if len(queue) > backlog[0]:
                backlog[0] = len(queue)
            if t >= state["next_sample"]:
                state["next_sample"] += 1.0
                samples.append((t, proc.memory_info().rss, flight.ring_bytes))
            if state["main"] is None and t >= t_trigger:
                a, ca = time.perf_counter_ns(), time.thread_time_ns()
                flight.trigger("bench")
                costs.append(time.perf_counter_ns() - a)
                cpu.append(time.thread_time_ns() - ca)
                window = flight.windows[0]
                state["main"] = window
                threading.Thread(target=copy_when_written, args=(window,), daemon=True).start()
                # more triggers while the window is collected, with after=0: each meets the
                # window and extends it to max(end, t) = end, so the window stays [t - keep, t + after]
                state["extra_at"] = t_trigger + 0.05
                state["extra_every"] = max(0.0005, (after - 0.5) / 1000)
            elif state["extra_at"] is not None and state["extras"] < 1000 and t >= state["extra_at"] \
                    and t < t_trigger + after - 0.2:
                a, ca = time.perf_counter_ns(), time.thread_time_ns()
                flight.trigger("more", after=0)
                costs.append(time.perf_counter_ns() - a)
                cpu.append(time.thread_time_ns() - ca)
                state["extras"] += 1
                state["extra_at"] += state["extra_every"]

        began = time.monotonic()
        published = paced(bus, rate, seconds, lat, pub, on_tick)
        took = time.monotonic() - began
        flight.stop_recording()
        flight.wait(120)
        info = flight.info()
        origin = flight.clock_origin_ns
        window = state["main"]
        flight.close()

        # (a) memory
        keep_bytes = flight.keep_bytes
        ring_max = max(s[2] for s in samples)
        rss_max = max(s[1] for s in samples)
        second = [s for s in samples if s[0] >= seconds / 2]
        growth = (second[-1][1] - second[0][1]) if len(second) > 1 else 0
        ring_growth = (max(s[2] for s in second) - min(s[2] for s in second)) if second else 0
        print("(a) memory")
        print(f"    ring bytes max {ring_max / MiB:.1f} MiB (bound {keep_bytes / MiB:.0f} MiB) "
              f"[{verdict(ring_max <= keep_bytes)} <= bound]; second half: ring varies by "
              f"{ring_growth / MiB:.1f} MiB, held {info['in_ring']:,} events at the end, {info['evicted']:,} evicted")
        print(f"    RSS max {rss_max / MiB:.1f} MiB; growth over the second half {growth / MiB:+.1f} MiB "
              f"[{verdict(growth < 32 * MiB)} < 32 MiB]")

        # (b) the window of the trigger at t, against the publisher's clock
        with Log.open(copy_dir) as log:
            meta = log.manifest.metadata
            got = [r.data["i"] for r in log.read()]
        start, end = window.start, window.start + flight.keep_ns + flight.after_ns
        rel = [p - origin for p in pub[:published]]
        surely_in = surely_out = 0
        want_in: set[int] = set()
        out_set: set[int] = set()
        for i in range(published):
            lo = rel[i]
            hi = rel[i + 1] if i + 1 < published else lo + 10**9
            if lo >= start and hi <= end:
                want_in.add(i)
                surely_in += 1
            elif hi < start or lo > end:
                out_set.add(i)
                surely_out += 1
        undecided = published - surely_in - surely_out
        got_set = set(got)
        missing = len(want_in - got_set)
        outside = len(got_set & out_set)
        doubled = len(got) - len(got_set)
        contiguous = got == list(range(got[0], got[-1] + 1)) if got else False
        seqs_ok = meta["flight"]["first_seq"] == got[0] and meta["flight"]["last_seq"] == got[-1]
        ok = missing == outside == doubled == 0 and contiguous and seqs_ok
        print("(b) window of one trigger at t = %.1f s: [t - %gs, t + %gs]" % (t_trigger, keep, after))
        print(f"    recorded {len(got):,} events (sequence {got[0]:,}..{got[-1]:,}, contiguous {contiguous}); "
              f"by the publisher's clock {surely_in:,} surely in, {undecided} undecided at the bounds")
        print(f"    {missing} missing, {outside} outside, {doubled} doubled [{verdict(ok)} = 0, 0, 0]")

        # (c) trigger cost
        c_max, c_p99 = max(costs), pct(costs, 0.99)
        print(f"(c) trigger cost on the publishing thread ({len(costs)} triggers, all but the first meeting "
              f"its window while it is collected)")
        print(f"    p50 {pct(costs, 0.5) / 1e3:.1f} us, p99 {c_p99 / 1e3:.1f} us, max {c_max / 1e3:.1f} us "
              f"[{verdict(c_max < 1_000_000)} max < 1 ms] [{verdict(c_p99 < 1_000_000)} p99 < 1 ms]")
        print(f"    its own CPU time: p50 {pct(cpu, 0.5) / 1e3:.1f} us, p99 {pct(cpu, 0.99) / 1e3:.1f} us, "
              f"max {max(cpu) / 1e3:.1f} us (the rest of the wall time is waiting for the GIL or a core)")

        # (d) publish latency
        lats = list(lat[:published])
        b50, b99 = pct(list(base_lat), 0.5), pct(list(base_lat), 0.99)
        p50, p99 = pct(lats, 0.5), pct(lats, 0.99)
        print(f"(d) publish latency at {rate:,}/s")
        print(f"    bus alone p50 {b50 / 1e3:.2f} us p99 {b99 / 1e3:.2f} us max {max(base_lat) / 1e3:.0f} us; with the flight recorder "
              f"p50 {p50 / 1e3:.2f} us p99 {p99 / 1e3:.2f} us ({p99 / max(b99, 1):.1f}x), "
              f"max {max(lats) / 1e3:.0f} us; captured {info['captured']:,} of {published:,} ({info['lost']} lost)")
        print(f"    the recorder's queue held at most {backlog[0]:,} events (publishers wait past "
              f"{flight._max_pending:,}: back-pressure)")   # noqa: SLF001
        print(f"    achieved {published / took:,.0f} events/s over {took:.1f} s (the pace falls behind when the "
              f"machine is busy, then catches up)")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
