"""The stored form of one eventsourcing stored event in an evlog record.

One stored event is one Log record: name = topic, source = str(originator_id), data = an
envelope, a small JSON object written around the state bytes:

    {"v":<originator_version>,"u":<true if the id is a UUID>[,"t":[<app>,<notification id>]],"s":<state>}
    {"v":<originator_version>,"u":...[,"t":...],"b":"<base64 of the state>"}

State bytes that are one JSON value without surrounding white space (what the package's
JSONTranscoder writes) are embedded as they are ("s"), so evlog's tools show them decoded;
other states (compressed, encrypted, or not JSON) are stored base64 ("b"). Reading takes the
"s" span back as the exact bytes written (msgspec.Raw), so state round-trips byte for byte.
"t" (only on the first event of a process recorder's batch) is the tracking record written
atomically with the events.
"""
from __future__ import annotations

import base64
from typing import Any
from uuid import UUID

import msgspec
from msgspec import UNSET, UnsetType

_raw_json = msgspec.json.Decoder(msgspec.Raw)
_encode = msgspec.json.Encoder().encode
_WS = frozenset(b" \t\r\n")


class Envelope(msgspec.Struct):
    v: int
    u: bool = False
    t: tuple[str, int] | UnsetType = UNSET
    s: msgspec.Raw = msgspec.Raw()
    b: bytes | UnsetType = UNSET


_decode_envelope = msgspec.json.Decoder(Envelope).decode


def is_json_state(state: bytes) -> bool:
    """True when `state` can be embedded as JSON and read back byte for byte."""
    if not state or state[0] in _WS or state[-1] in _WS:
        return False
    try:
        _raw_json.decode(state)
    except (msgspec.DecodeError, UnicodeDecodeError):
        return False
    return True


def encode(version: int, is_uuid: bool, state: bytes, tracking: tuple[str, int] | None = None) -> bytes:
    """The envelope bytes of one stored event."""
    head = b'{"v":%d,"u":%s' % (version, b"true" if is_uuid else b"false")
    if tracking is not None:
        head += b',"t":' + _encode(tracking)
    if is_json_state(state):
        return head + b',"s":' + state + b"}"
    return head + b',"b":"' + base64.b64encode(state) + b'"}'


def decode(data: bytes) -> Envelope:
    return _decode_envelope(data)


def state_of(env: Envelope) -> bytes:
    b = env.b
    if b is not UNSET:
        return b  # type: ignore[return-value]
    return bytes(env.s)


_uuids: dict[str, UUID] = {}


def _uuid(source: str) -> UUID:
    u = _uuids.get(source)
    if u is None:
        if len(_uuids) >= 65536:
            _uuids.clear()
        u = _uuids[source] = UUID(source)
    return u


def originator_id(source: str, env: Envelope) -> UUID | str:
    return _uuid(source) if env.u else source


def fast_decode(data: bytes, source: str) -> tuple[int, UUID | str, bytes]:
    """(version, originator id, state) of an envelope written by `encode`, by slicing; the
    general decoder handles anything else (e.g. tracking fields).

    The hot path of every read: a few byte comparisons, no JSON decoding, the UUID from a
    cache without a call."""
    i = data.find(b",", 5)
    if i > 5 and data[:5] == b'{"v":' and data[i:i + 5] == b',"u":':
        is_uuid = data[i + 5] == 116   # t(rue)
        j = i + 9 if is_uuid else i + 10
        oid = (_uuids.get(source) or _uuid(source)) if is_uuid else source
        head = data[j:j + 5]
        if head == b',"s":':
            return int(data[5:i]), oid, data[j + 5:-1]
        if head == b',"b":':
            return int(data[5:i]), oid, base64.b64decode(data[j + 6:-2])
    env = decode(data)
    return env.v, originator_id(source, env), state_of(env)


def state_value(data: bytes) -> Any:
    """The state as a Python value for display: decoded JSON, or the bytes."""
    env = decode(data)
    if env.b is not UNSET:
        return env.b
    return msgspec.json.decode(bytes(env.s))
