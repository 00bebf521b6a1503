"""Signals in a long-running capture, handled inside its asyncio loop.

SIGTERM and SIGINT ask for a clean stop (the capture flushes, fsyncs, closes the recording and
exits 0); a second one while stopping exits at once with status 130 (events already fsynced stay;
JetStream redelivers the rest on the next start). SIGHUP asks for a new segment.
"""
from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Callable

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class CaptureSignals:
    def __init__(self, loop: asyncio.AbstractEventLoop, on_stop: Callable[[str], None],
                 on_roll: Callable[[], None]) -> None:
        self._loop = loop
        self._on_stop = on_stop
        self._on_roll = on_roll
        self._installed: list[int] = []
        self.stop_requested: str | None = None

    def install(self) -> CaptureSignals:
        """Install the handlers (only possible in the main thread; elsewhere a no-op)."""
        for sig in (*STOP_SIGNALS, signal.SIGHUP):
            try:
                self._loop.add_signal_handler(sig, self._handle, sig)
            except (ValueError, RuntimeError, NotImplementedError):
                continue  # not the main thread, or no signals on this platform
            self._installed.append(sig)
        return self

    def _handle(self, sig: int) -> None:
        if sig == signal.SIGHUP:
            self._on_roll()
            return
        if self.stop_requested is not None:
            os._exit(130)  # second stop signal: the user insists
        self.stop_requested = signal.Signals(sig).name
        self._on_stop(self.stop_requested)

    def remove(self) -> None:
        for sig in self._installed:
            try:
                self._loop.remove_signal_handler(sig)
            except (ValueError, RuntimeError):
                pass
        self._installed.clear()

    def __enter__(self) -> CaptureSignals:
        return self.install()

    def __exit__(self, *exc: object) -> None:
        self.remove()
