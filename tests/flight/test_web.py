"""POST /api/snapshot on a dashboard started with a flight recorder (evlog serve --snapshot)."""
from __future__ import annotations

import pytest
from flighttools import read_recording

from evlog.web import create_app


def events(n: int, start: int = 0) -> list[dict]:
    return [{"event_name": "Tick", "event_data": {"i": i}, "source": "web"} for i in range(start, start + n)]


@pytest.fixture
def app(tmp_path):
    app = create_app(str(tmp_path), snapshot="60s", snapshot_after="0.1s")
    yield app
    app.extensions["evlog_flight"].close()


def test_post_snapshot_writes_the_ring_and_answers_its_name(app, tmp_path):
    client = app.test_client()
    r = client.post("/api/record/event", json={"events": events(300)})
    assert r.status_code == 200 and r.json["snapshot"] is True and r.json["recorded"] == 300
    r = client.post("/api/snapshot", json={"reason": "operator saw a spike"})
    assert r.status_code == 202, r.json
    name = r.json["recording"]
    assert r.json["trigger_reason"] == "operator saw a spike" and r.json["window_start"] < r.json["window_end"]
    client.post("/api/record/event", json={"events": events(50, 300)})
    flight = app.extensions["evlog_flight"]
    assert flight.wait(10)
    records, meta = read_recording(tmp_path / name)
    assert [r.data["i"] for r in records] == list(range(350)) and records[0].source == "web"
    assert meta["trigger_reason"] == "operator saw a spike"
    listed = client.get("/api/v1/recordings").json["recordings"]
    assert name in [x["name"] for x in listed]


def test_a_session_still_records_everything_and_the_ring_sees_it_too(app, tmp_path):
    client = app.test_client()
    session = client.post("/api/record/start", json={"session_name": "s1"}).json["recording"]
    client.post("/api/record/event", json={"events": events(20)})
    client.post("/api/record/stop", json={})
    path = tmp_path / client.post("/api/v1/snapshot", json={"after": 0}).json["recording"]
    assert app.extensions["evlog_flight"].wait(10)
    assert len(read_recording(tmp_path / session)[0]) == 20 == len(read_recording(path)[0])


def test_snapshot_follows_the_write_rules(tmp_path):
    app = create_app(str(tmp_path), snapshot="60s", token="sekret")
    try:
        client = app.test_client()
        assert client.post("/api/snapshot", json={}).status_code == 401
        h = {"X-Evlog-Token": "sekret"}
        assert client.post("/api/snapshot", data="x", headers=h, content_type="text/plain").status_code == 415
        assert client.post("/api/snapshot", json={}, headers={**h, "Origin": "http://evil.example"}).status_code == 403
        assert client.post("/api/snapshot", json={"reason": 5}, headers=h).status_code == 400
        bad = client.post("/api/snapshot", json={"after": "later"}, headers=h)
        assert bad.status_code == 400 and "duration" in bad.json["error"]
        assert client.post("/api/snapshot", json={}, headers=h).status_code == 202
    finally:
        app.extensions["evlog_flight"].close()


def test_without_a_flight_recorder_it_says_how_to_start_one(tmp_path):
    client = create_app(str(tmp_path)).test_client()
    r = client.post("/api/snapshot", json={})
    assert r.status_code == 409 and "evlog serve --snapshot" in r.json["error"]
    r = client.post("/api/record/event", json={"events": events(1)})   # no session, no ring: as before
    assert r.status_code == 400
