"""The replay benchmark runs (a smoke run; speed is not asserted here)."""
from __future__ import annotations

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_bench_replay_quick_runs() -> None:
    out = subprocess.run([sys.executable, os.path.join(ROOT, "bench", "bench_replay.py"), "--quick"],
                         capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-2000:]
    for section in ("recorder overhead", "timing fidelity", "replay throughput", "original JSON", "MCAP"):
        assert section in out.stdout


def test_bench_recorder_quick_runs() -> None:
    out = subprocess.run([sys.executable, os.path.join(ROOT, "bench", "bench_recorder.py"), "--quick"],
                         capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-2000:]
    for section in ("(a) tight publish loop", "(b) record -> durable", "(c) publish latency", "(d) mutation"):
        assert section in out.stdout
    # the mutation check is a correctness figure: it must hold even in a smoke run
    assert out.stdout.count("0 wrong [PASS = 0]") == 3, out.stdout
