"""Run every bench/bench_*.py in turn (each in its own process).

    python bench/run_all.py            # the default sets
    python bench/run_all.py --quick    # smoke runs (passed through to every benchmark)

Other arguments are passed through too. Exits non-zero if any benchmark failed.
"""
from __future__ import annotations

import glob
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def main(argv: list[str]) -> int:
    scripts = sorted(glob.glob(os.path.join(HERE, "bench_*.py")))
    if not scripts:
        print("no bench/bench_*.py found", file=sys.stderr)
        return 1
    failed = []
    for script in scripts:
        name = os.path.basename(script)
        print(f"==> {name} {' '.join(argv)}".rstrip(), flush=True)
        t0 = time.perf_counter()
        rc = subprocess.call([sys.executable, script, *argv], cwd=os.path.dirname(HERE))
        print(f"<== {name}: exit {rc} in {time.perf_counter() - t0:.0f} s\n", flush=True)
        if rc != 0:
            failed.append(name)
    if failed:
        print(f"FAILED: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
