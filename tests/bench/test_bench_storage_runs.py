"""The storage benchmark runs end to end and prints every row with real figures (smoke run;
speed is not asserted here: PASS and MISS are the benchmark's verdicts)."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest
from benchcheck import figures, rates

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(ROOT, "bench", "bench_storage.py")

pytest.importorskip("mcap")
pytest.importorskip("psutil")


@pytest.mark.timeout(600)
def test_bench_storage_quick_prints_the_table(tmp_path):
    out = subprocess.run([sys.executable, SCRIPT, "--quick", "--dir", str(tmp_path)],
                         check=False, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout + out.stderr
    text = out.stdout
    assert "| target | evlog | baselines | result |" in text
    for target in ("sustained append", "durable file", "size on disk", "full read",
                   "read of rare name", "seek to mid", "memory while reading"):
        line = next((row for row in text.splitlines() if target in row), None)
        assert line is not None, f"no row for {target!r}:\n{text}"
        assert line.rstrip().endswith(("PASS |", "MISS |")), line
        evlog, baselines = line.split("|")[2:4]
        figures(evlog)   # measured: every figure a finite number
        if "ev/s" in evlog:
            rates(evlog)
        if target != "seek to mid":
            figures(baselines)
    assert os.listdir(tmp_path) == []   # the recordings were removed
