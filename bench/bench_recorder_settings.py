"""Paired A/B of `EventRecorder` settings on bench_recorder.py's (b) path (start_recording ->
publish 200,000 demo events -> flush() returns, fsync=always), the settings alternating round
by round in one process: differences of a few percent show in the median of the paired
ratios, where the machine's noise (+-20 % from run to run here) hides them in separate runs.

    .venv/bin/python bench/bench_recorder_settings.py                 # now vs old-batches vs no-reserve, 12 rounds
    .venv/bin/python bench/bench_recorder_settings.py --rounds 16 now old-batches

Settings: `now` (the defaults), `old-batches` (the thread woken at 4,096 queued rows, 8,192 per
engine call: before 2026-12-04), `no-reserve` (preallocate_bytes=0: no space reserved ahead).
"""
from __future__ import annotations

import argparse
import gc
import os
import shutil
import statistics
import sys
import tempfile
import time
from typing import Any, Callable

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.dirname(HERE)]

import evlog.recorder as recorder_module  # noqa: E402
from bench_recorder import new_bus  # noqa: E402
from evlog.demo import trading_session  # noqa: E402
from evlog.recorder import EventRecorder  # noqa: E402

BATCH = recorder_module._BATCH


def now(rec: EventRecorder) -> None:
    recorder_module._BATCH = BATCH


def old_batches(rec: EventRecorder) -> None:
    recorder_module._BATCH = 8192
    rec._wake_at = min(4096, rec._max_pending)


def no_reserve(rec: EventRecorder) -> None:
    now(rec)
    rec._log_options["preallocate_bytes"] = 0


SETTINGS: dict[str, Callable[[EventRecorder], None]] = {
    "now": now, "old-batches": old_batches, "no-reserve": no_reserve}


def durable(events: list, tmp: str, name: str, setting: Callable[[EventRecorder], None]) -> float:
    bus = new_bus()
    rec = EventRecorder(name, tmp)
    setting(rec)
    gc.collect()
    t0 = time.perf_counter()
    rec.start_recording(bus)
    publish = bus.publish
    for event_name, event, source, _ in events:
        publish(event_name, event, source)
    assert rec.flush() == len(events)
    seconds = time.perf_counter() - t0
    rec.close()
    shutil.rmtree(str(rec.path))
    return seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("settings", nargs="*", help=f"of: {', '.join(SETTINGS)} (default: all)")
    ap.add_argument("--rounds", type=int, default=12)
    ap.add_argument("--events", type=int, default=200_000)
    args = ap.parse_args()
    events: list[Any] = list(trading_session(args.events))
    names = args.settings or list(SETTINGS)
    unknown = [s for s in names if s not in SETTINGS]
    if unknown:
        ap.error(f"unknown setting {unknown[0]!r} (known: {', '.join(SETTINGS)})")
    times: dict[str, list[float]] = {s: [] for s in names}
    tmp = tempfile.mkdtemp(prefix="evlog-settings-")
    try:
        for rnd in range(args.rounds):
            for s in (names if rnd % 2 == 0 else names[::-1]):
                times[s].append(durable(events, tmp, f"r{rnd}-{s}", SETTINGS[s]))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"record -> durable, {args.events:,} events, {args.rounds} rounds alternating; load {os.getloadavg()[0]:.2f}")
    first = times[names[0]]
    for s in names:
        ratios = [t / b for t, b in zip(times[s], first)]
        print(f"  {s:12s} median {statistics.median(times[s]):.3f} s, best {min(times[s]):.3f} s; "
              f"paired ratio to {names[0]}: median {statistics.median(ratios):.3f}")


if __name__ == "__main__":
    main()
