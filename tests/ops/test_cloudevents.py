"""CloudEvents export and import: every line is a valid CloudEvents 1.0 event in the JSON
format (the spec's JSON schema through jsonschema_rs with format checks — jsonschema_rs comes
with schemathesis, a test dependency — and the spec's rules written as checks), the documented mapping of record fields and headers to attributes, a
round trip back to the same records, and foreign CloudEvents read in."""
from __future__ import annotations

import base64
import datetime as _dt
import io
import json
import os
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evlog import ops
from evlog.ops import OpError
from evlog.ops.cloudevents import URI_REFERENCE, attribute_name, parse_rfc3339, rfc3339, source_attribute
from evlog.segments import Log

from .helpers import START, event_lists, make_recording, read_full

FORMATS = os.path.join(os.path.dirname(os.path.dirname(__file__)), "format")

# The CloudEvents 1.0 JSON schema (cloudevents/spec, spec.json of v1.0.x): the attributes'
# types, the required ones, and the formats of source, time and dataschema.
SCHEMA = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "required": ["id", "source", "specversion", "type"],
    "properties": {
        "id": {"type": "string", "minLength": 1},
        "source": {"type": "string", "format": "uri-reference", "minLength": 1},
        "specversion": {"type": "string", "minLength": 1},
        "type": {"type": "string", "minLength": 1},
        "datacontenttype": {"type": ["string", "null"], "minLength": 1},
        "dataschema": {"type": ["string", "null"], "format": "uri", "minLength": 1},
        "subject": {"type": ["string", "null"], "minLength": 1},
        "time": {"type": ["string", "null"], "format": "date-time", "minLength": 1},
        "data": {"type": ["object", "string", "number", "array", "boolean", "null"]},
        "data_base64": {"type": ["string", "null"], "contentEncoding": "base64"},
    },
}
NAME = re.compile(r"[a-z0-9]+")          # context attribute names (spec: "Attribute Naming Convention")
RFC3339 = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)")
CORE = {"specversion", "id", "source", "type", "time", "subject", "datacontenttype", "dataschema"}


def check_cloudevent(line: bytes) -> dict:
    """Raise AssertionError unless `line` is one CloudEvent (JSON format, structured mode)."""
    event = json.loads(line)
    jsonschema_rs = pytest.importorskip("jsonschema_rs")
    validator = jsonschema_rs.validator_for(SCHEMA, validate_formats=True)
    errors = [e.message for e in validator.iter_errors(event)]
    assert not errors, (errors, event)
    assert event["specversion"] == "1.0"
    assert "data" not in event or "data_base64" not in event
    for name, value in event.items():
        if name in ("data", "data_base64"):
            continue
        assert NAME.fullmatch(name), f"attribute name {name!r}"
        if name not in CORE:   # extension attributes: the JSON forms of CloudEvents' types
            assert isinstance(value, (str, bool)) or (isinstance(value, int) and -2**31 <= value < 2**31), (name, value)
    assert RFC3339.fullmatch(event["time"])
    assert URI_REFERENCE.fullmatch(event["source"])
    assert event["datacontenttype"] == "application/json"
    return event


def _export(path: str) -> list[bytes]:
    buf = io.BytesIO()
    ops.export(path, buf, format="cloudevents")
    return buf.getvalue().splitlines()


@pytest.mark.parametrize("case", ["v1/typed", "v1/model", "v1/multi_segment", "v2/typed", "v2/headers"])
def test_every_line_of_the_golden_recordings_is_a_valid_cloudevent(case: str) -> None:
    lines = _export(os.path.join(FORMATS, case))
    with Log.open(os.path.join(FORMATS, case)) as log:
        assert len(lines) == len(log) > 0
    for line in lines:
        check_cloudevent(line)


def test_the_mapping_of_fields_and_headers() -> None:
    path = os.path.join(FORMATS, "v2", "headers")
    events = [json.loads(line) for line in _export(path)]
    with Log.open(path) as log:
        records = list(log.read())
        start = log.manifest.start_time_ns
    first, second, nats = events[0], events[1], events[2]
    r0 = records[0]
    assert first["id"] == r0.headers["id"]                          # the header id
    assert second["id"] == f"evlog:headers:{start}:1"               # else the recording and the offset
    assert first["type"] == r0.name and first["source"] == r0.source
    assert first["subject"] == "orders.btc"
    assert first["traceparent"] == r0.headers["traceparent"]
    assert first["correlationid"] == "c-1" and first["causationid"] == "c-0"
    assert first["data"] == {"pair": "BTC/USDT", "qty": "0.5"}
    assert json.loads(first["evlogtypes"]) == [[["qty"], "decimal"]]
    # headers `type` and `time` have no attribute of their own: all headers ride in evlogheaders
    assert json.loads(first["evlogheaders"]) == r0.headers
    assert nats["natssubject"] == "prices.eth" and nats["natsseq"] == "42" and nats["uni"] == "名前 ✓"
    assert "evlogheaders" in nats                                   # their keys are not the attribute names
    assert "evlogheaders" not in second and "evlogsource" not in second
    assert [e["time"] for e in events] == [rfc3339(r.timestamp) for r in records]
    assert _export(path) == _export(path)                           # stable ids


def test_time_is_rfc3339_utc_with_nanoseconds() -> None:
    assert rfc3339(START) == "2025-10-09T08:53:20Z"
    assert rfc3339(START + 523_000_001) == "2025-10-09T08:53:20.523000001Z"
    for text, ns in [("2025-10-09T08:53:20Z", START), ("2025-10-09T10:53:20.5+02:00", START + 500_000_000),
                     ("2025-10-09t08:53:20.1234567891z", START + 123_456_789)]:
        assert parse_rfc3339(text, "x") == ns
    with pytest.raises(OpError, match="not an RFC 3339 time"):
        parse_rfc3339("2025-10-09 08:53:20", "x")
    with pytest.raises(OpError, match="not a valid date"):
        parse_rfc3339("2025-02-30T00:00:00Z", "x")


@pytest.mark.parametrize("key, name", [("correlation_id", "correlationid"), ("causation_id", "causationid"),
                                       ("traceparent", "traceparent"), ("X-Request-Id", "xrequestid"),
                                       ("nats.seq", "natsseq"), ("Ünï", "uni"), ("名前", "")])
def test_attribute_names(key: str, name: str) -> None:
    assert attribute_name(key) == name


@pytest.mark.parametrize("source, attr", [
    ("Orchestrator", "Orchestrator"), ("a/Fetcher", "a/Fetcher"), ("https://x.example/p?q=1", "https://x.example/p?q=1"),
    ("Order Executor", "Order%20Executor"), ("ünï", "%C3%BCn%C3%AF"), ("1a:b", "1a%3Ab"), ("50%", "50%25"),
    ("//h@x@y", "//h%40x%40y"), ("[::1]", "%5B%3A%3A1%5D"),
])
def test_sources_are_uri_references(source: str, attr: str) -> None:
    assert source_attribute(source) == attr
    jsonschema_rs = pytest.importorskip("jsonschema_rs")
    assert jsonschema_rs.validator_for({"format": "uri-reference"}, validate_formats=True).is_valid(attr)


@settings(max_examples=200)
@given(st.text(min_size=1, max_size=12))
def test_any_source_becomes_a_valid_uri_reference(source: str) -> None:
    attr = source_attribute(source)
    assert URI_REFERENCE.fullmatch(attr)
    jsonschema_rs = pytest.importorskip("jsonschema_rs")
    assert jsonschema_rs.validator_for({"format": "uri-reference"}, validate_formats=True).is_valid(attr), attr


@settings(max_examples=60, deadline=None)
@given(events=event_lists(headers=True))
def test_export_then_import_gives_the_same_records(tmp_path_factory, events) -> None:
    d = tmp_path_factory.mktemp("ce")
    src = make_recording(str(d / "src"), events, session="run 1")
    ops.export(src, str(d / "out.jsonl"), format="cloudevents")
    lines = (d / "out.jsonl").read_bytes().splitlines()
    for line in lines:
        check_cloudevent(line)
    back = ops.import_recording(str(d / "out.jsonl"), str(d / "back"), format="cloudevents")
    got, want = read_full(back), read_full(src)
    # names, sources, wall-clock times, data (typed), flags and headers come back exactly; the
    # time since the start is rebuilt from the timestamps (CloudEvents carry no monotonic clock)
    assert [(n, s, t, data, f, h) for n, s, t, _m, data, f, h in got] == \
        [(n, s, t, data, f, h) for n, s, t, _m, data, f, h in want]
    assert ops.import_recording(str(d / "out.jsonl"), str(d / "auto")) and read_full(str(d / "auto")) == got


def test_model_flags_come_back(tmp_path) -> None:
    back = ops.import_recording(_write(tmp_path, _export(os.path.join(FORMATS, "v2", "model"))), str(tmp_path / "b"))
    assert [r[5] for r in read_full(back)] == [r[5] for r in read_full(os.path.join(FORMATS, "v2", "model"))]


def _write(tmp_path, lines: list[bytes], name: str = "in.jsonl") -> str:
    path = tmp_path / name
    path.write_bytes(b"".join(line + b"\n" for line in lines))
    return str(path)


def test_foreign_cloudevents_are_read(tmp_path) -> None:
    lines = [json.dumps(e).encode() for e in [
        {"specversion": "1.0", "type": "com.github.pull_request.opened", "source": "https://github.com/cloudevents/spec/pull",
         "subject": "123", "id": "A234-1234-1234", "time": "2018-04-05T17:31:00Z", "comexampleextension1": "value",
         "comexampleothervalue": 5, "flag": True, "datacontenttype": "text/xml", "data": "<much wow=\"xml\"/>"},
        {"specversion": "1.0", "type": "bin", "source": "/s", "id": "2", "data_base64": base64.b64encode(b"\x00\xff").decode()},
        {"specversion": "1.0", "type": "nodata", "source": "/s", "id": "3", "correlationid": "c-9"},
    ]]
    back = ops.import_recording(_write(tmp_path, lines), str(tmp_path / "b"))
    rows = read_full(back)
    name, source, ts, _m, data, _f, headers = rows[0]
    assert (name, source, data) == ("com.github.pull_request.opened", "https://github.com/cloudevents/spec/pull",
                                    '<much wow="xml"/>')
    assert ts == int(_dt.datetime(2018, 4, 5, 17, 31, tzinfo=_dt.timezone.utc).timestamp()) * 10**9
    assert headers == {"subject": "123", "id": "A234-1234-1234", "comexampleextension1": "value",
                       "comexampleothervalue": "5", "flag": "true", "datacontenttype": "text/xml"}
    assert rows[1][4] == b"\x00\xff" and rows[1][6] == {"id": "2"}
    assert rows[2][4] is None and rows[2][6] == {"id": "3", "correlation_id": "c-9"}


@pytest.mark.parametrize("event, problem", [
    ({"specversion": "0.3", "type": "a", "source": "s", "id": "1"}, "not CloudEvents 1.x"),
    ({"specversion": "1.0", "type": "a", "source": "s"}, 'missing "id"'),
    ({"specversion": "1.0", "type": "", "source": "s", "id": "1"}, 'missing "type"'),
    ({"specversion": "1.0", "type": "a", "source": "s", "id": "1", "time": "yesterday"}, "RFC 3339"),
    ({"specversion": "1.0", "type": "a", "source": "s", "id": "1", "data_base64": "!!"}, "not base64"),
    ({"specversion": "1.0", "type": "a", "source": "s", "id": "1", "evlogtypes": "{"}, "evlogtypes"),
    ({"specversion": "1.0", "type": "a", "source": "s", "id": "1", "evlogflags": 64}, "evlogflags"),
    ({"specversion": "1.0", "type": "a", "source": "s", "id": "1", "evlogheaders": "[1]"}, "headers"),
])
def test_bad_cloudevents_are_refused_naming_the_line(tmp_path, event, problem: str) -> None:
    good = {"specversion": "1.0", "type": "a", "source": "s", "id": "0"}
    src = _write(tmp_path, [json.dumps(good).encode(), json.dumps(event).encode()])
    with pytest.raises(OpError, match="line 2") as info:
        ops.import_recording(src, str(tmp_path / "out"), format="cloudevents")
    assert problem in str(info.value)
    assert not os.path.exists(tmp_path / "out")


def test_unknown_import_format(tmp_path) -> None:
    with pytest.raises(OpError, match="unknown import format"):
        ops.import_recording(_write(tmp_path, []), str(tmp_path / "o"), format="xml")


@pytest.mark.parametrize("change", [
    {"source": "a b"}, {"time": "2025-10-09T08:53:20"}, {"Bad_Name": "x"}, {"ext": {"nested": 1}},
    {"ext": 2**40}, {"specversion": "0.3"}, {"id": ""}, {"subject": ""}, {"data_base64": "AA=="},
])
def test_the_checks_catch_what_is_not_a_cloudevent(change: dict) -> None:
    event = {"specversion": "1.0", "id": "1", "source": "/s", "type": "t", "time": "2025-10-09T08:53:20Z",
             "datacontenttype": "application/json", "data": 1}
    check_cloudevent(json.dumps(event).encode())
    with pytest.raises(AssertionError):
        check_cloudevent(json.dumps({**event, **change}).encode())
