"""The original event recorder's JSON format, read as a stream.

A legacy recording is one JSON document:
`{"session_name", "start_time", "duration_ms", "total_events", "events": [{"timestamp_offset_ms",
"event_name", "event_data", "source"}, ...]}`. This module walks it without loading the events
array: metadata keys are decoded as they come, events one at a time.
"""
from __future__ import annotations

import codecs
import datetime as _dt
import json
import os
from dataclasses import dataclass
from typing import Any, Iterator

from .segments.errors import NotARecordingError, RecordingNotFoundError

_CHUNK = 1 << 20
_WS = " \t\n\r"
_decoder = json.JSONDecoder()


class LegacyFormatError(NotARecordingError):
    """A file that is not a valid recording of the original tool's JSON format."""


class _TextStream:
    """Incremental access to a UTF-8 text file for a hand-rolled JSON walker."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._file = open(path, "rb")
        self._utf8 = codecs.getincrementaldecoder("utf-8")()
        self.buf = ""
        self.pos = 0
        self.eof = False

    def close(self) -> None:
        self._file.close()

    def _more(self) -> bool:
        if self.eof:
            return False
        chunk = self._file.read(_CHUNK)
        if not chunk:
            self.eof = True
            self.buf = self.buf[self.pos:] + self._utf8.decode(b"", final=True)
        else:
            self.buf = self.buf[self.pos:] + self._utf8.decode(chunk)
        self.pos = 0
        return True

    def peek(self) -> str:
        """The next non-blank character ('' at the end)."""
        while True:
            while self.pos < len(self.buf) and self.buf[self.pos] in _WS:
                self.pos += 1
            if self.pos < len(self.buf):
                return self.buf[self.pos]
            if not self._more():
                return ""

    def expect(self, chars: str) -> str:
        c = self.peek()
        if not c or c not in chars:
            raise LegacyFormatError(f"{self.path} is not a recording in the original JSON format "
                                    f"(expected {' or '.join(repr(x) for x in chars)}, found {c!r})")
        self.pos += 1
        return c

    def value(self) -> Any:
        self.peek()
        while True:
            try:
                value, end = _decoder.raw_decode(self.buf, self.pos)
            except json.JSONDecodeError as exc:
                # incomplete value at the end of the buffer: read more and try again
                if not self.eof and (exc.pos >= len(self.buf) - 1 or len(self.buf) - self.pos < _CHUNK * 64):
                    if self._more():
                        continue
                raise LegacyFormatError(f"{self.path}: invalid JSON ({exc.msg} near character {exc.pos})") from None
            # a number at the very end of the buffer may continue in the next chunk
            if end >= len(self.buf) and not self.eof and not isinstance(value, (dict, list, str)):
                self._more()
                continue
            self.pos = end
            return value


def iter_document(path: str) -> Iterator[tuple[str, Any]]:
    """Yield ("meta", (key, value)) for top-level keys and ("event", dict) for each event."""
    stream = _TextStream(path)
    try:
        stream.expect("{")
        if stream.peek() == "}":
            raise LegacyFormatError(f"{path} is not a recording in the original JSON format (empty object)")
        while True:
            key = stream.value()
            if not isinstance(key, str):
                raise LegacyFormatError(f"{path}: invalid JSON (object key is not a string)")
            stream.expect(":")
            if key == "events":
                stream.expect("[")
                if stream.peek() == "]":
                    stream.pos += 1
                else:
                    while True:
                        event = stream.value()
                        if not isinstance(event, dict) or "event_name" not in event:
                            raise LegacyFormatError(f"{path}: an event is not an object with an event_name")
                        yield "event", event
                        if stream.expect(",]") == "]":
                            break
            else:
                yield "meta", (key, stream.value())
            if stream.expect(",}") == "}":
                break
        if stream.peek() != "":
            raise LegacyFormatError(f"{path}: trailing data after the JSON document")
    except UnicodeDecodeError:
        raise LegacyFormatError(f"{path} is not a recording in the original JSON format (not UTF-8 text)") from None
    finally:
        stream.close()


def parse_time_ns(value: Any) -> int | None:
    if not isinstance(value, str):
        return None
    try:
        moment = _dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=_dt.timezone.utc)
    return int(moment.timestamp()) * 1_000_000_000 + moment.microsecond * 1000


@dataclass
class LegacyHeader:
    session_name: str
    start_time_ns: int
    duration_ms: float | None
    total_events: int | None
    extra: dict


def read_header(path: str) -> LegacyHeader:
    """The metadata of a legacy recording (one streaming pass that skips decoding nothing
    but the events it walks over; the metadata usually precedes the events)."""
    check_legacy_path(path)
    meta: dict[str, Any] = {}
    for kind, item in iter_document(path):
        if kind == "meta":
            meta[item[0]] = item[1]
    if "events" in meta:
        raise LegacyFormatError(f"{path}: 'events' is not a list")
    start = parse_time_ns(meta.get("start_time"))
    if start is None:
        start = int(os.stat(path).st_mtime * 1e9)
    return LegacyHeader(
        session_name=str(meta.get("session_name") or os.path.splitext(os.path.basename(path))[0]),
        start_time_ns=start,
        duration_ms=meta.get("duration_ms") if isinstance(meta.get("duration_ms"), (int, float)) else None,
        total_events=meta.get("total_events") if isinstance(meta.get("total_events"), int) else None,
        extra={k: v for k, v in meta.items() if k not in ("session_name", "start_time", "duration_ms", "total_events")},
    )


def check_legacy_path(path: str) -> None:
    if not os.path.exists(path):
        raise RecordingNotFoundError(f"no such recording: {path}")
    if not os.path.isfile(path):
        raise LegacyFormatError(f"{path} is not a recording")


def iter_events(path: str) -> Iterator[dict]:
    """The events of a legacy recording, one dict at a time."""
    check_legacy_path(path)
    for kind, item in iter_document(path):
        if kind == "event":
            yield item


def looks_like_legacy(path: str) -> bool:
    """A regular file that starts (after blanks) with '{'."""
    if not os.path.isfile(path):
        return False
    with open(path, "rb") as f:
        head = f.read(4096).lstrip()
    return head[:1] == b"{"
