"""Each security rule of the dashboard, with Flask's test client: content type of writes, Origin
and Sec-Fetch-Site, tokens beyond loopback (writes, then reads unless public_read), Host names,
unguessable replay ids, bounded JSON."""
from __future__ import annotations

import json
import os

import pytest

from evlog.web import create_app

# every write of the app, with a body it accepts (before any check fails)
WRITES = [
    ("post", "/api/record/start", {"session_name": "s"}),
    ("post", "/api/record/event", {"event_name": "A"}),
    ("post", "/api/record/stop", {"x": 1}),
    ("post", "/api/recording/create", {"source_filename": "demo", "event_indices": [1]}),
    ("post", "/api/replay/start/demo", {"speed": 1}),
    ("post", "/api/replay/execute/demo", {"speed": 1}),
    ("post", "/api/replay/pause", {"x": 1}),
    ("post", "/api/replay/stop", {"x": 1}),
    ("post", "/api/replay/speed", {"speed": 2}),
    ("post", "/api/player/register", {"player_endpoint": "http://127.0.0.1:9/x", "consumer_name": "p"}),
    ("post", "/api/player/unregister", {"player_endpoint": "http://127.0.0.1:9/x"}),
    ("post", "/api/v1/recording/demo/slice", {"name": "cut", "offsets": [1]}),
    ("post", "/api/v1/recording/demo/slice/jobs", {"name": "cut2", "offsets": [1]}),
    ("delete", "/api/v1/recording/demo", {"x": 1}),
    ("post", "/api/v1/replay/start/demo", {"url": "http://127.0.0.1:9/x"}),
    ("post", "/api/v1/player/register", {"name": "p", "url": "http://127.0.0.1:9/x"}),
    ("post", "/api/v1/diff/jobs", {"a": "demo", "b": "demo"}),
]
IDS = [f"{m} {u}" for m, u, _ in WRITES]


def state(root: str, app) -> tuple:
    """Everything a write could create: files of the folder, players, replays, sessions, jobs."""
    ext = app.extensions
    return (sorted(os.listdir(root)), ext["evlog_players"].list(), len(ext["evlog_replays"].all()),
            ext["evlog_sessions"].active(), ext["evlog_jobs"].running())


@pytest.mark.parametrize("method,url,body", WRITES, ids=IDS)
@pytest.mark.parametrize("ctype", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data"])
def test_writes_take_json_only(app, client, rec_dir, method, url, body, ctype):
    before = state(rec_dir, app)
    r = getattr(client, method)(url, data=json.dumps(body), content_type=ctype)
    assert r.status_code == 415 and "application/json" in r.json["error"]
    assert state(rec_dir, app) == before


def test_a_bare_write_needs_no_content_type(client):
    """The original's clients post /api/record/stop and /api/replay/stop with no body at all."""
    r = client.post("/api/replay/stop")
    assert r.status_code == 200 and r.json["success"] is True
    assert client.post("/api/record/stop").status_code == 400   # "No active recording session", not 415
    assert client.post("/api/record/stop", data="", content_type="text/plain").status_code == 415


@pytest.mark.parametrize("method,url,body", WRITES, ids=IDS)
@pytest.mark.parametrize("headers", [
    {"Origin": "null"}, {"Origin": "http://127.0.0.2:5556"}, {"Origin": "http://evil.example"},
    {"Origin": "http://localhost:8080"}, {"Sec-Fetch-Site": "cross-site"}, {"Sec-Fetch-Site": "same-site"},
], ids=["null", "other-ip", "other-site", "other-port", "fetch-cross-site", "fetch-same-site"])
def test_cross_site_writes_are_refused(app, client, rec_dir, method, url, body, headers):
    before = state(rec_dir, app)
    r = getattr(client, method)(url, json=body, headers=headers)
    assert r.status_code == 403, r.json
    assert state(rec_dir, app) == before


@pytest.mark.parametrize("headers", [{"Origin": "http://localhost"}, {"Sec-Fetch-Site": "same-origin"},
                                     {"Sec-Fetch-Site": "none"}, {}])
def test_same_origin_writes_pass(client, headers):
    r = client.post("/api/record/start", json={"session_name": "ok"}, headers=headers)
    assert r.status_code == 200 and r.json["success"] is True
    client.post("/api/record/stop", json={})


def test_beyond_loopback_writes_and_reads_need_the_token(rec_dir):
    app = create_app(rec_dir, host="0.0.0.0")
    token = app.config["EVLOG_TOKEN"]
    assert token and len(token) >= 24
    c = app.test_client()
    for method, url, body in WRITES:
        before = state(rec_dir, app)
        assert getattr(c, method)(url, json=body).status_code == 401, url
        assert getattr(c, method)(url, json=body, headers={"X-Evlog-Token": "wrong"}).status_code == 401, url
        assert state(rec_dir, app) == before
    for url in ["/", "/recording/demo", "/api/recordings", "/api/v1/recording/demo", "/api/player/list",
                "/api/replay/status", "/api/v1/openapi.json"]:
        r = c.get(url)
        assert r.status_code == 401, url
        assert b"BotMonitoring" not in r.data and b"old_session" not in r.data
    assert c.get("/static/app.css").status_code == 200   # code, not data
    assert c.get("/api/recordings", headers={"X-Evlog-Token": token}).status_code == 200
    assert c.get("/api/recordings", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    r = c.post("/api/record/start", json={"session_name": "t"}, headers={"X-Evlog-Token": token})
    assert r.status_code == 200
    c.post("/api/record/stop", json={}, headers={"X-Evlog-Token": token})


def test_the_printed_link_sets_a_strict_cookie_for_reads(rec_dir):
    app = create_app(rec_dir, host="0.0.0.0")
    token = app.config["EVLOG_TOKEN"]
    c = app.test_client()
    assert c.get("/?token=nope").status_code == 401
    r = c.get(f"/?token={token}")
    assert r.status_code == 200
    cookie = r.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert c.get("/api/recordings").status_code == 200      # the cookie reads
    assert c.post("/api/record/start", json={}).status_code == 401   # but never writes
    fresh = app.test_client()
    assert fresh.get(f"/api/recordings?token={token}").status_code == 401   # the link works on pages only


def test_public_read_opens_reads_only(rec_dir):
    app = create_app(rec_dir, host="0.0.0.0", public_read=True)
    c = app.test_client()
    assert c.get("/api/recordings").status_code == 200
    assert c.get("/").status_code == 200
    assert c.post("/api/record/start", json={}).status_code == 401


def test_loopback_reads_are_open_and_token_still_guards_writes(token_client):
    assert token_client.get("/api/recordings").status_code == 200
    assert token_client.post("/api/replay/start/demo", json={}).status_code == 401


@pytest.mark.parametrize("bind,extra,host,ok", [
    ("127.0.0.1", [], "127.0.0.1:5556", True),
    ("127.0.0.1", [], "localhost:5556", True),
    ("127.0.0.1", [], "evil.example:5556", False),
    ("127.0.0.1", [], "127.0.0.1:9999", False),
    ("0.0.0.0", [], "192.168.1.20:5556", True),      # an IP literal: no rebinding possible
    ("0.0.0.0", [], "[fe80::1]:5556", True),
    ("0.0.0.0", [], "dash.lan:5556", False),
    ("0.0.0.0", ["dash.lan"], "dash.lan:5556", True),
    ("0.0.0.0", ["dash.lan"], "DASH.LAN:5556", True),
    ("0.0.0.0", ["dash.lan"], "other.lan:5556", False),
    ("192.168.1.20", [], "192.168.1.20:5556", True),
    ("192.168.1.20", [], "10.0.0.1:5556", False),
])
def test_host_header(rec_dir, bind, extra, host, ok):
    app = create_app(rec_dir, host=bind, port=5556, allowed_hosts=extra, public_read=True)
    r = app.test_client().get("/api/recordings", headers={"Host": host})
    assert (r.status_code == 200) == ok, (r.status_code, r.json)
    if not ok:
        assert r.status_code == 400 and "--allowed-host" in r.json["error"]


def test_replay_ids_are_unguessable(client):
    ids = [client.post("/api/v1/replay/start/demo", json={"paused": True}).json["replay_id"] for _ in range(3)]
    assert len(set(ids)) == 3 and all(len(i) >= 16 for i in ids)
    assert not any(i.isdigit() for i in ids)
    assert client.get("/api/v1/replay/1/status").status_code == 404
    for i in ids:
        client.post(f"/api/v1/replay/{i}/stop", json={})


@pytest.mark.parametrize("url", ["/api/record/event", "/api/v1/record/event", "/api/v1/recording/demo/slice",
                                 "/api/recording/create", "/api/player/register"])
@pytest.mark.parametrize("depth", [65, 5000, 200_000])
def test_deep_json_is_a_400(client, url, depth):
    client.post("/api/record/start", json={"session_name": "deep"})
    body = '{"event_name": "A", "event_data": ' + "[" * depth + "]" * depth + "}"
    r = client.post(url, data=body, content_type="application/json")
    assert r.status_code == 400 and "deeper" in r.json["error"]
    client.post("/api/record/stop", json={})


def test_moderate_nesting_and_sizes(client, rec_dir):
    client.post("/api/record/start", json={"session_name": "nest"})
    ok = {"event_name": "A", "event_data": json.loads("[" * 60 + "]" * 60)}
    assert client.post("/api/record/event", json=ok).status_code == 200
    many = {"events": [{"event_name": "A"}] * 10_001}
    r = client.post("/api/v1/record/event", json=many)
    assert r.status_code == 400 and "10000" in r.json["error"].replace(",", "")
    client.post("/api/record/stop", json={})
    small = create_app(rec_dir, max_body=1000).test_client()
    r = small.post("/api/record/event", data="x" * 5000, content_type="application/json")
    assert r.status_code == 413


@pytest.mark.parametrize("text", ["(" * 3000 + "A" + ")" * 3000, "A or " * 2000 + "B", "x" * 5000])
def test_long_or_deep_filters_are_a_400(client, text):
    r = client.get("/api/v1/recording/demo", query_string={"filter": text})
    assert r.status_code == 400 and r.json["error"]
