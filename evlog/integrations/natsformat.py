"""How a NATS message becomes an evlog record, and back.

A recorded NATS message is stored as one record (docs/headers.md has the table):

- `name`: the message's `Evlog-Event` header when it has one, else from the subject through a
  `SubjectMapper` (rules `PATTERN=TEMPLATE`, NATS wildcards `*` and `>`; default: the subject);
- `source`: the `Evlog-Source` header, else a default ("nats");
- `timestamp`: the JetStream stream timestamp (ns) or, in core NATS, the time of receipt;
- `data`: the payload itself: its JSON value, or the payload's bytes when it is not JSON
  (then the header `datacontenttype` is `application/octet-stream`);
- `headers` (format v2): `subject`, `id` (the `Nats-Msg-Id` header), `time` (JetStream's
  timestamp, RFC 3339), `nats.stream`, `nats.seq`, `nats.consumer_seq`, `nats.reply` (core
  NATS), `nats.redelivered`, each of the message's own headers under `nats.h.<Name>`, and
  the well-known `traceparent`, `correlation_id`, `causation_id` when the message has them.

Older captures stored `{"nats": META, "data": PAYLOAD}` as the data; `envelope_limit` tells
from a recording's metadata which records may hold such an envelope, `as_recorded` unwraps it.
Nothing here imports the nats client.
"""
from __future__ import annotations

import math
import re
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, NamedTuple
from urllib.parse import urlsplit

from ..segments.codec import decode_json, encode_data, encode_json, to_json_mode
from ..segments.errors import EvlogError
from ..timespec import rfc3339

ENVELOPE_KEY = "nats"
NAME_HEADER = "Evlog-Event"
SOURCE_HEADER = "Evlog-Source"
MSG_ID_HEADER = "Nats-Msg-Id"
REPLAY_HEADER = "Evlog-Replay"
DEFAULT_SOURCE = "nats"
MARKER_SOURCE = "evlog"              # records evlog itself adds to a capture (e.g. drop reports)
DROPPED_EVENT = "evlog.capture.dropped"


class NatsError(EvlogError):
    """Base class of the NATS integration's errors (one-line messages)."""


class NatsUrlError(NatsError, ValueError):
    """A malformed nats:// URL."""


class NatsConnectError(NatsError, ConnectionError):
    """The NATS server cannot be reached (or refused us)."""


class NatsSetupError(NatsError):
    """A missing stream, a bad consumer, an invalid subject template..."""


class NatsNotInstalledError(NatsError, ImportError):
    """The optional nats-py client is missing."""


# URLs ------------------------------------------------------------------------------------
_SCHEMES = ("nats", "tls", "ws", "wss")


def parse_nats_url(url: str) -> str:
    """Validate `nats://host:port` (comma-separated lists allowed); returns it normalised."""
    if not isinstance(url, str) or not url.strip():
        raise NatsUrlError("empty NATS URL (expected nats://HOST:PORT)")
    out = []
    for part in url.split(","):
        part = part.strip()
        try:
            u = urlsplit(part)
            port = u.port
        except ValueError as exc:
            raise NatsUrlError(f"bad NATS URL {part!r}: {exc}") from None
        if u.scheme not in _SCHEMES:
            raise NatsUrlError(f"bad NATS URL {part!r}: expected nats://HOST:PORT")
        if not u.hostname:
            raise NatsUrlError(f"bad NATS URL {part!r}: no host")
        if u.path not in ("", "/") or u.query or u.fragment:
            raise NatsUrlError(f"bad NATS URL {part!r}: unexpected path or query")
        host = f"[{u.hostname}]" if ":" in u.hostname else u.hostname
        auth = f"{u.netloc.rsplit('@', 1)[0]}@" if "@" in u.netloc else ""
        out.append(f"{u.scheme}://{auth}{host}:{port or 4222}")
    return ",".join(out)


def redact_url(url: str) -> str:
    """The URL without credentials, for messages and metadata."""
    return re.sub(r"//[^@/]*@", "//***@", url)


# subjects --------------------------------------------------------------------------------
_TOKEN_OK = re.compile(r"^[^\s*>.]+$")


def check_subject(subject: str, *, wildcards: bool) -> str:
    """Reject an empty or malformed subject with a one-line error."""
    tokens = subject.split(".") if subject else []
    if not tokens:
        raise NatsSetupError("empty NATS subject")
    for i, tok in enumerate(tokens):
        if wildcards and (tok == "*" or (tok == ">" and i == len(tokens) - 1)):
            continue
        if not _TOKEN_OK.match(tok):
            raise NatsSetupError(f"invalid NATS subject {subject!r}")
    return subject


def subject_matches(pattern: str, subject: str) -> bool:
    """NATS wildcard matching: `*` is one token, a final `>` one or more."""
    p, s = pattern.split("."), subject.split(".")
    for i, tok in enumerate(p):
        if tok == ">":
            return len(s) > i
        if i >= len(s) or (tok != "*" and tok != s[i]):
            return False
    return len(p) == len(s)


class _Tokens(list):
    """`{tokens[-1]}` in a template: format() passes the index as a string."""

    def __getitem__(self, key: Any) -> Any:
        return list.__getitem__(self, int(key) if isinstance(key, str) else key)


def _check_template(template: str, allowed: set[str]) -> None:
    try:
        fields = [f for _, f, _, _ in string.Formatter().parse(template) if f is not None]
    except ValueError as exc:
        raise NatsSetupError(f"bad template {template!r}: {exc}") from None
    for f in fields:
        root = re.split(r"[.\[]", f, maxsplit=1)[0]
        if root not in allowed:
            raise NatsSetupError(f"bad template {template!r}: unknown field {{{f}}} "
                                 f"(use {', '.join('{' + a + '}' for a in sorted(allowed))})")


_NAME_FIELDS = {"subject", "tokens", "first", "last"}


@dataclass
class SubjectMapper:
    """Event names from subjects: the first rule whose pattern matches, else `default`.

    Templates use `{subject}`, `{tokens[N]}` (negative N counts from the end), `{first}`, `{last}`.
    """

    rules: list[tuple[str, str]] = field(default_factory=list)
    default: str = "{subject}"
    name_header: str | None = NAME_HEADER

    def __post_init__(self) -> None:
        for pattern, template in self.rules:
            check_subject(pattern, wildcards=True)
            _check_template(template, _NAME_FIELDS)
        _check_template(self.default, _NAME_FIELDS)
        self._cache: dict[str, str] = {}

    @classmethod
    def from_specs(cls, specs: list[str] | tuple[str, ...], default: str = "{subject}",
                   name_header: str | None = NAME_HEADER) -> SubjectMapper:
        """Rules given as `PATTERN=TEMPLATE` strings (the CLI's repeated --name option)."""
        rules = []
        for spec in specs:
            pattern, sep, template = spec.partition("=")
            if not sep or not pattern.strip() or not template.strip():
                raise NatsSetupError(f"bad name rule {spec!r}: expected SUBJECT_PATTERN=NAME_TEMPLATE")
            rules.append((pattern.strip(), template.strip()))
        return cls(rules, default, name_header)

    def name(self, subject: str, headers: dict[str, str] | None = None) -> str:
        if headers and self.name_header:
            given = headers.get(self.name_header)
            if given:
                return given
        cached = self._cache.get(subject)
        if cached is not None:
            return cached
        template = self.default
        for pattern, tmpl in self.rules:
            if subject_matches(pattern, subject):
                template = tmpl
                break
        tokens = _Tokens(subject.split("."))
        try:
            name = template.format(subject=subject, tokens=tokens, first=tokens[0], last=tokens[-1])
        except (IndexError, KeyError, ValueError):
            name = subject
        name = name or subject
        if len(self._cache) < 100_000:
            self._cache[subject] = name
        return name


# JetStream metadata ----------------------------------------------------------------------
class AckInfo(NamedTuple):
    """What a JetStream message's reply (ack) subject tells about it."""

    stream: str
    consumer: str
    delivered: int        # times delivered (1: first delivery)
    seq: int              # stream sequence
    consumer_seq: int
    timestamp: int        # ns: when the stream stored the message
    pending: int          # messages of the consumer not yet delivered


def parse_ack_reply(reply: str) -> AckInfo:
    """The metadata in a JetStream ack subject (ValueError for any other subject)."""
    t = reply.split(".") if reply else []
    if len(t) == 9 and t[0] == "$JS":   # $JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ts>.<pending>
        return AckInfo(t[2], t[3], int(t[4]), int(t[5]), int(t[6]), int(t[7]), int(t[8]))
    if len(t) >= 11 and t[0] == "$JS":  # $JS.ACK.<domain>.<acchash>.<stream>.<consumer>.<delivered>.<sseq>...
        return AckInfo(t[4], t[5], int(t[6]), int(t[7]), int(t[8]), int(t[9]), int(t[10]))
    raise ValueError(f"not a JetStream reply subject: {reply!r}")


# message -> record -----------------------------------------------------------------------
SUBJECT_KEY = "subject"              # the well-known keys (docs/headers.md)
ID_KEY = "id"
TIME_KEY = "time"
STREAM_KEY = "nats.stream"
SEQ_KEY = "nats.seq"
CONSUMER_SEQ_KEY = "nats.consumer_seq"
REPLY_KEY = "nats.reply"
REDELIVERED_KEY = "nats.redelivered"
HEADER_PREFIX = "nats.h."            # the message's own NATS headers, each under nats.h.<Name>
CONTENT_TYPE_KEY = "datacontenttype"  # as `evlog import --format cloudevents` names it
BINARY_CONTENT_TYPE = "application/octet-stream"
WELL_KNOWN = ("traceparent", "correlation_id", "causation_id")   # NATS headers also copied to these keys


def well_known_key(header: str) -> str | None:
    """The well-known key a NATS header also goes to (`Correlation-Id` -> `correlation_id`), or None."""
    key = header.lower().replace("-", "_")
    return key if key in WELL_KNOWN else None


@lru_cache(maxsize=4096)
def _header_keys(header: str) -> tuple[str, str | None]:
    """(`nats.h.<header>`, its well-known key or None): computed once per header name."""
    return HEADER_PREFIX + header, well_known_key(header)


def record_headers(subject: str, headers: Mapping[str, str] | None, *, stream: str | None = None,
                   seq: int | None = None, consumer_seq: int | None = None, reply: str | None = None,
                   timestamp: int | None = None, redelivered: bool = False, binary: bool = False,
                   time_text: Callable[[int], str] = rfc3339) -> dict[str, str]:
    """The evlog headers of a recorded NATS message (the table in docs/headers.md).
    `time_text`: how `timestamp` becomes text (a capture passes its `Rfc3339()`)."""
    out = {SUBJECT_KEY: subject}
    if headers:
        msg_id = headers.get(MSG_ID_HEADER)
        if msg_id:
            out[ID_KEY] = msg_id
    if timestamp is not None:
        out[TIME_KEY] = time_text(timestamp)
    if stream is not None:
        out[STREAM_KEY] = stream
    if seq is not None:
        out[SEQ_KEY] = str(seq)
    if consumer_seq is not None:
        out[CONSUMER_SEQ_KEY] = str(consumer_seq)
    if reply:
        out[REPLY_KEY] = reply
    if redelivered:
        out[REDELIVERED_KEY] = "true"
    if binary:
        out[CONTENT_TYPE_KEY] = BINARY_CONTENT_TYPE
    if headers:
        for name, value in headers.items():
            key, known = _header_keys(name)
            out[key] = value
            if known is not None and known not in out:
                out[known] = value
    return out


def encode_payload(payload: bytes) -> tuple[bytes, int, bytes, bool]:
    """(data, flags, type map, binary): a NATS payload as a record's data. A JSON payload is
    stored as it came (checked, not re-encoded; line breaks between tokens become spaces, so
    that JSON Lines exports stay one line an event); any other payload, empty included, is
    stored as its bytes (a typed bytes value, `binary` True)."""
    if payload:
        try:
            decode_json(payload)  # a check only
        except Exception:  # noqa: BLE001 - msgspec's DecodeError, UnicodeError...: stored as bytes
            pass
        else:
            raw = bytes(payload).strip()
            if b"\n" in raw or b"\r" in raw:   # only between tokens: JSON strings cannot hold them
                raw = raw.replace(b"\r", b" ").replace(b"\n", b" ")
            return raw, 0, b"", False
    raw, flags, types = encode_data(bytes(payload))
    return raw, flags, types, True


# old envelopes ---------------------------------------------------------------------------
CAPTURE_METADATA = "nats_capture"     # the manifest metadata the capture writes
ENVELOPES_BEFORE = "envelopes_before"


def envelope_limit(metadata: Mapping[str, Any] | None) -> float:
    """The offset below which a record may hold an older capture's envelope: 0 for a recording
    no NATS capture made, `nats_capture.envelopes_before` when the current capture wrote it
    (the end of the recording when it first appended to an older capture's recording), and
    every offset (inf) for a recording made only by an older capture."""
    meta = (metadata or {}).get(CAPTURE_METADATA)
    if not isinstance(meta, Mapping):
        return 0
    limit = meta.get(ENVELOPES_BEFORE)
    return limit if isinstance(limit, int) and not isinstance(limit, bool) else math.inf


def is_envelope(data: Any) -> bool:
    """`{"nats": META, "data": PAYLOAD}`, the data of a message recorded by an older capture."""
    return (type(data) is dict and len(data) == 2 and "data" in data
            and type(data.get(ENVELOPE_KEY)) is dict and type(data[ENVELOPE_KEY].get("subject")) is str)


def unwrap_envelope(data: Any) -> tuple[Any, dict[str, str]]:
    """(payload, headers) of an older capture's envelope: its payload, and the headers the
    current capture gives such a message."""
    meta = data[ENVELOPE_KEY]
    headers = meta.get("headers")
    seq = meta.get("seq")
    stream = meta.get("stream")
    return data["data"], record_headers(
        meta["subject"], headers if isinstance(headers, dict) else None,
        stream=stream if isinstance(stream, str) else None, seq=seq if type(seq) is int else None,
        redelivered=meta.get("redelivered") is True, binary=meta.get("binary") is True)


def as_recorded(data: Any, headers: Mapping[str, str] | None, legacy: bool) -> tuple[Any, Mapping[str, str]]:
    """(data, headers) of a record, an older capture's envelope unwrapped: `legacy` says the
    record may be one (its offset is below `envelope_limit`); a record with headers is not."""
    if legacy and not headers and is_envelope(data):
        return unwrap_envelope(data)
    return data, headers or {}


def recorded_seq(data: Any, headers: Mapping[str, str] | None, stream: str, legacy: bool) -> int | None:
    """The stream sequence of `stream` a record keeps (None if it has none, or another stream's)."""
    data, headers = as_recorded(data, headers, legacy)
    seq = headers.get(SEQ_KEY)
    if seq is None or headers.get(STREAM_KEY) != stream:
        return None
    try:
        return int(seq)
    except ValueError:
        return None


# record -> message -----------------------------------------------------------------------
_SUBJECT_FIELDS = {"event_name", "source", "subject", "recording"}
_UNSAFE = re.compile(r"[\s*>]+")


def check_subject_template(template: str) -> str:
    _check_template(template, _SUBJECT_FIELDS)
    return template


def _subject_token(text: str) -> str:
    return _UNSAFE.sub("_", text).strip(".") or "_"


def replay_subject(template: str, event_name: str, source: str, headers: Mapping[str, str] | None,
                   recording: str) -> str:
    """The subject a replayed event goes to. Placeholders: {event_name} {source} {subject}
    (the `subject` header: a recorded NATS message's subject; else the event name) {recording}."""
    subject = (headers.get(SUBJECT_KEY) if headers else None) or event_name
    out = template.format(event_name=_subject_token(event_name), source=_subject_token(source or "_"),
                          subject=_subject_token(subject), recording=_subject_token(recording))
    return check_subject(out, wildcards=False)


def replay_headers(event_name: str, source: str, headers: Mapping[str, str] | None, recording: str,
                   msg_id: str | None = None) -> dict[str, str]:
    """NATS headers of a replayed message: the recorded message's own (`nats.h.*`) but `Nats-*`
    and `Evlog-*` ones, the well-known `traceparent`, `correlation_id`, `causation_id` when no
    such NATS header was restored, `Evlog-Orig-Subject`/`-Seq`/`-Msg-Id` (the `subject`,
    `nats.seq`, `id` headers), `Nats-Msg-Id: msg_id` (JetStream drops a message whose id it
    has seen within its duplicate window) and evlog's own `Evlog-Replay`, `Evlog-Event`,
    `Evlog-Source`."""
    out: dict[str, str] = {}
    if headers:
        restored: set[str] = set()
        for key, value in headers.items():
            if key.startswith(HEADER_PREFIX):
                name = key[len(HEADER_PREFIX):]
                if name and not name.lower().startswith(("nats-", "evlog-")):
                    out[name] = value
                    restored.add(well_known_key(name) or "")
        for key in WELL_KNOWN:
            value = headers.get(key)
            if value is not None and key not in restored:
                out[key] = value
        for key, name in ((SUBJECT_KEY, "Evlog-Orig-Subject"), (SEQ_KEY, "Evlog-Orig-Seq"),
                          (ID_KEY, "Evlog-Orig-Msg-Id")):
            if headers.get(key):
                out[name] = headers[key]
    if msg_id:
        out[MSG_ID_HEADER] = msg_id
    out[REPLAY_HEADER] = recording
    out[NAME_HEADER] = event_name
    if source:
        out[SOURCE_HEADER] = source
    return out


def payload_bytes(data: Any) -> bytes:
    """The bytes to publish for a record's data: bytes as they are (a recorded non-JSON
    payload), anything else as JSON."""
    if isinstance(data, (bytes, bytearray, memoryview)):
        return bytes(data)
    return encode_json(to_json_mode(data))


def replay_msg_id(session_name: str, start_time_ns: int, offset: int, repeat: int = 0) -> str:
    """The `Nats-Msg-Id` of a replayed event: the recording and the offset, as CloudEvents
    exports name it (`evlog:<session>:<start_time_ns>:<offset>`), so a replay resumed or run
    again publishes nothing twice into a stream that deduplicates; `repeat` numbers the
    deliveries of a duplicate injected on purpose (a `dup` fault)."""
    return f"evlog:{session_name}:{start_time_ns}:{offset}" + (f":{repeat}" if repeat else "")
