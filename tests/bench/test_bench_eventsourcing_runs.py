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
    for what in ("evlog very first", " first ", "sqlite very first"):
        assert what in line, line
    assert len(ratios(line)) >= 3 and all(v >= 0 for v in figures(line))   # a build may take 0 s


@pytest.mark.timeout(600)
def test_bench_eventsourcing_interleaved_bulk_one_event_per_insert():
    """--bulk (SQLite's table by executemany) with one event per insert and small evlog blocks:
    the same reads of the same 105 events per aggregate (select_events asserts the count)."""
    out = run_bench("bench_eventsourcing.py", "--quick", "--interleaved", "21000", "--bulk", "--per-insert", "1",
                    "--block-bytes", "8192")
    assert "1 events per insert, evlog blocks of 8 KiB" in out and "sqlite bulk-built" in out
    line = row(out, "21,000 events:")
    assert len(ratios(line)) >= 3 and all(v >= 0 for v in figures(line))
