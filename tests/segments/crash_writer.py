"""The writer of test_seg_sigkill.py, run as a process: `python crash_writer.py PATH SEED`.

Opens the recording for append (creating it the first time), continues the numbering at the
first offset it does not hold (event n has offset n and data {"n": n}; it prints "open N T",
T the torn tails its recovery cut off), and appends short
bursts with fsync="always", printing after each `flush()` the offset it returned: every
event below it is acknowledged. Runs until killed.
"""
from __future__ import annotations

import os
import random
import sys

from evlog.segments import Log


BIG = random.Random(0).randbytes(300_000).hex()


def event(n: int) -> tuple[str, dict, str]:
    """Event n: small, but every 40th 300 KB that do not compress (a write() long enough
    for a kill to cut it short)."""
    if n % 40 == 39:
        return f"N{n % 4}", {"n": n, "big": BIG[n % 1000:n % 1000 + 300_000]}, "crash"
    return f"N{n % 4}", {"n": n, "pad": "x" * (n * 7 % 90)}, "crash"


def main(path: str, seed: int) -> None:
    rnd = random.Random(seed)
    opts = {"fsync": "always", "block_max_records": rnd.choice([1, 3, 16]),
            "segment_max_bytes": rnd.choice([4096, 16384, 1 << 20])}
    if os.path.exists(os.path.join(path, "manifest.json")):
        log = Log.open(path, "a", **opts)
    else:
        log = Log.create(path, "sigkill", **opts)
    n = log.end_offset
    print(f"open {n} {len(log.recovery_report.truncated)}", flush=True)   # and how many torn tails it cut
    while True:
        for _ in range(rnd.randint(1, 8)):
            assert log.append(*event(n)) == n
            n += 1
        print(f"ack {log.flush()}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
