"""Per-event headers through export and import: JSON Lines (a `headers` key when an event has
headers), the original JSON format (an extra `headers` key its reader ignores), CSV and
Parquet (a `headers` column when some event has headers), `evlog record`; and the outputs of
recordings without headers byte for byte what they were before headers existed (the golden
files under tests/ops/golden/ were written by evlog before this change)."""
from __future__ import annotations

import csv
import io
import json
import os

import pytest
from hypothesis import given, settings

from evlog import ops
from evlog.ops import OpError, Selection
from evlog.recording import open_recording
from evlog.segments import Log

from .helpers import event_lists, make_recording, read_full

FORMATS = os.path.join(os.path.dirname(os.path.dirname(__file__)), "format")
GOLDEN = os.path.join(os.path.dirname(__file__), "golden")


def _export(path: str, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    ops.export(path, buf, format=fmt, **kw)
    return buf.getvalue()


def _golden(name: str) -> bytes:
    with open(os.path.join(GOLDEN, name), "rb") as f:
        return f.read()


@pytest.mark.parametrize("case", ["v1/typed", "v1/model", "v1/multi_segment", "v2/typed"])
@pytest.mark.parametrize("fmt", ["jsonl", "json", "csv"])
def test_recordings_without_headers_export_byte_for_byte_as_before(case: str, fmt: str) -> None:
    got = _export(os.path.join(FORMATS, case), fmt)
    assert got == _golden(f"{case.replace('/', '_')}.{fmt}")


def test_jsonl_lines_gain_a_headers_key_only_for_events_with_headers() -> None:
    path = os.path.join(FORMATS, "v2", "headers")
    before = _golden("v2_headers_before_headers.jsonl").splitlines()
    got = _export(path, "jsonl").splitlines()
    with Log.open(path) as log:
        records = list(log.read(raw=True))
    assert len(got) == len(before) == len(records)
    for line, old, r in zip(got, before, records):
        if r.headers:
            assert line.endswith(b',"headers":' + r.headers + b"}")
            assert line.replace(b',"headers":' + r.headers, b"") == old
            assert json.loads(line)["headers"] == json.loads(r.headers)
        else:
            assert line == old and "headers" not in json.loads(line)


def test_original_json_format_gets_an_extra_headers_key_after_source() -> None:
    path = os.path.join(FORMATS, "v2", "headers")
    got = _export(path, "json")
    doc = json.loads(got)
    before = json.loads(_golden("v2_headers_before_headers.json"))
    with Log.open(path) as log:
        records = list(log.read())
    for ev, old, r in zip(doc["events"], before["events"], records):
        if r.headers:
            assert list(ev) == ["timestamp_offset_ms", "event_name", "event_data", "source", "headers"]
            assert ev.pop("headers") == r.headers
        assert ev == old and list(ev) == list(old)    # the original's four keys, in its order
    # every line of an event without headers is the line written before headers existed
    old_lines = set(_golden("v2_headers_before_headers.json").splitlines())
    for line in got.splitlines():
        assert b'"headers"' in line or line in old_lines


@settings(max_examples=60, deadline=None)
@given(events=event_lists(headers=True))
def test_jsonl_export_then_import_keeps_the_headers(tmp_path_factory, events):
    d = tmp_path_factory.mktemp("rt")
    src = make_recording(str(d / "src"), events)
    ops.export(src, str(d / "out.jsonl"), format="jsonl")
    back = ops.import_recording(str(d / "out.jsonl"), str(d / "back"))
    assert read_full(back) == read_full(src)
    assert [h for *_, h in read_full(back)] == [e[4] for e in events]


@settings(max_examples=40, deadline=None)
@given(events=event_lists(typed=False, headers=True))
def test_original_json_export_then_read_and_import_keeps_the_headers(tmp_path_factory, events):
    d = tmp_path_factory.mktemp("lg")
    src = make_recording(str(d / "src"), events)
    ops.export(src, str(d / "old.json"), format="json")
    with open_recording(str(d / "old.json")) as rec:
        assert [dict(r.headers) for r in rec.read()] == [e[4] for e in events]
    back = ops.import_recording(str(d / "old.json"), str(d / "back"))
    assert [(n, s, m, data, h) for n, s, _t, m, data, _f, h in read_full(back)] == \
        [(n, s, m, data, h) for n, data, s, m, h in events]
    # and copied on by merge and slice, from the original format too
    ops.merge([str(d / "old.json")], str(d / "merged"))
    ops.slice_recording(str(d / "old.json"), str(d / "sliced"))
    assert [r[6] for r in read_full(str(d / "merged"))] == [r[6] for r in read_full(str(d / "sliced"))] == \
        [e[4] for e in events]


@pytest.mark.parametrize("line, problem", [
    ('{"event_name": "A", "headers": ["x"]}', '"headers" must be an object of strings'),
    ('{"event_name": "A", "headers": {"k": 1}}', 'bad "headers"'),
    ('{"event_name": "A", "headers": {"": "v"}}', 'bad "headers"'),
])
def test_import_refuses_bad_headers_naming_the_line(tmp_path, line: str, problem: str) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text('{"event_name": "A", "headers": {"ok": "1"}}\n' + line + "\n")
    with pytest.raises(OpError, match="line 2") as info:
        ops.import_recording(str(src), str(tmp_path / "out"))
    assert problem in str(info.value) and "\n" not in str(info.value)
    assert not os.path.exists(tmp_path / "out")


def test_import_names_the_line_the_log_refuses(tmp_path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text('{"event_name": "A"}\n' * 5 + '{"event_name": "%s"}\n' % ("x" * 2000))
    with pytest.raises(OpError, match=r"in.jsonl, line 6: .*1024"):
        ops.import_recording(str(src), str(tmp_path / "out"))
    assert not os.path.exists(tmp_path / "out")


def test_original_json_with_bad_headers_is_a_clear_error(tmp_path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"session_name": "s", "start_time": "2025-10-12T10:00:00+00:00", "events": [
        {"timestamp_offset_ms": 0, "event_name": "A", "event_data": 1, "source": "", "headers": {"k": 2}}]}))
    with pytest.raises(Exception, match='event 0 has bad "headers"'):
        with open_recording(str(bad)) as rec:
            list(rec.read())


def test_record_stream_stores_the_headers_of_its_lines(tmp_path) -> None:
    lines = (b'{"event_name": "A", "event_data": 1, "headers": {"correlation_id": "c-1"}}\n'
             b'{"event_name": "B", "event_data": 2}\n')
    res = ops.record_stream(io.BytesIO(lines), str(tmp_path / "rec"))
    assert res.events == 2
    assert [r[6] for r in read_full(str(tmp_path / "rec"))] == [{"correlation_id": "c-1"}, {}]


def _headers_case(tmp_path, with_headers: bool) -> str:
    events = [("A", {"x": 1}, "s", 0, {}), ("A", {"x": 2}, "s", 10, {"correlation_id": "c-1", "ünï": "✓"} if
                                              with_headers else {}), ("A", {"x": 3}, "s", 20, {})]
    return make_recording(str(tmp_path / ("h" if with_headers else "n")), events)


@pytest.mark.parametrize("name", [None, "A"])
def test_csv_has_a_headers_column_when_some_event_has_headers(tmp_path, name) -> None:
    src = _headers_case(tmp_path, True)
    rows = list(csv.DictReader(io.StringIO(_export(src, "csv", event_name=name).decode())))
    assert list(rows[0])[-1] == "headers"
    assert [json.loads(r["headers"]) if r["headers"] else {} for r in rows] == [{}, {"correlation_id": "c-1", "ünï": "✓"}, {}]
    plain = list(csv.reader(io.StringIO(_export(_headers_case(tmp_path, False), "csv", event_name=name).decode())))
    assert "headers" not in plain[0]


def test_csv_headers_column_counts_only_the_selected_events(tmp_path) -> None:
    src = _headers_case(tmp_path, True)
    header = next(csv.reader(io.StringIO(_export(src, "csv", selection=Selection(filter="data.x != 2")).decode())))
    assert "headers" not in header


def test_parquet_has_a_headers_column_when_some_event_has_headers(tmp_path) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    src = _headers_case(tmp_path, True)
    ops.export(src, str(tmp_path / "h.parquet"), format="parquet")
    table = pq.read_table(str(tmp_path / "h.parquet"))
    assert table.column_names == ["offset", "time", "name", "source", "data", "headers"]
    assert [json.loads(h) if h is not None else None for h in table.column("headers").to_pylist()] == \
        [None, {"correlation_id": "c-1", "ünï": "✓"}, None]
    ops.export(_headers_case(tmp_path, False), str(tmp_path / "n.parquet"), format="parquet")
    assert pq.read_table(str(tmp_path / "n.parquet")).column_names == ["offset", "time", "name", "source", "data"]


def test_the_headers_column_is_found_past_the_first_pages(tmp_path) -> None:
    events = [("A", i, "s", i) for i in range(5000)] + [("A", -1, "s", 5000, {"id": "last"})]
    src = make_recording(str(tmp_path / "r"), events, block_max_records=700)
    with open_recording(src) as rec:
        assert rec.any_headers()
    rows = list(csv.reader(io.StringIO(_export(src, "csv").decode())))
    assert rows[0][-1] == "headers" and json.loads(rows[-1][-1]) == {"id": "last"} and rows[-2][-1] == ""
    with open_recording(os.path.join(FORMATS, "v1", "typed")) as rec:
        assert not rec.any_headers()
    legacy = tmp_path / "old.json"
    ops.export(src, str(legacy), format="json", selection=Selection(offsets=(4990, None)))
    rows = list(csv.reader(io.StringIO(_export(str(legacy), "csv").decode())))
    assert rows[0][-1] == "headers" and json.loads(rows[-1][-1]) == {"id": "last"}
