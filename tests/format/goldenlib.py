"""What a golden recording must read as: the expected reads as JSON, built from what was written.

Shared by `make_golden.py` (which writes the recordings and their `<case>.json`) and
`test_golden.py` (which reads the frozen recordings with today's reader and compares).

A record is described by its offset, times, name, source, flags, headers, the stored bytes
(`raw_data`, `raw_types`, as a raw read returns them), the data in JSON mode (`json`: what
export writes) and `value`: the decoded Python value written as *tagged* JSON, so a Decimal
must come back a Decimal, a tuple a tuple, a zoned datetime with its zone.
"""
from __future__ import annotations

import base64
import datetime as dt
import math
import uuid
from decimal import Decimal
from typing import Any


def tagged(value: Any) -> Any:
    """A decoded value as JSON that keeps its Python type (the inverse is not needed)."""
    t = type(value)
    if value is None or t in (bool, str):
        return value
    if t is int:
        return value if -(1 << 53) < value < (1 << 53) else {"$int": str(value)}
    if t is float:
        if math.isfinite(value):
            return value
        return {"$float": "nan" if value != value else ("inf" if value > 0 else "-inf")}
    if t is list:
        return [tagged(v) for v in value]
    if t is dict:
        return {k: tagged(v) for k, v in value.items()}
    if t is tuple:
        return {"$tuple": [tagged(v) for v in value]}
    if t is set:
        return {"$set": sorted((tagged(v) for v in value), key=repr)}
    if t is Decimal:
        return {"$decimal": str(value)}
    if t is dt.datetime:
        zone = getattr(value.tzinfo, "key", None)
        return {"$datetime": value.isoformat(), "zone": zone, "fold": value.fold}
    if t is dt.date:
        return {"$date": value.isoformat()}
    if t is dt.time:
        return {"$time": value.isoformat()}
    if t is dt.timedelta:
        return {"$timedelta": [value.days, value.seconds, value.microseconds]}
    if t is uuid.UUID:
        return {"$uuid": str(value)}
    if t is bytes:
        return {"$bytes": base64.b64encode(value).decode("ascii")}
    raise TypeError(f"no tagged form for {t.__qualname__}")


def record_doc(offset: int, timestamp: int, monotonic: int, name: str, source: str, flags: int,
               value: Any, json_value: Any, raw_data: bytes, raw_types: bytes,
               headers: dict[str, str] | None) -> dict:
    return {
        "offset": offset, "timestamp": timestamp, "monotonic": monotonic, "name": name,
        "source": source, "flags": flags, "headers": dict(headers or {}),
        "raw_data": raw_data.decode("utf-8"), "raw_types": raw_types.decode("utf-8"),
        "json": json_value, "value": tagged(value),
    }


def headers_of(record: Any) -> dict[str, str]:
    """A record's headers (format v2); a reader without them (v1 only) gives none."""
    return dict(getattr(record, "headers", None) or {})


def read_doc(records: list, raw_records: list, to_json_mode: Any) -> list[dict]:
    """The record docs of what a reader returned (decoded and raw reads of the same range)."""
    assert len(records) == len(raw_records)
    out = []
    for r, w in zip(records, raw_records):
        assert (r.offset, r.timestamp, r.monotonic, r.name, r.source, r.flags) == \
            (w.offset, w.timestamp, w.monotonic, w.name, w.source, w.flags)
        out.append(record_doc(r.offset, r.timestamp, r.monotonic, r.name, r.source, r.flags, r.data,
                              to_json_mode(r.data), w.data, w.types, headers_of(r)))
    return out


def summary_doc(summary: Any) -> dict:
    d = summary.to_dict()
    return {k: d[k] for k in ("count", "names", "sources", "flags", "first_ts", "last_ts", "min_ts", "max_ts",
                              "first_mono", "last_mono")}
