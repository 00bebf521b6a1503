"""The NATS record format, subject mapping, URLs and replay subjects/headers (no server)."""
from __future__ import annotations

import pytest

from evlog.integrations.natsformat import (
    NatsSetupError,
    NatsUrlError,
    SubjectMapper,
    encode_envelope,
    envelope_seq,
    is_envelope,
    make_envelope,
    parse_nats_url,
    payload_bytes,
    redact_url,
    replay_headers,
    replay_subject,
    subject_matches,
)
from evlog.segments import Log


@pytest.mark.parametrize("url, expected", [
    ("nats://127.0.0.1:4222", "nats://127.0.0.1:4222"),
    ("nats://localhost", "nats://localhost:4222"),
    ("nats://u:p@h:1,nats://h2:2", "nats://u:p@h:1,nats://h2:2"),
])
def test_parse_url(url, expected):
    assert parse_nats_url(url) == expected


@pytest.mark.parametrize("url", ["", "http://h:1", "nats://", "nats://h:99999", "nats://h:1/path", "h:4222"])
def test_bad_urls_are_one_line_errors(url):
    with pytest.raises(NatsUrlError) as e:
        parse_nats_url(url)
    assert "\n" not in str(e.value)


def test_redact_url():
    assert redact_url("nats://user:secret@h:1") == "nats://***@h:1"


@pytest.mark.parametrize("pattern, subject, ok", [
    ("a.*.c", "a.b.c", True), ("a.*.c", "a.b.d", False), ("a.>", "a.b.c", True), ("a.>", "a", False),
    ("a.b", "a.b", True), ("a.b", "a.b.c", False), ("*", "a", True), (">", "a.b", True),
])
def test_subject_matches(pattern, subject, ok):
    assert subject_matches(pattern, subject) is ok


def test_mapper_rules_templates_and_header():
    m = SubjectMapper.from_specs(["trading.*.price=PriceTick", "orders.>={tokens[-1]}", "x.*={first}_{last}"],
                                 default="{subject}")
    assert m.name("trading.btc.price") == "PriceTick"
    assert m.name("orders.eu.new") == "new"
    assert m.name("x.y") == "x_y"
    assert m.name("other.thing") == "other.thing"
    assert m.name("other.thing", {"Evlog-Event": "Given"}) == "Given"
    assert SubjectMapper(default="{last}").name("a.b.c") == "c"


@pytest.mark.parametrize("specs, default", [(["nopattern"], "{subject}"), (["a.b="], "{subject}"),
                                           ([], "{nope}"), (["a b=X"], "{subject}"), ([], "{subject")])
def test_mapper_rejects_bad_rules(specs, default):
    with pytest.raises(NatsSetupError):
        SubjectMapper.from_specs(specs, default)


def test_envelope_roundtrips_through_a_log(tmp_path):
    env, binary = make_envelope("a.b", b'{"x": [1, 2.5, null]}', {"Nats-Msg-Id": "m1", "K": "v"}, stream="S", seq=9)
    raw, rbin = make_envelope("a.c", b"\xff\xfe", None, stream="S", seq=10)
    empty, ebin = make_envelope("a.d", b"", None)
    assert not binary and rbin and ebin
    with Log.create(tmp_path / "r") as log:
        for e in (env, raw, empty):
            log.append("n", e, "s")
    recs = list(Log.open(tmp_path / "r").read())
    assert recs[0].data == {"nats": {"subject": "a.b", "stream": "S", "seq": 9, "msg_id": "m1",
                                     "headers": {"Nats-Msg-Id": "m1", "K": "v"}}, "data": {"x": [1, 2.5, None]}}
    assert recs[1].data["data"] == b"\xff\xfe" and recs[1].data["nats"]["binary"] is True
    assert recs[2].data["data"] == b""
    assert [envelope_seq(r.data, "S") for r in recs] == [9, 10, None]
    assert envelope_seq(recs[0].data, "OTHER") is None
    assert payload_bytes(recs[1].data) == b"\xff\xfe"
    assert not is_envelope({"nats": 1, "data": 2}) and not is_envelope({"x": 1})


def test_replay_subject_and_headers():
    env, _ = make_envelope("orig.sub", b"1", {"Nats-Msg-Id": "m", "Evlog-Replay": "old", "Trace": "t"}, stream="S", seq=3)
    assert replay_subject("replay.{event_name}", "Price Tick", "src", {}, "rec") == "replay.Price_Tick"
    assert replay_subject("r.{subject}.{source}", "N", "svc", env, "rec") == "r.orig.sub.svc"
    assert replay_subject("r.{subject}", "N", "", {"plain": 1}, "rec") == "r.N"
    h = replay_headers("N", "svc", env, "rec1")
    assert h == {"Trace": "t", "Evlog-Orig-Subject": "orig.sub", "Evlog-Orig-Seq": "3", "Evlog-Orig-Msg-Id": "m",
                 "Evlog-Replay": "rec1", "Evlog-Event": "N", "Evlog-Source": "svc"}
    with pytest.raises(NatsSetupError):
        replay_subject("a..{event_name}", "N", "", {}, "rec")


@pytest.mark.parametrize("payload", [b'{"a": {"b": [1, "x"]}}', b" 42 ", b'"s"', b"", b"\xff", b"{bad json", b"null"])
def test_encoded_envelope_equals_the_envelope(payload, tmp_path):
    headers = {"Nats-Msg-Id": "m", "H": "v"}
    data, flags, types, binary = encode_envelope("a.b", payload, headers, stream="S", seq=4, redelivered=True)
    env, env_binary = make_envelope("a.b", payload, headers, stream="S", seq=4, redelivered=True)
    with Log.create(tmp_path / "r") as log:
        log.append_encoded("n", "s", flags, data, types)
    assert binary == env_binary
    assert Log.open(tmp_path / "r").get(0).data == env
