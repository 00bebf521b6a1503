"""Flask test-client tests of every endpoint, including bad inputs."""
from __future__ import annotations

import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import ClassVar

import pytest
from webtools import START_NS, make_demo, make_store, wait_for

from evlog.segments import Log
from evlog.web import create_app




# listing -----------------------------------------------------------------------------
def test_list_recordings_with_stats(client):
    r = client.get("/api/v1/recordings")
    assert r.status_code == 200
    data = r.json
    names = [x["name"] for x in data["recordings"]]
    assert names == ["demo", "hostile", "old_session.json"]
    demo = data["recordings"][0]
    assert demo["total_events"] == 300 and demo["format"] == "evlog" and demo["size_bytes"] > 0
    assert demo["duration_ms"] > 0 and demo["start_time"].startswith("2025-10-12T10:00:00")
    legacy = data["recordings"][2]
    assert legacy["format"] == "legacy-json" and legacy["total_events"] == 20
    st = data["stats"]
    assert st["recordings"] == 3 and st["total_events"] == 325
    assert st["average_events"] == pytest.approx(325 / 3)


def test_list_cache_is_invalidated_when_a_recording_changes(client, rec_dir):
    before = {x["name"]: x for x in client.get("/api/v1/recordings").json["recordings"]}
    with Log.open(os.path.join(rec_dir, "demo"), "a") as log:
        log.append("Extra", {"x": 1}, "t")
    make_demo(rec_dir, "second", n=10)
    after = {x["name"]: x for x in client.get("/api/v1/recordings").json["recordings"]}
    assert after["demo"]["total_events"] == before["demo"]["total_events"] + 1
    assert after["second"]["total_events"] == 10


def test_broken_recording_is_listed_with_its_error(client, rec_dir):
    with open(os.path.join(rec_dir, "broken.json"), "w") as f:
        f.write("{ not json")
    items = {x["name"]: x for x in client.get("/api/v1/recordings").json["recordings"]}
    assert items["broken.json"]["error"]


# reading -------------------------------------------------------------------------------
def test_recording_page_metadata_and_events(client):
    r = client.get("/api/v1/recording/demo?offset=10&limit=5")
    assert r.status_code == 200
    d = r.json
    assert d["total_events"] == 300 and d["session_name"] == "demo"
    assert [e["offset"] for e in d["events"]] == [10, 11, 12, 13, 14]
    assert d["next_offset"] == 15
    ev = d["events"][0]
    assert set(ev) >= {"event_name", "event_data", "source", "timestamp_offset_ms", "timestamp"}


def test_recording_last_page_has_no_next(client):
    d = client.get("/api/v1/recording/demo?offset=295&limit=10").json
    assert [e["offset"] for e in d["events"]] == list(range(295, 300))
    assert d["next_offset"] is None


def test_recording_page_with_filter(client):
    d = client.get('/api/v1/recording/demo?limit=1000&filter=PositionPurchased').json
    assert d["events"] and all(e["event_name"] == "PositionPurchased" for e in d["events"])
    d2 = client.get('/api/v1/recording/demo?limit=3&filter=' + 'data.pair == "BTC/USDT"').json
    assert len(d2["events"]) == 3 and all(e["event_data"]["pair"] == "BTC/USDT" for e in d2["events"])
    d3 = client.get(f'/api/v1/recording/demo?limit=3&offset={d2["next_offset"]}&filter=' + 'data.pair == "BTC/USDT"').json
    assert d3["events"][0]["offset"] > d2["events"][-1]["offset"]


def test_recording_page_from_time(client):
    d = client.get("/api/v1/recording/demo?limit=1&from_ms=5000").json
    assert d["events"][0]["timestamp_offset_ms"] >= 5000
    prev = client.get(f"/api/v1/recording/demo?limit=1&offset={d['events'][0]['offset'] - 1}").json
    assert prev["events"][0]["timestamp_offset_ms"] < 5000


def test_legacy_recording_reads(client):
    d = client.get("/api/v1/recording/old_session.json?limit=5&filter=Legacy1").json
    assert d["format"] == "legacy-json"
    assert [e["offset"] for e in d["events"]] == [1, 4, 7, 10, 13]


@pytest.mark.parametrize("query,needle", [
    ("limit=0", "limit"), ("limit=100000", "limit"), ("offset=-1", "offset"), ("offset=abc", "offset"),
    ("filter=data.x ==", "filter"), ("from_ms=soon", "from_ms"),
])
def test_recording_page_bad_input(client, query, needle):
    r = client.get("/api/v1/recording/demo?" + query)
    assert r.status_code == 400
    assert needle in r.json["error"]
    assert "Traceback" not in r.get_data(as_text=True)


@pytest.mark.parametrize("name,status", [
    ("missing", 404), ("..", 400), ("..%2F..%2Fetc", 404), ("%2Fetc%2Fpasswd", 404), ("a..b", 400),
    (".hidden", 400), ("bad%00name", 400),
])
def test_recording_names_never_leave_the_folder(client, name, status):
    r = client.get("/api/v1/recording/" + name)
    assert r.status_code in (status, 404, 400)
    assert r.status_code != 200 and r.is_json


def test_symlink_out_of_folder_is_404(client, rec_dir, tmp_path):
    outside = make_demo(str(tmp_path), "outside", n=5)
    os.symlink(outside, os.path.join(rec_dir, "link"))
    assert client.get("/api/v1/recording/link").status_code == 404
    assert "link" not in [x["name"] for x in client.get("/api/v1/recordings").json["recordings"]]


def test_event_by_offset(client):
    r = client.get("/api/v1/recording/demo/event/7")
    assert r.status_code == 200 and r.json["offset"] == 7
    assert client.get("/api/v1/recording/demo/event/300").status_code == 404


def test_summary_and_histogram_from_index(client):
    s = client.get("/api/v1/recording/demo/summary").json
    assert s["total_events"] == 300 and sum(s["names"].values()) == 300
    assert s["end_offset"] == 300
    h = client.get("/api/v1/recording/demo/histogram?bins=20").json
    assert len(h["bins"]) == 20
    assert abs(sum(b["count"] for b in h["bins"]) - 300) <= 20   # spread per block, rounded per bin
    assert client.get("/api/v1/recording/demo/histogram?bins=0").status_code == 400
    hl = client.get("/api/v1/recording/old_session.json/histogram?bins=4").json
    assert sum(b["count"] for b in hl["bins"]) == 20


def test_histogram_follows_time_shape(client, rec_dir):
    path = os.path.join(rec_dir, "shape")
    with Log.create(path, "shape", start_time_ns=START_NS, block_max_records=10) as log:
        for i in range(100):   # 90 events in the first second, 10 in the last
            mono = i * 10**7 if i < 90 else 9 * 10**9 + (i - 90) * 10**8
            log.append("E", {"i": i}, "s", timestamp=START_NS + mono, monotonic=mono)
    bins = client.get("/api/v1/recording/shape/histogram?bins=10").json["bins"]
    assert bins[0]["count"] >= 80 and bins[-1]["count"] <= 20


# export ----------------------------------------------------------------------------------
def test_export_formats(client):
    r = client.get("/api/v1/recording/demo/export?format=jsonl&filter=PositionSold")
    lines = r.get_data(as_text=True).splitlines()
    assert r.status_code == 200 and lines and all(json.loads(x)["event_name"] == "PositionSold" for x in lines)
    assert "attachment" in r.headers["Content-Disposition"]
    doc = json.loads(client.get("/api/v1/recording/demo/export?format=json").get_data(as_text=True))
    assert doc["session_name"] == "demo" and len(doc["events"]) == 300
    assert set(doc["events"][0]) == {"timestamp_offset_ms", "event_name", "event_data", "source"}
    csv_text = client.get("/api/v1/recording/demo/export?format=csv").get_data(as_text=True)
    assert csv_text.startswith("offset,time,name,source") and len(csv_text.strip().splitlines()) == 301
    assert client.get("/api/v1/recording/demo/export?format=xml").status_code == 400
    assert client.get("/api/v1/recording/nope/export").status_code == 404


# slice -----------------------------------------------------------------------------------
def test_slice_creates_exactly_the_selection(client, rec_dir):
    r = client.post("/api/v1/recording/demo/slice", json={"name": "picked", "offsets": [3, 50, 7], "ranges": [[10, 12]]})
    assert r.status_code == 201 and r.json["total_events"] == 6
    with Log.open(os.path.join(rec_dir, "picked")) as log:
        got = [(x.name, x.data) for x in log.read()]
    with Log.open(os.path.join(rec_dir, "demo")) as src:
        want = [(x.name, x.data) for x in src.read() if x.offset in (3, 7, 10, 11, 12, 50)]
    assert got == want


def test_slice_all_matching_filter(client, rec_dir):
    r = client.post("/api/v1/recording/demo/slice", json={"name": "sold", "all_matching": True, "filter": "PositionSold"})
    assert r.status_code == 201
    s = client.get("/api/v1/recording/sold/summary").json
    assert list(s["names"]) == ["PositionSold"]
    assert s["total_events"] == client.get("/api/v1/recording/demo/summary").json["names"]["PositionSold"]


def test_slice_of_legacy_recording(client):
    r = client.post("/api/v1/recording/old_session.json/slice", json={"name": "old_part", "ranges": [[0, 4]]})
    assert r.status_code == 201 and r.json["total_events"] == 5


@pytest.mark.parametrize("body,status", [
    ({"name": "x"}, 400), ({"name": "../x", "offsets": [1]}, 400), ({"name": "x", "offsets": [-1]}, 400),
    ({"name": "x", "ranges": [[5, 1]]}, 400), ({"name": "x", "offsets": "1"}, 400),
    ({"name": "demo", "offsets": [1]}, 409), ({"name": "x", "offsets": [100000]}, 400),
    ({"name": "x.json", "offsets": [1]}, 400), ({"name": "x", "all_matching": True, "filter": "a =="}, 400),
])
def test_slice_bad_input(client, rec_dir, body, status):
    before = sorted(os.listdir(rec_dir))
    r = client.post("/api/v1/recording/demo/slice", json=body)
    assert r.status_code == status and r.json["error"]
    assert sorted(os.listdir(rec_dir)) == before


def test_malformed_json_body(client):
    r = client.post("/api/v1/recording/demo/slice", data="{nope", content_type="application/json")
    assert r.status_code == 400 and "JSON" in r.json["error"]
    r = client.post("/api/v1/record/start", data="[1, 2]", content_type="application/json")
    assert r.status_code == 400


def test_body_size_limit(rec_dir):
    app = create_app(rec_dir, max_body=1000)
    r = app.test_client().post("/api/v1/record/event", data="x" * 5000, content_type="application/json")
    assert r.status_code == 413 and "too large" in r.json["error"]
    assert create_app(rec_dir).config["MAX_CONTENT_LENGTH"] > 0


def test_delete(client, rec_dir):
    client.post("/api/v1/recording/demo/slice", json={"name": "tmp", "offsets": [1]})
    assert client.delete("/api/v1/recording/tmp").status_code == 200
    assert not os.path.exists(os.path.join(rec_dir, "tmp"))
    assert client.delete("/api/v1/recording/tmp").status_code == 404
    assert client.delete("/api/v1/recording/..").status_code == 400


# tokens -----------------------------------------------------------------------------------
WRITES = [
    ("post", "/api/v1/record/start", {"session_name": "s"}),
    ("post", "/api/v1/record/event", {"event_name": "A"}),
    ("post", "/api/v1/record/stop", {}),
    ("post", "/api/v1/recording/demo/slice", {"name": "cut", "offsets": [1]}),
    ("delete", "/api/v1/recording/demo", None),
    ("post", "/api/v1/player/register", {"name": "p", "url": "http://127.0.0.1:9/x"}),
    ("post", "/api/v1/player/unregister", {"name": "p"}),
    ("post", "/api/v1/replay/start/demo", {"url": "http://127.0.0.1:9/x"}),
]


@pytest.mark.parametrize("method,url,body", WRITES)
@pytest.mark.parametrize("token", [None, "wrong"])
def test_writes_need_the_token(token_client, rec_dir, method, url, body, token):
    before = sorted(os.listdir(rec_dir))
    headers = {"X-Evlog-Token": token} if token else {}
    r = getattr(token_client, method)(url, json=body, headers=headers)
    assert r.status_code == 401 and "token" in r.json["error"]
    assert sorted(os.listdir(rec_dir)) == before


def test_right_token_writes(token_client, rec_dir):
    r = token_client.post("/api/v1/recording/demo/slice", json={"name": "cut", "offsets": [1]},
                          headers={"X-Evlog-Token": "s3cret"})
    assert r.status_code == 201
    r = token_client.post("/api/v1/player/register", json={"name": "p", "url": "http://127.0.0.1:9/x"},
                          headers={"Authorization": "Bearer s3cret"})
    assert r.status_code == 201
    assert token_client.get("/api/v1/recordings").status_code == 200   # reads stay open


def test_token_generated_when_reachable_beyond_loopback(rec_dir):
    app = create_app(rec_dir, host="0.0.0.0")
    assert app.config["EVLOG_TOKEN"] and len(app.config["EVLOG_TOKEN"]) >= 20
    assert create_app(rec_dir).config["EVLOG_TOKEN"] is None
    assert not app.debug


def test_serve_prints_generated_token(rec_dir, monkeypatch, capsys):
    import werkzeug.serving

    from evlog import web
    seen = {}
    monkeypatch.setattr(werkzeug.serving, "run_simple", lambda host, port, app, **kw: seen.update(app=app, kw=kw))
    monkeypatch.delenv("EVLOG_TOKEN", raising=False)
    web.serve(rec_dir, host="0.0.0.0", port=5999)
    err = capsys.readouterr().err
    assert seen["app"].config["EVLOG_TOKEN"] in err
    assert seen["kw"]["use_debugger"] is False
    monkeypatch.setenv("EVLOG_TOKEN", "from-env")
    web.serve(rec_dir, port=5999)
    assert seen["app"].config["EVLOG_TOKEN"] == "from-env"


# security headers and hosts ----------------------------------------------------------------
def test_security_headers(client):
    r = client.get("/")
    csp = r.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert r.headers["X-Content-Type-Options"] == "nosniff"


def test_host_header_is_checked(client):
    r = client.get("/api/v1/recordings", headers={"Host": "evil.example:5556"})
    assert r.status_code == 400 and "Host" in r.json["error"]
    assert client.get("/api/v1/recordings", headers={"Host": "127.0.0.1:5556"}).status_code == 200


def test_cross_origin_write_is_refused(client, rec_dir):
    r = client.post("/api/v1/recording/demo/slice", json={"name": "cut", "offsets": [1]},
                    headers={"Origin": "http://evil.example"})
    assert r.status_code == 403
    assert not os.path.exists(os.path.join(rec_dir, "cut"))


def test_pages(client):
    assert b"Recordings" in client.get("/").data
    r = client.get("/recording/demo")
    assert r.status_code == 200 and b'data-name="demo"' in r.data
    r = client.get("/recording/missing")
    assert r.status_code == 404 and b"no such recording" in r.data
    assert client.get("/diff?a=demo&b=x%22%3E%3Cscript%3E").status_code == 200
    assert b"<script>" not in client.get("/diff?a=x%22%3E%3Cscript%3E").data.split(b"</header>")[0]
    assert client.get("/static/common.js").status_code == 200


def test_no_external_resources(client):
    import re
    for path in ["/", "/recording/demo", "/diff"]:
        html = client.get(path).get_data(as_text=True)
        assert not re.search(r"(src|href)=\"(https?:)?//", html), path


# remote recording ------------------------------------------------------------------------------
def test_record_start_event_batch_stop(client, rec_dir):
    r = client.post("/api/v1/record/start", json={"session_name": "remote"})
    assert r.status_code == 201
    name = r.json["recording"]
    assert client.post("/api/v1/record/event", json={"event_name": "A", "event_data": {"x": 1}, "source": "s"}).json["recorded"] == 1
    r = client.post("/api/v1/record/event", json={"events": [{"event_name": "B"}, {"event_name": "C", "event_data": [1]}]})
    assert r.json["recorded"] == 2 and r.json["total_events"] == 3
    assert client.post("/api/v1/record/event", json=[{"event_name": "D"}]).json["recorded"] == 1
    # a concurrent read of the recording being written
    d = client.get(f"/api/v1/recording/{name}?limit=10").json
    assert [e["event_name"] for e in d["events"]] == ["A", "B", "C", "D"] and d["live"]
    r = client.post("/api/v1/record/stop", json={})
    assert r.json["total_events"] == 4
    assert client.get(f"/api/v1/recording/{name}").json["live"] is False


@pytest.mark.parametrize("body", [{"events": "x"}, {"event_name": ""}, {"events": [1]},
                                  {"event_name": "A", "source": 5}])
def test_record_event_bad_input(client, body):
    client.post("/api/v1/record/start", json={"session_name": "bad"})
    r = client.post("/api/v1/record/event", json=body)
    assert r.status_code == 400 and r.json["error"]


def test_record_without_session_and_bad_name(client):
    assert client.post("/api/v1/record/event", json={"event_name": "A"}).status_code == 400
    assert client.post("/api/v1/record/stop", json={}).status_code == 400
    assert client.post("/api/v1/record/start", json={"session_name": "../x"}).status_code == 400


def test_concurrent_record_and_read(client):
    name = client.post("/api/v1/record/start", json={"session_name": "conc"}).json["recording"]
    errors = []

    def writer():
        for i in range(50):
            r = client.post("/api/v1/record/event", json={"events": [{"event_name": "E", "event_data": {"i": i * 10 + k}} for k in range(10)]})
            if r.status_code != 200:
                errors.append(r.json)
    t = threading.Thread(target=writer)
    t.start()
    seen = 0
    while t.is_alive():
        d = client.get(f"/api/v1/recording/{name}?limit=1000")
        assert d.status_code == 200
        seen = max(seen, len(d.json["events"]))
    t.join()
    client.post("/api/v1/record/stop", json={})
    assert not errors
    assert client.get(f"/api/v1/recording/{name}/summary").json["total_events"] == 500


# replay -------------------------------------------------------------------------------------------
def test_replay_controls(client):
    r = client.post("/api/v1/replay/start/demo", json={"speed": 100})
    assert r.status_code == 201
    rid = r.json["replay_id"]
    wait_for(lambda: client.get(f"/api/v1/replay/{rid}/status").json["delivered"] > 0)
    st = client.post(f"/api/v1/replay/{rid}/pause").json
    assert st["state"] == "paused"
    time.sleep(0.3)
    a = client.get(f"/api/v1/replay/{rid}/status").json["delivered"]
    time.sleep(0.3)
    assert client.get(f"/api/v1/replay/{rid}/status").json["delivered"] == a
    client.post(f"/api/v1/replay/{rid}/step")
    wait_for(lambda: client.get(f"/api/v1/replay/{rid}/status").json["delivered"] == a + 1)
    assert client.post(f"/api/v1/replay/{rid}/speed", json={"speed": 50}).json["speed"] == 50
    client.post(f"/api/v1/replay/{rid}/seek", json={"offset": 290})
    client.post(f"/api/v1/replay/{rid}/resume")
    wait_for(lambda: client.get(f"/api/v1/replay/{rid}/status").json["state"] == "finished")
    st = client.get(f"/api/v1/replay/{rid}/status").json
    assert st["position"] == 299
    evs = client.get(f"/api/v1/replay/{rid}/events?after=0").json["events"]
    assert evs[-1]["offset"] == 299 and [e["seq"] for e in evs] == sorted(e["seq"] for e in evs)
    assert any(x["replay_id"] == rid for x in client.get("/api/v1/replay/status").json["replays"])


def test_replay_keeps_recorded_pace(client, rec_dir):
    path = os.path.join(rec_dir, "paced")
    with Log.create(path, "paced", start_time_ns=START_NS) as log:
        for i in range(3):
            log.append("T", {"i": i}, "s", timestamp=START_NS + i * 2 * 10**8, monotonic=i * 2 * 10**8)
    t0 = time.monotonic()
    rid = client.post("/api/v1/replay/start/paced", json={"speed": 1}).json["replay_id"]
    wait_for(lambda: client.get(f"/api/v1/replay/{rid}/status").json["state"] == "finished")
    assert time.monotonic() - t0 >= 0.38   # 400 ms of recorded time at 1x: never early


def test_replay_seek_by_time_and_filter(client):
    rid = client.post("/api/v1/replay/start/demo", json={"speed": 100, "paused": True, "filter": "PositionSold"}).json["replay_id"]
    client.post(f"/api/v1/replay/{rid}/step")
    wait_for(lambda: client.get(f"/api/v1/replay/{rid}/events").json["events"])
    assert client.get(f"/api/v1/replay/{rid}/events").json["events"][0]["event_name"] == "PositionSold"
    st = client.post(f"/api/v1/replay/{rid}/seek", json={"position_ms": 1e12}).json
    assert st["replay_id"] == rid
    client.post(f"/api/v1/replay/{rid}/stop")


@pytest.mark.parametrize("body", [{"speed": 0.01}, {"speed": 1000}, {"speed": "fast"}, {"start_offset": -3},
                                  {"filter": "a =="}, {"url": "ftp://x"}, {"player": "nobody"}])
def test_replay_bad_input(client, body):
    r = client.post("/api/v1/replay/start/demo", json=body)
    assert r.status_code == 400 and r.json["error"]


def test_replay_control_bad_input(client):
    assert client.post("/api/v1/replay/999/pause").status_code == 404
    assert client.post("/api/v1/replay/start/missing").status_code == 404
    rid = client.post("/api/v1/replay/start/demo", json={"paused": True}).json["replay_id"]
    assert client.post(f"/api/v1/replay/{rid}/speed", json={"speed": 0}).status_code == 400
    assert client.post(f"/api/v1/replay/{rid}/seek", json={"offset": "x"}).status_code == 400
    assert client.post(f"/api/v1/replay/{rid}/jump").status_code == 404
    client.post(f"/api/v1/replay/{rid}/stop")


class _Sink(BaseHTTPRequestHandler):
    received: ClassVar[list] = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append(json.loads(body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *a):
        pass


def test_replay_to_players_with_failures_reported(client):
    _Sink.received = []
    srv = HTTPServer(("127.0.0.1", 0), _Sink)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{srv.server_port}/hook"
        assert client.post("/api/v1/player/register", json={"name": "good", "url": url}).status_code == 201
        assert client.post("/api/v1/player/register", json={"name": "dead", "url": "http://127.0.0.1:9/x"}).status_code == 201
        assert [p["name"] for p in client.get("/api/v1/player/list").json["players"]] == ["good", "dead"]
        rid = client.post("/api/v1/replay/start/old_session.json", json={"speed": 100, "player": "all", "retries": 1}).json["replay_id"]
        wait_for(lambda: client.get(f"/api/v1/replay/{rid}/status").json["state"] == "finished", 30)
        st = client.get(f"/api/v1/replay/{rid}/status").json
        assert len(_Sink.received) == 20 and _Sink.received[0]["event_name"] == "Legacy0"
        assert st["http"]["sent"] == 20 and st["http"]["failed"] == 20
        assert st["http"]["failures"][0]["player"] == "dead"
        rid = client.post("/api/v1/replay/start/old_session.json", json={"speed": 100, "player": "good"}).json["replay_id"]
        wait_for(lambda: client.get(f"/api/v1/replay/{rid}/status").json["state"] == "finished", 30)
        assert len(_Sink.received) == 40
    finally:
        srv.shutdown()


def test_players_register_unregister(client, rec_dir):
    assert client.post("/api/v1/player/register", json={"name": "p1", "url": "http://127.0.0.1:1/x"}).status_code == 201
    assert client.post("/api/v1/player/register", json={"name": "p1", "url": "nope"}).status_code == 400
    assert client.post("/api/v1/player/register", json={"name": " ", "url": "http://a/"}).status_code == 400
    assert os.path.exists(os.path.join(rec_dir, ".evlog-players.json"))
    assert client.post("/api/v1/player/unregister", json={"name": "p1"}).status_code == 200
    assert client.post("/api/v1/player/unregister", json={"name": "p1"}).status_code == 404
    assert client.get("/api/v1/player/list").json["players"] == []
    assert "evlog-players" not in str(client.get("/api/v1/recordings").json)


def test_diff_endpoint(client, rec_dir):
    from webtools import make_demo
    make_demo(rec_dir, "planted", change_at=40)
    d = client.get("/api/v1/diff?a=demo&b=planted").json
    assert d["summary"]["changed"] == 1 and d["summary"]["matched"] == 299
    diff = d["differences"][0]
    assert diff["kind"] == "changed" and diff["baseline"]["offset"] == 40
    assert any("planted" in c["path"] for c in diff["changes"])
    assert client.get("/api/v1/diff?a=demo&b=demo").json["summary"]["equal"] is True
    assert client.get("/api/v1/diff?a=demo").status_code == 400
    assert client.get("/api/v1/diff?a=demo&b=..").status_code == 400
    assert client.get("/api/v1/diff?a=demo&b=nope").status_code == 404
    assert client.get("/api/v1/diff?a=demo&b=planted&filter=a ==").status_code == 400


def _numbered(root: str, name: str, values: list) -> None:
    with Log.create(os.path.join(root, name), name, start_time_ns=START_NS) as log:
        for i, v in enumerate(values):
            log.append("Odd" if v % 2 else "Even", {"v": v}, "s", timestamp=START_NS + i * 10**6, monotonic=i * 10**6)


def test_diff_rows_align_equal_runs_around_differences(client, rec_dir):
    base = list(range(30))
    new = [v for v in base if v != 10]
    new.insert(20, 1000)
    _numbered(rec_dir, "base", base)
    _numbered(rec_dir, "new", new)
    d = client.get("/api/v1/diff?a=base&b=new").json
    kinds = [(r["kind"], r.get("count")) for r in d["rows"]]
    assert kinds == [("equal", 10), ("deleted", None), ("equal", 10), ("inserted", None), ("equal", 9)]
    first, mid, last = d["rows"][0], d["rows"][2], d["rows"][4]
    assert first["hidden"] == 4 and [p[0]["offset"] for p in first["head"]] == [0, 1, 2]
    assert [(p[0]["offset"], p[1]["offset"]) for p in mid["tail"]] == [(18, 17), (19, 18), (20, 19)]
    assert all(p[0]["event_data"] == p[1]["event_data"] for r in (first, mid, last) for p in r["head"] + r["tail"])
    assert (mid["a_offset"], mid["b_offset"]) == (11, 10) and (last["a_offset"], last["b_offset"]) == (21, 21)
    more = client.get("/api/v1/diff/run?a=base&b=new&a_offset=14&b_offset=13&count=3").json
    assert [(p[0]["offset"], p[1]["offset"]) for p in more["pairs"]] == [(14, 13), (15, 14), (16, 15)]
    assert more["next"] == {"a_offset": 17, "b_offset": 16}
    # with a filter, runs count the selected events only
    f = client.get("/api/v1/diff?a=base&b=new&filter=Even").json
    assert [(r["kind"], r.get("count")) for r in f["rows"]] == [("equal", 5), ("deleted", None), ("equal", 5),
                                                           ("inserted", None), ("equal", 4)]
    assert [p[0]["event_data"]["v"] for p in f["rows"][4]["head"] + f["rows"][4]["tail"]] == [22, 24, 26, 28]
    assert client.get("/api/v1/diff/run?a=base&b=new&count=0").status_code == 400
    assert client.get("/api/v1/diff/run?a=base").status_code == 400


# time travel (eventsourcing stores) ---------------------------------------------------------------
def test_timetravel_shows_an_aggregate_as_it_was(client, rec_dir):
    pytest.importorskip("eventsourcing")
    ann, bob = make_store(rec_dir)
    assert "bank" in [r["name"] for r in client.get("/api/v1/recordings").json["recordings"]]
    assert client.get("/api/v1/recording/bank/summary").json["eventsourcing"] is True
    assert client.get("/api/v1/recording/demo/summary").json["eventsourcing"] is False
    ev = client.get("/api/v1/recording/bank/event/2").json
    assert ev["source"] == ann
    t = client.get(f"/api/v1/recording/bank/timetravel?offset=2&originator_id={ann}").json
    assert t["aggregate"]["version"] == 2 and t["aggregate"]["events"] == 2 and t["aggregate"]["as_of_offset"] == 2
    assert t["aggregate"]["state"]["owner"] == "ann" and t["aggregate"]["state"]["amount"] == 10
    later = client.get(f"/api/v1/recording/bank/timetravel?offset=4&originator_id={ann}").json["aggregate"]
    assert later["version"] == 3 and later["state"]["amount"] == 7
    assert client.get(f"/api/v1/recording/bank/timetravel?offset=0&originator_id={bob}").json["aggregate"] is None
    whole = client.get("/api/v1/recording/bank/timetravel?offset=1").json
    assert set(whole["aggregates"]) == {ann, bob} and not whole["truncated"]
    assert all(x["version"] == 1 for x in whole["aggregates"].values())
    assert client.get("/api/v1/recording/demo/timetravel?offset=1").status_code == 400
    assert client.get("/api/v1/recording/bank/timetravel?offset=-1").status_code == 400
    assert client.get("/api/v1/recording/nope/timetravel").status_code == 404
    # the store's page draws, and the delete removes the whole store directory
    assert client.get("/recording/bank").status_code == 200
    assert client.delete("/api/v1/recording/bank").status_code == 200
    assert not os.path.exists(os.path.join(rec_dir, "bank"))


def test_replay_runs_on_the_shared_scheduler(app):
    """The web replay is evlog.replay's scheduler: with a virtual clock it waits exactly for
    each event's recorded time divided by the speed, and a finished replay restarts on seek."""
    from evlog.replay import VirtualClock
    from evlog.web.replays import Replay
    cat = app.extensions["evlog_catalog"]
    path = cat.path("demo")
    with cat.open_path(path) as rec:
        monos = [r.monotonic for r in rec.read()]
    clock = VirtualClock()
    r = Replay("demo", lambda: cat.open_path(path), len(monos), speed=2, clock=clock)
    r.join(30)
    st = r.status()
    assert st["state"] == "finished" and st["delivered"] == 300 and st["position"] == 299
    assert set(clock.sleeps) <= {m // 2 for m in monos} and clock.sleeps == sorted(clock.sleeps)
    assert clock.sleeps[-1] == monos[-1] // 2
    evs = r.events_after(0, 1000)
    assert [e["offset"] for e in evs] == list(range(300)) and evs[0]["seq"] == 1
    r.seek(295)
    r.join(30)
    wait_for(lambda: r.state == "finished")
    assert r.status()["delivered"] == 305 and r.events_after(300)[0]["offset"] == 295
    r.stop()
    assert r.state == "finished"


def test_export_streams_and_stops_when_the_client_goes(app, rec_dir, monkeypatch):
    from evlog.web import exporting
    monkeypatch.setattr(exporting, "CHUNK", 256)
    make_demo(rec_dir, "big", n=3000)
    client = app.test_client()
    r = client.get("/api/v1/recording/big/export?format=jsonl", buffered=False)
    it = iter(r.response)
    first = next(it)
    assert len(first) == 256                      # chunks, not the whole export at once
    r.close()                                     # the client goes away: the producer stops
    wait_for(lambda: not any(t.name == "evlog-export" for t in threading.enumerate()), 10)
    full = client.get("/api/v1/recording/big/export?format=jsonl").get_data(as_text=True).splitlines()
    assert len(full) == 3000 and json.loads(full[-1])["offset"] == 2999
    assert client.get("/api/v1/recording/big/export?format=csv&filter=a ==").status_code == 400


def test_slice_all_matching_a_data_filter(client, rec_dir):
    """A filter on data tests the decoded events (the copy itself stays raw)."""
    r = client.post("/api/v1/recording/demo/slice", json={"name": "btc", "all_matching": True,
                                                          "filter": 'data.pair == "BTC/USDT"'})
    assert r.status_code == 201
    want = client.get("/api/v1/recording/demo/count?filter=" + 'data.pair == "BTC/USDT"').json["count"]
    assert r.json["total_events"] == want > 0
    with Log.open(os.path.join(rec_dir, "btc")) as log:
        assert {x.data["pair"] for x in log.read()} == {"BTC/USDT"}
