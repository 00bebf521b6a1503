"""RedactionPolicy and Redactor: paths and globs, modes, patterns, allowlist, type maps, markers,
the fast path (never a false no), policy files and their errors."""
from __future__ import annotations

import json
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from redacttools import KEY, planted_event, policy

from evlog.redact import RedactionError, RedactionPolicy, RedactionRule, Redactor, load_key
from evlog.segments.codec import FLAG_TYPED, decode_data, encode_data, unserializable_marker
from evlog.segments.headers import decode_headers, encode_headers


def redact(r: Redactor, data, headers=None):
    d, f, t = encode_data(data)
    d2, f2, t2, h2 = r.row(d, f, t, encode_headers(headers) if headers else b"")
    return decode_data(d2, f2, t2), dict(decode_headers(h2)), (d2, f2, t2, h2)


def rules(*rs: RedactionRule, **kw) -> Redactor:
    return RedactionPolicy(id="p", rules=rs, **kw).compile(KEY)


def test_paths_globs_and_deep() -> None:
    r = rules(RedactionRule("mask", paths=("data.api_key", "data.*.secret", "data.**.password", "data.tok_*")))
    out, _, _ = redact(r, {"api_key": "a", "x": {"secret": "b", "keep": 1}, "y": {"z": {"secret": "c"}},
                           "deep": [{"q": {"password": "d"}}], "password": "e", "tok_a": 1, "tok": 2})
    assert out == {"api_key": "***", "x": {"secret": "***", "keep": 1}, "y": {"z": {"secret": "c"}},
                   "deep": [{"q": {"password": "***"}}], "password": "***", "tok_a": "***", "tok": 2}


def test_modes_drop_mask_hmac() -> None:
    data = {"a": "v", "b": "v", "c": "v", "l": ["x", "y"]}
    r = rules(RedactionRule("drop", paths=("data.a", "data.l.0")), RedactionRule("mask", paths=("data.b",)),
              RedactionRule("hmac", paths=("data.c",)))
    out, _, _ = redact(r, data)
    assert "a" not in out and out["b"] == "***" and out["l"] == [None, "y"]   # a dropped item keeps the places
    assert out["c"].startswith("hmac:") and len(out["c"]) == len("hmac:") + 16
    assert out["c"] == r.token("v") and out["c"] != rules(RedactionRule("hmac", paths=("data.c",))).token("w")


def test_hmac_same_input_same_token_other_key_differs() -> None:
    p = RedactionPolicy(id="p", rules=(RedactionRule("hmac", paths=("data.user",)),))
    a, b, c = p.compile(KEY), p.compile(KEY), p.compile(b"another-key-of-16+")
    assert redact(a, {"user": "alice"})[0] == redact(b, {"user": "alice"})[0]
    assert redact(a, {"user": "alice"})[0] != redact(c, {"user": "alice"})[0]
    assert redact(a, {"user": "alice"})[0] != redact(a, {"user": "bob"})[0]
    assert a.metadata()["key_id"] == b.metadata()["key_id"] != c.metadata()["key_id"]
    assert KEY.decode() not in json.dumps(a.metadata())


def test_patterns_in_strings_numbers_and_drop() -> None:
    r = rules(RedactionRule("mask", patterns=(r"sk-[A-Za-z0-9]{20,}", r"\b4\d{15}\b")))
    out, _, _ = redact(r, {"note": "key sk-" + "A" * 22 + " end", "card": 4111111111111111, "n": 5,
                           "s": "card 4111111111111111"})
    assert out == {"note": "key *** end", "card": "***", "n": 5, "s": "card ***"}
    d = rules(RedactionRule("drop", patterns=("secret",)))
    assert redact(d, {"a": "my secret", "b": "ok"})[0] == {"b": "ok"}


def test_headers_case_insensitive_and_patterns() -> None:
    r = rules(RedactionRule("mask", paths=("headers.authorization",)), RedactionRule("hmac", patterns=("sk-[a-z]{5}",)))
    _, h, _ = redact(r, {"x": 1}, {"Authorization": "Bearer t", "trace": "1", "other": "sk-abcde"})
    assert h == {"Authorization": "***", "trace": "1", "other": r.token("sk-abcde")}


def test_allowlist_fails_closed() -> None:
    r = rules(allow=("data.order.id", "data.items.*.qty", "headers.trace"))
    out, h, _ = redact(r, {"order": {"id": 1, "card": "x"}, "items": [{"qty": 2, "price": 3}, "s"], "new": "y"},
                       {"trace": "t", "cookie": "c"})
    assert out == {"order": {"id": 1}, "items": [{"qty": 2}, None]} and h == {"trace": "t"}
    m = rules(allow=("data.id",), unlisted="mask")
    assert redact(m, {"id": 1, "other": {"a": 1}})[0] == {"id": 1, "other": "***"}
    assert redact(m, "a scalar")[0] == "***"
    assert redact(rules(allow=("data.id",)), [1, 2])[0] == [None, None]   # no key "id" in a list


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(planted_event())
def test_allowlist_property_only_listed_fields_pass(ev) -> None:
    data, headers, _secrets = ev
    r = rules(allow=("headers.trace",))
    out, h, _ = redact(r, data, headers)
    assert out is None and set(h) <= {"trace"}


def test_rules_apply_inside_allowed_fields() -> None:
    r = rules(RedactionRule("mask", paths=("data.user.email",)), allow=("data.user",))
    assert redact(r, {"user": {"email": "e", "id": 1}, "x": 2})[0] == {"user": {"email": "***", "id": 1}}


def test_type_map_follows_the_redaction() -> None:
    r = rules(RedactionRule("mask", paths=("data.price", "data.t.1")))
    out, _, (_, flags, types, _) = redact(r, {"price": Decimal("1.5"), "qty": Decimal("2"), "t": (Decimal("1"), Decimal("3"))})
    assert out == {"price": "***", "qty": Decimal("2"), "t": (Decimal("1"), "***")} and flags & FLAG_TYPED
    out, _, (_, flags, types, _) = redact(r, {"price": Decimal("1.5")})
    assert out == {"price": "***"} and not flags & FLAG_TYPED and types == b""


def test_unserializable_marker_loses_its_repr() -> None:
    r = rules(RedactionRule("mask", patterns=("sk-[a-z]{5}",)))
    data, flags, types = unserializable_marker({"k": "sk-abcde", "lock": object()}, ValueError("bad sk-abcde"))
    d, f, _t, _h = r.row(data, flags, types, b"")
    assert b"sk-abcde" not in d and f == flags and json.loads(d)["repr"] == "<redacted>"


def test_untouched_event_is_the_same_bytes() -> None:
    r = rules(RedactionRule("mask", paths=("data.api_key",)), RedactionRule("mask", patterns=("sk-[a-z]{5}",)))
    d, f, t = encode_data({"x": 1, "y": "plain"})
    assert r.row(d, f, t, b"")[0] is d


@settings(max_examples=150, deadline=None)
@given(planted_event(), st.sampled_from(["drop", "mask", "hmac"]))
def test_fast_path_never_skips_what_the_walk_changes(ev, mode) -> None:
    """The prefilter is an optimisation only: the same output as walking every event."""
    data, headers, secrets = ev
    r = policy(mode).compile(KEY)
    slow = policy(mode).compile(KEY)
    slow._always = True                      # walk every event: the reference
    slow.row = slow._make_row()
    assert not r._always and r._needles and slow.row is not r.row
    d, f, t = encode_data(data)
    h = encode_headers(headers)
    assert r.row(d, f, t, h) == slow.row(d, f, t, h)
    out = b"".join(x if isinstance(x, bytes) else b"" for x in r.row(d, f, t, h))
    assert not [s for s in secrets if s.encode() in out]


def test_anchored_patterns_always_walk() -> None:
    r = rules(RedactionRule("mask", patterns=(r"^\d{4}$",)))
    assert r._always
    assert redact(r, {"pin": "1234", "x": "12345"})[0] == {"pin": "***", "x": "12345"}


def test_filter_echo_is_masked() -> None:
    r = policy().compile(KEY)
    text = r.filter_text('data.api_key == "PLANTEDX1" and data.n > 4111111111111111 or data.s == \'sk-abc\'')
    assert "PLANTEDX1" not in text and "4111" not in text and "sk-abc" not in text and "data.api_key" in text


# policy files ----------------------------------------------------------------------------
TOML = """
id = "prod"
version = 3
key_env = "EVLOG_TEST_REDACT_KEY"
[[rules]]
paths = ["data.api_key", "headers.authorization"]
mode = "mask"
[[rules]]
patterns = ['sk-[A-Za-z0-9]{20,}']
mode = "hmac"
[allowlist]
paths = ["data", "headers.trace"]
"""


def test_load_toml_and_json(tmp_path, monkeypatch) -> None:
    (tmp_path / "p.toml").write_text(TOML)
    p = RedactionPolicy.load(tmp_path / "p.toml")
    assert (p.id, p.version, p.allow, p.rules[1].mode) == ("prod", 3, ("data", "headers.trace"), "hmac")
    (tmp_path / "p.json").write_text(json.dumps(p.to_dict()))
    assert RedactionPolicy.load(tmp_path / "p.json").fingerprint == p.fingerprint
    with pytest.raises(RedactionError, match="EVLOG_TEST_REDACT_KEY is not set"):
        p.compile()
    monkeypatch.setenv("EVLOG_TEST_REDACT_KEY", "x" * 20)
    assert p.compile().metadata()["fingerprint"] == p.fingerprint


@pytest.mark.parametrize("text, message", [
    ("id = ", "not valid TOML"),
    ('version = 1\n[[rules]]\npaths=["data.a"]\nmode="mask"', "needs an id"),
    ('id="a"\n[[rules]]\npaths=["data.a"]\nmode="hide"', "mode must be drop, mask or hmac"),
    ('id="a"\n[[rules]]\npaths=["secret.a"]\nmode="mask"', "must start with data or headers"),
    ('id="a"\n[[rules]]\npatterns=["(unclosed"]\nmode="mask"', "bad pattern"),
    ('id="a"\nallowlst = {paths=["data.a"]}', "unknown key 'allowlst'"),
    ('id="a"', "redact nothing"),
    ('id="a"\n[[rules]]\npaths=["data.a"]\npatterns=["x"]\nmode="mask"', "paths or patterns"),
])
def test_bad_policy_files(tmp_path, text, message) -> None:
    f = tmp_path / "bad.toml"
    f.write_text(text)
    with pytest.raises(RedactionError, match=message) as info:
        RedactionPolicy.load(f)
    assert "\n" not in str(info.value) and str(f) in str(info.value)


def test_keys(tmp_path, monkeypatch) -> None:
    (tmp_path / "k").write_bytes(b"0123456789abcdef\n")
    assert load_key(file=tmp_path / "k") == b"0123456789abcdef"
    monkeypatch.setenv("SHORTKEY", "short")
    with pytest.raises(RedactionError, match="at least 16"):
        load_key("SHORTKEY")
    with pytest.raises(RedactionError, match="hmac rules"):
        RedactionPolicy(id="h", rules=(RedactionRule("hmac", paths=("data.a",)),)).compile()
