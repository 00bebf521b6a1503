"""Encoding of event data to JSON bytes and back.

Data is stored as plain JSON, so every tool (export, `jq`, the dashboard) reads it as is.
Values JSON cannot express (Decimal, datetime, date, time, UUID, bytes, tuples, sets,
non-finite floats) are written in their JSON form (`"50000.0"`, an ISO string, base64...)
and listed in a small per-record *type map* (`[[path, type], ...]`) kept beside the data,
so the reader rebuilds the original Python values exactly.

The engine knows JSON and these typed values only. Application objects (pydantic models,
dataclasses, ...) are turned into them above the engine, by the encoder of `evlog.Log`
(`Log.encoder`), which may pass `encode_data` a `default` for the objects it finds inside.
"""
from __future__ import annotations

import base64
import datetime as _dt
import math
import uuid
from decimal import Decimal
from enum import Enum
from typing import Any, Callable

import msgspec

from .errors import EvlogError

FLAG_TYPED = 0x01          # the record has a type map
FLAG_UNSERIALIZABLE = 0x02  # the data is a marker for an event that could not be encoded
FLAG_MODEL = 0x04           # the data is the JSON dump of a pydantic model
KNOWN_FLAGS = FLAG_TYPED | FLAG_UNSERIALIZABLE | FLAG_MODEL

_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder()
encode_json = _encoder.encode
decode_json = _decoder.decode


class EventEncodeError(EvlogError, ValueError):
    """Event data that cannot be stored as JSON."""


_PLAIN_SCALARS = frozenset((str, int, bool, type(None)))


def _is_plain(value: Any) -> bool:
    """True when `value` is JSON as it is (no conversion, no type map)."""
    t = type(value)
    if t in _PLAIN_SCALARS:
        return True
    if t is float:
        return math.isfinite(value)
    if t is dict:
        for k, v in value.items():
            if type(k) is not str or not _is_plain(v):
                return False
        return True
    if t is list:
        for v in value:
            if not _is_plain(v):
                return False
        return True
    return False


_NONFINITE = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}


def _convert(value: Any, path: list, types: list, default: Callable[[Any], Any] | None = None) -> Any:
    """Return the JSON form of `value`, appending `[path, type]` for each converted value.
    `default` turns a value of any other type into one of these (or raises)."""
    t = type(value)
    if t in _PLAIN_SCALARS:
        return value
    if t is float:
        if math.isfinite(value):
            return value
        types.append([list(path), "float"])
        return "nan" if value != value else ("inf" if value > 0 else "-inf")
    if t is dict or isinstance(value, dict):
        out = {}
        for k, v in value.items():
            key = k if type(k) is str else str(k.value if isinstance(k, Enum) else k)
            path.append(key)
            out[key] = _convert(v, path, types, default)
            path.pop()
        return out
    if t is list or t is tuple or isinstance(value, (list, tuple)):
        if t is tuple:
            types.append([list(path), "tuple"])
        out_list = []
        for i, v in enumerate(value):
            path.append(i)
            out_list.append(_convert(v, path, types, default))
            path.pop()
        return out_list
    if isinstance(value, (set, frozenset)):
        types.append([list(path), "set"])
        items = list(value)
        try:
            items.sort()
        except TypeError:
            pass
        return _convert(items, path, types, default)
    if isinstance(value, Enum):
        return _convert(value.value, path, types, default)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, float):
        return _convert(float(value), path, types)
    if isinstance(value, Decimal):
        types.append([list(path), "decimal"])
        return str(value)
    if isinstance(value, _dt.datetime):
        zone = getattr(value.tzinfo, "key", None)
        if isinstance(zone, str):  # a zoneinfo zone: keep its name (and fold), not just the offset
            types.append([list(path), "zdatetime", zone, value.fold])
        else:
            types.append([list(path), "datetime"])
        return value.isoformat()
    if isinstance(value, _dt.date):
        types.append([list(path), "date"])
        return value.isoformat()
    if isinstance(value, _dt.time):
        types.append([list(path), "time"])
        return value.isoformat()
    if isinstance(value, _dt.timedelta):
        types.append([list(path), "timedelta"])
        seconds = value.total_seconds()
        if abs(value.days) < 50_000:  # a float of seconds holds every microsecond up to here
            return seconds
        return [value.days, value.seconds, value.microseconds]  # a float would round it
    if isinstance(value, uuid.UUID):
        types.append([list(path), "uuid"])
        return str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        types.append([list(path), "bytes"])
        return base64.b64encode(bytes(value)).decode("ascii")
    if default is not None:
        replaced = default(value)
        if replaced is not value:
            return _convert(replaced, path, types, default)
    raise EventEncodeError(f"cannot store a value of type {t.__module__}.{t.__qualname__} as JSON")


def encode_data(data: Any, default: Callable[[Any], Any] | None = None) -> tuple[bytes, int, bytes]:
    """Encode event data: returns (json_bytes, flags, type_map_bytes).

    `data` is plain JSON (dict, list, str, int, float, bool, None) and the typed values of the
    format (Decimal, datetime, UUID, bytes, tuple, set, ...; see the module docstring).
    `default`, if given, is called with any other value found and returns its replacement
    (e.g. a model's dict), like `json.dumps`'s `default`. Raises EventEncodeError when the
    data cannot be represented.
    """
    try:
        if _is_plain(data):
            return encode_json(data), 0, b""
        types: list = []
        converted = _convert(data, [], types, default)
        raw = encode_json(converted)
    except EventEncodeError:
        raise
    except RecursionError as exc:
        raise EventEncodeError("event data is nested too deeply (or contains a cycle)") from exc
    except (TypeError, ValueError, OverflowError, UnicodeError) as exc:
        raise EventEncodeError(f"event data cannot be encoded as JSON: {exc}") from exc
    if types:
        return raw, FLAG_TYPED, encode_json(types)
    return raw, 0, b""


def unserializable_marker(event: Any, error: BaseException) -> tuple[bytes, int, bytes]:
    """The stored form of an event that could not be encoded: a marker, flagged."""
    t = type(event)
    try:
        text = repr(event)
    except Exception as exc:  # a broken __repr__ must not break the recorder either
        text = f"<repr failed: {exc}>"
    marker = {
        "$unserializable": True,
        "type": f"{t.__module__}.{t.__qualname__}",
        "repr": text[:2000],
        "error": str(error)[:500],
    }
    return encode_json(marker), FLAG_UNSERIALIZABLE, b""


def _rebuild(value: Any, kind: str, extra: list) -> Any:
    if kind == "zdatetime":
        from zoneinfo import ZoneInfo
        zone, fold = extra
        return _dt.datetime.fromisoformat(value).replace(tzinfo=ZoneInfo(zone), fold=fold)
    if kind == "decimal":
        return Decimal(value)
    if kind == "datetime":
        return _dt.datetime.fromisoformat(value)
    if kind == "date":
        return _dt.date.fromisoformat(value)
    if kind == "time":
        return _dt.time.fromisoformat(value)
    if kind == "timedelta":
        if type(value) is list:
            return _dt.timedelta(*value)
        return _dt.timedelta(seconds=value)
    if kind == "uuid":
        return uuid.UUID(value)
    if kind == "bytes":
        return base64.b64decode(value)
    if kind == "float":
        return _NONFINITE[value]
    if kind == "tuple":
        return tuple(value)
    if kind == "set":
        return set(value)
    raise ValueError(f"unknown type {kind!r} in type map")


def apply_type_map(value: Any, types: list) -> Any:
    """Rebuild typed values in `value` (deepest paths first, so tuples of decimals work)."""
    for path, kind, *extra in sorted(types, key=lambda e: -len(e[0])):
        if not path:
            value = _rebuild(value, kind, extra)
            continue
        parent = value
        for key in path[:-1]:
            parent = parent[key]
        last = path[-1]
        parent[last] = _rebuild(parent[last], kind, extra)
    return value


def decode_data(raw: bytes | memoryview, flags: int = 0, types: bytes | memoryview = b"") -> Any:
    """Decode stored data bytes to Python values (inverse of `encode_data`)."""
    value = decode_json(raw)
    if flags & FLAG_TYPED and len(types):
        value = apply_type_map(value, decode_json(types))
    return value


def to_json_mode(value: Any) -> Any:
    """Return the plain-JSON form of decoded data (Decimal as string, datetime as ISO...)."""
    if _is_plain(value):
        return value
    return _convert(value, [], [])
