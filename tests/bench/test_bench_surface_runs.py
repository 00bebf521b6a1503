"""The surface benchmark prints one positive figure per path, and before_after.py reads them
(speed is not asserted here)."""
from __future__ import annotations

import importlib.util
import os

from benchcheck import run_bench

PATHS = ("dicts", "models", "rare", "data_filter", "ops_replay", "slice", "export_jsonl")


def test_bench_surface_prints_every_figure_and_before_after_parses_them():
    out = run_bench("bench_surface.py", "--events", "2000", "--repeat", "1", timeout=300)
    spec = importlib.util.spec_from_file_location(
        "before_after", os.path.join(os.path.dirname(__file__), "..", "..", "bench", "before_after.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)  # type: ignore[union-attr]
    got = mod.figures(out)
    assert set(got) == set(PATHS) and all(v > 0 for v in got.values()), out
