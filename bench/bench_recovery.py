"""Opening a recording whose last segment ends in garbage: time linear in the garbage.

For each kind of tail (tests/segments/tails.py: fake frame headers claiming past the end of
the file or the rest of it, a real header and meta repeated, random bytes, zeros) and each
size, a recording of 100 events gets that tail; the benchmark times opening it and reading
every record (`Log.open` + `read`), opening it for append (recovery cuts the tail) and
`verify`, and counts the bytes read (os.pread). Linear time shows as a flat time per MiB:
the last column divides the time per MiB at the largest size by the one at the smallest.

    python bench/bench_recovery.py           # tails of 0.25, 0.5, 1 and 4 MiB
    python bench/bench_recovery.py --quick   # 0.25 and 1 MiB
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path[:0] = [ROOT, os.path.join(ROOT, "tests", "segments")]

from evlog.segments import Log, verify
from tails import EVENTS, KINDS, add_tail


class PreadCounter:
    """Counts the bytes read through os.pread (every read of the storage engine)."""

    def __init__(self) -> None:
        self.bytes = 0
        self._real = os.pread

    def __enter__(self) -> "PreadCounter":
        def pread(fd: int, n: int, offset: int) -> bytes:
            data = self._real(fd, n, offset)
            self.bytes += len(data)
            return data
        os.pread = pread
        return self

    def __exit__(self, *exc) -> None:
        os.pread = self._real


def measure(kind: str, size: int) -> dict[str, float]:
    out: dict[str, float] = {}
    tmp = tempfile.mkdtemp(prefix="bench-recovery-")
    try:
        path = os.path.join(tmp, "rec")
        add_tail(path, kind, size)
        with PreadCounter() as counter:
            t = time.perf_counter()
            with Log.open(path) as log:
                n = sum(1 for _ in log.read())
            out["open_read"] = time.perf_counter() - t
            assert n == EVENTS, n
            t = time.perf_counter()
            report = verify(path)
            out["verify"] = time.perf_counter() - t
            assert report.ok and report.torn_tail is not None, [str(p) for p in report.problems]
            out["read_mib"] = counter.bytes / (1 << 20)
        t = time.perf_counter()
        with Log.open(path, "a", fsync="never") as log:
            assert log.end_offset == EVENTS and log.recovery_report.truncated
        out["append"] = time.perf_counter() - t
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    sizes = [0.25, 1.0] if args.quick else [0.25, 0.5, 1.0, 4.0]
    print(f"{'tail':8} {'MiB':>5} {'open+read s':>12} {'verify s':>9} {'append s':>9} "
          f"{'MiB read':>9} {'s/MiB (open)':>13}")
    worst = 0.0
    for kind in KINDS:
        per_mib = []
        for mib in sizes:
            m = measure(kind, int(mib * (1 << 20)))
            per_mib.append(m["open_read"] / mib)
            print(f"{kind:8} {mib:5.2f} {m['open_read']:12.3f} {m['verify']:9.3f} {m['append']:9.3f} "
                  f"{m['read_mib']:9.1f} {per_mib[-1]:13.3f}")
        ratio = per_mib[-1] / per_mib[0]
        worst = max(worst, ratio)
        print(f"{kind:8} time per MiB at {sizes[-1]:g} MiB / at {sizes[0]:g} MiB: {ratio:.2f} "
              f"(1 = linear; quadratic would be {sizes[-1] / sizes[0]:g})")
    print(f"worst ratio: {worst:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
