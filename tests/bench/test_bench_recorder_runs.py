"""The recorder benchmark's smoke run prints its four sections with real figures, and its
mutation check (a correctness figure, not a speed) holds even in a smoke run."""
from __future__ import annotations

import pytest
from benchcheck import figures, row, run_bench

SECTIONS = ("(a) tight publish loop", "(b) record -> durable", "(c) publish latency", "(d) mutation")


@pytest.mark.timeout(600)
def test_bench_recorder_quick_runs():
    out = run_bench("bench_recorder.py", "--quick")
    for section in SECTIONS:
        start = out.splitlines().index(row(out, section))
        figures(out.splitlines()[start + 1])
    assert out.count("0 wrong [PASS = 0]") == 3, out
