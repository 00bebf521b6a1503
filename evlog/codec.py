"""The one codec of Python event values: `encode(value) -> (data, flags, types)`.

The storage engine (`evlog.segments.codec.encode_data`) stores plain JSON values and the
typed values of the format's type map (Decimal, datetime, date, time, timedelta, UUID,
bytes, tuple, set, non-finite floats). Everything a program publishes beyond that is
turned into those values here, above the engine:

- a pydantic model: its JSON dump by pydantic-core's own serializer
  (`__pydantic_serializer__.to_json`, flag MODEL; `model_validate` on the stored data
  rebuilds an equal model); a model nested in other data, as the same JSON form
  (`model_dump(mode="json")`). A model whose JSON form fails (e.g. a `bytes` field holding
  non-UTF-8 bytes) is stored as its `model_dump()`, typed values kept by the type map;
- a dataclass, NamedTuple, msgspec Struct or attrs class: a dict of its fields;
- an Enum: its value;
- any other object of a class defined in Python: its attributes (`vars()`, plus its
  `__slots__`), as the original tool recorded them;
- anything else (a lock, a socket, a function...) raises `EventEncodeError` naming the type
  and where it sits in the value (`unserializable_marker` is the recorder's fallback).

How a class is encoded is decided once per class and kept in a cache bounded to
`PLAN_CACHE_MAX` classes (cleared and refilled when full, so classes made on the fly cannot
grow it without bound). msgspec and attrs are not imported here: a Struct is recognised
only when msgspec is already imported, an attrs class by its `__attrs_attrs__`.
"""
from __future__ import annotations

import dataclasses
import datetime as _dt
import sys
import uuid
from decimal import Decimal
from enum import Enum
from typing import Any, Callable

from .segments.codec import FLAG_MODEL, EventEncodeError, encode_data, unserializable_marker

__all__ = ["encode", "to_data", "unserializable_marker", "EventEncodeError", "PLAN_CACHE_MAX", "plan_cache",
           "MODEL_PLAN"]

PLAN_CACHE_MAX = 4096   # classes whose plan is kept; past this the cache starts afresh

# classes the engine encodes itself (and their subclasses, which it takes by isinstance)
_NATIVE: tuple[type, ...] = (dict, list, tuple, set, frozenset, str, int, float, type(None),
                             Decimal, _dt.datetime, _dt.date, _dt.time, _dt.timedelta, uuid.UUID,
                             bytes, bytearray, memoryview)
_SCALARS = frozenset((str, int, float, bool, type(None), Decimal, _dt.datetime, _dt.date, _dt.time,
                      _dt.timedelta, uuid.UUID, bytes))
_HEAPTYPE = 1 << 9   # Py_TPFLAGS_HEAPTYPE: a class not defined statically in C

_DATA = "data"        # plan: the engine encodes the value (converting what it holds if needed)
_MODEL = "model"      # plan: a pydantic model
_NONE = "unsupported"  # plan: cannot be stored

Plan = Any   # _DATA, _MODEL, _NONE, or a function value -> its fields (or value) to store
_plans: dict[type, Plan] = {}

# for the hot path that takes `encode`'s first step itself (`evlog.snapshot`, the recorder's
# publish wrapper): `plan_cache.get(cls) is MODEL_PLAN` says a class already seen is a
# pydantic model, whose snapshot is `value.__pydantic_serializer__.to_json(value)`
# (anything else: call `encode`). Read it only: `encode` fills it (cleared, never rebound).
plan_cache: dict[type, Plan] = _plans
MODEL_PLAN = _MODEL


def encode(value: Any) -> tuple[bytes, int, bytes]:
    """Encode an event value: returns (JSON bytes, flags, type-map bytes).

    Raises EventEncodeError (one line, naming the type and its place) when the value holds
    something that cannot be stored.
    """
    cls = value.__class__
    plan = _plans.get(cls)
    if plan is None:
        plan = _plan(cls)
    if plan is _MODEL:
        try:
            return value.__pydantic_serializer__.to_json(value), FLAG_MODEL, b""
        except Exception:  # noqa: BLE001 - e.g. non-UTF-8 bytes: the typed path below
            data, flags, types = encode_data(to_data(_model_dump(value)))
            return data, flags | FLAG_MODEL, types
    if plan is _DATA and (cls in _SCALARS or not _holds_objects(value)):
        return encode_data(value)
    # an object, or plain containers holding some (a dataclass in a dict...): converted first;
    # what cannot be converted raises with its place in the value
    return encode_data(to_data(value))


_CONTAINERS = frozenset((dict, list, tuple, set, frozenset))


def _holds_objects(value: Any) -> bool:
    """True unless `value` is made only of exact dicts, lists, tuples, sets and the engine's
    scalars (the common event: the engine encodes it with no conversion here)."""
    try:
        return _holds(value)
    except RecursionError:   # deep or cyclic: to_data says which
        return True


def _holds(value: Any) -> bool:
    cls = value.__class__
    if cls is dict:
        value = value.values()
    elif cls not in _CONTAINERS:
        return cls not in _SCALARS
    for v in value:
        c = v.__class__
        if c not in _SCALARS and (c not in _CONTAINERS or _holds(v)):
            return True
    return False


def to_data(value: Any) -> Any:
    """`value` converted to plain JSON values and the engine's typed values, what
    `segments.codec.encode_data` stores (containers are copied, scalars kept). Raises
    EventEncodeError naming the type and the place of what cannot be converted."""
    try:
        return _to_data(value, set())
    except _Unsupported as exc:
        where = "".join(f"[{p!r}]" for p in reversed(exc.path))
        raise EventEncodeError(f"cannot store a value of type {exc.type_name}"
                               + (f" (at {where})" if where else "") + " as JSON") from None
    except RecursionError:
        raise EventEncodeError("event data is nested too deeply") from None


class _Unsupported(Exception):
    def __init__(self, cls: type) -> None:
        self.type_name = f"{cls.__module__}.{cls.__qualname__}"
        self.path: list = []


def _to_data(value: Any, active: set[int]) -> Any:
    cls = value.__class__
    if cls in _SCALARS:
        return value
    plan = _plans.get(cls)
    if plan is None:
        plan = _plan(cls)
    if plan is _NONE:
        raise _Unsupported(cls)
    if plan is _DATA and isinstance(value, (str, int, float, Decimal, _dt.date, _dt.time, _dt.timedelta,
                                            uuid.UUID, bytes, bytearray, memoryview)):
        return value   # a scalar (or a subclass of one): the engine takes it as it is
    key = id(value)
    if key in active:
        raise EventEncodeError("event data contains a reference cycle")
    active.add(key)
    try:
        if plan is _DATA:
            return _container(value, active)
        if plan is _MODEL:
            return _to_data(_model_dump(value), active)
        return _to_data(plan(value), active)
    finally:
        active.discard(key)


def _container(value: Any, active: set[int]) -> Any:
    """A dict, list, tuple, set (or subclass) with its items converted."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            try:
                out[k.value if isinstance(k, Enum) else k] = _to_data(v, active)
            except _Unsupported as exc:
                exc.path.append(k)
                raise
        return out
    items = []
    for i, v in enumerate(value):
        try:
            items.append(_to_data(v, active))
        except _Unsupported as exc:
            exc.path.append(i)
            raise
    if isinstance(value, (set, frozenset)):
        try:
            return set(items) if isinstance(value, set) else frozenset(items)
        except TypeError:   # converted items (dicts) are not hashable: keep them as a list
            return items
    return tuple(items) if isinstance(value, tuple) else items


def _model_dump(model: Any) -> Any:
    """A model's JSON form as Python values (what its JSON dump holds); where that fails
    (non-UTF-8 bytes...), its Python form, whose typed values the type map keeps."""
    try:
        return model.model_dump(mode="json")
    except Exception:  # noqa: BLE001
        pass
    try:
        return model.model_dump()
    except Exception as exc:  # noqa: BLE001 - any failure of the model's own serializer
        raise EventEncodeError(f"pydantic model {type(model).__qualname__} cannot be dumped: "
                               f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None


def _plan(cls: type) -> Plan:
    """Decide how instances of `cls` are encoded, and remember it (bounded)."""
    plan = _decide(cls)
    if len(_plans) >= PLAN_CACHE_MAX:
        _plans.clear()
    _plans[cls] = plan
    return plan


def _decide(cls: type) -> Plan:
    if hasattr(cls, "__pydantic_serializer__") and hasattr(cls, "model_dump"):
        return _MODEL
    if issubclass(cls, Enum):
        return _enum_value
    if issubclass(cls, tuple) and hasattr(cls, "_fields") and hasattr(cls, "_asdict"):
        return _namedtuple_fields
    if dataclasses.is_dataclass(cls):
        return _getter(tuple(f.name for f in dataclasses.fields(cls)))
    msgspec = sys.modules.get("msgspec")
    if msgspec is not None and issubclass(cls, msgspec.Struct):
        return _struct_fields
    attrs_fields = getattr(cls, "__attrs_attrs__", None)
    if attrs_fields is not None:
        return _getter(tuple(a.name for a in attrs_fields))
    if cls is bool or issubclass(cls, _NATIVE):
        return _DATA
    if _is_plain_class(cls):
        return _attributes_of(cls)
    return _NONE


def _is_plain_class(cls: type) -> bool:
    """A class of a `class` statement whose instances keep attributes (a `__dict__` or
    `__slots__`); not a C type (a lock, a socket...), a function or a class."""
    if not cls.__flags__ & _HEAPTYPE or issubclass(cls, type):
        return False
    return cls.__dictoffset__ != 0 or any("__slots__" in base.__dict__ for base in cls.__mro__)


def _enum_value(value: Enum) -> Any:
    return value.value


def _namedtuple_fields(value: Any) -> dict:
    return dict(value._asdict())


def _struct_fields(value: Any) -> dict:
    import msgspec
    unset = msgspec.UNSET
    return {k: v for k, v in msgspec.structs.asdict(value).items() if v is not unset}


def _getter(names: tuple[str, ...]) -> Callable[[Any], dict]:
    def fields(value: Any) -> dict:
        return {name: getattr(value, name) for name in names}
    return fields


def _attributes_of(cls: type) -> Callable[[Any], dict]:
    """A plain object's attributes: `vars()` and the slots of its classes that are set."""
    slots = []
    for base in cls.__mro__:
        declared = base.__dict__.get("__slots__", ())
        for name in (declared,) if isinstance(declared, str) else declared:
            if name not in ("__dict__", "__weakref__") and name not in slots:
                slots.append(name)
    missing = object()

    def attributes(value: Any) -> dict:
        out = dict(getattr(value, "__dict__", None) or {})
        for name in slots:
            v = getattr(value, name, missing)
            if v is not missing:
                out[name] = v
        return out
    return attributes
