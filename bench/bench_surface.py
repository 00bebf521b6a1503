"""Events per CPU-second through the library surface above the engine (Recording, Selection,
the replay façade), one line of `name=value` figures: replays into a counting bus (dicts,
models, a rare name, a data filter), `ops.replay` to JSON Lines, `ops.slice_recording` and
`ops.export` (jsonl). Each figure is the best of `--repeat` runs (CPU time of the process).
Made for `bench/before_after.py` (before/after a change to those layers):

    .venv/bin/python bench/before_after.py --base REV --runs 5 bench_surface.py --events 100000
"""
from __future__ import annotations

import argparse
import io
import math
import os
import shutil
import sys
import tempfile
import time
from typing import Any, Callable

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from evlog import Log, ops  # noqa: E402
from evlog.bus import CountingBus  # noqa: E402
from evlog.demo import EVENT_TYPES, trading_session  # noqa: E402
from evlog.replayer import EventReplayer  # noqa: E402


def best_cpu(f: Callable[[], Any], repeat: int) -> float:
    best = math.inf
    for _ in range(repeat):
        t = time.process_time()
        f()
        best = min(best, time.process_time() - t)
    return best


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="evlog-bench-surface-")
    try:
        path = os.path.join(tmp, "rec")
        with Log.create(path, "surface", fsync="never") as log:
            log.append_batch((name, ev, src, None, off) for name, ev, src, off in trading_session(a.events))
        n = a.events
        r = EventReplayer(path)
        k = [0]

        def sliced() -> None:
            k[0] += 1
            ops.slice_recording(path, os.path.join(tmp, f"s{k[0]}"))
        runs: list[tuple[str, Callable[[], Any]]] = [
            ("dicts", lambda: r.replay(CountingBus(), "max")),
            ("models", lambda: r.replay(CountingBus(), "max", registry=EVENT_TYPES)),
            ("rare", lambda: r.replay(CountingBus(), "max", event_filter="PriceFetchFailed")),
            ("data_filter", lambda: r.replay(CountingBus(), "max", event_filter="data.cycle_id > 5")),
            ("ops_replay", lambda: ops.replay(path, ops.JsonLinesSink(io.BytesIO()), speed=math.inf)),
            ("slice", sliced),
            ("export_jsonl", lambda: ops.export(path, io.BytesIO(), format="jsonl")),
        ]
        print(" ".join(f"{name}={n / best_cpu(f, a.repeat):.0f}" for name, f in runs))
        r.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
