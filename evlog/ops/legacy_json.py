"""Writing the original tool's JSON format as a stream (its replayer reads the result).

    {"session_name", "start_time", "duration_ms", "total_events", "events": [
        {"timestamp_offset_ms", "event_name", "event_data", "source"}, ...]}

When the counts are known in advance (a whole evlog recording: from its index) the header
comes first, as the original wrote it; otherwise (a filtered export) `duration_ms` and
`total_events` follow the events array. JSON objects are unordered, so both read the same.

An event that has per-event headers (format v2) gets one more key after `source`,
`"headers": {...}`: the original format has no place for them, and the original's reader
takes the four keys it knows from each event and ignores the others, while evlog reads them
back. An event without headers is written exactly as the original wrote it.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import BinaryIO

from ..segments.codec import encode_json


def num_ms(ns: int) -> bytes:
    """Milliseconds as exact decimal text: 523, 523.5, 523.000001 (no float rounding)."""
    ms, rest = divmod(ns, 1_000_000)
    if not rest:
        return b"%d" % ms
    return (b"%d.%06d" % (ms, rest)).rstrip(b"0")


def write_legacy(f: BinaryIO, session_name: str, start_time_iso: str,
                 events: Iterable[tuple[int, str, str, bytes, bytes]], *, duration_ms: float | None = None,
                 total_events: int | None = None) -> tuple[int, int]:
    """Write `events` `(monotonic_ns, name, source, data_json, headers_json)` (headers b"" for
    none); returns (count, last_mono)."""
    head = b'{\n  "session_name": %s,\n  "start_time": %s' % (encode_json(session_name), encode_json(start_time_iso))
    known = duration_ms is not None and total_events is not None
    if known:
        head += b',\n  "duration_ms": %s,\n  "total_events": %d' % (encode_json(duration_ms), total_events)
    f.write(head + b',\n  "events": [')
    pairs: dict[tuple[str, str], tuple[bytes, bytes]] = {}
    count = 0
    last_mono = 0
    buf: list[bytes] = []
    sep = b"\n    "
    for mono, name, source, data, headers in events:
        ns = pairs.get((name, source))
        if ns is None:
            ns = pairs[(name, source)] = (encode_json(name), encode_json(source))
        ms, rest = divmod(mono, 1_000_000)
        ms_text = b"%d" % ms if not rest else (b"%d.%06d" % (ms, rest)).rstrip(b"0")
        buf.append(b'%s{"timestamp_offset_ms": %s, "event_name": %s, "event_data": %s, "source": %s%s}' % (
            sep, ms_text, ns[0], data, ns[1], b', "headers": ' + headers if headers else b""))
        sep = b",\n    "
        count += 1
        last_mono = mono
        if len(buf) >= 4096:
            f.write(b"".join(buf))
            buf.clear()
    f.write(b"".join(buf))
    f.write(b"\n  ]" if count else b"]")
    if not known:
        f.write(b',\n  "duration_ms": %s,\n  "total_events": %d' % (num_ms(last_mono), count))
    f.write(b"\n}\n")
    return count, last_mono
