"""`retain`: delete whole old segments of a recording, by age and/or size (safe while a
recorder appends: the active segment is never touched)."""
from __future__ import annotations

from ..segments.retention import RetentionResult, parse_age, parse_size
from ..segments.retention import retain as retain_segments
from .common import OpError


def retain(path: str, max_age: str | float | None = None, max_bytes: str | int | None = None) -> RetentionResult:
    """Delete whole old segments so the recording keeps at most `max_age` ("7d" or seconds) and
    `max_bytes` ("10G" or bytes). The active segment is never touched (safe during a capture)."""
    if max_age is None and max_bytes is None:
        raise OpError("give --max-age and/or --max-bytes")
    return retain_segments(path, age_seconds(max_age), size_bytes(max_bytes))


def age_seconds(value: str | float | None) -> float | None:
    """Seconds from an age ("7d", "90s", "1h") or a number; OpError on bad text."""
    if value is None or isinstance(value, (int, float)):
        return value
    try:
        return parse_age(value)
    except ValueError as exc:
        raise OpError(str(exc)) from None


def size_bytes(value: str | int | None) -> int | None:
    """Bytes from a size ("10G", "64M") or a number; OpError on bad text."""
    if value is None or isinstance(value, int):
        return value
    try:
        return parse_size(value)
    except ValueError as exc:
        raise OpError(str(exc)) from None
