"""The recorder benchmark's smoke run prints every section with real figures (the targets'
PASS/MISS is the benchmark's business, not asserted here), and its mutation check (a
correctness figure, not a speed) holds even in a smoke run."""
from __future__ import annotations

import importlib.util

import pytest
from benchcheck import figures, rates, row, run_bench

SECTIONS = ("(a) tight publish loop", "(b) record -> durable", "(c) publish latency", "(d) size on disk",
            "(e) full replay", "(f) rare-name replay", "(g) seek", "(h) replay memory", "(i) beside it",
            "(m) mutation")
# a row of each section that must hold its figure (and the target it is measured against)
ROWS = {"(a)": "evlog / original = ", "(b)": "evlog / floor = ", "(c)": "evlog recorder p50 ",
        "(d)": "evlog recording ", "(e)": "evlog / floor = ", "(f)": "event_filter=", "(g)": "by offset ",
        "(h)": "replaying "}


@pytest.mark.timeout(600)
def test_bench_recorder_quick_runs():
    out = run_bench("bench_recorder.py", "--quick")
    lines = out.splitlines()
    for section in SECTIONS:
        start = lines.index(row(out, section))
        figures(lines[start + 1])
        label = ROWS.get(section[:3])
        if label is not None:
            line = row(out, label, start)
            assert lines.index(line) <= start + 3, (section, line)   # within its section
            figures(line)
            assert "[PASS" in line or "[MISS" in line, line
    assert out.count("0 wrong [PASS = 0]") == 3, out
    rates(row(out, "EventReplayer.replay(bus, 'max')"))
    rates(row(out, "the CLI: evlog replay --speed max"))
    if importlib.util.find_spec("mcap") is not None:
        figures(row(out, "MCAP (zstd chunks"))
    else:
        assert "MCAP: skipped" in out, out
