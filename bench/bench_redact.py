"""Benchmark of redaction at ingest: the publishing thread's cost per event of `EventRecorder`
on a `ServiceBus` with and without a redaction policy (evlog.redact), rounds interleaved,
each figure against the no-policy run of the same round (the machine is shared and noisy).

    .venv/bin/python bench/bench_redact.py            # 50,000 events, 5 rounds (~1-2 min)
    .venv/bin/python bench/bench_redact.py --quick    # smoke run

Events: the demo's pydantic trading events (`evlog.demo`, Decimal/datetime/UUID fields).
Policies:
  none        no policy (the baseline)
  miss        path rules and a value pattern that match no event (the fast path: one scan
              of the event's JSON text, no decode)
  hit         a path rule matching a field of most events (`data.pair`, masked): decode,
              walk, encode again
  hmac-hit    the same with mode hmac (HMAC-SHA256 of each value)
  allowlist   an allowlist of four fields (every event walked, fail closed)
The choice of where to redact: on the encoded JSON bytes (`Redactor.row`, what evlog does:
the fast path scans the text and leaves most events untouched) vs on the event's dict
(`Redactor.value` on its JSON form, walked every time): per event, the miss policy, CPU.
Target: `miss` adds <= 25% to the publishing thread's CPU per event (a policy that matches
nothing is cheap). Wall time is shown too; on a shared machine it is the noisier figure.
Every recorded event is checked afterwards (the masked field is masked in every event).
"""
from __future__ import annotations

import argparse
import gc
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.dirname(HERE)]

from benchutil import cpu_model, verdict  # noqa: E402

from evlog.bus import ServiceBus  # noqa: E402
from evlog.demo import trading_session  # noqa: E402
from evlog.recorder import EventRecorder  # noqa: E402
from evlog.recording import open_recording  # noqa: E402
from evlog.redact import RedactionPolicy, RedactionRule  # noqa: E402

KEY = b"bench-redaction-key-0123456789"


def policies() -> dict[str, RedactionPolicy | None]:
    return {
        "none": None,
        "miss": RedactionPolicy(id="miss", rules=(
            RedactionRule("mask", paths=("data.api_key", "data.*.secret", "data.**.password", "headers.authorization")),
            RedactionRule("mask", patterns=(r"sk-[A-Za-z0-9]{20,}",)))),
        "hit": RedactionPolicy(id="hit", rules=(RedactionRule("mask", paths=("data.pair", "data.api_key")),)),
        "hmac-hit": RedactionPolicy(id="hmac", rules=(RedactionRule("hmac", paths=("data.pair", "data.api_key")),)),
        "allowlist": RedactionPolicy(id="allow", allow=("data.cycle_id", "data.pair", "data.quantity", "data.signal")),
    }


def publish_loop(bus: Any, events: list) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the publishing thread) to publish every event."""
    publish = bus.publish
    gc.collect()
    c0 = time.thread_time()
    t0 = time.perf_counter()
    for name, event, source, _ in events:
        publish(name, event, source)
    return time.perf_counter() - t0, time.thread_time() - c0


def run(events: list, tmp: str, label: str, policy: RedactionPolicy | None, rnd: int) -> tuple[float, float]:
    bus = ServiceBus()
    bus.subscribe("*", lambda name, event, source: None)
    rec = EventRecorder(f"{label}{rnd}", tmp, fsync="never",
                        redact=policy.compile(KEY) if policy is not None else None)
    rec.start_recording(bus)
    seconds = publish_loop(bus, events)
    rec.stop_recording()
    assert rec.flush() == len(events) and rec.info()["lost"] == 0, rec.info()
    rec.close()
    if rnd == 0:
        check(str(rec.path), label, len(events))
    shutil.rmtree(rec.path)
    return seconds


def check(path: str, label: str, n: int) -> None:
    """The recording holds every event, redacted as the policy says."""
    with open_recording(path) as rec:
        got = 0
        for r in rec.read():
            got += 1
            data = r.data if isinstance(r.data, dict) else {}
            if label == "hit" and "pair" in data:
                assert data["pair"] == "***", data
            if label == "hmac-hit" and "pair" in data:
                assert str(data["pair"]).startswith("hmac:"), data
            if label == "allowlist":
                assert set(data) <= {"cycle_id", "pair", "quantity", "signal"}, data
        assert got == n


def bytes_vs_dict(events: list, rounds: int) -> tuple[float, float]:
    """CPU ns per event of the miss policy on the encoded bytes and on the dict."""
    from evlog.codec import encode
    r = policies()["miss"].compile(KEY)  # type: ignore[union-attr]
    encoded = [encode(e) for _n, e, _s, _o in events[:20_000]]
    dicts = [e.model_dump(mode="json") for _n, e, _s, _o in events[:20_000]]
    row, value = r.row, r.value
    on_bytes, on_dict = [], []
    for _ in range(rounds):
        c0 = time.thread_time()
        for d, f, t in encoded:
            row(d, f, t, b"")
        on_bytes.append(time.thread_time() - c0)
        c0 = time.thread_time()
        for d in dicts:
            value(d)
        on_dict.append(time.thread_time() - c0)
    n = len(encoded)
    return statistics.median(on_bytes) / n * 1e9, statistics.median(on_dict) / n * 1e9


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=50_000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    if args.quick:
        args.events, args.rounds = 5_000, 1
    events = list(trading_session(args.events))
    pols = policies()
    print(f"bench_redact: {args.events} demo events, {args.rounds} round(s); {cpu_model()}, "
          f"Python {platform.python_version()}")
    wall: dict[str, list[float]] = {k: [] for k in pols}
    cpu: dict[str, list[float]] = {k: [] for k in pols}
    labels = list(pols)
    with tempfile.TemporaryDirectory() as tmp:
        for rnd in range(args.rounds):
            for label in labels[rnd % len(labels):] + labels[:rnd % len(labels)]:   # order rotates
                w, c = run(events, tmp, label, pols[label], rnd)
                wall[label].append(w)
                cpu[label].append(c)
    base_w, base_c = statistics.median(wall["none"]), statistics.median(cpu["none"])
    print("the publishing thread's cost per event (median of the rounds): wall time, and its CPU time")
    print(f"{'policy':<11} {'wall us':>8} {'vs none':>8} {'cpu us':>8} {'vs none':>8}")
    for label in labels:
        w, c = statistics.median(wall[label]), statistics.median(cpu[label])
        print(f"{label:<11} {w / args.events * 1e6:>8.2f} {w / base_w:>7.2f}x {c / args.events * 1e6:>8.2f} "
              f"{c / base_c:>7.2f}x")
    nb, nd = bytes_vs_dict(events, max(3, args.rounds))
    print(f"miss policy, CPU per event: on the encoded bytes {nb:.0f} ns, on the dict {nd:.0f} ns "
          f"({nd / nb:.1f}x)")
    ratio = statistics.median(cpu["miss"]) / base_c
    print(f"publish overhead of a policy matching nothing: {(ratio - 1) * 100:+.0f}% CPU "
          f"[{verdict(ratio <= 1.25)} <= +25%]")


if __name__ == "__main__":
    main()
