"""`evlog.Log`: the storage engine's `Log` whose `append` and `append_batch` take any Python
value `evlog.codec` can store (pydantic models, dataclasses, NamedTuples, Enums, msgspec
Structs, attrs classes, plain objects, Decimal/datetime/UUID...).

The engine (`evlog.segments`) stores JSON and the format's typed values only; this subclass
sets its `encoder` hook to `evlog.codec.encode`, the one codec of Python values.

`Log.create(..., redact=policy)` / `Log.open(path, "a", redact=policy)` (an `evlog.redact`
policy or Redactor): every event appended, by any append method, is redacted before it is
buffered, and the manifest metadata says by which policy (`redaction`).
"""
from __future__ import annotations

from typing import Any

from .codec import encode
from .segments import EncodedRows
from .segments import Log as _EngineLog


class Log(_EngineLog):
    """An evlog recording (see `evlog.segments.Log`) whose `append` takes application objects."""

    encoder = staticmethod(encode)
    redactor: Any = None

    @classmethod
    def create(cls, path: Any, session_name: str | None = None, *, redact: Any = None, **options: Any) -> "Log":
        redactor = _redactor(redact)
        if redactor is not None:
            options["metadata"] = {**(options.get("metadata") or {}), "redaction": redactor.metadata()}
        log = super().create(path, session_name, **options)
        if redactor is not None:
            log._redact_with(redactor)
        return log

    @classmethod
    def open(cls, path: Any, mode: str = "r", *, redact: Any = None, **options: Any) -> "Log":
        redactor = _redactor(redact)
        log = super().open(path, mode, **options)
        if redactor is not None:
            log._redact_with(redactor)
            if mode == "a":
                log.set_metadata(redaction=redactor.metadata())
        return log

    def _redact_with(self, redactor: Any) -> None:
        self.redactor = redactor
        row = redactor.row

        def encoder(value: Any) -> tuple[bytes, int, bytes]:
            data, flags, types, _ = row(*encode(value), b"")
            return data, flags, types
        self.encoder = encoder   # type: ignore[method-assign]

    def append(self, name: str, data: Any = None, source: str = "", timestamp: int | None = None,
               monotonic: int | None = None, *, headers: Any = None) -> int:
        if headers and self.redactor is not None:
            headers = self.redactor.headers(headers)
        return super().append(name, data, source, timestamp, monotonic, headers=headers)

    def append_batch(self, events: Any, *, atomic: bool = False) -> range:
        if self.redactor is not None:
            events = [_with_headers(e, self.redactor) for e in events]
        return super().append_batch(events, atomic=atomic)

    def append_rows(self, rows: EncodedRows, *, atomic: bool = False, validate: bool = True) -> range:
        if self.redactor is not None:
            rows = _redact_rows(rows, self.redactor)
        return super().append_rows(rows, atomic=atomic, validate=validate)

    def append_encoded(self, name: str, source: str, flags: int, data: bytes, types: bytes = b"",
                       timestamp: int | None = None, monotonic: int | None = None, *,
                       validate: bool = True, headers: bytes = b"") -> int:
        if self.redactor is not None:
            data, flags, types, headers = self.redactor.row(data, flags, types, headers)
        return super().append_encoded(name, source, flags, data, types, timestamp, monotonic, validate=validate,
                                      headers=headers)


def _redactor(redact: Any) -> Any:
    if redact is None:
        return None
    from .redact import as_redactor
    return as_redactor(redact)


def _with_headers(ev: Any, redactor: Any) -> Any:
    """An `append_batch` event with its headers redacted (its data is redacted by the encoder)."""
    if isinstance(ev, dict):
        if ev.get("headers"):
            return {**ev, "headers": redactor.headers(ev["headers"])}
        return ev
    if isinstance(ev, tuple) and len(ev) >= 6 and ev[5]:
        return (*ev[:5], redactor.headers(ev[5]), *ev[6:])
    return ev


def _redact_rows(rows: EncodedRows, redactor: Any) -> EncodedRows:
    """Encoded rows redacted, column by column (the engine's one entry for encoded data)."""
    n = len(rows.names)
    headers = rows.headers if rows.headers is not None else [b""] * n
    out = [redactor.row(d, f, t, h) for d, f, t, h in zip(rows.datas, rows.flags, rows.types, headers)]
    datas, flags, types, heads = (list(c) for c in zip(*out)) if out else ([], [], [], [])
    return rows._replace(flags=flags, datas=datas, types=types,
                         headers=heads if rows.headers is not None and any(heads) else None)


__all__ = ["Log", "encode"]
