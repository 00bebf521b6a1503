"""The flight recorder: the last minutes of events in memory (a bounded ring of compressed
blocks), written to a recording with what follows when a trigger fires. See docs/flight.md."""
from .recorder import FlightRecorder, parse_seconds_ns
from .ring import Ring, RingBlock
from .windows import Window

__all__ = ["FlightRecorder", "Ring", "RingBlock", "Window", "parse_seconds_ns"]
