"""Per-event headers (format v2): a small string -> string map beside an event's data.

Broker metadata (a NATS subject, a stream sequence, a message id), correlation ids and trace
context go here instead of inside the data. One event's headers are stored as one JSON
object of strings (`{"subject":"orders.btc","seq":"42"}`), so every tool reads them as is;
an event without headers stores nothing (b"") and a block none of whose events has headers
has no header column at all (docs/format.md).
"""
from __future__ import annotations

from typing import Any, Mapping, NoReturn

import msgspec

from .codec import EventEncodeError
from .errors import EventTooLargeError

MAX_HEADER_BYTES = 64 << 10   # one event's encoded headers

_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder(dict[str, str]).decode


class _NoHeaders(dict):
    """The headers of an event that has none: one shared, empty, read-only dict."""

    __slots__ = ()

    def _read_only(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise TypeError("the headers of a record read from a log are read-only")

    __setitem__ = __delitem__ = clear = pop = popitem = setdefault = update = _read_only  # type: ignore[assignment]
    __ior__ = _read_only  # type: ignore[assignment]

    def __repr__(self) -> str:
        return "{}"


NO_HEADERS: Mapping[str, str] = _NoHeaders()


def encode_headers(headers: Mapping[str, str] | None) -> bytes:
    """The stored form of an event's headers; b"" for none (None or an empty mapping).

    Raises EventEncodeError for a key or value that is not a string (or an empty key) and
    EventTooLargeError past MAX_HEADER_BYTES."""
    if not headers:
        return b""
    if headers.__class__ is not dict:
        if not isinstance(headers, Mapping):
            raise EventEncodeError(f"event headers must be a mapping of str to str, not {type(headers).__name__}")
        headers = dict(headers)
    # the common map passes C-level built-ins; anything else is checked key by key, to name the bad one
    if {*map(type, headers), *map(type, headers.values())} != _ONLY_STR or "" in headers:
        _check_items(headers)
    try:
        raw = _encode(headers)
    except (UnicodeEncodeError, TypeError) as exc:
        raise EventEncodeError(f"event headers cannot be stored: {exc}") from None
    if len(raw) > MAX_HEADER_BYTES:
        raise EventTooLargeError(f"event headers of {len(raw)} bytes exceed {MAX_HEADER_BYTES}")
    return raw


_ONLY_STR = frozenset({str})


def _check_items(headers: dict) -> None:
    for key, value in headers.items():
        if key.__class__ is not str or value.__class__ is not str:
            if not isinstance(key, str) or not isinstance(value, str):
                raise EventEncodeError(
                    f"event header {key!r}: keys and values must be str, not "
                    f"{type(key).__name__} -> {type(value).__name__}")
        if not key:
            raise EventEncodeError("event header keys must not be empty")


def decode_headers(raw: bytes | memoryview) -> Mapping[str, str]:
    """An event's headers from their stored form (NO_HEADERS for b"")."""
    if not len(raw):
        return NO_HEADERS
    return _decode(raw)


def check_encoded_headers(raw: Any) -> None:
    """Reject stored-form headers that `decode_headers` could not read back (bytes that did not
    come from `encode_headers`): stored, they would make their whole block unreadable."""
    if raw.__class__ is not bytes:
        raise EventEncodeError(f"encoded event headers must be bytes, not {type(raw).__name__}")
    if not raw:
        return
    if len(raw) > MAX_HEADER_BYTES:
        raise EventTooLargeError(f"event headers of {len(raw)} bytes exceed {MAX_HEADER_BYTES}")
    try:
        value = _decode(raw)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise EventEncodeError(f"encoded event headers are not a JSON object of strings: {exc}") from None
    if "" in value:
        raise EventEncodeError("event header keys must not be empty")


__all__ = ["MAX_HEADER_BYTES", "NO_HEADERS", "encode_headers", "decode_headers",
           "check_encoded_headers"]
