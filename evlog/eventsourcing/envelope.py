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
from itertools import compress, repeat
from operator import add, is_, not_
from typing import Any, Sequence
from uuid import UUID

import msgspec
from msgspec import UNSET, UnsetType

_raw_json = msgspec.json.Decoder(msgspec.Raw)
_raw_list = msgspec.json.Decoder(list[msgspec.Raw])
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


def all_json_states(states: Sequence[bytes]) -> bool:
    """True when every state can be embedded (`is_json_state` of each), checked in one
    decoding of the states joined as a JSON array: it must hold exactly one value per state,
    each spanning exactly that state's bytes (so no state is empty, padded with white space,
    or more or less than one value)."""
    try:
        values = _raw_list.decode(b"[" + b",".join(states) + b"]")
    except (msgspec.DecodeError, UnicodeDecodeError, TypeError):
        return False
    return len(values) == len(states) and list(map(bytes, values)) == list(states)


# the envelope of a JSON state without tracking, by whether the originator id is a UUID
_EMBED = (b'{"v":%d,"u":false,"s":%s}', b'{"v":%d,"u":true,"s":%s}')


def encode_many(versions: Sequence[int], uuids: Sequence[bool], states: Sequence[bytes],
                tracking: tuple[str, int] | None = None) -> list[bytes]:
    """The envelopes of a batch (as `encode` of each; `tracking` goes on the first), built
    by C-level formatting when all states are JSON."""
    if all_json_states(states):
        out = list(map(bytes.__mod__, map(_EMBED.__getitem__, uuids), zip(versions, states)))
        if tracking is not None:
            out[0] = encode(versions[0], uuids[0], states[0], tracking)
        return out
    out = list(map(encode, versions, uuids, states))
    if tracking is not None:
        out[0] = encode(versions[0], uuids[0], states[0], tracking)
    return out


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


def uuids_of(sources: Sequence[str]) -> list[UUID]:
    """The UUIDs of many sources (canonical UUID strings, as `str(uuid)` writes them): from
    the cache, the others built by `UUID(source)` (once per distinct id) and cached."""
    out: list[Any] = list(map(_uuids.get, sources))
    if all(out):
        return out
    srcs = set(compress(sources, map(is_, out, repeat(None))))
    new = dict(zip(srcs, map(UUID, srcs)))
    if len(_uuids) + len(new) > 65536:
        _uuids.clear()
    _uuids.update(new)
    return list(map(new.get, sources, out))


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


_HEAD = b'{"v":'
_S_UUID = b',"u":true,"s":'
_S_STR = b',"u":false,"s":'


def decode_many(datas: Sequence[bytes], sources: Sequence[str]) -> tuple[list[int], list[Any], list[bytes]]:
    """(versions, originator ids, states) of many envelopes, as `fast_decode` of each.

    The hot path of a page read: the envelopes of the plain form `encode` writes (no
    tracking, embedded state, the ids of the page's majority kind) are sliced by C-level
    maps, without a Python-level step per envelope; the others (a batch's first event with
    its tracking record, base64 states, ...) are decoded one by one."""
    n = len(datas)
    if n and all(map(bytes.startswith, datas, repeat(_HEAD, n))):
        commas = list(map(bytes.find, datas, repeat(b",", n), repeat(5, n)))
        ok = list(map(bytes.startswith, datas, repeat(_S_UUID, n), commas))
        is_uuid = any(ok)
        if not is_uuid:
            ok = list(map(bytes.startswith, datas, repeat(_S_STR, n), commas))
        try:
            if all(ok):
                return _sliced(datas, sources, commas, is_uuid)
            if any(ok):
                bad = list(map(not_, ok))
                good = map(iter, _sliced(list(compress(datas, ok)), list(compress(sources, ok)),
                                         list(compress(commas, ok)), is_uuid))
                rest = iter(list(map(fast_decode, compress(datas, bad), compress(sources, bad))))
                gv, go, gs = good
                versions, oids, states = map(list, zip(*[
                    (next(gv), next(go), next(gs)) if k else next(rest) for k in ok]))
                return versions, oids, states
        except ValueError:
            pass   # not the plain form after all: one by one
    if not n:
        return [], [], []
    versions, oids, states = map(list, zip(*map(fast_decode, datas, sources)))
    return versions, oids, states


def _sliced(datas: Sequence[bytes], sources: Sequence[str], commas: list[int],
            is_uuid: bool) -> tuple[list[int], list[Any], list[bytes]]:
    """Fields of plain envelopes (`_S_UUID` or `_S_STR` found after the version)."""
    n = len(datas)
    versions = list(map(int, map(bytes.__getitem__, datas, map(slice, repeat(5, n), commas))))
    skip = 14 if is_uuid else 15
    states = list(map(bytes.__getitem__, datas, map(slice, map(add, commas, repeat(skip, n)), repeat(-1, n))))
    return versions, (uuids_of(sources) if is_uuid else list(sources)), states


def state_value(data: bytes) -> Any:
    """The state as a Python value for display: decoded JSON, or the bytes."""
    env = decode(data)
    if env.b is not UNSET:
        return env.b
    return msgspec.json.decode(bytes(env.s))
