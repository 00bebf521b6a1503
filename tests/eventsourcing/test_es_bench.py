"""The eventsourcing benchmark runs (smoke mode); no speed assertions."""
from __future__ import annotations

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_bench_eventsourcing_quick_runs():
    proc = subprocess.run([sys.executable, os.path.join(ROOT, "bench", "bench_eventsourcing.py"), "--quick"],
                          capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = proc.stdout
    for line in ("evlog-interval", "evlog-always", "sqlite", "popo", "ratio evlog-interval / sqlite",
                 "read cost ratio large/small"):
        assert line in out, out
