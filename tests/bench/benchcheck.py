"""What the benchmark smoke tests check: the script ran, printed every row, and its figures
are numbers (finite; rates positive). Targets (PASS/MISS) are the benchmarks' business: a
loaded machine may miss one, so no unit test asserts a speed."""
from __future__ import annotations

import math
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NUMBER = re.compile(r"(?<![\w.])(?:\d[\d,]*(?:\.\d+)?|\.\d+)(?:e[-+]?\d+)?(?![\w.])|\bnan\b|\binf\b", re.I)
RATE = re.compile(r"((?:\d[\d,]*(?:\.\d+)?)|nan|inf)\s*(?:ev(?:ents)?/s|/s\b)", re.I)


def run_bench(script: str, *args: str, env: dict | None = None, timeout: int = 600) -> str:
    """Run bench/<script> with `args`; its stdout (the run must succeed)."""
    proc = subprocess.run([sys.executable, os.path.join(ROOT, "bench", script), *args], capture_output=True,
                          text=True, timeout=timeout, cwd=ROOT, env=env)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    return proc.stdout


def row(text: str, label: str, start: int = 0) -> str:
    """The first line holding `label` (from line `start`); fails if there is none."""
    lines = text.splitlines()
    for line in lines[start:]:
        if label in line:
            return line
    raise AssertionError(f"no row {label!r} in:\n{text}")


def figures(line: str) -> list[float]:
    """Every number of a row (not ratios such as 0.32x, not sizes such as 45Mi), each finite
    (a nan or inf is a broken measurement)."""
    values = [float(m.replace(",", "")) for m in NUMBER.findall(line)]
    assert values, f"no figures in {line!r}"
    assert all(math.isfinite(v) for v in values), f"a figure is not finite: {line!r}"
    return values


def rates(line: str) -> list[float]:
    """The rates of a row (`N ev/s`, `N/s`), each finite and positive."""
    values = [float(m.replace(",", "")) for m in RATE.findall(line)]
    assert values, f"no rate in {line!r}"
    assert all(math.isfinite(v) and v > 0 for v in values), f"a rate is not a positive number: {line!r}"
    return values



def ratios(line: str) -> list[float]:
    """The ratios of a row (`1.45x`), each finite and positive."""
    values = [float(m) for m in re.findall(r"(?<![\w.])(\d+(?:\.\d+)?|nan|inf)x\b", line)]
    assert values, f"no ratio in {line!r}"
    assert all(math.isfinite(v) and v > 0 for v in values), f"a ratio is not a positive number: {line!r}"
    return values
