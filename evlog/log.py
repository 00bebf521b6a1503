"""`evlog.Log`: the storage engine's `Log` with an encoder that knows pydantic models.

The engine (`evlog.segments`) stores JSON and the format's typed values only; this subclass
sets `Log.encoder` so `log.append("X", model)` works: a model is stored as its own JSON dump
(flag MODEL), dataclasses and models inside other values as their fields. A temporary
adapter: the codec work (`evlog.codec.encode`) replaces it.
"""
from __future__ import annotations

import dataclasses
from typing import Any

from .segments import Log as _EngineLog
from .segments.codec import FLAG_MODEL, EventEncodeError, encode_data


def _fields(value: Any) -> Any:
    """`encode_data`'s default: the fields of a pydantic model or a dataclass found inside a value."""
    if hasattr(value, "__pydantic_serializer__") and hasattr(value, "model_dump") and not isinstance(value, type):
        return value.model_dump()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    return value


def encode(value: Any) -> tuple[bytes, int, bytes]:
    """(JSON bytes, flags, type-map bytes) of an event's data, pydantic models included."""
    serializer = getattr(value, "__pydantic_serializer__", None)
    if serializer is not None and not isinstance(value, type):
        try:
            return serializer.to_json(value), FLAG_MODEL, b""
        except Exception:  # noqa: BLE001 - e.g. non-UTF-8 bytes fields: the typed path below
            try:
                dumped = value.model_dump()
            except Exception as exc:
                raise EventEncodeError(f"pydantic model {type(value).__qualname__} cannot be dumped: {exc}") from exc
            raw, flags, types = encode_data(dumped, _fields)
            return raw, flags | FLAG_MODEL, types
    return encode_data(value, _fields)


class Log(_EngineLog):
    """An evlog recording (see `evlog.segments.Log`) whose `append` takes pydantic models."""

    encoder = staticmethod(encode)


__all__ = ["Log", "encode"]
