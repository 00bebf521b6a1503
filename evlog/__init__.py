"""evlog: record, store and replay event streams on an append-only, segmented log."""
from __future__ import annotations

from typing import Any

from .log import Log
from .segments import (
    CorruptRecordingError, EvlogError, NotARecordingError, RawRecord, Record, RecordingNotFoundError,
    UnsupportedFormatError,
)

__version__ = "0.1.0"

_LAZY = {
    "EventRecorder": ("evlog.recorder", "EventRecorder"),
    "EventReplayer": ("evlog.replayer", "EventReplayer"),
    "open_recording": ("evlog.recording", "open_recording"),
    "parse_filter": ("evlog.filters", "parse_filter"),
}


def __getattr__(name: str) -> Any:
    """Import the recorder, replayer and friends on first use (keeps `import evlog` light)."""
    if name in _LAZY:
        import importlib
        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'evlog' has no attribute {name!r}")


__all__ = [
    "Log", "Record", "RawRecord", "EvlogError", "CorruptRecordingError", "NotARecordingError",
    "RecordingNotFoundError", "UnsupportedFormatError", "EventRecorder", "EventReplayer",
    "open_recording", "parse_filter", "__version__",
]
