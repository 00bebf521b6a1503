"""How a NATS message becomes an evlog record, and back.

A recorded NATS message is stored as one record:

- `name`: from the subject, through a `SubjectMapper` (rules `PATTERN=TEMPLATE`, NATS
  wildcards `*` and `>`), unless the message carries an `Evlog-Event` header;
- `source`: the `Evlog-Source` header, else a default ("nats");
- `timestamp`: the JetStream stream timestamp (ns) or, in core NATS, the time of receipt;
- `data`: an envelope `{"nats": META, "data": PAYLOAD}` where PAYLOAD is the decoded JSON
  payload, or the payload bytes when it is not JSON (then META has `"binary": true`), and META
  holds `subject`, and when known `stream`, `seq` (stream sequence), `msg_id` (`Nats-Msg-Id`
  header), `headers` (all headers) and `redelivered`.

Nothing here imports the nats client.
"""
from __future__ import annotations

import re
import string
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from ..segments.codec import decode_json, encode_data, encode_json, to_json_mode
from ..segments.errors import EvlogError

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


# envelopes -------------------------------------------------------------------------------
def decode_payload(payload: bytes) -> tuple[Any, bool]:
    """(value, binary): the JSON value of the payload, or the bytes themselves."""
    if payload:
        try:
            return decode_json(payload), False
        except Exception:  # noqa: BLE001 - msgspec's DecodeError, UnicodeError...
            pass
    return bytes(payload), True


def encode_envelope(subject: str, payload: bytes, headers: dict[str, str] | None, *,
                    stream: str | None = None, seq: int | None = None,
                    redelivered: bool = False) -> tuple[bytes, int, bytes, bool]:
    """The encoded record data of `make_envelope` (data, flags, type map, binary), built without
    decoding a JSON payload into Python objects: the payload bytes are checked and embedded."""
    if payload:
        try:
            decode_json(payload)  # a check only: the payload is stored as it came
        except Exception:  # noqa: BLE001 - not JSON: stored as bytes below
            pass
        else:
            meta = _meta(subject, headers, stream, seq, False, redelivered)
            return b'{"nats":' + encode_json(meta) + b',"data":' + bytes(payload).strip() + b"}", 0, b"", False
    envelope, binary = make_envelope(subject, payload, headers, stream=stream, seq=seq, redelivered=redelivered)
    raw, flags, types = encode_data(envelope)
    return raw, flags, types, binary


def make_envelope(subject: str, payload: bytes, headers: dict[str, str] | None, *,
                  stream: str | None = None, seq: int | None = None,
                  redelivered: bool = False) -> tuple[dict, bool]:
    """The record data for one NATS message; returns (envelope, binary)."""
    value, binary = decode_payload(payload)
    return {ENVELOPE_KEY: _meta(subject, headers, stream, seq, binary, redelivered), "data": value}, binary


def _meta(subject: str, headers: dict[str, str] | None, stream: str | None, seq: int | None,
          binary: bool, redelivered: bool) -> dict[str, Any]:
    meta: dict[str, Any] = {"subject": subject}
    if stream is not None:
        meta["stream"] = stream
    if seq is not None:
        meta["seq"] = seq
    if headers:
        msg_id = headers.get(MSG_ID_HEADER)
        if msg_id:
            meta["msg_id"] = msg_id
        meta["headers"] = dict(headers)
    if binary:
        meta["binary"] = True
    if redelivered:
        meta["redelivered"] = True
    return meta


def is_envelope(data: Any) -> bool:
    return (type(data) is dict and len(data) == 2 and "data" in data
            and type(data.get(ENVELOPE_KEY)) is dict and "subject" in data[ENVELOPE_KEY])


def envelope_seq(data: Any, stream: str | None = None) -> int | None:
    """The stream sequence stored in a record's data (None if it has none, or another stream's)."""
    if not is_envelope(data):
        return None
    meta = data[ENVELOPE_KEY]
    seq = meta.get("seq")
    if not isinstance(seq, int) or (stream is not None and meta.get("stream") != stream):
        return None
    return seq


def payload_bytes(data: Any) -> bytes:
    """The bytes to publish for a record's data: an envelope's original payload, else JSON."""
    if is_envelope(data):
        data = data["data"]
    if isinstance(data, (bytes, bytearray, memoryview)):
        return bytes(data)
    return encode_json(to_json_mode(data))


# replay subjects and headers -------------------------------------------------------------
_SUBJECT_FIELDS = {"event_name", "source", "subject", "recording"}
_UNSAFE = re.compile(r"[\s*>]+")


def check_subject_template(template: str) -> str:
    _check_template(template, _SUBJECT_FIELDS)
    return template


def _subject_token(text: str) -> str:
    return _UNSAFE.sub("_", text).strip(".") or "_"


def replay_subject(template: str, event_name: str, source: str, data: Any, recording: str) -> str:
    """The subject a replayed event goes to. Placeholders: {event_name} {source} {subject}
    (the original subject of a NATS recording, else the event name) {recording}."""
    subject = data[ENVELOPE_KEY]["subject"] if is_envelope(data) else event_name
    out = template.format(event_name=_subject_token(event_name), source=_subject_token(source or "_"),
                          subject=_subject_token(subject), recording=_subject_token(recording))
    return check_subject(out, wildcards=False)


def replay_headers(event_name: str, source: str, data: Any, recording: str) -> dict[str, str]:
    """Headers of a replayed message: Evlog-Replay marks it, original NATS headers are kept
    except `Nats-*` ones (a reused Nats-Msg-Id would be dropped by JetStream deduplication)."""
    headers: dict[str, str] = {}
    if is_envelope(data):
        meta = data[ENVELOPE_KEY]
        for k, v in (meta.get("headers") or {}).items():
            if not k.lower().startswith(("nats-", "evlog-")):
                headers[k] = str(v)
        headers["Evlog-Orig-Subject"] = meta["subject"]
        if "seq" in meta:
            headers["Evlog-Orig-Seq"] = str(meta["seq"])
        if meta.get("msg_id"):
            headers["Evlog-Orig-Msg-Id"] = str(meta["msg_id"])
    headers[REPLAY_HEADER] = recording
    headers[NAME_HEADER] = event_name
    if source:
        headers[SOURCE_HEADER] = source
    return headers
