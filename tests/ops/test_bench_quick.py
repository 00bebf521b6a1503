"""The ops benchmark runs (smoke mode); figures are printed, never asserted."""
from __future__ import annotations

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_bench_ops_quick_runs():
    p = subprocess.run([sys.executable, os.path.join(ROOT, "bench", "bench_ops.py"), "--quick"],
                       capture_output=True, text=True, timeout=900)
    assert p.returncode == 0, p.stderr
    for op in ("info", "export jsonl", "merge 2 x N/2", "diff (1% changes)"):
        assert op in p.stdout
    assert "RSS ratio" in p.stdout and "read/s" in p.stdout
