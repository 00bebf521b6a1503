"""The smoke tests' checks reject what they must (a missing row, nan, a zero rate)."""
from __future__ import annotations

import pytest
from benchcheck import figures, rates, ratios, row


def test_figures_and_rates():
    assert figures("p50 0.44 us, 1,234 events, x2.5") == [0.44, 1234.0]
    assert rates("839,329 ev/s wall, 12/s, 3 events/s") == [839329.0, 12.0, 3.0]
    assert row("a: 1\nb: 2", "b:") == "b: 2"
    assert ratios("insert x1 575.2x (target >= 20x), 0.97x") == [575.2, 20.0, 0.97]


@pytest.mark.parametrize("check, line", [
    (figures, "lateness nan ms"), (figures, "rate inf"), (figures, "no numbers here"),
    (rates, "0 ev/s"), (rates, "nan ev/s"), (rates, "no rate, 5 ms"), (ratios, "nanx"), (ratios, "0x"),
])
def test_broken_figures_fail(check, line):
    with pytest.raises(AssertionError):
        check(line)


def test_a_missing_row_fails():
    with pytest.raises(AssertionError):
        row("a\nb", "c")
