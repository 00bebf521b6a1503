"""The replay benchmark's smoke run prints every row with real figures; the MCAP baseline
is skipped, and said so, where the `mcap` package is absent (speed is not asserted here)."""
from __future__ import annotations

import os

import pytest
from benchcheck import figures, rates, row, run_bench

ROWS = ("pydantic:", "dict    :", "1x (", "100x (", "evlog dicts", "evlog models", "evlog rare", "original JSON :")


def _check_rows(out: str) -> None:
    for label in ROWS:
        figures(row(out, label))
    for speed in ("1x (", "100x ("):
        start = out.splitlines().index(row(out, speed))
        for side in ("evlog   :", "original:"):
            figures(row(out, side, start))
    for label in ("evlog dicts", "evlog models", "original JSON :"):
        rates(row(out, label))


@pytest.mark.timeout(600)
def test_bench_replay_quick_without_mcap(tmp_path):
    hidden = tmp_path / "mcap"
    hidden.mkdir()
    (hidden / "__init__.py").write_text('raise ImportError("mcap hidden by the test")\n')
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")])))
    out = run_bench("bench_replay.py", "--quick", env=env)
    _check_rows(out)
    assert "MCAP reader   : skipped" in out and "MCAP" not in row(out, "evlog dicts")


@pytest.mark.timeout(600)
def test_bench_replay_quick_with_the_mcap_baseline():
    pytest.importorskip("mcap")
    out = run_bench("bench_replay.py", "--quick")
    _check_rows(out)
    rates(row(out, "MCAP reader   : dicts"))
    assert "MCAP" in row(out, "evlog dicts")
