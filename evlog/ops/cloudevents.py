"""CloudEvents 1.0 in the JSON format, structured mode: one event per line, written by
`export --format cloudevents` and read by `import --format cloudevents`.

    {"specversion":"1.0","id":"evlog:run1:1760263200000000000:0","source":"Fetcher",
     "type":"MarketPriceFetched","time":"2025-10-12T10:00:00.523000000Z",
     "datacontenttype":"application/json","subject":"prices.btc","correlationid":"c-1",
     "data":{"pair":"BTC/USDT"}}

Which record field or header becomes which attribute (docs/headers.md has the table):

* `id`: the header `id`; else `evlog:<session>:<start_time_ns>:<offset>`, stable for a
  recording and an offset (an import does not turn such an id into a header);
* `source`: the record's source, or the session name when the source is empty;
  percent-encoded where it is not a valid URI-reference (`evlogsource` then keeps the text);
* `type`: the event name; `time`: the record's timestamp (RFC 3339, UTC, nanoseconds);
* `subject`: the header `subject` (when not empty); `data`: the stored JSON as is;
* every other header: an extension attribute named after its key, lowercased, accents
  taken off, every character other than a-z and 0-9 dropped (`correlation_id` ->
  `correlationid`, `X-Request-Id` -> `xrequestid`, `nats.seq` -> `natsseq`); a key whose name comes out empty, names a core attribute
  (`time`, `type`, ...), starts with `evlog` or is taken by another header gets no attribute.

Attributes of evlog's own, written only when needed to import the event back exactly:
`evlogtypes` (the type map, JSON text: Decimals, datetimes... come back typed), `evlogflags`
(the record's flags but TYPED), `evlogsource` (the record's source when `source` differs
from it) and `evlogheaders` (all the event's headers as JSON text, when the attributes above
do not give them back exactly).
"""
from __future__ import annotations

import base64
import binascii
import calendar
import datetime as _dt
import re
import unicodedata
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import quote

import msgspec

from ..segments import RawRecord, decode_headers
from ..segments.codec import FLAG_TYPED, KNOWN_FLAGS, encode_data, encode_json
from ..timespec import Rfc3339, rfc3339  # noqa: F401 - rfc3339: also imported from here
from .common import OpError
from .jsonl import ParsedEvent, parse_headers

SPECVERSION = "1.0"
CONTENT_TYPE = "application/json"
CORE = frozenset({"specversion", "id", "source", "type", "time", "subject", "datacontenttype", "dataschema",
                  "data", "data_base64"})
# well-known header keys whose attribute name is not the key itself
KNOWN_ATTRIBUTES = {"correlation_id": "correlationid", "causation_id": "causationid"}
KNOWN_KEYS = {v: k for k, v in KNOWN_ATTRIBUTES.items()}
OWN_PREFIX = "evlog"
GENERATED_ID = re.compile(r"evlog:.*:\d+:\d+", re.DOTALL)

_decode = msgspec.json.decode
_NOT_NAME = re.compile(r"[^a-z0-9]+")

# RFC 3986 URI-reference (IP literals in brackets are not accepted: such a source is encoded)
_UNRES = r"A-Za-z0-9\-._~"
_SUB = r"!$&'()*+,;="
_PCT = r"%[0-9A-Fa-f]{2}"
_PCHAR = rf"(?:[{_UNRES}{_SUB}:@]|{_PCT})"
_SEG = rf"{_PCHAR}*"
_AUTH = rf"(?:(?:[{_UNRES}{_SUB}:]|{_PCT})*@)?(?:[{_UNRES}{_SUB}]|{_PCT})*(?::[0-9]*)?"
_ABEMPTY = rf"(?:/{_SEG})*"
_ABSOLUTE = rf"/(?:{_PCHAR}+(?:/{_SEG})*)?"
_NOSCHEME = rf"(?:[{_UNRES}{_SUB}@]|{_PCT})+(?:/{_SEG})*"
_ROOTLESS = rf"{_PCHAR}+(?:/{_SEG})*"
_TAIL = rf"(?:\?(?:{_PCHAR}|[/?])*)?(?:#(?:{_PCHAR}|[/?])*)?"
URI_REFERENCE = re.compile(
    rf"(?:[A-Za-z][A-Za-z0-9+.\-]*:(?://{_AUTH}{_ABEMPTY}|{_ABSOLUTE}|{_ROOTLESS}|)"
    rf"|(?://{_AUTH}{_ABEMPTY}|{_ABSOLUTE}|{_NOSCHEME}|)){_TAIL}")
_SOURCE_SAFE = "-._~!$&'()*+,;=/"    # with letters and digits: a valid URI-reference, whatever the text

_TIME = re.compile(r"(\d{4})-(\d\d)-(\d\d)[Tt](\d\d):(\d\d):(\d\d)(?:\.(\d+))?(?:[Zz]|([+-])(\d\d):(\d\d))")


def attribute_name(key: str) -> str:
    """The CloudEvents attribute name of a header key: lowercased, accents taken off letters
    (NFKD: `ü` -> `u`), every other character but a-z and 0-9 dropped."""
    known = KNOWN_ATTRIBUTES.get(key)
    if known is not None:
        return known
    return _NOT_NAME.sub("", unicodedata.normalize("NFKD", key).lower())


def source_attribute(source: str) -> str:
    """A source as a valid URI-reference: itself when it is one, else percent-encoded."""
    if URI_REFERENCE.fullmatch(source):
        return source
    return quote(source, safe=_SOURCE_SAFE)


def parse_rfc3339(text: Any, where: str) -> int:
    """ns since the epoch of an RFC 3339 time (fractions past nanoseconds are cut)."""
    m = _TIME.fullmatch(text) if isinstance(text, str) else None
    if m is None:
        raise OpError(f"{where}: \"time\" {text!r} is not an RFC 3339 time")
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    try:
        _dt.datetime(year, month, day, hour, minute, min(second, 59))
    except ValueError:
        raise OpError(f"{where}: \"time\" {text!r} is not a valid date and time") from None
    ns = calendar.timegm((year, month, day, hour, minute, second)) * 1_000_000_000
    ns += int((m.group(7) or "")[:9].ljust(9, "0"))
    if m.group(8):
        sign = 1 if m.group(8) == "+" else -1
        ns -= sign * (int(m.group(9)) * 3600 + int(m.group(10)) * 60) * 1_000_000_000
    return ns


def headers_of(event: dict) -> dict[str, str]:
    """The headers an imported CloudEvent gives its record: `evlogheaders` when present, else
    the id (unless evlog generated it), the subject, and every extension attribute but evlog's
    own (`correlationid` -> `correlation_id`, `causationid` -> `causation_id`)."""
    own = event.get("evlogheaders")
    if own is not None:
        return _decode(own) if isinstance(own, str) else own
    out: dict[str, str] = {}
    for name, value in event.items():
        if value is None or name.startswith(OWN_PREFIX) or (name in CORE and name not in ("id", "subject")):
            continue
        if name == "id" and isinstance(value, str) and GENERATED_ID.fullmatch(value):
            continue
        out[KNOWN_KEYS.get(name, name)] = _text(value)
    content_type = event.get("datacontenttype")
    if content_type is not None and not _is_json(content_type):
        out["datacontenttype"] = _text(content_type)
    if event.get("dataschema") is not None:
        out["dataschema"] = _text(event["dataschema"])
    return out


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return encode_json(value).decode("utf-8")


def _is_json(content_type: Any) -> bool:
    if not isinstance(content_type, str):
        return False
    media = content_type.split(";", 1)[0].strip().lower()
    return media in ("application/json", "text/json") or media.endswith("+json")


class CloudEventEncoder:
    """Raw records of one recording as CloudEvents JSON lines."""

    def __init__(self, session_name: str, start_time_ns: int) -> None:
        self.session = session_name
        self._id_prefix = f"evlog:{session_name}:{start_time_ns}:"
        self._sources: dict[str, tuple[str, str | None]] = {}
        self.time = Rfc3339()   # rfc3339(ns), the text of the second reused from one event to the next

    def _source(self, source: str) -> tuple[str, str | None]:
        """(the source attribute, the evlogsource attribute or None)."""
        got = self._sources.get(source)
        if got is None:
            if len(self._sources) > 100_000:
                self._sources.clear()
            attr = source_attribute(source or self.session) or OWN_PREFIX
            got = self._sources[source] = (attr, None if attr == source else source)
        return got

    def event(self, r: RawRecord) -> dict[str, Any]:
        """The attributes of a record's CloudEvent (all but `data`)."""
        source, own_source = self._source(r.source)
        event: dict[str, Any] = {"specversion": SPECVERSION, "id": self._id_prefix + str(r.offset),
                                 "source": source, "type": r.name, "time": self.time(r.timestamp),
                                 "datacontenttype": CONTENT_TYPE}
        if r.headers:
            headers = decode_headers(r.headers)
            self._add_headers(event, headers)
            if headers_of(event) != headers:
                event["evlogheaders"] = r.headers.decode("utf-8")
        if own_source is not None:
            event["evlogsource"] = own_source
        if r.types:
            event["evlogtypes"] = r.types.decode("utf-8")
        if r.flags & ~FLAG_TYPED:
            event["evlogflags"] = r.flags & ~FLAG_TYPED
        return event

    @staticmethod
    def _add_headers(event: dict[str, Any], headers: Any) -> None:
        for key, value in headers.items():
            if key == "id":
                if value:
                    event["id"] = value
                continue
            if key == "subject":
                if value:
                    event["subject"] = value
                continue
            name = attribute_name(key)
            if name and name not in CORE and not name.startswith(OWN_PREFIX) and name not in event:
                event[name] = value

    def lines(self, records: Iterable[RawRecord]) -> Iterator[bytes]:
        for r in records:
            head = encode_json(self.event(r))
            yield head[:-1] + b',"data":' + r.data + b"}\n"


def parse_cloudevent(obj: Any, where: str) -> ParsedEvent:
    """An imported CloudEvent (structured mode, JSON) as an event; raises OpError naming `where`."""
    if not isinstance(obj, dict):
        raise OpError(f"{where}: expected a JSON object")
    version = obj.get("specversion")
    if not isinstance(version, str) or version.split(".")[0] != "1":
        raise OpError(f"{where}: \"specversion\" {version!r} is not CloudEvents 1.x")
    for attr in ("id", "source", "type"):
        if not isinstance(obj.get(attr), str) or not obj[attr]:
            raise OpError(f"{where}: missing \"{attr}\" (a non-empty string)")
    source = obj.get("evlogsource", obj["source"])
    if not isinstance(source, str):
        raise OpError(f"{where}: \"evlogsource\" must be a string")
    ts = parse_rfc3339(obj["time"], where) if obj.get("time") is not None else None
    data, flags, types = _data(obj, where)
    own_flags = obj.get("evlogflags", 0)
    if not isinstance(own_flags, int) or isinstance(own_flags, bool) or own_flags < 0 or own_flags & ~KNOWN_FLAGS:
        raise OpError(f"{where}: bad \"evlogflags\" {own_flags!r}")
    try:
        headers = headers_of(obj)
    except msgspec.DecodeError:
        raise OpError(f"{where}: \"evlogheaders\" is not a JSON object of strings") from None
    return ParsedEvent(obj["type"], source, data, flags | (own_flags & ~FLAG_TYPED), types, ts, None, None,
                       parse_headers(headers, where))


def _data(obj: dict, where: str) -> tuple[bytes, int, bytes]:
    """(data JSON, flags, type map) of an imported CloudEvent."""
    if obj.get("data_base64") is not None:
        try:
            payload = base64.b64decode(obj["data_base64"], validate=True)
        except (binascii.Error, TypeError, ValueError):
            raise OpError(f"{where}: \"data_base64\" is not base64") from None
        return encode_data(payload)        # bytes, typed: they come back as bytes
    try:
        data = encode_json(obj.get("data"))
    except Exception as exc:  # noqa: BLE001 - msgspec raises several types
        raise OpError(f"{where}: data cannot be stored: {exc}") from None
    own_types = obj.get("evlogtypes")
    if own_types is None:
        return data, 0, b""
    try:
        types = _decode(own_types) if isinstance(own_types, str) else None
    except msgspec.DecodeError:
        types = None
    if not isinstance(types, list):
        raise OpError(f"{where}: \"evlogtypes\" is not a JSON array (evlog's type map)")
    return data, FLAG_TYPED if types else 0, encode_json(types) if types else b""
