"""Points in a recording given as text: a duration since its start ("90s", "1m30s", "500ms")
or an absolute ISO timestamp ("2025-10-12T10:00:00+00:00").

Used by the replayer (`start=`/`end=`), the CLI (`--from`, `--to`) and the dashboard.
"""
from __future__ import annotations

import datetime as _dt
import re
from dataclasses import dataclass
from time import gmtime as _gmtime
from time import strftime as _strftime
from decimal import Decimal, InvalidOperation

from .segments.errors import EvlogError

__all__ = ["TimeSpec", "TimeSpecError", "parse_time", "parse_duration_ns", "rfc3339", "Rfc3339"]


class TimeSpecError(EvlogError, ValueError):
    """Text that is neither a duration nor an ISO timestamp."""


_UNITS_NS = {
    "ns": 1, "us": 1_000, "µs": 1_000, "ms": 1_000_000, "s": 1_000_000_000,
    "m": 60_000_000_000, "min": 60_000_000_000, "h": 3_600_000_000_000, "d": 86_400_000_000_000,
}
_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)\s*(ns|us|µs|ms|min|s|m|h|d)", re.IGNORECASE)
_DURATION = re.compile(r"^\s*(?:(?:\d+(?:\.\d*)?|\.\d+)\s*(?:ns|us|µs|ms|min|s|m|h|d)\s*)+$", re.IGNORECASE)


@dataclass(frozen=True)
class TimeSpec:
    """A point in a recording: `relative` (ns since its start) or absolute (ns since the epoch)."""

    relative: bool
    ns: int
    text: str = ""

    def to_mono(self, start_time_ns: int) -> int:
        """Nanoseconds since the recording's start (may be negative for an absolute time
        before the recording began; callers clamp as they need)."""
        return self.ns if self.relative else self.ns - start_time_ns

    def to_wall(self, start_time_ns: int) -> int:
        """Wall-clock nanoseconds since the epoch."""
        return start_time_ns + self.ns if self.relative else self.ns

    def __str__(self) -> str:
        return self.text or (f"{self.ns}ns" if self.relative else str(self.ns))


def parse_duration_ns(text: str) -> int | None:
    """Nanoseconds of a duration such as "1m30s" or "2.5s", or None when `text` is not one."""
    if not isinstance(text, str) or not _DURATION.match(text):
        return None
    total = Decimal(0)
    for number, unit in _PART.findall(text):
        try:
            total += Decimal(number) * _UNITS_NS[unit.lower() if unit != "µs" else unit]
        except InvalidOperation:  # pragma: no cover - the regex only lets numbers through
            return None
    return int(total)


def rfc3339(ns: int) -> str:
    """A wall-clock time in ns as RFC 3339 UTC text, with nanoseconds when not whole seconds
    (`2025-10-12T10:00:00.523000001Z`): CloudEvents' `time`, a NATS capture's `time` header."""
    sec, rest = divmod(ns, 1_000_000_000)
    text = _strftime("%Y-%m-%dT%H:%M:%S", _gmtime(sec))   # a few times faster than datetime's
    return f"{text}.{rest:09d}Z" if rest else f"{text}Z"


class Rfc3339:
    """`rfc3339` for times that mostly come in order (a capture's messages, an export's
    records): the text of the second is reused from one call to the next."""

    __slots__ = ("_second", "_text")

    def __init__(self) -> None:
        self._second: int | None = None
        self._text = ""

    def __call__(self, ns: int) -> str:
        sec, rest = divmod(ns, 1_000_000_000)
        if sec != self._second:
            self._second, self._text = sec, rfc3339(sec * 1_000_000_000)[:-1]
        return f"{self._text}.{rest:09d}Z" if rest else f"{self._text}Z"


def parse_time(text: str) -> TimeSpec:
    """Parse "90s", "1m30s", "1h", "500ms", "2.5s" (relative to the recording's start) or an
    ISO timestamp ("2025-10-12T10:00:00+00:00"; a timestamp without zone is taken as UTC)."""
    if isinstance(text, TimeSpec):
        return text
    if not isinstance(text, str) or not text.strip():
        raise TimeSpecError("empty time: give a duration like 90s, 1m30s, 500ms or an ISO timestamp")
    s = text.strip()
    ns = parse_duration_ns(s)
    if ns is not None:
        return TimeSpec(True, ns, s)
    if re.fullmatch(r"[+-]?\d+(\.\d*)?", s):
        raise TimeSpecError(f"time {s!r} has no unit: write {s}s, {s}ms... or an ISO timestamp")
    iso = s[:-1] + "+00:00" if s.endswith(("Z", "z")) else s
    try:
        when = _dt.datetime.fromisoformat(iso)
    except ValueError:
        raise TimeSpecError(
            f"invalid time {s!r}: expected a duration (90s, 1m30s, 500ms, 2.5s, 1h) "
            f"or an ISO timestamp (2025-10-12T10:00:00+00:00)") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=_dt.timezone.utc)
    delta = when - _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)
    wall_ns = (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1_000
    return TimeSpec(False, wall_ns, s)
