"""The API behind the playback view and the streamed diff: pages read backwards, match counts,
causation chains (headers and data), seek that holds, the achieved rate, diff and slice jobs
with progress and cancel, error messages without server paths."""
from __future__ import annotations

import os
import time

import pytest
from webtools import START_NS, make_demo, wait_for

from evlog.segments import Log, Record
from evlog.web.chains import chain, ids




def _numbered(root: str, name: str, n: int, change_every: int | None = None, gap_ms: int = 1) -> str:
    path = os.path.join(root, name)
    with Log.create(path, name, start_time_ns=START_NS, fsync="never") as log:
        log.append_batch([{"name": "E", "data": {"v": i, "x": int(bool(change_every) and i % change_every == 7)},
                           "source": "s", "timestamp": START_NS + i * gap_ms * 10**6, "monotonic": i * gap_ms * 10**6}
                          for i in range(n)])
    return path


# pages and counts ------------------------------------------------------------------------
def test_page_before_reads_backwards_with_a_filter(client):
    all_sold = [e["offset"] for e in client.get("/api/v1/recording/demo?limit=1000&filter=PositionSold").json["events"]]
    d = client.get(f"/api/v1/recording/demo?before={all_sold[5]}&limit=3&filter=PositionSold").json
    assert [e["offset"] for e in d["events"]] == all_sold[2:5]
    assert d["prev_offset"] == all_sold[2] and d["complete"]
    d = client.get(f"/api/v1/recording/demo?before={all_sold[1]}&limit=3&filter=PositionSold").json
    assert [e["offset"] for e in d["events"]] == all_sold[:1] and d["prev_offset"] is None
    plain = client.get("/api/v1/recording/demo?before=10&limit=4").json
    assert [e["offset"] for e in plain["events"]] == [6, 7, 8, 9]


def test_count_from_the_index_and_by_bounded_scans(app, client, rec_dir):
    s = client.get("/api/v1/recording/demo/summary").json
    c = client.get("/api/v1/recording/demo/count?filter=Position*").json
    assert c["from_index"] and c["complete"] and c["count"] == s["names"]["PositionSold"] + s["names"]["PositionPurchased"]
    by_source = client.get("/api/v1/recording/demo/count?filter=source == Orchestrator").json
    assert by_source["from_index"] and by_source["count"] == s["sources"]["Orchestrator"]
    _numbered(rec_dir, "many", 30_000)
    app.config["EVLOG_SCAN_BUDGET_S"] = 0.01
    total, start, rounds = 0, 0, 0
    while True:
        r = client.get(f"/api/v1/recording/many/count?filter=data.v >= 100&start={start}").json
        assert not r["from_index"]
        total += r["count"]
        rounds += 1
        if r["complete"]:
            break
        assert r["next_offset"] > start
        start = r["next_offset"]
    assert total == 29_900 and rounds > 1


def test_partial_filtered_page_says_where_to_go_on(app, client, rec_dir):
    _numbered(rec_dir, "hay", 30_000)
    app.config["EVLOG_SCAN_BUDGET_S"] = 0.005
    d = client.get("/api/v1/recording/hay?filter=data.v == 29999").json
    assert d["events"] == [] and d["complete"] is False and 0 < d["next_offset"] < 30_000
    seen = []
    while d["next_offset"] is not None:
        d = client.get(f"/api/v1/recording/hay?filter=data.v == 29999&offset={d['next_offset']}").json
        seen += d["events"]
        if d["complete"] and not d["events"]:
            break
    assert [e["offset"] for e in seen] == [29_999]


# chains ---------------------------------------------------------------------------------------
def _chain_recording(root: str) -> None:
    with Log.create(os.path.join(root, "orders"), "orders", start_time_ns=START_NS) as log:
        for i, (name, eid, corr, cause) in enumerate([("A", "a", "c1", None), ("N", None, None, None),
                                                      ("B", "b", "c1", "a"), ("C", "c", "c1", "b"),
                                                      ("D", "d", "c1", "a"), ("X", "x", "c2", None)]):
            data = {"n": i}
            if eid:
                data.update(event_id=eid, correlation_id=corr)
            if cause:
                data["causation_id"] = cause
            log.append(name, data, "s", timestamp=START_NS + i, monotonic=i)


def test_chain_in_causal_order(client, rec_dir):
    _chain_recording(rec_dir)
    c = client.get("/api/v1/recording/orders/chain?offset=3").json
    assert c["correlation_id"] == "c1" and c["causation_id"] == "b" and c["event_id"] == "c"
    assert [(e["offset"], e["depth"]) for e in c["events"]] == [(0, 0), (2, 1), (3, 2), (4, 1)]
    assert [e["current"] for e in c["events"]] == [False, False, True, False] and c["complete"]
    assert client.get("/api/v1/recording/orders/chain?offset=1").json["events"] == []
    assert client.get("/api/v1/recording/orders/chain?offset=99").status_code == 404
    assert client.get("/api/v1/recording/orders/chain").status_code == 400


class _HeaderRecord(Record):
    """A record of format v2 (per-event headers), as the engine will give them."""
    headers: dict = {}


def test_chain_reads_headers_before_data():
    r = Record(0, 0, 0, "A", "s", {"correlation_id": "in-data"})
    assert ids(r)["correlation_id"] == "in-data"

    class WithHeaders:
        def __init__(self, offset, name, headers, data=None):
            self.offset, self.timestamp, self.monotonic, self.name, self.source = offset, 0, offset, name, "s"
            self.data, self.flags, self.headers = data or {}, 0, headers

    recs = [WithHeaders(0, "A", {"event_id": "1", "correlation_id": "k"}, {"correlation_id": "ignored"}),
            WithHeaders(1, "B", {"event_id": "2", "correlation_id": "k", "causation_id": "1"})]

    class Rec:
        start_offset = 0

        def read(self, start=None, end=None, **kw):
            return iter(recs[start or 0:end])
    c = chain(Rec(), 1)
    assert c["correlation_id"] == "k" and [(e["offset"], e["depth"]) for e in c["events"]] == [(0, 0), (1, 1)]
    assert c["events"][0]["headers"] == {"event_id": "1", "correlation_id": "k"}


# replay ---------------------------------------------------------------------------------------
def test_seek_while_paused_reports_the_target_at_once(client):
    st = client.post("/api/v1/replay/start/demo", json={"paused": True}).json
    rid, epoch = st["replay_id"], st["epoch"]
    client.post(f"/api/v1/replay/{rid}/step", json={})
    wait_for(lambda: client.get(f"/api/v1/replay/{rid}/status").json["delivered"] == 1)
    st = client.post(f"/api/v1/replay/{rid}/seek", json={"offset": 120}).json
    assert st["position"] == 120 and st["epoch"] == epoch + 1 and st["position_ms"] > 0
    time.sleep(0.3)
    st = client.get(f"/api/v1/replay/{rid}/status").json
    assert st["position"] == 120 and st["state"] == "paused" and st["delivered"] == 1
    client.post(f"/api/v1/replay/{rid}/step", json={})
    wait_for(lambda: client.get(f"/api/v1/replay/{rid}/status").json["delivered"] == 2)
    assert client.get(f"/api/v1/replay/{rid}/events?after=0").json["events"][-1]["offset"] == 120
    client.post(f"/api/v1/replay/{rid}/stop", json={})


def test_achieved_rate_and_behind_schedule(app, rec_dir, monkeypatch):
    """A sink slower than the schedule: the status says how fast the replay really goes."""
    from evlog.web import replays
    _numbered(rec_dir, "dense", 2000)
    original = replays.event_json

    def slow(r, **kw):
        time.sleep(0.004)   # ~250 events/s delivered, where 100x asks for 100,000/s
        return original(r, **kw)
    monkeypatch.setattr(replays, "event_json", slow)
    cat = app.extensions["evlog_catalog"]
    r = replays.Replay("dense", lambda: cat.open("dense"), 2000, speed=100)
    try:
        st = wait_for(lambda: (s := r.status())["achieved_speed"] is not None and s, 10)
        time.sleep(0.5)
        st = r.status()
        assert st["behind"] is True and 0 < st["achieved_speed"] < 5 and st["speed"] == 100
        r.pause()
        assert r.status()["behind"] is False and r.status()["achieved_speed"] is None
    finally:
        r.stop()
        r.join(5)
    monkeypatch.undo()
    fast = replays.Replay("dense", lambda: cat.open("dense"), 2000, speed=1)
    try:
        time.sleep(1.0)   # 1 ms apart at 1x, well within the sink's pace
        st = fast.status()
        assert st["behind"] is False and st["achieved_speed"] == pytest.approx(1.0, rel=0.3)
    finally:
        fast.stop()
        fast.join(5)


# jobs -------------------------------------------------------------------------------------------
def test_diff_job_streams_differences_with_progress_then_rows(client, rec_dir):
    _numbered(rec_dir, "base", 60_000)
    _numbered(rec_dir, "new", 60_000, change_every=100)
    job = client.post("/api/v1/diff/jobs", json={"a": "base", "b": "new"})
    assert job.status_code == 202
    jid = job.json["job_id"]
    first = wait_for(lambda: (j := client.get(f"/api/v1/jobs/{jid}").json)["found"] > 0 and j)
    assert first["differences"][0]["baseline"]["offset"] == 7 and first["total"] == 60_000
    done = wait_for(lambda: (j := client.get(f"/api/v1/jobs/{jid}?after=500").json)["state"] == "finished" and j, 60)
    assert done["found"] == 600 and done["summary"]["changed"] == 600 and done["summary"]["matched"] == 59_400
    assert done["done"] == 60_000 and done["differences"][0]["index"] == 500
    rows = client.get(f"/api/v1/jobs/{jid}/rows?first=0&count=2").json
    assert [r["kind"] for r in rows["rows"]] == ["equal", "changed", "equal", "changed"]
    assert rows["rows"][0]["count"] == 7 and rows["rows"][2]["count"] == 99 and rows["next"] == 2
    last = client.get(f"/api/v1/jobs/{jid}/rows?first=599&count=5").json
    assert last["tail"] and last["next"] is None and last["rows"][-1]["kind"] == "equal"
    assert last["rows"][-1]["count"] == 60_000 - 59_907 - 1


def test_diff_job_cancel(client, rec_dir):
    _numbered(rec_dir, "big_a", 200_000)
    _numbered(rec_dir, "big_b", 200_000, change_every=1000)
    jid = client.post("/api/v1/diff/jobs", json={"a": "big_a", "b": "big_b"}).json["job_id"]
    wait_for(lambda: client.get(f"/api/v1/jobs/{jid}").json["found"] > 0)
    st = client.delete(f"/api/v1/jobs/{jid}", json={}).json
    assert st["state"] == "cancelled" and st["done"] < 200_000
    assert client.get(f"/api/v1/jobs/{jid}").json["state"] == "cancelled"
    assert client.get("/api/v1/jobs/nope").status_code == 404


def test_slice_job_progress_cancel_and_finish(client, rec_dir, monkeypatch):
    import importlib
    slicing = importlib.import_module("evlog.ops.slice")   # the dashboard's slice is the operation
    monkeypatch.setattr(slicing, "_TICK", 64)
    _numbered(rec_dir, "src", 50_000)
    orig = slicing.Log.append_rows

    def slow_append(self, *a, **kw):
        time.sleep(0.05)   # per batch of 512 events
        return orig(self, *a, **kw)
    monkeypatch.setattr(slicing.Log, "append_rows", slow_append)
    jid = client.post("/api/v1/recording/src/slice/jobs", json={"name": "part", "all_matching": True}).json["job_id"]
    wait_for(lambda: client.get(f"/api/v1/jobs/{jid}").json["done"] > 0)
    st = client.delete(f"/api/v1/jobs/{jid}", json={}).json
    assert st["state"] == "cancelled"
    assert not os.path.exists(os.path.join(rec_dir, "part"))          # nothing left behind
    monkeypatch.setattr(slicing.Log, "append_rows", orig)
    jid = client.post("/api/v1/recording/src/slice/jobs",
                      json={"name": "part", "all_matching": True, "filter": "data.v < 1000"}).json["job_id"]
    st = wait_for(lambda: (j := client.get(f"/api/v1/jobs/{jid}").json)["state"] != "running" and j, 30)
    assert st["state"] == "finished", st
    assert st["result"] == {"name": "part", "total_events": 1000} and st["done"] == st["total"]
    assert client.post("/api/v1/recording/src/slice/jobs", json={"name": "part", "offsets": [1]}).status_code == 409


# messages -----------------------------------------------------------------------------------------
def test_errors_name_recordings_not_server_paths(client, rec_dir):
    with open(os.path.join(rec_dir, "broken.json"), "w") as f:
        f.write("{ not json")
    r = client.get("/api/v1/recording/broken.json/summary")
    assert r.status_code == 400 and "broken.json" in r.json["error"] and rec_dir not in r.json["error"]
    item = next(i for i in client.get("/api/v1/recordings").json["recordings"] if i["name"] == "broken.json")
    assert item["error"] and rec_dir not in item["error"]
    assert "broken.json" not in [i["filename"] for i in client.get("/api/recordings").json]   # as the original


# the original's edges ----------------------------------------------------------------------------------
def test_original_fields_of_an_empty_recording_and_unknown_source(client, rec_dir):
    Log.create(os.path.join(rec_dir, "empty"), "empty").close()
    assert client.get("/api/recording/empty/fields").json == {"fields": []}
    client.post("/api/record/start", json={"session_name": "src"})
    client.post("/api/record/event", json={"event_name": "A"})
    name = client.post("/api/record/stop").json["filename"]
    assert client.get(f"/api/v1/recording/{name}?limit=1").json["events"][0]["source"] == "Unknown"


def test_original_create_edges(client):
    r = client.post("/api/recording/create", json={"source_filename": "demo"})
    assert r.json["event_count"] == 300                                  # no indices: every event
    r = client.post("/api/recording/create", json={"source_filename": "demo", "event_indices": [5, 1, 5, 9999]})
    assert r.json["event_count"] == 2                                    # past the end skipped, once each
    assert client.post("/api/recording/create", json={"event_indices": [1]}).status_code == 400
    assert client.post("/api/recording/create", json={"source_filename": "nope"}).status_code == 404
    assert client.post("/api/recording/create", json={"source_filename": "demo", "event_indices": [9999]}).status_code == 400
    assert client.post("/api/recording/create", json={"source_filename": "demo", "event_indices": [-1]}).status_code == 400


def test_original_replay_speed_preset_applies_to_the_next_replay(client):
    assert client.post("/api/replay/speed", json={"speed": 7}).json == {"success": True, "speed": 7.0}
    r = client.post("/api/replay/start/demo", json={}).json
    assert r["speed"] == 7.0
    client.post("/api/replay/stop")
    assert client.post("/api/replay/speed", json={"speed": 1000}).status_code == 400


def test_make_demo_is_untouched_by_the_jobs(rec_dir):
    assert os.path.isdir(make_demo(rec_dir, "again", n=5))


def test_headers_of_format_v2_are_shown_chained_recorded_and_sliced(client, rec_dir):
    """Per-event headers (engine format v2): in the events, in the chain, kept by slices."""
    with Log.create(os.path.join(rec_dir, "v2"), "v2", start_time_ns=START_NS) as log:
        log.append("Placed", {"qty": 1}, "api", headers={"event_id": "e1", "correlation_id": "k"})
        log.append("Noise", {"n": 1}, "x")
        log.append("Filled", {"qty": 1}, "exch", headers={"event_id": "e2", "correlation_id": "k", "causation_id": "e1"})
    ev = client.get("/api/v1/recording/v2/event/2").json
    assert ev["headers"] == {"event_id": "e2", "correlation_id": "k", "causation_id": "e1"}
    assert "headers" not in client.get("/api/v1/recording/v2/event/1").json
    c = client.get("/api/v1/recording/v2/chain?offset=2").json
    assert c["correlation_id"] == "k" and [(e["offset"], e["depth"]) for e in c["events"]] == [(0, 0), (2, 1)]
    assert client.post("/api/v1/recording/v2/slice", json={"name": "v2cut", "offsets": [0, 2]}).status_code == 201
    assert client.get("/api/v1/recording/v2cut/event/1").json["headers"]["causation_id"] == "e1"
    # recorded through the API
    client.post("/api/v1/record/start", json={"session_name": "hdr"})
    r = client.post("/api/v1/record/event", json={"events": [
        {"event_name": "A", "headers": {"correlation_id": "q", "event_id": "1"}},
        {"event_name": "B", "headers": {"correlation_id": "q", "event_id": "2", "causation_id": "1"}},
        {"event_name": "C"}]})
    assert r.status_code == 200 and r.json["recorded"] == 3
    name = r.json["recording"]
    assert client.post("/api/v1/record/event", json={"event_name": "D", "headers": {"k": 1}}).status_code == 400
    client.post("/api/v1/record/stop", json={})
    c = client.get(f"/api/v1/recording/{name}/chain?offset=1").json
    assert [(e["event_name"], e["depth"]) for e in c["events"]] == [("A", 0), ("B", 1)]
