"""Every command through click's test runner; errors are one line on stderr, status 2."""
from __future__ import annotations

import csv
import io
import json
import os

import pytest
from click.testing import CliRunner
from ops.helpers import make_recording, read_all, trading

from evlog.cli import cli


@pytest.fixture
def runner():
    return CliRunner()


@pytest.fixture
def rec(tmp_path):
    return trading(400, str(tmp_path / "rec"), session="bot")


def run(runner, *args, input=None):
    return runner.invoke(cli, [str(a) for a in args], input=input, catch_exceptions=False)


def test_info_text_and_json(runner, rec):
    r = run(runner, "info", rec)
    assert r.exit_code == 0 and "Session:     bot" in r.stdout and "Events:      400" in r.stdout
    d = json.loads(run(runner, "info", rec, "--json").stdout)
    assert d["total_events"] == 400 and d["events_by_name"]["MarketPriceFetched"] > 0


def test_timeline(runner, rec):
    r = run(runner, "timeline", rec, "--max-events", 5)
    lines = r.stdout.splitlines()
    assert len(lines) == 5 and "🔄 BotMonitoringCycleStarted" in lines[0]
    assert "first 5 events" in r.stderr
    r = run(runner, "timeline", rec, "--max-events", 0, "--filter", "*Failed", "--ascii")
    assert r.stdout and all("!!" in line for line in r.stdout.splitlines())


def test_cat_is_json_lines(runner, rec):
    r = run(runner, "cat", rec, "--filter", "PositionSold", "--offsets", "0:200")
    lines = [json.loads(x) for x in r.stdout.splitlines()]
    assert lines and all(x["event_name"] == "PositionSold" and x["offset"] < 200 for x in lines)
    assert r.stderr == ""


@pytest.mark.parametrize("fmt", ["json", "jsonl", "csv"])
def test_export_formats_to_stdout_and_file(runner, rec, tmp_path, fmt):
    r = run(runner, "export", rec, "--format", fmt)
    assert r.exit_code == 0 and r.stdout
    out = tmp_path / f"x.{fmt}"
    r = run(runner, "export", rec, "--format", fmt, "-o", out)
    assert "400 events written" in r.stderr and out.read_bytes() == run(runner, "export", rec, "--format", fmt).stdout_bytes


def test_export_csv_by_name(runner, rec):
    r = run(runner, "export", rec, "--format", "csv", "--name", "PositionPurchased")
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert rows and {row["name"] for row in rows} == {"PositionPurchased"} and "data.purchase_price" in rows[0]


def test_export_parquet(runner, rec, tmp_path):
    pytest.importorskip("pyarrow")
    r = run(runner, "export", rec, "--format", "parquet", "-o", tmp_path / "x.parquet")
    assert r.exit_code == 0 and (tmp_path / "x.parquet").stat().st_size > 0


def test_import_then_cat_round_trip(runner, rec, tmp_path):
    (tmp_path / "x.jsonl").write_bytes(run(runner, "cat", rec).stdout_bytes)
    r = run(runner, "import", tmp_path / "x.jsonl", "-o", tmp_path / "back")
    assert r.exit_code == 0 and "imported 400 events" in r.stderr
    assert read_all(str(tmp_path / "back")) == read_all(rec)
    run(runner, "export", rec, "--format", "json", "-o", tmp_path / "old.json")
    r = run(runner, "import", tmp_path / "old.json")
    assert r.stdout.strip() == str(tmp_path / "old")


def test_slice_merge_diff(runner, rec, tmp_path):
    a, b, m = tmp_path / "a", tmp_path / "b", tmp_path / "m"
    assert "events written" in run(runner, "slice", rec, "-o", a, "--offsets", ":150").stderr
    run(runner, "slice", rec, "-o", b, "--offsets", "150:")
    r = run(runner, "merge", a, b, "-o", m)
    assert "merged 400 events from 2 recordings" in r.stderr
    r = run(runner, "diff", rec, m)
    assert r.exit_code == 0 and "equal" in r.stdout
    r = run(runner, "diff", rec, a, "--format", "json")
    assert r.exit_code == 1
    doc = json.loads(r.stdout)
    assert doc["summary"]["deleted"] == 250 and len(doc["differences"]) == 250
    r = run(runner, "diff", rec, a, "--max-differences", 2)
    assert r.stdout.count("\n- ") + r.stdout.startswith("- ") == 2 and "248 more differences" in r.stdout
    assert "merged_from" in run(runner, "info", m, "--json").stdout


def test_slice_by_time_and_filter(runner, rec, tmp_path):
    r = run(runner, "slice", rec, "-o", tmp_path / "s", "--from", "2s", "--to", "5s", "--filter", "Position*")
    assert r.exit_code == 0
    names = {x[0] for x in read_all(str(tmp_path / "s"))}
    assert names <= {"PositionPurchased", "PositionSold"}


def test_diff_ignore_field_and_time_tolerance(runner, tmp_path):
    a = make_recording(str(tmp_path / "a"), [("E", {"id": 1, "v": 2}, "s", 0)])
    b = make_recording(str(tmp_path / "b"), [("E", {"id": 9, "v": 2}, "s", 2_000_000_000)])
    r = run(runner, "diff", a, b)
    assert r.exit_code == 1 and "data.id: 1 -> 9" in r.stdout
    assert run(runner, "diff", a, b, "--ignore-field", "id").exit_code == 0
    r = run(runner, "diff", a, b, "--ignore-field", "id", "--time-tolerance", "1s")
    assert r.exit_code == 1 and "time shifted by +2.000s" in r.stdout
    r = run(runner, "diff", a, b, "--time-tolerance", "soon")
    assert r.exit_code == 2


def test_verify_recover_reindex(runner, rec, tmp_path):
    r = run(runner, "verify", rec)
    assert r.exit_code == 0 and "OK" in r.stdout
    seg = [f for f in os.listdir(rec) if not f.endswith((".json", ".idx", ".lock"))][0]
    p = os.path.join(rec, seg)
    data = bytearray(open(p, "rb").read())
    data[len(data) // 2] ^= 0xFF
    open(p, "wb").write(bytes(data))
    r = run(runner, "verify", rec)
    assert r.exit_code == 1 and "damaged" in r.stdout
    r = run(runner, "recover", rec, "-o", tmp_path / "fixed")
    assert r.exit_code == 0 and "lost:" in r.stderr and r.stdout.strip() == str(tmp_path / "fixed")
    assert run(runner, "verify", tmp_path / "fixed").exit_code == 0
    r = run(runner, "reindex", tmp_path / "fixed")
    assert r.exit_code == 0 and "rewrote" in r.stderr


def test_tail(runner, rec):
    r = run(runner, "tail", rec, "-n", 3)
    assert len(r.stdout.splitlines()) == 3 and "#399" in r.stdout
    r = run(runner, "tail", rec, "-n", 2, "--jsonl", "--filter", "PositionSold")
    assert [json.loads(x)["event_name"] for x in r.stdout.splitlines()] == ["PositionSold"] * 2


def test_record_from_stdin(runner, tmp_path):
    lines = "".join(json.dumps({"event_name": f"E{i}", "event_data": {"i": i}, "source": "s"}) + "\n" for i in range(5))
    r = run(runner, "record", "--name", "in", "-o", tmp_path / "r", input=lines + "oops\n")
    assert r.exit_code == 0 and "recorded 5 events, skipped 1 lines" in r.stderr
    assert "Events:      5" in r.stdout
    assert [x[0] for x in read_all(str(tmp_path / "r"))] == [f"E{i}" for i in range(5)]
    r = run(runner, "record", "--out", tmp_path / "dir", "--strict", input="oops\n")
    assert r.exit_code == 2 and "line 1" in r.stderr


def test_replay_to_stdout(runner, rec):
    r = run(runner, "replay", rec, "--speed", "max", "--filter", "PositionSold")
    lines = [json.loads(x) for x in r.stdout.splitlines()]
    assert lines and {x["event_name"] for x in lines} == {"PositionSold"}
    assert "replayed" in r.stderr
    assert run(runner, "replay", rec, "--speed", "fast").exit_code == 2


def test_replay_sink_url_posts_to_http_and_no_time_option_is_a_url(runner, rec):
    import http.server
    import threading
    got: list[bytes] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            got.append(self.rfile.read(int(self.headers["Content-Length"])))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *a):
            pass
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/events"
        r = run(runner, "replay", rec, "--speed", "max", "--filter", "PositionSold", "--sink", url, "-q")
        assert r.exit_code == 0, r.stderr
        assert got and {json.loads(b)["event_name"] for b in got} == {"PositionSold"}
        assert f"to {url}" in r.stderr
    finally:
        server.shutdown()
    for args, text in ((["--to", "nats://127.0.0.1:4222"], "--to is a time"),
                       (["--from", "http://x"], "--from is a time"),
                       (["--sink", "ftp://x"], "--sink takes an http://"),
                       (["--sink", "http://x", "--to-url", "http://y"], "--sink goes without"),
                       (["--speed", "0"], "speed must be positive")):
        r = run(runner, "replay", rec, *args)
        assert r.exit_code == 2 and text in r.stderr and "Traceback" not in r.stderr, (args, r.stderr)


def test_demo_records_and_shows(runner, tmp_path):
    r = run(runner, "demo", "--events", 120, "--out", tmp_path, "--pace", "inf", "--no-serve")
    assert r.exit_code == 0
    path = r.stdout.splitlines()[0]
    assert os.path.isdir(path) and "Events:      120" in r.stdout and "Timeline" in r.stdout
    assert len(read_all(path)) == 120


def test_serve_is_registered(runner):
    r = run(runner, "serve", "--help")
    assert r.exit_code == 0 and "dashboard" in r.stdout


@pytest.mark.parametrize("args, message", [
    (["info", "nope"], "no such recording"),
    (["cat", "{rec}", "--filter", "data.x <"], "filter syntax error"),
    (["cat", "{rec}", "--from", "yesterday"], "yesterday"),
    (["cat", "{rec}", "--offsets", "a:b"], "bad offset range"),
    (["slice", "{rec}", "-o", "{rec}"], "already exists"),
    (["merge", "{rec}", "-o", "{tmp}/m"], "at least two"),
    (["info", "{tmp}/plain.txt"], "neither"),
    (["diff", "{rec}", "nope"], "no such recording"),
    (["diff", "{rec}", "nope", "--format", "json"], "no such recording"),
    (["import", "{tmp}/plain.txt"], "neither"),
    (["verify", "{tmp}"], "not an evlog recording"),
    (["export", "{rec}", "-o", "{tmp}/no/such/dir/x.json"], "does not exist"),
])
def test_user_mistakes_are_one_line_and_status_2(runner, rec, tmp_path, args, message):
    (tmp_path / "plain.txt").write_text("hello")
    args = [a.format(rec=rec, tmp=tmp_path) for a in args]
    r = runner.invoke(cli, args)
    assert r.exit_code == 2, r.output
    assert r.exception is None or isinstance(r.exception, SystemExit)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("evlog: error:") and message in lines[0]
    assert r.stdout == ""


def test_export_and_import_cloudevents(runner, tmp_path):
    src = make_recording(str(tmp_path / "h"), [("A", {"x": 1}, "s", 0, {"correlation_id": "c-1"}), ("B", 2, "", 5)])
    r = run(runner, "export", src, "--format", "cloudevents", "-o", tmp_path / "ce.jsonl")
    assert r.exit_code == 0 and "2 events written" in r.stderr
    first = json.loads((tmp_path / "ce.jsonl").read_text().splitlines()[0])
    assert first["specversion"] == "1.0" and first["type"] == "A" and first["correlationid"] == "c-1"
    r = run(runner, "import", tmp_path / "ce.jsonl", "--format", "cloudevents", "-o", tmp_path / "back")
    assert r.exit_code == 0 and "imported 2 events" in r.stderr
    assert [(n, s, d) for n, s, _t, _m, d, _f in read_all(str(tmp_path / "back"))] == [("A", "s", {"x": 1}), ("B", "", 2)]
    r = runner.invoke(cli, ["import", str(tmp_path / "ce.jsonl"), "--format", "xml"])
    assert r.exit_code == 2


def test_cat_and_tail_show_headers(runner, tmp_path):
    src = make_recording(str(tmp_path / "h"), [("A", 1, "s", 0, {"correlation_id": "c-1"}), ("B", 2, "", 5)])
    cat = [json.loads(x) for x in run(runner, "cat", src, "--filter", 'headers.correlation_id == "c-1"').stdout.splitlines()]
    assert [(x["event_name"], x["headers"]) for x in cat] == [("A", {"correlation_id": "c-1"})]
    tail = [json.loads(x) for x in run(runner, "tail", src, "--jsonl").stdout.splitlines()]
    assert tail[0]["headers"] == {"correlation_id": "c-1"} and "headers" not in tail[1]
