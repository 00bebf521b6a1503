"""`OutputCapture`: what the code under test publishes on a bus during a baseline replay,
appended to a recording as it is published, stamped with the replay's virtual clock.

The capture replaces the bus's `publish` (as `EventRecorder` does) and hands the replay the
original one, so the events the replay publishes are not captured: only what the code under
test publishes in response. Each event is encoded on the publishing thread before the bus's
handlers run (`evlog.Log.append`, the same codec as the recorder), so a program may mutate it
right after. Its time is the replay clock's, relative to the replay's start: the recorded time
of the input being handled, so a re-recorded baseline is the same from run to run.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..codec import EventEncodeError
from ..log import Log
from ..segments import EncodedRows
from ..segments.codec import unserializable_marker

__all__ = ["OutputCapture"]


class OutputCapture:
    """`with OutputCapture(bus, log, now, start_time_ns) as publish:` - `publish` is the
    bus's original publish (for the replay); everything else published meanwhile goes into `log`."""

    def __init__(self, bus: Any, log: Log, now: Callable[[], int], start_time_ns: int) -> None:
        if not callable(getattr(bus, "publish", None)):
            raise TypeError(f"cannot capture the outputs of a {type(bus).__name__}: it has no publish method")
        self.bus, self.log, self.now, self.start_time_ns = bus, log, now, start_time_ns
        self.original: Callable[..., Any] = bus.publish
        self.t0 = 0
        self.captured = 0
        self._had_attribute = "publish" in getattr(bus, "__dict__", {})

    def _store(self, name: str, event: Any, source: str, headers: Any) -> None:
        mono = max(0, self.now() - self.t0)
        ts = self.start_time_ns + mono
        try:
            self.log.append(name, event, source, timestamp=ts, monotonic=mono, headers=headers)
        except EventEncodeError as exc:   # stored as a marker, as the recorder does
            data, flags, types = unserializable_marker(event, exc)
            self.log.append_rows(EncodedRows([name], [source], [flags], [data], [types], None, [ts], [mono]))
        self.captured += 1

    def __enter__(self) -> Callable[..., Any]:
        original = self.original
        self.t0 = self.now()

        def publish(event_name: str, event: Any = None, source: str = "", *args: Any, **kwargs: Any) -> Any:
            self._store(event_name, event, source, kwargs.get("headers"))
            return original(event_name, event, source, *args, **kwargs)
        self.bus.publish = publish
        return original

    def __exit__(self, *exc: Any) -> None:
        if self._had_attribute:
            self.bus.publish = self.original
        else:
            del self.bus.publish
