"""evlog: record, store and replay event streams on an append-only, segmented log."""
from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

# Nothing is imported with the package itself: `import evlog.testing.pytest_plugin` (loaded by
# pytest at start-up, before pytest-cov starts measuring) must not import the engine.
_LAZY = {
    "Log": ("evlog.log", "Log"),
    **{name: ("evlog.segments", name) for name in (
        "CorruptRecordingError", "EvlogError", "NotARecordingError", "RawRecord", "Record",
        "RecordingNotFoundError", "UnsupportedFormatError")},
    "EventRecorder": ("evlog.recorder", "EventRecorder"),
    "EventReplayer": ("evlog.replayer", "EventReplayer"),
    "FlightRecorder": ("evlog.flight", "FlightRecorder"),
    "open_recording": ("evlog.recording", "open_recording"),
    "parse_filter": ("evlog.filters", "parse_filter"),
}


def __getattr__(name: str) -> Any:
    """Import the log, the recorder, the replayer and friends on first use (keeps `import evlog` light)."""
    if name in _LAZY:
        import importlib
        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'evlog' has no attribute {name!r}")


__all__ = [
    "Log", "Record", "RawRecord", "EvlogError", "CorruptRecordingError", "NotARecordingError",
    "RecordingNotFoundError", "UnsupportedFormatError", "EventRecorder", "EventReplayer",
    "FlightRecorder", "open_recording", "parse_filter", "__version__",
]
