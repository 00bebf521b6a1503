"""export / import: JSON Lines round trip (identity), the original JSON format, CSV, Parquet."""
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

from .helpers import event_lists, make_recording, read_all, trading


@settings(max_examples=60)
@given(events=event_lists())
def test_jsonl_export_then_import_is_the_identity(tmp_path_factory, events):
    d = tmp_path_factory.mktemp("rt")
    src = make_recording(str(d / "src"), events)
    n = ops.export(src, str(d / "out.jsonl"), format="jsonl")
    assert n == len(events)
    back = ops.import_recording(str(d / "out.jsonl"), str(d / "back"))
    assert read_all(back) == read_all(src)
    with open_recording(back) as a, open_recording(src) as b:
        assert a.start_time_ns == b.start_time_ns or not events


@settings(max_examples=40)
@given(events=event_lists(typed=False))
def test_legacy_json_export_reads_back_the_same_events(tmp_path_factory, events):
    d = tmp_path_factory.mktemp("lg")
    src = make_recording(str(d / "src"), events)
    ops.export(src, str(d / "old.json"), format="json")
    doc = json.loads((d / "old.json").read_text())          # a plain JSON document, like the original's
    assert doc["total_events"] == len(events)
    assert [e["event_name"] for e in doc["events"]] == [e[0] for e in events]
    with open_recording(str(d / "old.json")) as rec:
        got = [(r.name, r.source, r.monotonic, r.data) for r in rec.read()]
    assert got == [(n, s, m, data) for n, data, s, m in events]
    # and imported back into evlog, the same again
    back = ops.import_recording(str(d / "old.json"), str(d / "back"))
    assert [(n, s, m, data) for n, s, _t, m, data, _f in read_all(back)] == got


def test_filtered_legacy_export_puts_counts_after_the_events(tmp_path):
    src = trading(300, str(tmp_path / "r"))
    out = tmp_path / "f.json"
    n = ops.export(src, str(out), format="json", selection=Selection(filter="Position*"))
    doc = json.loads(out.read_text())
    assert doc["total_events"] == n == len(doc["events"]) > 0
    assert {e["event_name"] for e in doc["events"]} <= {"PositionPurchased", "PositionSold"}
    assert list(doc)[-1] == "total_events"


def test_csv_flattens_one_event_name(tmp_path):
    src = trading(400, str(tmp_path / "r"))
    out = tmp_path / "sold.csv"
    n = ops.export(src, str(out), format="csv", event_name="PositionSold")
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == n > 0
    assert list(rows[0])[:4] == ["offset", "time", "name", "source"]
    assert "data.profit" in rows[0] and "data.pair" in rows[0]
    with open_recording(src) as rec:
        sold = [r for r in rec.read(names="PositionSold")]
    assert [int(r["offset"]) for r in rows] == [r.offset for r in sold]
    assert rows[0]["data.pair"] == sold[0].data["pair"]


def test_csv_of_mixed_names_has_one_json_column(tmp_path):
    src = make_recording(str(tmp_path / "r"), [("A", {"x": 1}, "s", 0), ("B", [1, 2], "", 5)])
    buf = io.BytesIO()
    ops.export(src, buf, format="csv")
    rows = list(csv.reader(io.StringIO(buf.getvalue().decode())))
    assert rows[0] == ["offset", "time", "name", "source", "data"]
    assert json.loads(rows[1][4]) == {"x": 1} and json.loads(rows[2][4]) == [1, 2]


def test_parquet(tmp_path):
    pq = pytest.importorskip("pyarrow.parquet")
    src = trading(500, str(tmp_path / "r"))
    n = ops.export(src, str(tmp_path / "r.parquet"), format="parquet")
    table = pq.read_table(str(tmp_path / "r.parquet"))
    assert table.num_rows == n == 500
    assert table.column_names == ["offset", "time", "name", "source", "data"]
    assert table.column("offset").to_pylist() == list(range(500))
    first = json.loads(table.column("data")[0].as_py())
    with open_recording(src) as rec:
        assert first == json.loads(json.dumps(next(iter(rec.read())).data, default=str))


def test_export_to_a_file_is_atomic_on_error(tmp_path):
    src = trading(50, str(tmp_path / "r"))
    with pytest.raises(OpError):
        ops.export(src, str(tmp_path / "x.out"), format="xml")
    assert not os.path.exists(tmp_path / "x.out")


def test_import_rejects_bad_input_with_a_clear_error(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"event_name": "A"}\n{"event_name": 3}\n')
    with pytest.raises(OpError, match="line 2"):
        ops.import_recording(str(bad), str(tmp_path / "out"))
    assert not os.path.exists(tmp_path / "out")   # nothing half-made is left
    other = tmp_path / "x.txt"
    other.write_text("hello")
    with pytest.raises(OpError):
        ops.import_recording(str(other), str(tmp_path / "o2"))


def test_import_plain_lines_with_iso_timestamps(tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_text('{"event_name": "A", "event_data": {"v": 1}, "source": "s", "timestamp": "2025-10-12T10:00:00Z"}\n'
                   '{"event_name": "B", "timestamp": "2025-10-12T10:00:01.5+00:00"}\n')
    out = ops.import_recording(str(src), str(tmp_path / "rec"))
    recs = read_all(out)
    assert [r[0] for r in recs] == ["A", "B"]
    assert recs[1][3] - recs[0][3] == 1_500_000_000
    assert recs[0][4] == {"v": 1} and recs[1][4] is None
