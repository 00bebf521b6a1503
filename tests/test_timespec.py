from __future__ import annotations

import datetime as _dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evlog.segments.errors import EvlogError
from evlog.timespec import TimeSpecError, parse_time


@pytest.mark.parametrize("text, ns", [
    ("90s", 90 * 10**9), ("1m30s", 90 * 10**9), ("1h", 3600 * 10**9), ("500ms", 5 * 10**8),
    ("2.5s", 25 * 10**8), ("1h2m3s", 3723 * 10**9), ("250us", 250_000), (" 10 s ", 10**10), ("0s", 0),
])
def test_durations(text: str, ns: int) -> None:
    spec = parse_time(text)
    assert spec.relative and spec.ns == ns
    assert spec.to_mono(123) == ns and spec.to_wall(1000) == 1000 + ns


def test_iso_timestamps() -> None:
    start = int(_dt.datetime(2025, 10, 12, 10, 0, tzinfo=_dt.timezone.utc).timestamp()) * 10**9
    spec = parse_time("2025-10-12T10:01:30+00:00")
    assert not spec.relative
    assert spec.to_mono(start) == 90 * 10**9
    assert parse_time("2025-10-12T10:01:30Z").ns == spec.ns
    assert parse_time("2025-10-12T12:01:30+02:00").ns == spec.ns
    assert parse_time("2025-10-12T10:01:30").ns == spec.ns  # naive: UTC
    assert parse_time("2025-10-12T10:01:30.000001+00:00").ns == spec.ns + 1000


@pytest.mark.parametrize("text", ["", "90", "abc", "1x", "s", "1m30", "2025-13-45", "-5s", "1.2.3s"])
def test_errors(text: str) -> None:
    with pytest.raises(TimeSpecError) as info:
        parse_time(text)
    assert isinstance(info.value, EvlogError) and isinstance(info.value, ValueError)
    assert "\n" not in str(info.value)


@given(st.integers(0, 10**6), st.integers(0, 59), st.integers(0, 999))
def test_compound_durations_add_up(h: int, s: int, ms: int) -> None:
    assert parse_time(f"{h}h{s}s{ms}ms").ns == ((h * 3600 + s) * 1000 + ms) * 10**6
