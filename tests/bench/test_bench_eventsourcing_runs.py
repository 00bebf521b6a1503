"""The eventsourcing benchmark's smoke run prints every recorder's row and the aggregate
reads with real figures (speed is not asserted here)."""
from __future__ import annotations

import pytest
from benchcheck import figures, ratios, row, run_bench


@pytest.mark.timeout(600)
def test_bench_eventsourcing_quick_prints_every_row():
    out = run_bench("bench_eventsourcing.py", "--quick")
    for recorder in ("evlog-interval", "evlog-always", "sqlite", "popo"):
        values = figures(row(out, recorder + " "))
        assert len(values) == 3 and all(v > 0 for v in values), row(out, recorder + " ")
    assert len(ratios(row(out, "ratio evlog-interval / sqlite"))) == 6   # three ratios and their targets
    # the small log is built whole; the large one as far as its time budget goes (a loaded machine
    # builds fewer than 50,000 events, and says how many)
    small = row(out, "log of      10,000 events:")
    large = row(out, "log of ", start=out.splitlines().index(small) + 1)
    for line in (small, large):
        values = figures(line)
        assert len(values) >= 6 and all(v >= 0 for v in values), line
    figures(row(out, "read cost ratio large/small"))


@pytest.mark.timeout(600)
def test_bench_eventsourcing_interleaved_prints_both_recorders():
    out = run_bench("bench_eventsourcing.py", "--quick", "--interleaved", "21000")
    line = row(out, "21,000 events:")
    assert "evlog first" in line and "sqlite first" in line
    assert len(ratios(line)) >= 2 and all(v >= 0 for v in figures(line))   # a build may take 0 s
