"""Run every bench/bench_*.py in turn (each in its own process).

    python bench/run_all.py            # the default sets
    python bench/run_all.py --quick    # smoke runs (passed through to every benchmark)

Other arguments are passed through too, except `--skip NAME` (repeatable: leave out
bench_NAME.py). A script containing the line `RUN_ALL = False` (e.g. a tool that needs a
subcommand or a server) is left out too. Exits non-zero if any benchmark failed.
"""
from __future__ import annotations

import glob
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def _opted_out(script: str) -> bool:
    try:
        with open(script, encoding="utf-8") as f:
            return any(line.strip() == "RUN_ALL = False" for line in f)
    except OSError:
        return False


def main(argv: list[str]) -> int:
    skip: set[str] = set()
    rest: list[str] = []
    it = iter(argv)
    for arg in it:
        if arg == "--skip":
            skip.add(next(it, ""))
        elif arg.startswith("--skip="):
            skip.add(arg.split("=", 1)[1])
        else:
            rest.append(arg)
    argv = rest
    scripts = []
    for script in sorted(glob.glob(os.path.join(HERE, "bench_*.py"))):
        stem = os.path.basename(script)[len("bench_"):-len(".py")]
        if stem in skip or f"bench_{stem}" in skip or _opted_out(script):
            print(f"--- skipping {os.path.basename(script)}", flush=True)
            continue
        scripts.append(script)
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
