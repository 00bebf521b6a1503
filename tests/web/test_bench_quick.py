"""The dashboard benchmark's smoke mode runs and prints its figures (no speed assertions)."""
from __future__ import annotations

import os
import subprocess
import sys

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")


def test_bench_web_quick_runs():
    out = subprocess.run([sys.executable, os.path.join(ROOT, "bench", "bench_web.py"), "--quick",
                          "--recordings", "5", "--events", "20000"],
                         check=False, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "GET /api/recordings" in out.stdout and "histogram" in out.stdout
    statuses = [line.split()[-1] for line in out.stdout.splitlines() if line.startswith("GET")]
    assert statuses and all(s == "200" for s in statuses)
