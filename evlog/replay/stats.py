"""Lateness statistics in constant memory (a histogram, not a list of samples)."""
from __future__ import annotations

from array import array

__all__ = ["LatencyHistogram"]

_FINE = 2_000        # 1 µs buckets up to 2 ms
_COARSE = 10_000     # then 100 µs buckets up to ~1 s; beyond: the last bucket (max is exact)


class LatencyHistogram:
    """Counts of nanosecond durations; quantiles to 1 µs below 2 ms, 100 µs above."""

    def __init__(self) -> None:
        # the 96 KiB of buckets are made by the first `add`: a replay at max speed (a seek)
        # measures no lateness and does not pay for them
        self._buckets: array | None = None
        self.count = 0
        self.max_ns = 0
        self.total_ns = 0

    def add(self, ns: int) -> None:
        if ns < 0:
            ns = 0
        us = ns // 1000
        if us < _FINE:
            i = us
        else:
            i = _FINE + min(_COARSE, (us - _FINE) // 100)
        buckets = self._buckets
        if buckets is None:
            buckets = self._buckets = array("q", bytes(8 * (_FINE + _COARSE + 1)))
        buckets[i] += 1
        self.count += 1
        self.total_ns += ns
        if ns > self.max_ns:
            self.max_ns = ns

    def quantile(self, q: float) -> float:
        """The `q` quantile in ns (upper edge of its bucket, capped at the max); 0 when empty."""
        if not self.count or self._buckets is None:
            return 0.0
        rank = max(1, int(q * self.count + 0.999999))
        seen = 0
        for i, n in enumerate(self._buckets):
            if not n:
                continue
            seen += n
            if seen >= rank:
                if i == len(self._buckets) - 1:  # the overflow bucket
                    return float(self.max_ns)
                upper = (i + 1) * 1000 if i < _FINE else (_FINE + (i - _FINE + 1) * 100) * 1000
                return float(min(upper, self.max_ns))
        return float(self.max_ns)
