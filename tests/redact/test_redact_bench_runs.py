"""The redaction benchmark's smoke run prints a figure for every policy (its recordings are
checked inside: every event redacted as the policy says)."""
from __future__ import annotations

import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_bench_redact_quick_runs() -> None:
    out = subprocess.run([sys.executable, os.path.join(ROOT, "bench", "bench_redact.py"), "--quick"],
                         capture_output=True, text=True, timeout=300, check=True).stdout
    for label in ("none", "miss", "hit", "hmac-hit", "allowlist"):
        m = re.search(rf"^{re.escape(label)}\s+([\d.]+)\s+([\d.]+)x\s+([\d.]+)\s+([\d.]+)x$", out, re.M)
        assert m and float(m.group(1)) > 0 and float(m.group(3)) > 0, out
    assert re.search(r"on the encoded bytes \d+ ns, on the dict \d+ ns", out), out
    assert re.search(r"policy matching nothing: [+-]\d+% CPU \[(PASS|MISS)", out), out
