"""Small helpers shared by the benchmark scripts."""
from __future__ import annotations

import platform


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (else what platform knows)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "?"


def verdict(ok: bool) -> str:
    """A benchmark's verdict against its target."""
    return "PASS" if ok else "MISS"


def pct(values: list, q: float) -> float:
    """The q-quantile (0..1) of `values` (0.0 for none)."""
    s = sorted(values)
    return float(s[min(len(s) - 1, int(q * len(s)))]) if s else 0.0
