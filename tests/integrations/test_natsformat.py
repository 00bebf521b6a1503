"""The NATS record format (payload as the data, broker metadata as headers), subject mapping,
URLs, replay subjects/headers and older captures' envelopes (no server)."""
from __future__ import annotations

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evlog.integrations.natsformat import (
    NatsSetupError,
    NatsUrlError,
    SubjectMapper,
    as_recorded,
    encode_payload,
    envelope_limit,
    is_envelope,
    parse_ack_reply,
    parse_nats_url,
    payload_bytes,
    record_headers,
    recorded_seq,
    redact_url,
    replay_headers,
    replay_msg_id,
    replay_subject,
    subject_matches,
    unwrap_envelope,
)
from evlog.segments import Log, decode_headers, encode_headers
from evlog.segments.codec import decode_data

from .helpers import old_envelope


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


def test_ack_reply_metadata():
    a = parse_ack_reply("$JS.ACK.ORDERS.c1.2.1812.40.1760263200000000001.7")
    assert (a.stream, a.consumer, a.delivered, a.seq, a.consumer_seq, a.timestamp, a.pending) == \
        ("ORDERS", "c1", 2, 1812, 40, 1760263200000000001, 7)
    a = parse_ack_reply("$JS.ACK.dom.hash.ORDERS.c1.1.5.6.1760263200000000000.0.token")
    assert (a.stream, a.seq, a.consumer_seq, a.pending) == ("ORDERS", 5, 6, 0)
    for bad in ("", "_INBOX.x.y", "$JS.ACK.a.b.c"):
        with pytest.raises(ValueError):
            parse_ack_reply(bad)


def test_message_headers():
    h = record_headers("trading.btc", {"Nats-Msg-Id": "m1", "Correlation-Id": "c-1", "traceparent": "00-ab-cd-01",
                                       "X-Trace": "t"},
                       stream="TRADING", seq=1812, consumer_seq=40, timestamp=1760263200_523000001)
    assert h == {"subject": "trading.btc", "id": "m1", "time": "2025-10-12T10:00:00.523000001Z",
                 "nats.stream": "TRADING", "nats.seq": "1812", "nats.consumer_seq": "40",
                 "nats.h.Nats-Msg-Id": "m1", "nats.h.Correlation-Id": "c-1", "correlation_id": "c-1",
                 "nats.h.traceparent": "00-ab-cd-01", "traceparent": "00-ab-cd-01", "nats.h.X-Trace": "t"}
    core = record_headers("a.b", None, reply="_INBOX.xyz", binary=True)
    assert core == {"subject": "a.b", "nats.reply": "_INBOX.xyz", "datacontenttype": "application/octet-stream"}
    assert record_headers("a.b", None, redelivered=True)["nats.redelivered"] == "true"


@pytest.mark.parametrize("payload, value, binary", [
    (b'{"pair": "BTC/USDT", "p": [1, 2.5, null]}', {"pair": "BTC/USDT", "p": [1, 2.5, None]}, False),
    (b" 42 ", 42, False), (b'"s"', "s", False), (b"null", None, False),
    (b'{\r\n  "a": "x\\ny"\n}\n', {"a": "x\ny"}, False),
    (b"", b"", True), (b"\xff\x00", b"\xff\x00", True), (b"{bad json", b"{bad json", True),
    (b"plain text", b"plain text", True)])
def test_payload_is_the_data(payload, value, binary, tmp_path):
    data, flags, types, is_binary = encode_payload(payload)
    assert is_binary is binary
    assert b"\n" not in data and b"\r" not in data     # one line in JSON Lines exports
    with Log.create(tmp_path / "r") as log:
        log.append_encoded("n", "s", flags, data, types)
    assert Log.open(tmp_path / "r").get(0).data == value
    if not binary:
        assert data == payload.strip().replace(b"\r", b" ").replace(b"\n", b" ")   # stored as it came


def test_replay_subject_and_headers():
    h = record_headers("orig.sub", {"Nats-Msg-Id": "m", "Nats-Expected-Stream": "S", "Evlog-Replay": "old",
                                    "Trace": "t", "Causation-Id": "c0"}, stream="S", seq=3)
    assert replay_subject("replay.{event_name}", "Price Tick", "src", {}, "rec") == "replay.Price_Tick"
    assert replay_subject("r.{subject}.{source}", "N", "svc", h, "rec") == "r.orig.sub.svc"
    assert replay_subject("r.{subject}", "N", "", None, "rec") == "r.N"
    out = replay_headers("N", "svc", h, "rec1", "evlog:rec1:5:0")
    assert out == {"Trace": "t", "Causation-Id": "c0", "Evlog-Orig-Subject": "orig.sub", "Evlog-Orig-Seq": "3",
                   "Evlog-Orig-Msg-Id": "m", "Nats-Msg-Id": "evlog:rec1:5:0", "Evlog-Replay": "rec1",
                   "Evlog-Event": "N", "Evlog-Source": "svc"}
    # an event recorded by evlog (not from NATS): its well-known keys become NATS headers
    out = replay_headers("N", "", {"correlation_id": "c-1", "traceparent": "00-a-b-01", "other": "x"}, "rec")
    assert out == {"traceparent": "00-a-b-01", "correlation_id": "c-1", "Evlog-Replay": "rec", "Evlog-Event": "N"}
    with pytest.raises(NatsSetupError):
        replay_subject("a..{event_name}", "N", "", {}, "rec")
    assert replay_msg_id("run1", 17, 4) == "evlog:run1:17:4" and replay_msg_id("run1", 17, 4, 1) == "evlog:run1:17:4:1"


def test_old_envelopes_are_recognised_only_where_an_older_capture_wrote():
    env = old_envelope("a.b", b'{"x": 1}', {"Nats-Msg-Id": "m1", "K": "v"}, stream="S", seq=9)
    raw = old_envelope("a.c", b"\xff\xfe", None, stream="S", seq=10)
    assert is_envelope(env) and is_envelope(raw)
    assert not is_envelope({"nats": 1, "data": 2}) and not is_envelope({"x": 1})
    assert not is_envelope({"nats": {"subject": 1}, "data": 2})
    assert unwrap_envelope(env) == ({"x": 1}, record_headers("a.b", {"Nats-Msg-Id": "m1", "K": "v"}, stream="S", seq=9))
    assert unwrap_envelope(raw) == (b"\xff\xfe", record_headers("a.c", None, stream="S", seq=10, binary=True))
    # where the recording's metadata says no older capture wrote, an envelope is data like any other
    assert as_recorded(env, {}, False) == (env, {})
    assert as_recorded(env, {}, True) == unwrap_envelope(env)
    assert as_recorded(env, {"subject": "z"}, True) == (env, {"subject": "z"})   # records with headers are new
    assert recorded_seq(env, {}, "S", True) == 9 and recorded_seq(env, {}, "S", False) is None
    assert recorded_seq(env, {}, "OTHER", True) is None
    assert recorded_seq({"n": 1}, {"nats.stream": "S", "nats.seq": "12"}, "S", False) == 12
    assert envelope_limit({}) == 0 and envelope_limit({"nats_capture": {"subject": "a.>"}}) == math.inf
    assert envelope_limit({"nats_capture": {"subject": "a.>", "envelopes_before": 7}}) == 7
    assert envelope_limit({"nats_capture": {"subject": "a.>", "envelopes_before": 0}}) == 0


# message -> row -> message ---------------------------------------------------------------
_TOKEN = st.text("abcdefghijklmnopqrstuvwxyz0123456789_-", min_size=1, max_size=8)
_SUBJECTS = st.lists(_TOKEN, min_size=1, max_size=4).map(".".join)
_HEADER_NAMES = st.one_of(
    st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", min_size=1, max_size=12),
    st.sampled_from(["Nats-Msg-Id", "Nats-Expected-Stream", "Evlog-Replay", "Evlog-Source", "traceparent",
                     "Correlation-Id", "causation_id", "correlation-id"]))
_HEADER_VALUES = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=20)
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2 ** 63), 2 ** 63) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=10),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4),
    max_leaves=12)
_PAYLOADS = st.one_of(
    st.tuples(_JSON, st.sampled_from([None, 2])).map(lambda t: json.dumps(t[0], indent=t[1]).encode()),
    st.binary(max_size=40))


@settings(max_examples=300, deadline=None)
@given(subject=_SUBJECTS, payload=_PAYLOADS, headers=st.dictionaries(_HEADER_NAMES, _HEADER_VALUES, max_size=5),
       js=st.none() | st.tuples(st.sampled_from(["S", "TRADING"]), st.integers(1, 2 ** 40), st.integers(1, 2 ** 40),
                                st.integers(0, 2 ** 62)),
       reply=st.none() | st.just("_INBOX.abc.1"), offset=st.integers(0, 10 ** 9))
def test_message_row_message_roundtrip(subject, payload, headers, js, reply, offset):
    stream, seq, cseq, ts = js if js is not None else (None, None, None, None)
    mapper = SubjectMapper()
    name = mapper.name(subject, headers)
    source = headers.get("Evlog-Source") or "nats"
    data, flags, types, binary = encode_payload(payload)
    stored = encode_headers(record_headers(subject, headers or None, stream=stream, seq=seq, consumer_seq=cseq,
                                           reply=reply if js is None else None, timestamp=ts, binary=binary))
    # the row as a reader gives it back
    value, row_headers = decode_data(data, flags, types), decode_headers(stored)
    assert row_headers["subject"] == subject
    if js is not None:
        assert recorded_seq(value, row_headers, stream, False) == seq
    # and the message a replay makes of it
    out_subject = replay_subject("{subject}", name, source, row_headers, "rec")
    msg_id = replay_msg_id("rec", 1, offset)
    out_headers = replay_headers(name, source, row_headers, "rec", msg_id)
    out_payload = payload_bytes(value)
    assert out_subject == subject
    kept = {k: v for k, v in headers.items() if not k.lower().startswith(("nats-", "evlog-"))}
    assert {k: v for k, v in out_headers.items() if not k.startswith(("Evlog-", "Nats-"))} == kept
    assert out_headers["Nats-Msg-Id"] == msg_id and out_headers["Evlog-Event"] == name
    assert out_headers["Evlog-Source"] == source and out_headers["Evlog-Replay"] == "rec"
    if "Nats-Msg-Id" in headers and headers["Nats-Msg-Id"]:
        assert out_headers["Evlog-Orig-Msg-Id"] == headers["Nats-Msg-Id"]
    if binary:
        assert out_payload == payload
    else:
        assert json.loads(out_payload) == json.loads(payload)
