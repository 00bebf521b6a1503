"""The flight recorder benchmark's smoke run prints its four sections with real figures, and
its window check (a correctness figure, not a speed) holds even in a smoke run."""
from __future__ import annotations

import pytest
from benchcheck import figures, row, run_bench

SECTIONS = ("(a) memory", "(b) window", "(c) trigger cost", "(d) publish latency")


@pytest.mark.timeout(600)
def test_bench_flight_smoke_runs():
    out = run_bench("bench_flight.py", "--seconds", "5", "--rate", "5000")
    lines = out.splitlines()
    for section in SECTIONS:
        start = lines.index(row(out, section))
        figures(lines[start + 1])
    assert "0 missing, 0 outside, 0 doubled [PASS = 0, 0, 0]" in out, out
    assert "contiguous True" in out and "[PASS <= bound]" in out, out
