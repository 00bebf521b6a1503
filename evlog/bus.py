"""A small in-process service bus, for the demo and the tests.

`EventRecorder` works with any object that has `publish(event_name, event, source)`; this
one is the reference. Handlers are called synchronously, in subscription order, as
`handler(event_name, event, source)`.
"""
from __future__ import annotations

import fnmatch
import threading
from typing import Any, Callable

__all__ = ["ServiceBus", "CollectingBus", "CountingBus", "Handler"]

Handler = Callable[[str, Any, str], Any]


class ServiceBus:
    """Publish/subscribe by event name or glob (`"Position*"`, `"*"`)."""

    def __init__(self) -> None:
        self._subs: list[tuple[str, Callable[[str], bool], Handler]] = []
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[Handler, ...]] = {}

    def subscribe(self, name_or_glob: str, handler: Handler) -> Callable[[], None]:
        """Call `handler(event_name, event, source)` for matching events; returns an unsubscribe function."""
        if not callable(handler):
            raise TypeError("handler must be callable")
        if any(c in name_or_glob for c in "*?["):
            match: Callable[[str], bool] = lambda n, g=name_or_glob: fnmatch.fnmatchcase(n, g)  # noqa: E731
        else:
            match = name_or_glob.__eq__
        entry = (name_or_glob, match, handler)
        with self._lock:
            self._subs.append(entry)
            self._cache = {}

        def unsubscribe() -> None:
            with self._lock:
                if entry in self._subs:
                    self._subs.remove(entry)
                    self._cache = {}
        return unsubscribe

    def handlers(self, event_name: str) -> tuple[Handler, ...]:
        found = self._cache.get(event_name)
        if found is None:
            with self._lock:
                found = tuple(h for _, match, h in self._subs if match(event_name))
                self._cache[event_name] = found
        return found

    def publish(self, event_name: str, event: Any = None, source: str = "") -> int:
        """Deliver to the matching handlers; returns how many were called. A handler's
        exception propagates to the publisher (after the handlers before it ran)."""
        handlers = self.handlers(event_name)
        for handler in handlers:
            handler(event_name, event, source)
        return len(handlers)


class CollectingBus:
    """A bus that keeps every publish as `(event_name, event, source)` (tests, small replays)."""

    def __init__(self) -> None:
        self.events: list[tuple[str, Any, str]] = []

    def publish(self, event_name: str, event: Any = None, source: str = "") -> int:
        self.events.append((event_name, event, source))
        return len(self.events)


class CountingBus:
    """A bus that only counts publishes (benchmarks)."""

    def __init__(self) -> None:
        self.count = 0

    def publish(self, event_name: str, event: Any = None, source: str = "") -> None:
        self.count += 1
