"""Exceptions raised by the storage engine.

Every error a user can cause (a wrong path, a damaged file, a second writer) has its own
class with a one-line message, so the CLI can print it without a traceback.
"""
from __future__ import annotations


class EvlogError(Exception):
    """Base class of every error evlog raises on purpose."""


class RecordingNotFoundError(EvlogError, FileNotFoundError):
    """The path does not exist."""


class NotARecordingError(EvlogError):
    """The path exists but is not an evlog recording."""


class UnsupportedFormatError(EvlogError):
    """The recording was written in a format version this reader does not understand."""


class RecordingLockedError(EvlogError):
    """Another writer holds the recording's lock."""


class RecordingExistsError(EvlogError, FileExistsError):
    """`create` was asked to make a recording where one already exists."""


class EventTooLargeError(EvlogError, ValueError):
    """An event (name, source or data) is larger than the format allows."""


class LogWriteError(EvlogError, OSError):
    """A write or fsync failed; the writer is failed and accepts no more appends.

    Events appended after the last durable offset were not written durably.
    """


class LogClosedError(EvlogError):
    """The log was closed."""


class CorruptRecordingError(EvlogError):
    """Damaged data in a recording.

    `segment` is the file, `position` the byte position in it, `offsets` the range of
    event offsets affected when known (first, last inclusive) or None.
    """

    def __init__(
        self,
        message: str,
        segment: str | None = None,
        position: int | None = None,
        offsets: tuple[int, int] | None = None,
    ) -> None:
        self.reason = message
        self.segment = segment
        self.position = position
        self.offsets = offsets
        where = []
        if segment is not None:
            where.append(f"segment {segment}")
        if position is not None:
            where.append(f"byte {position}")
        if offsets is not None:
            where.append(f"offsets {offsets[0]}..{offsets[1]}")
        text = message if not where else f"{message} ({', '.join(where)})"
        super().__init__(text)


class CorruptBlockError(CorruptRecordingError):
    """A block frame failed validation (bad magic, length, checksum or content)."""


class CorruptIndexError(CorruptRecordingError):
    """An index file failed validation; it can be rebuilt from its segment."""
