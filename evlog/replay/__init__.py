"""Replay machinery: scheduling, control, selection, sinks. The user-facing API is
`evlog.replayer.EventReplayer`; every replay runs through `play(recording, target, ReplayOptions(...))`
(evlog/replay/facade.py) over the scheduler (`run_replay`)."""
from .clock import Clock, RealClock, VirtualClock
from .control import ControlError, ReplayControl
from .options import ReplayError, parse_speed
from .scheduler import ReplayResult, run_replay
from .facade import ReplayOptions, play
from .selection import Selection, SelectionError
from .sinks import (DeliveryError, HttpSink, JsonLinesSink, SinkConfigError, SinkError, StdoutSink, as_publish,
                    record_json)

__all__ = [
    "Clock", "RealClock", "VirtualClock", "ReplayControl", "ControlError", "ReplayError", "ReplayResult",
    "parse_speed", "play", "ReplayOptions", "run_replay", "Selection", "SelectionError", "SinkError", "StdoutSink", "as_publish",
    "SinkConfigError", "DeliveryError", "HttpSink", "JsonLinesSink", "record_json",
]
