"""The progress bar of the CLI: on a terminal only (stderr), silent in pipes or when quiet."""
from __future__ import annotations

import sys
import time
from typing import TextIO

from ..closing import Closing


class ProgressBar(Closing):
    """`bar(n)` adds n done items; redraws at most 10 times a second on stderr."""

    def __init__(self, label: str, total: int | None, *, enabled: bool, stream: TextIO | None = None) -> None:
        self.label, self.total, self.enabled = label, total, enabled
        self.stream = stream or sys.stderr
        self.done = 0
        self._last = 0.0
        self._start = time.monotonic()
        self._drawn = False

    def __call__(self, n: int) -> None:
        self.done += n
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self._last >= 0.1:
            self._last = now
            self._draw(now)

    def _draw(self, now: float) -> None:
        elapsed = max(now - self._start, 1e-9)
        rate = self.done / elapsed
        if self.total:
            frac = min(1.0, self.done / self.total)
            filled = int(frac * 30)
            text = f"{self.label} [{'#' * filled}{'-' * (30 - filled)}] {frac:6.1%} {self.done}/{self.total}"
        else:
            text = f"{self.label} {self.done} events"
        text += f" ({rate:,.0f}/s)"
        self.stream.write("\r" + text + "\033[K")
        self.stream.flush()
        self._drawn = True

    def status(self, text: str) -> None:
        """A free-form live line (e.g. the replay position)."""
        if self.enabled:
            now = time.monotonic()
            if now - self._last >= 0.1:
                self._last = now
                self.stream.write("\r" + text + "\033[K")
                self.stream.flush()
                self._drawn = True

    def close(self) -> None:
        if self.enabled and self._drawn:
            self.stream.write("\r\033[K")
            self.stream.flush()

