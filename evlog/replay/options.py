"""Replay options checked before a replay runs (by the scheduler and by `ReplayControl`):
the speed multiplier, and `ReplayError` for an option that makes no sense."""
from __future__ import annotations

import math
from typing import Any

from ..segments.errors import EvlogError

__all__ = ["ReplayError", "parse_speed"]


class ReplayError(EvlogError, ValueError):
    """A replay option that makes no sense (speed <= 0, loop < 0...)."""


def parse_speed(speed: Any) -> float:
    """A speed multiplier: a positive number, or inf / "max" / "inf" for as fast as possible."""
    if isinstance(speed, str):
        text = speed.strip().lower()
        if text.endswith("x") and text[:-1].replace(".", "", 1).isdigit():
            text = text[:-1]
        if text in ("max", "inf", "infinity"):
            return math.inf
        try:
            speed = float(text)
        except ValueError:
            raise ReplayError(f"invalid speed {speed!r}: give a positive number or 'max'") from None
    if isinstance(speed, bool) or not isinstance(speed, (int, float)):
        raise ReplayError(f"invalid speed {speed!r}: give a positive number or 'max'")
    speed = float(speed)
    if not speed > 0:  # also rejects NaN
        raise ReplayError(f"speed must be positive, not {speed}")
    return speed
