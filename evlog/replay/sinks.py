"""Where replayed events go: anything with `publish(name, event, source)`, a callable, or stdout."""
from __future__ import annotations

import sys
from typing import Any, Callable, TextIO

from ..segments.codec import encode_json, to_json_mode
from ..segments.errors import EvlogError

__all__ = ["Publish", "SinkError", "as_publish", "StdoutSink"]

Publish = Callable[[str, Any, str], Any]


class SinkError(EvlogError, TypeError):
    """A replay target that is neither a bus (with publish) nor a callable."""


def as_publish(target: Any) -> Publish:
    """The function the replayer calls for each event: `target.publish`, or `target` itself."""
    publish = getattr(target, "publish", None)
    if callable(publish):
        return publish
    if callable(target):
        return target
    raise SinkError(f"cannot replay into a {type(target).__name__}: give an object with a publish "
                    f"method or a callable(name, event, source)")


class StdoutSink:
    """Writes each event as one JSON line: {"event_name", "source", "event_data"}."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout

    def publish(self, event_name: str, event: Any = None, source: str = "") -> None:
        if hasattr(event, "model_dump"):
            event = event.model_dump(mode="json")
        line = encode_json({"event_name": event_name, "source": source, "event_data": to_json_mode(event)})
        self.stream.write(line.decode("utf-8") + "\n")
