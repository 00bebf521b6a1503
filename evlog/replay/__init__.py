"""Replay machinery: scheduling, control, selection, sinks. The user-facing API is
`evlog.replayer.EventReplayer`."""
from .clock import Clock, RealClock, VirtualClock
from .control import ControlError, ReplayControl
from .scheduler import ReplayError, ReplayResult, parse_speed, run_replay
from .selection import Selection, SelectionError
from .sinks import SinkError, StdoutSink, as_publish

__all__ = [
    "Clock", "RealClock", "VirtualClock", "ReplayControl", "ControlError", "ReplayError", "ReplayResult",
    "parse_speed", "run_replay", "Selection", "SelectionError", "SinkError", "StdoutSink", "as_publish",
]
