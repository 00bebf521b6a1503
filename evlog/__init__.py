"""evlog: record, store and replay event streams on an append-only, segmented log."""
from .segments import (
    CorruptRecordingError, EvlogError, Log, NotARecordingError, RawRecord, Record,
    RecordingNotFoundError, UnsupportedFormatError,
)

__version__ = "0.1.0"

__all__ = [
    "Log", "Record", "RawRecord", "EvlogError", "CorruptRecordingError", "NotARecordingError",
    "RecordingNotFoundError", "UnsupportedFormatError", "__version__",
]
