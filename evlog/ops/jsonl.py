"""The JSON Lines form of an event, written by `export --format jsonl` and `cat`, read by
`import` and `record`.

One line per event:

    {"offset": 0, "timestamp": "2025-10-12T10:00:00.000000+00:00", "timestamp_ns": ...,
     "monotonic_ns": 0, "event_name": "...", "source": "...", "event_data": {...},
     "flags": 4, "event_types": [[["price"], "decimal"]], "headers": {"correlation_id": "c-1"}}

`flags`, `event_types` (evlog's type map: which strings are Decimals, datetimes, UUIDs...) and
`headers` (the event's per-event headers, format v2) appear only when not empty, so an event
without them has the line it had before headers existed; with them, importing the lines back
gives the same events. Input lines need only `event_name`; `event_data`, `source`, `headers`
and a time are optional: the time is `timestamp_ns`, or `timestamp` (ISO text or seconds
since the epoch), or `timestamp_offset_ms` (ms since the recording's start, the original
format's field).
"""
from __future__ import annotations

import datetime as _dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from ..segments import EncodedRows, EvlogError, encode_headers
from ..segments.codec import KNOWN_FLAGS, encode_json
from .common import OpError

_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)


class LineEncoder:
    """Encodes records as JSON Lines bytes, fast: names, sources and seconds are cached."""

    def __init__(self) -> None:
        self._strings: dict[str, bytes] = {}
        self._second = -1
        self._second_text = b""

    def _str(self, s: str) -> bytes:
        b = self._strings.get(s)
        if b is None:
            if len(self._strings) > 100_000:
                self._strings.clear()
            b = self._strings[s] = encode_json(s)
        return b

    def iso(self, ns: int) -> bytes:
        sec, rest = divmod(ns, 1_000_000_000)
        if sec != self._second:
            self._second = sec
            self._second_text = (_EPOCH + _dt.timedelta(seconds=sec)).strftime("%Y-%m-%dT%H:%M:%S").encode()
        return b"%s.%06d+00:00" % (self._second_text, rest // 1000)

    def lines(self, records: Iterable[Any]) -> Iterator[bytes]:
        """Lines of raw records (data as JSON bytes, with flags and types), in a tight loop."""
        pairs: dict[tuple[str, str], bytes] = {}
        flag_parts: dict[int, bytes] = {0: b""}
        enc = encode_json
        lo = hi = 0
        second_text = b""
        for offset, ts, mono, name, source, data, flags, types, headers in records:
            if not lo <= ts < hi:
                sec = ts // 1_000_000_000
                lo, hi = sec * 1_000_000_000, (sec + 1) * 1_000_000_000
                second_text = (_EPOCH + _dt.timedelta(seconds=sec)).strftime("%Y-%m-%dT%H:%M:%S").encode()
            ns = pairs.get((name, source))
            if ns is None:
                if len(pairs) > 100_000:
                    pairs.clear()
                ns = pairs[(name, source)] = b'"event_name":%s,"source":%s' % (enc(name), enc(source))
            extra = flag_parts.get(flags)
            if extra is None:
                extra = flag_parts[flags] = b',"flags":%d' % flags
            if types:
                extra += b',"event_types":' + types
            if headers:
                extra += b',"headers":' + headers
            yield (b'{"offset":%d,"timestamp":"%s.%06d+00:00","timestamp_ns":%d,"monotonic_ns":%d,%s,'
                   b'"event_data":%s%s}\n' % (offset, second_text, (ts - lo) // 1000, ts, mono, ns, data, extra))

    def line(self, offset: int, timestamp: int, monotonic: int, name: str, source: str,
             data: bytes, flags: int = 0, types: bytes = b"", headers: bytes = b"") -> bytes:
        """One line; `data`, `types` and `headers` in their stored form (JSON bytes)."""
        extra = b""
        if flags:
            extra = b',"flags":%d' % flags
        if types:
            extra += b',"event_types":' + types
        if headers:
            extra += b',"headers":' + headers
        return (b'{"offset":%d,"timestamp":"%s","timestamp_ns":%d,"monotonic_ns":%d,"event_name":%s,'
                b'"source":%s,"event_data":%s%s}\n' % (
                    offset, self.iso(timestamp), timestamp, monotonic, self._str(name),
                    self._str(source), data, extra))


@dataclass
class ParsedEvent:
    name: str
    source: str
    data: bytes
    flags: int
    types: bytes
    timestamp: int | None       # wall clock ns
    monotonic: int | None       # ns since the recording's start
    offset_ms: float | None     # the original format's timestamp_offset_ms
    headers: bytes = b""        # encode_headers form, b"" for none


def parse_event(obj: Any, where: str) -> ParsedEvent:
    """Check and convert one decoded input line; raises OpError naming `where`."""
    if not isinstance(obj, dict):
        raise OpError(f"{where}: expected a JSON object")
    name = obj.get("event_name", obj.get("name"))
    if not isinstance(name, str) or not name:
        raise OpError(f"{where}: missing \"event_name\" (a non-empty string)")
    source = obj.get("source") or ""
    if not isinstance(source, str):
        raise OpError(f"{where}: \"source\" must be a string")
    data = obj.get("event_data", obj.get("data"))
    flags = obj.get("flags", 0)
    if not isinstance(flags, int) or isinstance(flags, bool) or flags & ~KNOWN_FLAGS or flags < 0:
        raise OpError(f"{where}: bad \"flags\" {flags!r}")
    types_value = obj.get("event_types")
    types = b""
    if types_value:
        if not isinstance(types_value, list):
            raise OpError(f"{where}: \"event_types\" must be a list")
        types = encode_json(types_value)
        flags |= 1
    else:
        flags &= ~1
    ts = obj.get("timestamp_ns")
    if ts is not None and (not isinstance(ts, int) or isinstance(ts, bool)):
        raise OpError(f"{where}: \"timestamp_ns\" must be an integer")
    if ts is None and obj.get("timestamp") is not None:
        ts = _parse_timestamp(obj["timestamp"], where)
    mono = obj.get("monotonic_ns")
    if mono is not None and (not isinstance(mono, int) or isinstance(mono, bool) or mono < 0):
        raise OpError(f"{where}: \"monotonic_ns\" must be a non-negative integer")
    off = obj.get("timestamp_offset_ms")
    if off is not None and (not isinstance(off, (int, float)) or isinstance(off, bool) or off < 0):
        raise OpError(f"{where}: \"timestamp_offset_ms\" must be a non-negative number")
    try:
        raw = encode_json(data)
    except Exception as exc:  # noqa: BLE001 - msgspec raises several types
        raise OpError(f"{where}: event_data cannot be stored: {exc}") from None
    return ParsedEvent(name, source, raw, flags, types, ts, mono, off, parse_headers(obj.get("headers"), where))


def parse_headers(value: Any, where: str) -> bytes:
    """The stored form of an input's `headers` (an object of strings, or null/absent for none)."""
    if value is None:
        return b""
    if not isinstance(value, dict):
        raise OpError(f"{where}: \"headers\" must be an object of strings")
    try:
        return encode_headers(value)
    except EvlogError as exc:
        raise OpError(f"{where}: bad \"headers\": {exc}") from None


def append_parsed(log: Any, events: list[tuple[ParsedEvent, int | None, int | None]]) -> range:
    """Append parsed events with their (timestamp, monotonic) to `log` in one call; returns
    their offsets. The log checks them (validate=True: the input was not made by evlog)."""
    evs = [e for e, _t, _m in events]
    headers = [e.headers for e in evs]
    return log.append_rows(EncodedRows([e.name for e in evs], [e.source for e in evs], [e.flags for e in evs],
                                       [e.data for e in evs], [e.types for e in evs],
                                       headers if any(headers) else None,
                                       [t for _e, t, _m in events], [m for _e, _t, m in events]))


def _parse_timestamp(value: Any, where: str) -> int:
    if isinstance(value, bool):
        raise OpError(f"{where}: bad \"timestamp\" {value!r}")
    if isinstance(value, (int, float)):
        return round(value * 1e9)   # seconds since the epoch
    if isinstance(value, str):
        try:
            moment = _dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise OpError(f"{where}: \"timestamp\" {value!r} is not an ISO timestamp") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=_dt.timezone.utc)
        delta = moment - _EPOCH
        return (delta.days * 86400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000
    raise OpError(f"{where}: bad \"timestamp\" {value!r}")


class Stamper:
    """Turns the optional times of parsed events into (timestamp, monotonic) for `Log`,
    monotonic never decreasing; `start_time_ns` is fixed by the first event."""

    def __init__(self, start_time_ns: int | None = None) -> None:
        self.start_time_ns = start_time_ns
        self._last_mono = 0

    def first_start(self, ev: ParsedEvent, now_ns: int) -> int:
        if ev.timestamp is not None and ev.monotonic is not None:
            return ev.timestamp - ev.monotonic
        if ev.timestamp is not None:
            return ev.timestamp - int((ev.offset_ms or 0) * 1e6)
        return now_ns

    def stamp(self, ev: ParsedEvent, now_ns: int) -> tuple[int, int]:
        if self.start_time_ns is None:
            self.start_time_ns = self.first_start(ev, now_ns)
        start = self.start_time_ns
        if ev.monotonic is not None:
            mono = ev.monotonic
            ts = ev.timestamp if ev.timestamp is not None else start + mono
        elif ev.timestamp is not None:
            ts = ev.timestamp
            mono = ts - start if ev.offset_ms is None else round(ev.offset_ms * 1e6)
        elif ev.offset_ms is not None:
            mono = round(ev.offset_ms * 1e6)
            ts = start + mono
        else:
            ts = now_ns
            mono = ts - start
        mono = max(mono, self._last_mono)
        self._last_mono = mono
        return ts, mono
