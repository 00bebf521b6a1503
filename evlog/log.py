"""`evlog.Log`: the storage engine's `Log` whose `append` and `append_batch` take any Python
value `evlog.codec` can store (pydantic models, dataclasses, NamedTuples, Enums, msgspec
Structs, attrs classes, plain objects, Decimal/datetime/UUID...).

The engine (`evlog.segments`) stores JSON and the format's typed values only; this subclass
sets its `encoder` hook to `evlog.codec.encode`, the one codec of Python values.
"""
from __future__ import annotations

from .codec import encode
from .segments import Log as _EngineLog


class Log(_EngineLog):
    """An evlog recording (see `evlog.segments.Log`) whose `append` takes application objects."""

    encoder = staticmethod(encode)


__all__ = ["Log", "encode"]
