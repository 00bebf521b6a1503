"""Before/after in the same run: a benchmark run alternately on the code of a git revision
(`--base`, extracted with `git archive`, compiled extensions copied from this tree) and on
this tree, `--runs` times each; prints the per-CPU-second figures of each run and their medians.

    .venv/bin/python bench/before_after.py --base cdcbfff --runs 3 bench_ops.py --quick
    .venv/bin/python bench/before_after.py --base cdcbfff --runs 3 bench_replay.py --quick
    .venv/bin/python bench/before_after.py --base cdcbfff --runs 5 bench_surface.py --events 100000

Per-CPU-second figures (events per second of the process's CPU time) are the ones least moved
by a loaded machine; the ratio after/before of their medians is the result (>= ~0.95: no slower,
within noise).
"""
from __future__ import annotations

import argparse
import glob
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OPS_ROW = re.compile(r"^(info|export jsonl|export json \(original\)|slice \(all\)|merge 2 x N/2|diff \(1% changes\))"
                     r"\s+[\d,]+\s+[\d.]+ m?s\s+[\d,]+\s+[\d,]+\s+[\d.]+x\s+([\d,]+)")
REPLAY_ROW = re.compile(r"^\s+evlog (dicts|models)\s*:.*?([\d,]+) ev/s per CPU-second")
PAIR = re.compile(r"(\w+)=([\d.]+)")   # bench_surface.py's `name=value` line


def figures(output: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for line in output.splitlines():
        m = OPS_ROW.match(line) or REPLAY_ROW.match(line)
        if m:
            out[m.group(1)] = float(m.group(2).replace(",", ""))
        elif "=" in line and not line.startswith(" "):
            out.update((k, float(v)) for k, v in PAIR.findall(line))
    return out


def base_tree(rev: str, where: str) -> str:
    tree = os.path.join(where, "base")
    os.makedirs(tree)
    archive = subprocess.run(["git", "-C", ROOT, "archive", rev], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", tree], input=archive, check=True)
    for so in glob.glob(os.path.join(ROOT, "evlog", "**", "*.so"), recursive=True):
        shutil.copy(so, os.path.join(tree, os.path.relpath(so, ROOT)))
    return tree


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base", required=True, help="the git revision measured as 'before'")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("bench", help="a script in bench/, e.g. bench_ops.py")
    ap.add_argument("args", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="evlog-before-after-")
    try:
        trees = {"before": base_tree(a.base, tmp), "after": ROOT}
        script = os.path.join(trees["before"], "bench", a.bench)
        if not os.path.exists(script):   # a benchmark newer than the revision: it runs on the old code too
            shutil.copy(os.path.join(ROOT, "bench", a.bench), script)
        runs: dict[str, list[dict[str, float]]] = {"before": [], "after": []}
        for i in range(a.runs):
            for label, tree in trees.items():
                env = dict(os.environ, PYTHONPATH=tree)
                proc = subprocess.run([sys.executable, os.path.join(tree, "bench", a.bench), *a.args],
                                      capture_output=True, text=True, env=env, cwd=tree)
                if proc.returncode != 0:
                    print(proc.stdout, proc.stderr, file=sys.stderr)
                    return 1
                got = figures(proc.stdout)
                runs[label].append(got)
                print(f"run {i + 1} {label:6s}: " + ", ".join(f"{k} {v:,.0f}" for k, v in got.items()), flush=True)
        print(f"\nmedian events per CPU-second ({a.runs} runs each, alternating; before = {a.base}):")
        for key in runs["after"][0]:
            before = statistics.median(r[key] for r in runs["before"] if key in r)
            after = statistics.median(r[key] for r in runs["after"] if key in r)
            print(f"  {key:24s} before {before:>14,.0f}  after {after:>14,.0f}  after/before {after / before:.2f}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
