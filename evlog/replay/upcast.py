"""Upcasting: events recorded under an older schema brought to the current one when read.

An event's schema version is its `type_version` header (format v2 per-event headers, given by
the publisher: `bus.publish(name, event, source, headers={"type_version": "2"})` under an
`EventRecorder`, or `EventRecorder.record(..., headers=...)`); an event without the header is
version `default_version` (1). Upcasters are steps, one per version:

    upcasters = Upcasters({("PositionSold", 1): v1_to_v2, ("PositionSold", 2): v2_to_v3})

where `v1_to_v2(data) -> data` takes the event's data at version 1 and returns it at version 2.
The current version of a name is one past its last step (3 here); an event at version `n` goes
through the steps `n, n+1, ...` in order, and the record comes out with `type_version` set to
the version it reached. Names without steps, and events already at (or past) the current
version, are left as they are.

`upcast_record` and `upcast_raw` are what the scheduler and `EventSequence` apply to each
record read (`Record`: decoded data; `RawRecord`: decoded, upcast and encoded again).
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ..codec import encode
from ..segments import RawRecord, Record, decode_headers, encode_headers
from ..segments.codec import decode_data
from ..segments.errors import EvlogError

__all__ = ["VERSION_HEADER", "UpcastError", "Upcasters", "as_upcasters"]

VERSION_HEADER = "type_version"

Step = Callable[[Any], Any]


class UpcastError(EvlogError, ValueError):
    """Upcasters that cannot form a chain, an event version they cannot reach, or a
    `type_version` header that is not a positive whole number."""


class Upcasters:
    """Chains of upcasting steps, one chain per event name (see the module docstring)."""

    def __init__(self, steps: Mapping[tuple[str, int], Step], *, default_version: int = 1) -> None:
        if not isinstance(steps, Mapping):
            raise UpcastError(f"upcasters must be a mapping {{(event name, version): function}}, "
                              f"not {type(steps).__name__}")
        if not _is_version(default_version):
            raise UpcastError(f"default_version must be a positive integer, not {default_version!r}")
        versions: dict[str, list[int]] = {}
        for key, step in steps.items():
            if not (isinstance(key, tuple) and len(key) == 2 and isinstance(key[0], str) and _is_version(key[1])):
                raise UpcastError(f"upcaster key {key!r} is not (event name, version >= 1)")
            if not callable(step):
                raise UpcastError(f"upcaster for {key[0]} v{key[1]} is not callable")
            versions.setdefault(key[0], []).append(key[1])
        self.first: dict[str, int] = {}
        self.current: dict[str, int] = {}
        for name, vs in versions.items():
            lo, hi = min(vs), max(vs)
            missing = sorted(set(range(lo, hi + 1)) - set(vs))
            if missing:
                raise UpcastError(f"upcasters of {name} skip version {missing[0]}: "
                                  f"give a step for every version from {lo} to {hi}")
            self.first[name], self.current[name] = lo, hi + 1
        self.steps = dict(steps)
        self.default_version = default_version

    def __bool__(self) -> bool:
        return bool(self.steps)

    def __repr__(self) -> str:
        return f"<Upcasters {', '.join(f'{n} -> v{v}' for n, v in sorted(self.current.items()))}>"

    def version_of(self, name: str, headers: Mapping[str, str]) -> int:
        """The version an event was recorded at: its `type_version` header, else the default."""
        text = headers.get(VERSION_HEADER) if headers else None
        if text is None:
            return self.default_version
        try:
            version = int(text)
        except (TypeError, ValueError):
            version = 0
        if version < 1:
            raise UpcastError(f"{name}: header {VERSION_HEADER}={text!r} is not a positive whole number")
        return version

    def upcast(self, name: str, data: Any, version: int, to: int | None = None) -> tuple[Any, int]:
        """`data` of an event `name` at `version`, brought to version `to` (default: the
        current one); returns (data, the version reached). Nothing to do: `data` unchanged."""
        current = self.current.get(name)
        if current is None:
            return data, version
        target = current if to is None else min(to, current)
        if version >= target:
            return data, version
        if version < self.first[name]:
            raise UpcastError(f"no upcaster for {name} v{version}: its steps start at v{self.first[name]}")
        for v in range(version, target):
            data = self.steps[(name, v)](data)
        return data, target

    def upcast_record(self, record: Record) -> Record:
        """A decoded record at its name's current version (the same record when nothing to do)."""
        if record.name not in self.current:
            return record
        version = self.version_of(record.name, record.headers)
        data, reached = self.upcast(record.name, record.data, version)
        if reached == version:
            return record
        return record._replace(data=data, headers={**record.headers, VERSION_HEADER: str(reached)})

    def upcast_raw(self, raw: RawRecord) -> RawRecord:
        """A raw record at its name's current version: its data decoded, upcast and encoded
        again (with evlog's codec, so a step may return a model), its header updated."""
        if raw.name not in self.current:
            return raw
        headers = decode_headers(raw.headers)
        version = self.version_of(raw.name, headers)
        data, reached = self.upcast(raw.name, decode_data(raw.data, raw.flags, raw.types), version)
        if reached == version:
            return raw
        body, flags, types = encode(data)
        return raw._replace(data=body, flags=flags, types=types,
                            headers=encode_headers({**headers, VERSION_HEADER: str(reached)}))


def as_upcasters(value: Any) -> Upcasters | None:
    """None (no upcasting), an `Upcasters`, or the mapping of steps one is made from."""
    if value is None:
        return None
    if isinstance(value, Upcasters):
        return value if value else None
    up = Upcasters(value)
    return up if up else None


def _is_version(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= 1
