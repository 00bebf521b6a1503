"""The key index benchmark's smoke runs print the lookup, the scan and their ratio, and the
table of point-read layouts, with real figures (speed is not asserted here)."""
from __future__ import annotations

import pytest
from benchcheck import figures, ratios, row, run_bench


@pytest.mark.timeout(600)
def test_bench_keys_quick_prints_lookup_and_scan():
    out = run_bench("bench_keys.py", "--quick")
    values = figures(row(out, "lookup of 100 events:"))
    assert len(values) >= 4 and all(v > 0 for v in values[1:])
    assert ratios(row(out, "ratio scan / lookup"))


@pytest.mark.timeout(600)
def test_bench_keys_compare_blocks_prints_every_layout():
    out = run_bench("bench_keys.py", "--quick", "--compare-blocks")
    for size in ("384Ki", "64Ki", "16Ki"):
        values = figures(row(out, size))
        assert len(values) == 7 and all(v > 0 for v in values), row(out, size)
