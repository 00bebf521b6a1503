"""Rebuilding events for publishing: plain data, or pydantic models from a registry
(`{name: Model}`) or a module (`events_module_name`, the original's way).

An events module that is not there (`ImportError`) is what the original tolerated: a warning,
and the events are replayed as plain dicts. The warning goes to the `evlog.replay.convert`
logger and into the caller's `warnings` list (the replayer puts it in `ReplayResult.warnings`).
"""
from __future__ import annotations

import importlib
import logging
from typing import Any, Callable, Mapping

from ..segments.codec import FLAG_MODEL, FLAG_TYPED, decode_data
from ..segments.errors import EvlogError

__all__ = ["ConvertError", "model_resolver"]


logger = logging.getLogger(__name__)


class ConvertError(EvlogError, ValueError):
    """An events module that fails while it is imported (not a missing one: that is a
    warning), or a registry that is not a mapping of models."""


def model_resolver(registry: Mapping[str, type] | None, module_name: str | None,
                   warnings: list[str] | None = None) -> Callable[[str], Any] | None:
    """A function name -> model class (or None), or None when there is nothing to rebuild.

    An events module that cannot be found (`ImportError`) is logged as a warning, appended to
    `warnings` and left out: its events are rebuilt from `registry` alone, or stay plain data."""
    if registry is None and module_name is None:
        return None
    table: dict[str, Any] = {}
    if registry is not None:
        if not isinstance(registry, Mapping):
            raise ConvertError(f"registry must be a mapping {{event name: model class}}, not {type(registry).__name__}")
        for name, cls in registry.items():
            if not hasattr(cls, "model_validate"):
                raise ConvertError(f"registry entry {name!r} is not a pydantic model class")
        table.update(registry)
    module = None
    if module_name is not None:
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:   # the original's case: warn, replay dicts
            message = (f"could not import events module {module_name!r} ({exc}): "
                       f"events are replayed as plain dicts" + (" where the registry has no model" if table else ""))
            logger.warning(message)
            if warnings is not None:
                warnings.append(message)
            if not table:
                return None
        except Exception as exc:  # noqa: BLE001 - a module that breaks on import is the user's to fix
            raise ConvertError(f"cannot import events module {module_name!r}: "
                               f"{type(exc).__name__}: {exc}".splitlines()[0]) from None
    cache: dict[str, Any] = {}

    def resolve(name: str) -> Any:
        try:
            return cache[name]
        except KeyError:
            pass
        cls = table.get(name)
        if cls is None and module is not None:
            found = getattr(module, name, None)
            cls = found if isinstance(found, type) and hasattr(found, "model_validate") else None
        cache[name] = cls
        return cls
    return resolve


def raw_converter(resolve: Callable[[str], Any]) -> Callable[[Any], Any]:
    """For raw records: model_validate_json on a model's stored JSON, else decode (and validate)."""
    def convert(raw: Any) -> Any:
        cls = resolve(raw.name)
        if cls is None:
            return decode_data(raw.data, raw.flags, raw.types)
        if raw.flags & FLAG_MODEL and not raw.flags & FLAG_TYPED:
            return cls.model_validate_json(raw.data)
        return cls.model_validate(decode_data(raw.data, raw.flags, raw.types))
    return convert


def record_converter(resolve: Callable[[str], Any]) -> Callable[[Any], Any]:
    def convert(record: Any) -> Any:
        cls = resolve(record.name)
        return record.data if cls is None else cls.model_validate(record.data)
    return convert
