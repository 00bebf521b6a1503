"""Redaction of secrets in events: a policy of field paths and value patterns, applied to the
encoded form of an event before its bytes go anywhere (the recorder's queue, a flight ring,
a segment file, an export, a dashboard response).

    policy = RedactionPolicy.load("policy.toml")          # or RedactionPolicy(id=..., rules=...)
    redactor = policy.compile(key=b"...")                 # the key only for hmac rules
    data, flags, types, headers = redactor.row(data, flags, types, headers)

A policy (docs/redaction.md) has an `id` and a `version`, and rules:

- path rules (`data.api_key`, `data.*.secret`, `data.**.password`, `headers.authorization`):
  the value at a matching path is dropped, masked (`"***"`) or replaced by an HMAC token
  (`hmac:3f2a...`: HMAC-SHA256 of the value with a secret key, truncated; the same value and
  key give the same token, so joins and diffs still work). A path starts with `data` (the
  event's data) or `headers` (its per-event headers, matched without regard to case); `*`
  is one key or list index, `**` any number of them, and a component may be a glob
  (`*_token`). A dropped list item becomes null (the other items keep their positions);
- value patterns (regular expressions searched in every string, and in the JSON text of
  every number): a match is masked or tokenized in place, or the whole field dropped;
- an allowlist (fail closed): only the listed paths (and what lies below them) are kept,
  everything else is dropped (or masked); rules still apply to what is kept.

`Redactor.row` works on (JSON bytes, flags, type-map bytes, header bytes), the form every
append path of evlog has (the recorder's snapshot, `evlog.Log`, JSON Lines, NATS, raw
copies). The compiled fast path: the path matchers are built once, and an event whose JSON
text holds none of the rules' key names and matches no value pattern is returned as it is
(a substring test per key, a scan per pattern); only the others are decoded, walked and
encoded again. A changed value drops its entries from the type map (a masked Decimal is a string).

Event names and sources are not redacted (they are identifiers, indexed as they are).
The policy's id, version and fingerprint (never the key) go in the recording's metadata
(`Redactor.metadata()`); `key_id` tells whether two recordings used the same HMAC key.
"""
from __future__ import annotations

import hashlib
import hmac as _hmac
import json
import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from itertools import islice
from typing import Any

from .recording import REVERSE, Recording, as_raw, decode_raw
from .segments import Record, SegmentSummary
from .segments.keylookup import key_test
from .segments.query import Query
from .segments.codec import FLAG_TYPED, FLAG_UNSERIALIZABLE, decode_json, encode_json
from .segments.errors import EvlogError
from .segments.headers import decode_headers, encode_headers

__all__ = ["RedactionPolicy", "RedactionRule", "Redactor", "RedactionError", "RedactedRecording",
           "as_redactor", "load_key", "MODES", "MASK"]

MODES = ("drop", "mask", "hmac")
MASK = "***"
MIN_KEY_BYTES = 16
_ROOTS = ("data", "headers")


class RedactionError(EvlogError):
    """A redaction policy that cannot be used (bad file, bad rule, missing key): one line."""


# the policy -------------------------------------------------------------------------------
@dataclass(frozen=True)
class RedactionRule:
    """One rule: `paths` (field paths with globs) or `patterns` (regular expressions on
    values), and what happens to what they match: `mode` drop, mask or hmac."""

    mode: str
    paths: tuple[str, ...] = ()
    patterns: tuple[str, ...] = ()


@dataclass(frozen=True)
class RedactionPolicy:
    """A redaction policy, by `id` and `version` (see the module docstring). `allow`: the
    allowlist (None: no allowlist); `unlisted`: what happens to what it does not list (drop
    or mask); `hmac_length`: hex digits of a token; `key_env`/`key_file`: where the HMAC key
    is found when `compile` is not given one."""

    id: str
    version: int | str = 1
    rules: tuple[RedactionRule, ...] = ()
    allow: tuple[str, ...] | None = None
    unlisted: str = "drop"
    hmac_length: int = 16
    key_env: str | None = None
    key_file: str | None = None

    def __post_init__(self) -> None:
        _check_policy(self)

    # loading -------------------------------------------------------------------------
    @classmethod
    def load(cls, path: str | os.PathLike) -> "RedactionPolicy":
        """A policy from a TOML (`.toml`) or JSON file; RedactionError names the file."""
        path = os.fspath(path)
        try:
            with open(path, "rb") as f:
                raw = f.read()
        except OSError as exc:
            raise RedactionError(f"redaction policy {path}: {exc.strerror or exc}") from None
        try:
            if path.endswith(".toml"):
                import tomllib
                doc = tomllib.loads(raw.decode("utf-8"))
            else:
                doc = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            kind = "TOML" if path.endswith(".toml") else "JSON"
            raise RedactionError(f"redaction policy {path}: not valid {kind}: "
                                 f"{' '.join(str(exc).split())}") from None
        try:
            return cls.from_dict(doc)
        except RedactionError as exc:
            raise RedactionError(f"redaction policy {path}: {exc}") from None

    @classmethod
    def from_dict(cls, doc: Any) -> "RedactionPolicy":
        """A policy from its file form: {id, version, rules: [{paths|patterns, mode}],
        allowlist: {paths, unlisted}, hmac_length, key_env, key_file}."""
        if not isinstance(doc, dict):
            raise RedactionError("a policy is a table (an object) of id, version, rules")
        known = {"id", "version", "rules", "allowlist", "hmac_length", "key_env", "key_file"}
        unknown = sorted(set(doc) - known)
        if unknown:   # a typo (`allowlst`) must not quietly turn a protection off
            raise RedactionError(f"unknown key {unknown[0]!r} (known: {', '.join(sorted(known))})")
        rules = []
        raw_rules = doc.get("rules", [])
        if not isinstance(raw_rules, list):
            raise RedactionError("rules must be a list of tables")
        for i, r in enumerate(raw_rules):
            if not isinstance(r, dict):
                raise RedactionError(f"rules[{i}] must be a table of paths or patterns and mode")
            extra = sorted(set(r) - {"paths", "patterns", "mode"})
            if extra:
                raise RedactionError(f"rules[{i}]: unknown key {extra[0]!r} (known: mode, paths, patterns)")
            rules.append(RedactionRule(mode=r.get("mode", ""), paths=_strings(r.get("paths", []), f"rules[{i}].paths"),
                                       patterns=_strings(r.get("patterns", []), f"rules[{i}].patterns")))
        allow = None
        unlisted = "drop"
        if "allowlist" in doc:
            al = doc["allowlist"]
            if not isinstance(al, dict):
                raise RedactionError("allowlist must be a table of paths and unlisted")
            extra = sorted(set(al) - {"paths", "unlisted"})
            if extra:
                raise RedactionError(f"allowlist: unknown key {extra[0]!r} (known: paths, unlisted)")
            allow = _strings(al.get("paths", []), "allowlist.paths")
            unlisted = al.get("unlisted", "drop")
        return cls(id=doc.get("id", ""), version=doc.get("version", 1), rules=tuple(rules), allow=allow,
                   unlisted=unlisted, hmac_length=doc.get("hmac_length", 16), key_env=doc.get("key_env"),
                   key_file=doc.get("key_file"))

    def to_dict(self) -> dict:
        """The file form (JSON), without where the key is."""
        out: dict[str, Any] = {"id": self.id, "version": self.version,
                               "rules": [{"mode": r.mode, **({"paths": list(r.paths)} if r.paths else {}),
                                          **({"patterns": list(r.patterns)} if r.patterns else {})}
                                         for r in self.rules],
                               "hmac_length": self.hmac_length}
        if self.allow is not None:
            out["allowlist"] = {"paths": list(self.allow), "unlisted": self.unlisted}
        return out

    @property
    def fingerprint(self) -> str:
        """SHA-256 (first 32 hex digits) of the policy's canonical JSON: two recordings
        redacted by the same rules have the same fingerprint."""
        canon = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"), ensure_ascii=True)
        return hashlib.sha256(canon.encode()).hexdigest()[:32]

    @property
    def uses_hmac(self) -> bool:
        return any(r.mode == "hmac" for r in self.rules)

    def compile(self, key: bytes | str | None = None) -> "Redactor":
        """The compiled redactor. `key` (bytes, at least 16): the HMAC key, needed by hmac
        rules; without it, from `key_env` or `key_file`."""
        if key is None and self.uses_hmac:
            key = load_key(self.key_env, self.key_file, needed_by=self.id)
        return Redactor(self, key)


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise RedactionError(f"{where} must be a list of non-empty strings")
    return tuple(value)


def _check_policy(p: RedactionPolicy) -> None:
    if not isinstance(p.id, str) or not p.id.strip():
        raise RedactionError("a policy needs an id (a non-empty string)")
    if isinstance(p.version, bool) or not isinstance(p.version, (int, str)) or p.version == "":
        raise RedactionError(f"version must be a number or a string, not {p.version!r}")
    if not isinstance(p.hmac_length, int) or isinstance(p.hmac_length, bool) or not 8 <= p.hmac_length <= 64:
        raise RedactionError(f"hmac_length must be a whole number from 8 to 64, not {p.hmac_length!r}")
    if p.unlisted not in ("drop", "mask"):
        raise RedactionError(f"allowlist.unlisted must be drop or mask, not {p.unlisted!r}")
    for name in ("key_env", "key_file"):
        v = getattr(p, name)
        if v is not None and (not isinstance(v, str) or not v):
            raise RedactionError(f"{name} must be a non-empty string")
    if not p.rules and p.allow is None:
        raise RedactionError("the policy has no rules and no allowlist: it would redact nothing")
    for i, r in enumerate(p.rules):
        if r.mode not in MODES:
            raise RedactionError(f"rules[{i}]: mode must be drop, mask or hmac, not {r.mode!r}")
        if bool(r.paths) == bool(r.patterns):
            raise RedactionError(f"rules[{i}]: give paths or patterns (one of them)")
        for path in r.paths:
            _parse_path(path, f"rules[{i}]")
        for pat in r.patterns:
            try:
                re.compile(pat)
            except re.error as exc:
                raise RedactionError(f"rules[{i}]: bad pattern {pat!r}: {exc}") from None
    for path in p.allow or ():
        _parse_path(path, "allowlist")


def load_key(env: str | None = None, file: str | os.PathLike | None = None, *, needed_by: str = "") -> bytes:
    """The HMAC key from the environment variable `env` or the file `file` (its bytes, a
    final newline removed); RedactionError when there is none or it is shorter than 16 bytes."""
    if env:
        value = os.environ.get(env)
        if not value:
            raise RedactionError(f"the HMAC key variable {env} is not set (or empty)")
        key = value.encode("utf-8")
        where = f"${env}"
    elif file:
        try:
            with open(file, "rb") as f:
                key = f.read().rstrip(b"\r\n")
        except OSError as exc:
            raise RedactionError(f"HMAC key file {os.fspath(file)}: {exc.strerror or exc}") from None
        where = os.fspath(file)
    else:
        who = f"policy {needed_by!r}" if needed_by else "the policy"
        raise RedactionError(f"{who} has hmac rules: give the key (--redact-key-env NAME or --redact-key-file FILE)")
    if len(key) < MIN_KEY_BYTES:
        raise RedactionError(f"the HMAC key in {where} is {len(key)} bytes: at least {MIN_KEY_BYTES} are needed")
    return key


def as_redactor(redact: "Redactor | RedactionPolicy | str | os.PathLike | None") -> "Redactor | None":
    """A Redactor from what a `redact=` argument may be: a Redactor, a policy (compiled
    with its key_env/key_file), a policy file, or None."""
    if redact is None or isinstance(redact, Redactor):
        return redact
    if isinstance(redact, RedactionPolicy):
        return redact.compile()
    if isinstance(redact, (str, os.PathLike)):
        return RedactionPolicy.load(redact).compile()
    raise TypeError(f"redact= takes a Redactor, a RedactionPolicy or a policy file, not {type(redact).__name__}")


# paths -----------------------------------------------------------------------------------
_ANY = "*"
_DEEP = "**"


def _parse_path(path: str, where: str) -> tuple[Any, ...]:
    """A rule path as its components: "**", "*", a literal key, or a compiled glob."""
    comps = path.split(".")
    if comps[0] not in _ROOTS:
        raise RedactionError(f"{where}: path {path!r} must start with data or headers")
    if any(not c for c in comps):
        raise RedactionError(f"{where}: path {path!r} has an empty component")
    fold = comps[0] == "headers"
    if fold and len(comps) > 2:   # headers are one flat map whose names may hold dots (nats.h.X)
        comps = [comps[0], ".".join(comps[1:])]
    out: list[Any] = []
    for c in comps[1:]:
        if c in (_ANY, _DEEP):
            out.append(c)
        elif any(ch in c for ch in "*?["):
            out.append(re.compile(_glob_regex(c), re.IGNORECASE if fold else 0))
        else:
            out.append(c.lower() if fold else c)
    return (comps[0], *out)


def _glob_regex(glob: str) -> str:
    import fnmatch
    return fnmatch.translate(glob)


def _closure(states: Iterable[tuple[int, int]], pats: list[tuple]) -> frozenset:
    """States with each `**` also skipped (it matches zero components)."""
    out = set()
    todo = list(states)
    while todo:
        s = todo.pop()
        if s in out:
            continue
        out.add(s)
        pid, i = s
        comps = pats[pid]
        if i < len(comps) and comps[i] == _DEEP:
            todo.append((pid, i + 1))
    return frozenset(out)


def _comp_matches(comp: Any, key: str) -> bool:
    if comp.__class__ is str:
        return comp == _ANY or comp == key
    return comp.fullmatch(key) is not None


class _Matcher:
    """An NFA over the components of several paths: states are (path, position)."""

    def __init__(self, paths: list[tuple]) -> None:
        self.pats = [p[1:] for p in paths]
        self.roots = {root: _closure([(i, 0) for i, p in enumerate(paths) if p[0] == root], self.pats)
                      for root in _ROOTS}
        self._memo: dict[tuple[frozenset, str], frozenset] = {}
        self._ends: dict[frozenset, tuple[int | None, bool]] = {}

    def step(self, states: frozenset, key: str) -> frozenset:
        if not states:
            return states
        hit = self._memo.get((states, key))
        if hit is not None:
            return hit
        nxt = []
        pats = self.pats
        for pid, i in states:
            comps = pats[pid]
            if i >= len(comps):
                continue
            c = comps[i]
            if c == _DEEP:
                nxt.append((pid, i))      # ** eats this key and may eat more
            elif _comp_matches(c, key):
                nxt.append((pid, i + 1))
        out = _closure(nxt, pats)
        if len(self._memo) > 4096:   # bounded: keys seen are as many as the events' keys
            self._memo.clear()
        self._memo[(states, key)] = out
        return out

    def ends(self, states: frozenset) -> tuple[int | None, bool]:
        """(the lowest path id that ends at this node or None, whether some path goes on below it)."""
        hit = self._ends.get(states)
        if hit is not None:
            return hit
        best = None
        live = False
        for pid, i in states:
            if i == len(self.pats[pid]):
                if best is None or pid < best:
                    best = pid
            else:
                live = True
        if len(self._ends) > 4096:
            self._ends.clear()
        self._ends[states] = (best, live)
        return best, live


# the compiled redactor -------------------------------------------------------------------
_DROP = object()
_PASS = frozenset((bool, type(None)))   # values no pattern is searched in
_NEEDS_WALK_RE = re.compile(r"\\[AZ]|\(\?<?!|\^|\$")   # anchors, negative lookarounds


class Redactor:
    """A compiled `RedactionPolicy` (thread-safe: its state is the matchers' bounded memo)."""

    def __init__(self, policy: RedactionPolicy, key: bytes | str | None = None) -> None:
        self.policy = policy
        if isinstance(key, str):
            key = key.encode("utf-8")
        if key is not None and len(key) < MIN_KEY_BYTES:
            raise RedactionError(f"the HMAC key is {len(key)} bytes: at least {MIN_KEY_BYTES} are needed")
        if policy.uses_hmac and key is None:
            raise RedactionError(f"policy {policy.id!r} has hmac rules: give the key")
        self._key = key
        self._hlen = policy.hmac_length
        paths: list[tuple] = []
        modes: list[str] = []
        self._patterns: list[tuple[re.Pattern, str]] = []
        for r in policy.rules:
            for p in r.paths:
                paths.append(_parse_path(p, "rule"))
                modes.append(r.mode)
            for p in r.patterns:
                self._patterns.append((re.compile(p), r.mode))
        self._deny = _Matcher(paths)
        self._modes = modes
        self._allow = _Matcher([_parse_path(p, "allowlist") for p in policy.allow]) if policy.allow is not None else None
        self._unlisted = policy.unlisted
        self._has_header_rules = bool(self._deny.roots["headers"]) or self._allow is not None or bool(self._patterns)
        self._needles, globs, self._always = self._fast_path(paths)
        self._scans = tuple(p.search for p in ([globs] if globs is not None else []) + [p for p, _m in self._patterns])
        self._fast = bool(self._needles or self._scans)
        self._row = self.row = self._make_row()   # type: ignore[method-assign]

    # the fast path: which events need no walk ------------------------------------------
    def _fast_path(self, paths: list[tuple]) -> tuple[tuple[str, ...], re.Pattern | None, bool]:
        """(the rules' literal leaf keys as they appear in JSON text (`"api_key"`), a regex of
        their glob leaf keys, always-walk): an event whose text holds none of them and matches
        no value pattern holds nothing to redact. Literal keys are found by `in` (faster than
        any regular expression); the value patterns are scanned one by one (each keeps its
        literal-prefix search, which one alternation would lose)."""
        if self._allow is not None:
            return (), None, True
        needles: list[str] = []
        globs: list[str] = []
        for p in paths:
            if p[0] != "data":
                continue
            if len(p) == 1:
                return (), None, True      # the whole data
            leaf = p[-1]
            if leaf.__class__ is str:
                if leaf in (_ANY, _DEEP) or leaf.isdigit() or any(ch in leaf for ch in '"\\') \
                        or any(ord(ch) < 0x20 for ch in leaf):
                    return (), None, True  # any key (or a list index): every event
                if f'"{leaf}"' not in needles:
                    needles.append(f'"{leaf}"')
            else:
                globs.append(leaf.pattern.replace(r"(?s:", "(?:").replace(r"\Z", "")
                             .replace(".*", '[^"]*').replace(".", '[^"]'))
        for pat, _mode in self._patterns:
            if _NEEDS_WALK_RE.search(pat.pattern.replace("[^", "[")):
                return (), None, True      # anchored: the JSON text would not match as the values do
        glob_re = re.compile('"(?:' + "|".join(globs) + r')"\s*:') if globs else None
        return tuple(needles), glob_re, False

    # rows ------------------------------------------------------------------------------
    def row(self, data: bytes, flags: int, types: bytes, headers: bytes = b"") -> tuple[bytes, int, bytes, bytes]:
        """An encoded event redacted: (data, flags, types, headers), each as stored. (Each
        Redactor replaces this method by the same steps as a closure over its compiled parts:
        the recorder calls it once per event.)"""
        return self._row(data, flags, types, headers)

    def _make_row(self) -> Any:
        marker, walk, headers_bytes = self._marker, self._data, self.headers_bytes
        always, fast, needles, scans = self._always, self._fast, self._needles, self._scans
        header_rules = self._has_header_rules
        unserializable = FLAG_UNSERIALIZABLE

        def row(data: bytes, flags: int, types: bytes, headers: bytes = b"") -> tuple[bytes, int, bytes, bytes]:
            if data.__class__ is not bytes:
                data = bytes(data)
            if flags & unserializable:
                data = marker(data)
            elif always or b"\\" in data:
                data, flags, types = walk(data, flags, types)
            elif fast:   # the fast path: most events stop here, untouched
                text = data.decode("utf-8", "replace")
                for needle in needles:
                    if needle in text:
                        data, flags, types = walk(data, flags, types)
                        break
                else:
                    for scan in scans:
                        if scan(text) is not None:
                            data, flags, types = walk(data, flags, types)
                            break
            if headers and header_rules:
                headers = headers_bytes(headers)
            return data, flags, types, headers
        return row

    def raw_record(self, r: Any) -> Any:
        """A RawRecord redacted (the same record when nothing changes)."""
        data, flags, types, headers = self.row(r.data, r.flags, r.types, r.headers)
        if data is r.data and headers is r.headers and types is r.types:
            return r
        return r._replace(data=data, flags=flags, types=types, headers=headers)

    def raw_records(self, records: Iterable[Any]) -> Iterator[Any]:
        return map(self.raw_record, records)

    def _data(self, data: bytes, flags: int, types: bytes) -> tuple[bytes, int, bytes]:
        value = decode_json(data)
        changed: list[list] = []
        allow = self._allow.roots["data"] if self._allow is not None else None
        new = self._walk(value, self._deny.roots["data"], allow, [], changed, False)
        if not changed:
            return data, flags, types
        if new is _DROP:
            new = None
        if flags & FLAG_TYPED and types:
            kept = [e for e in decode_json(types) if not any(e[0][:len(c)] == c for c in changed)]
            types = encode_json(kept) if kept else b""
            if not kept:
                flags &= ~FLAG_TYPED
        return encode_json(new), flags, types

    def _marker(self, data: bytes) -> bytes:
        """An unserializable event's marker: its repr may hold anything, so it goes."""
        try:
            marker = decode_json(data)
        except Exception:  # noqa: BLE001 - not a marker we made: nothing of it is kept
            marker = {"$unserializable": True}
        if not isinstance(marker, dict):
            marker = {"$unserializable": True}
        out = {"$unserializable": True, "type": str(marker.get("type", "")), "repr": "<redacted>",
               "error": self.text(str(marker.get("error", "")))}
        return encode_json(out)

    def headers_bytes(self, headers: bytes) -> bytes:
        h = decode_headers(headers)
        new = self.headers(h)
        if new is h:
            return headers
        return encode_headers(new) if new else b""

    def headers(self, headers: Mapping[str, str]) -> Mapping[str, str]:
        """An event's headers redacted (the same mapping when nothing changes)."""
        if not headers or not self._has_header_rules:
            return headers
        changed: list[list] = []
        allow = self._allow.roots["headers"] if self._allow is not None else None
        new = self._walk(dict(headers), self._deny.roots["headers"], allow, [], changed, True)
        if not changed:
            return headers
        return {k: (v if isinstance(v, str) else encode_json(v).decode()) for k, v in (new or {}).items()} \
            if new is not _DROP else {}

    def value(self, data: Any) -> Any:
        """Decoded event data (its JSON form) redacted."""
        changed: list[list] = []
        allow = self._allow.roots["data"] if self._allow is not None else None
        new = self._walk(data, self._deny.roots["data"], allow, [], changed, False)
        return None if new is _DROP else new

    # the walk ------------------------------------------------------------------------
    def _walk(self, value: Any, deny: frozenset, allow: frozenset | None, path: list, changed: list,
              fold: bool) -> Any:
        """`value` redacted: `deny` the rule states at this node, `allow` the allowlist's
        (None: everything is allowed here). Appends the path of each changed node to `changed`."""
        if deny:
            rule, _ = self._deny.ends(deny)
            if rule is not None:
                changed.append(list(path))
                return self._apply(self._modes[rule], value)
        if allow is not None:
            listed, live = self._allow.ends(allow)        # type: ignore[union-attr]
            if listed is not None:
                allow = None                               # listed: all below is kept
            elif not live or value.__class__ not in (dict, list):
                changed.append(list(path))
                return _DROP if self._unlisted == "drop" else MASK
        cls = value.__class__
        if cls is dict or cls is list:
            patterns = self._patterns
            if not deny and allow is None and not patterns:
                return value
            dstep, astep = self._deny.step, (self._allow.step if allow is not None else None)  # type: ignore[union-attr]
            walk = self._walk
            if cls is dict:
                out = {}
                for k, v in value.items():
                    mk = k.lower() if fold else k
                    d = dstep(deny, mk)
                    if not d and astep is None and (not patterns or v.__class__ in _PASS):
                        out[k] = v      # no rule below: as it is
                        continue
                    path.append(k)
                    nv = walk(v, d, astep(allow, mk) if astep else None, path, changed, fold)
                    path.pop()
                    if nv is not _DROP:
                        out[k] = nv
                return out
            items = []
            for i, v in enumerate(value):
                key = str(i)
                d = dstep(deny, key)
                if not d and astep is None and (not patterns or v.__class__ in _PASS):
                    items.append(v)
                    continue
                path.append(i)
                nv = walk(v, d, astep(allow, key) if astep else None, path, changed, fold)
                path.pop()
                items.append(None if nv is _DROP else nv)
            return items
        if not self._patterns:
            return value
        if cls is str:
            return self._scan(value, path, changed)
        if cls is int or cls is float:
            text = encode_json(value).decode()
            for pat, mode in self._patterns:
                if pat.search(text) is not None:
                    changed.append(list(path))
                    return self._apply(mode, value)
        return value

    def _scan(self, s: str, path: list, changed: list) -> Any:
        out = s
        for pat, mode in self._patterns:
            if pat.search(out) is None:
                continue
            if mode == "drop":
                changed.append(list(path))
                return _DROP
            out = pat.sub(MASK if mode == "mask" else (lambda m: self.token(m.group())), out)
        if out is not s:
            changed.append(list(path))
        return out

    def _apply(self, mode: str, value: Any) -> Any:
        if mode == "drop":
            return _DROP
        if mode == "mask":
            return MASK
        return self.token(value)

    def token(self, value: Any) -> str:
        """The HMAC token of a value: the same value and key give the same token (a string is
        taken as its UTF-8 bytes, anything else as its JSON text)."""
        msg = value.encode("utf-8") if isinstance(value, str) else encode_json(value)
        assert self._key is not None
        return "hmac:" + _hmac.new(self._key, msg, hashlib.sha256).hexdigest()[:self._hlen]

    # text ------------------------------------------------------------------------------
    def text(self, s: str) -> str:
        """Free text (an error message...) with every value pattern's match masked or tokenized."""
        for pat, mode in self._patterns:
            s = pat.sub(MASK if mode in ("mask", "drop") else (lambda m: self.token(m.group())), s)
        return s

    def filter_text(self, text: str | None) -> str | None:
        """A filter as echoed back: its literals (strings, numbers) masked, then the value
        patterns: a secret typed into a filter field does not come back."""
        if text is None:
            return None
        return self.text(_LITERAL_RE.sub(_mask_literal, text))

    def metadata(self) -> dict:
        """What a recording's metadata says of its redaction: never the key."""
        out = {"id": self.policy.id, "version": self.policy.version, "fingerprint": self.policy.fingerprint}
        if self._key is not None:
            out["key_id"] = _hmac.new(self._key, b"evlog redaction key id", hashlib.sha256).hexdigest()[:16]
        return out

    def scrub(self, value: Any) -> Any:
        """Free-form JSON (a recording's metadata): strings through `text`, the value of any
        `filter` key through `filter_text`."""
        if isinstance(value, dict):
            return {k: (self.filter_text(v) if k == "filter" and isinstance(v, str) else self.scrub(v))
                    for k, v in value.items()}
        if isinstance(value, list):
            return [self.scrub(v) for v in value]
        if isinstance(value, str):
            return self.text(value)
        return value

    def recording(self, rec: Any) -> "RedactedRecording":
        """An open recording whose reads are redacted (see RedactedRecording)."""
        if isinstance(rec, RedactedRecording):
            return rec
        return RedactedRecording(rec, self)

    def __repr__(self) -> str:
        return f"<Redactor {self.policy.id!r} v{self.policy.version} {self.policy.fingerprint[:12]}>"


_LITERAL_RE = re.compile(r'"(?:[^"\\]|\\.)*"?|\'(?:[^\'\\]|\\.)*\'?|(?<![\w.])-?\d[\w.+-]*')


def _mask_literal(m: re.Match) -> str:
    s = m.group()
    if s[0] in "\"'":
        return s[0] + MASK + s[0]
    return MASK


# reading through a policy ----------------------------------------------------------------
class RedactedRecording(Recording):
    """An open recording (evlog or the original format) read through a policy: every record
    it gives (`read`, `last`, `follow`, raw or decoded) is redacted, and a filter (`where`)
    tests the redacted record, so a filter cannot probe what was removed. What holds no event
    data (summary, blocks, offsets, counts by name) is the recording's; its metadata is
    scrubbed. Bulk column reads are not offered (readers fall back to records)."""

    def __init__(self, rec: Recording, redactor: Redactor) -> None:
        self._rec = rec
        self.redactor = redactor
        self.path = rec.path
        self.format = rec.format
        self.session_name = rec.session_name
        self.start_time_ns = rec.start_time_ns
        self.capabilities = rec.capabilities
        self.header_duration_ms = rec.header_duration_ms
        self.metadata = redactor.scrub(rec.metadata or {})

    def read_query(self, query: Query) -> Iterator[Any]:
        # the recording's key index and `where` would test the values before redaction: both are
        # tested on the redacted records instead
        it: Iterator[Any] = self.redactor.raw_records(self._rec.read_query(query.but(raw=True, where=None, key=None)))
        if query.key is not None:
            it = filter(key_test(query.key, raw=True), it)
        if not query.raw:
            it = map(decode_raw, it)
        if query.where is not None:
            it = filter(query.where, it)
        return it

    def last(self, n: int, query: Query | None = None) -> list[Any]:
        if n <= 0:
            return []
        if REVERSE not in self.capabilities:
            return super().last(n, query)
        found = list(islice(self.read_query((query or Query()).but(reverse=True)), n))
        found.reverse()
        return found

    def follow(self, start: int | None = None, *, poll_interval: float = 0.1,
               stop: Callable[[], bool] | None = None, query: Query | None = None) -> Iterator[Record]:
        where = query.where if query is not None else None
        inner = self._rec.follow(start, poll_interval=poll_interval, stop=stop,
                                 query=query.but(where=None) if query is not None else None)
        it: Iterator[Any] = map(decode_raw, self.redactor.raw_records(as_raw(inner)))
        return filter(where, it) if where is not None else it

    def summary(self) -> SegmentSummary:
        return self._rec.summary()

    @property
    def start_offset(self) -> int:   # len() and end_offset follow from it and summary()
        return self._rec.start_offset

    def blocks(self) -> Iterator[Any]:
        return self._rec.blocks()

    def segments(self) -> list[tuple[str, int, int]]:
        return self._rec.segments()

    def any_headers(self) -> bool:
        return self._rec.any_headers()

    def indexed_count(self, query: Query | None = None) -> int | None:
        return self._rec.indexed_count(query)

    def close(self) -> None:
        self._rec.close()
