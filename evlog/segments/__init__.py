"""evlog's storage engine: segmented, block-compressed, indexed append-only logs.

Knows nothing of buses or replay; the rest of evlog goes through `Log`.
"""
from .block import RawColumns, RawRecord, Record
from .chain import ChainError
from .chainverify import ChainReport
from .codec import EventEncodeError, decode_data, encode_data, to_json_mode
from .errors import (
    CorruptBlockError, CorruptIndexError, CorruptRecordingError, EventTooLargeError, EvlogError,
    LogClosedError, LogWriteError, NotARecordingError, RecordingExistsError, RecordingLockedError,
    RecordingNotFoundError, UnsupportedFormatError,
)
from .fsio import FileSystem
from .headers import NO_HEADERS, decode_headers, encode_headers
from .index import SegmentSummary
from .log import Log
from .manifest import Manifest, is_recording
from .recovery import RecoveryReport, SalvageReport, VerifyReport, reindex, salvage, verify
from .rows import EncodedRows
from .writer import WriterOptions

__all__ = [
    "Log", "Record", "RawRecord", "RawColumns", "EncodedRows", "encode_headers", "decode_headers", "NO_HEADERS",
    "ChainReport", "ChainError", "Manifest", "SegmentSummary", "WriterOptions", "FileSystem",
    "RecoveryReport", "VerifyReport", "SalvageReport", "verify", "salvage", "reindex", "is_recording",
    "encode_data", "decode_data", "to_json_mode", "EventEncodeError",
    "EvlogError", "RecordingNotFoundError", "NotARecordingError", "UnsupportedFormatError",
    "RecordingLockedError", "RecordingExistsError", "EventTooLargeError", "LogWriteError",
    "LogClosedError", "CorruptRecordingError", "CorruptBlockError", "CorruptIndexError",
]
