"""The ops benchmark's smoke run prints every operation's row with real figures (speed is
not asserted here)."""
from __future__ import annotations

import pytest
from benchcheck import figures, row, run_bench

OPERATIONS = ("info", "export jsonl", "export json (original)", "slice (all)", "merge 2 x N/2", "diff (1% changes)")


@pytest.mark.timeout(900)
def test_bench_ops_quick_prints_every_row():
    out = run_bench("bench_ops.py", "--quick", timeout=900)
    header = row(out, "operation")
    assert "RSS ratio" in header and "read/s" in header
    for op in OPERATIONS:
        line = row(out, op + " ")
        values = figures(line[len(op):])
        # events, time, events/s, read/s, ev/CPU-s, read/CPU-s (+ the target)
        assert len(values) >= 6 and all(v > 0 for v in values[:6]), line
        assert values[0] == 20_000, line
