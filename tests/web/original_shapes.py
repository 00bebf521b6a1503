"""The original tool's REST API, check by check: one check per documented request or response
field of its dashboard (`serve_recorder.py`, port 5556), run against evlog's app. Used by
tests/web/test_original_api.py (each check a test) and bench/bench_web.py (the N/N figure).

The context holds a Flask test client over a folder with the `demo` recording (300 events,
evlog format) and `old_session.json` (20 events, the original format), and a local webhook
server standing for a registered player.
"""
from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any, ClassVar

from webtools import wait_for


class PlayerServer:
    """A player of the original tool: receives each replayed event as a JSON POST."""

    def __init__(self) -> None:
        received: list = []

        class Handler(BaseHTTPRequestHandler):
            got: ClassVar[list] = received

            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                self.got.append(json.loads(body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *a: Any) -> None:
                pass
        self.received = received
        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/abcdefgh"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Ctx:
    def __init__(self, client: Any, root: str) -> None:
        self.client = client
        self.root = root
        self._player: PlayerServer | None = None

    @property
    def player(self) -> PlayerServer:
        if self._player is None:
            self._player = PlayerServer()
        return self._player

    def close(self) -> None:
        if self._player is not None:
            self._player.close()

    def get(self, url: str, **kw: Any) -> Any:
        return self.client.get(url, **kw)

    def post(self, url: str, body: Any = None) -> Any:
        return self.client.post(url, json=body) if body is not None else self.client.post(url)




CHECKS: list[tuple[str, Callable[[Ctx], None]]] = []


def check(name: str) -> Callable:
    def deco(f: Callable[[Ctx], None]) -> Callable[[Ctx], None]:
        CHECKS.append((name, f))
        return f
    return deco


def _demo(ctx: Ctx) -> dict:
    items = ctx.get("/api/recordings").json
    return next(i for i in items if i["filename"] == "demo")


# GET /api/recordings -------------------------------------------------------------------
@check("GET /api/recordings is a JSON list")
def _(ctx: Ctx) -> None:
    r = ctx.get("/api/recordings")
    assert r.status_code == 200 and isinstance(r.json, list) and len(r.json) >= 2


@check("GET /api/recordings item.filename")
def _(ctx: Ctx) -> None:
    names = {i["filename"] for i in ctx.get("/api/recordings").json}
    assert {"demo", "old_session.json"} <= names


@check("GET /api/recordings item.session_name")
def _(ctx: Ctx) -> None:
    assert _demo(ctx)["session_name"] == "demo"


@check("GET /api/recordings item.created_at")
def _(ctx: Ctx) -> None:
    assert _demo(ctx)["created_at"] == "2025-10-12 10:00:00"


@check("GET /api/recordings item.duration (text)")
def _(ctx: Ctx) -> None:
    d = _demo(ctx)["duration"]
    assert isinstance(d, str) and d.endswith("s") and float(d[:-1]) > 0


@check("GET /api/recordings item.event_count")
def _(ctx: Ctx) -> None:
    assert _demo(ctx)["event_count"] == 300


@check("GET /api/recordings item.unique_events")
def _(ctx: Ctx) -> None:
    assert _demo(ctx)["unique_events"] == 8


# GET /api/recording/<f> ------------------------------------------------------------------
def _whole(ctx: Ctx, name: str = "demo") -> dict:
    return json.loads(ctx.get(f"/api/recording/{name}").get_data(as_text=True))


@check("GET /api/recording/<f> session_name")
def _(ctx: Ctx) -> None:
    assert _whole(ctx)["session_name"] == "demo" and _whole(ctx, "old_session.json")["session_name"] == "old"


@check("GET /api/recording/<f> start_time")
def _(ctx: Ctx) -> None:
    assert _whole(ctx)["start_time"].startswith("2025-10-12T10:00:00")


@check("GET /api/recording/<f> duration_ms")
def _(ctx: Ctx) -> None:
    doc = _whole(ctx)
    assert doc["duration_ms"] == doc["events"][-1]["timestamp_offset_ms"]


@check("GET /api/recording/<f> total_events")
def _(ctx: Ctx) -> None:
    doc = _whole(ctx)
    assert doc["total_events"] == len(doc["events"]) == 300


@check("GET /api/recording/<f> events[].timestamp_offset_ms")
def _(ctx: Ctx) -> None:
    evs = _whole(ctx, "old_session.json")["events"]
    assert [e["timestamp_offset_ms"] for e in evs[:3]] == [0, 50, 100]


@check("GET /api/recording/<f> events[].event_name")
def _(ctx: Ctx) -> None:
    assert _whole(ctx)["events"][0]["event_name"] == "BotMonitoringCycleStarted"


@check("GET /api/recording/<f> events[].event_data")
def _(ctx: Ctx) -> None:
    assert _whole(ctx)["events"][0]["event_data"]["cycle_number"] == 1


@check("GET /api/recording/<f> events[].source")
def _(ctx: Ctx) -> None:
    assert _whole(ctx)["events"][0]["source"] == "Orchestrator"


@check("GET /api/recording/<unknown> is 404 with error")
def _(ctx: Ctx) -> None:
    r = ctx.get("/api/recording/nope.json")
    assert r.status_code == 404 and r.json["error"]


# GET /api/recording/<f>/events ----------------------------------------------------------------
@check("GET /events filename")
def _(ctx: Ctx) -> None:
    assert ctx.get("/api/recording/demo/events?limit=1").json["filename"] == "demo"


@check("GET /events?event_name= total_events (every match)")
def _(ctx: Ctx) -> None:
    sold = sum(e["event_name"] == "PositionSold" for e in _whole(ctx)["events"])
    r = ctx.get("/api/recording/demo/events?event_name=PositionSold&limit=2").json
    assert r["total_events"] == sold and all(e["event_name"] == "PositionSold" for e in r["events"])


@check("GET /events?limit= returned_events")
def _(ctx: Ctx) -> None:
    r = ctx.get("/api/recording/demo/events?limit=7").json
    assert r["returned_events"] == len(r["events"]) == 7 and r["total_events"] == 300


@check("GET /events?offset= offset (after the filter)")
def _(ctx: Ctx) -> None:
    all_sold = [e for e in _whole(ctx)["events"] if e["event_name"] == "PositionSold"]
    r = ctx.get("/api/recording/demo/events?event_name=PositionSold&offset=2&limit=3").json
    assert r["offset"] == 2 and r["events"] == all_sold[2:5]


@check("GET /events?source= events of that source")
def _(ctx: Ctx) -> None:
    r = ctx.get("/api/recording/demo/events?source=Orchestrator").json
    assert r["events"] and all(e["source"] == "Orchestrator" for e in r["events"])
    assert set(r["events"][0]) == {"timestamp_offset_ms", "event_name", "event_data", "source"}


# GET /api/recording/<f>/fields ------------------------------------------------------------------
@check("GET /fields event_types")
def _(ctx: Ctx) -> None:
    f = ctx.get("/api/recording/demo/fields").json
    assert f["event_types"] == sorted({e["event_name"] for e in _whole(ctx)["events"]})


@check("GET /fields sources")
def _(ctx: Ctx) -> None:
    assert ctx.get("/api/recording/old_session.json/fields").json["sources"] == ["Old"]


@check("GET /fields data_fields")
def _(ctx: Ctx) -> None:
    assert ctx.get("/api/recording/old_session.json/fields").json["data_fields"] == ["i"]


# POST /api/recording/create -------------------------------------------------------------------------
def _created(ctx: Ctx) -> dict:
    return ctx.post("/api/recording/create", {"source_filename": "old_session.json", "event_indices": [2, 4, 5],
                                              "new_session_name": "picked"}).json


@check("POST /api/recording/create success")
def _(ctx: Ctx) -> None:
    assert _created(ctx)["success"] is True


@check("POST /api/recording/create filename (readable at once)")
def _(ctx: Ctx) -> None:
    r = _created(ctx)
    assert r["filename"].startswith("picked_")
    doc = _whole(ctx, r["filename"])
    assert [e["event_data"]["i"] for e in doc["events"]] == [2, 4, 5] and doc["session_name"] == "picked"


@check("POST /api/recording/create event_count (times rebased)")
def _(ctx: Ctx) -> None:
    r = _created(ctx)
    doc = _whole(ctx, r["filename"])
    assert r["event_count"] == 3 and [e["timestamp_offset_ms"] for e in doc["events"]] == [0, 100, 150]


# POST /api/record/... -----------------------------------------------------------------------------
def _session(ctx: Ctx) -> dict:
    out: dict = {"start": ctx.post("/api/record/start", {"session_name": "remote"}).json}
    out["event"] = ctx.post("/api/record/event", {"event_name": "Tick", "event_data": {"n": 1},
                                                  "source": "cron", "timestamp_offset_ms": 1500}).json
    out["status"] = ctx.get("/api/record/status").json
    out["stop"] = ctx.post("/api/record/stop").json
    return out


@check("POST /api/record/start success, session_name")
def _(ctx: Ctx) -> None:
    s = _session(ctx)["start"]
    assert s["success"] is True and s["session_name"] == "remote"


@check("POST /api/record/event event_count")
def _(ctx: Ctx) -> None:
    ev = _session(ctx)["event"]
    assert ev["success"] is True and ev["event_count"] == 1


@check("POST /api/record/event keeps timestamp_offset_ms")
def _(ctx: Ctx) -> None:
    stop = _session(ctx)["stop"]
    assert _whole(ctx, stop["filename"])["events"][0]["timestamp_offset_ms"] == 1500


@check("POST /api/record/stop filename")
def _(ctx: Ctx) -> None:
    stop = _session(ctx)["stop"]
    assert stop["success"] is True and stop["filename"].startswith("remote_")
    assert _whole(ctx, stop["filename"])["events"][0]["event_name"] == "Tick"


@check("POST /api/record/stop event_count")
def _(ctx: Ctx) -> None:
    assert _session(ctx)["stop"]["event_count"] == 1


@check("GET /api/record/status active, session_name, event_count")
def _(ctx: Ctx) -> None:
    st = _session(ctx)["status"]
    assert st["active"] is True and st["session_name"] == "remote" and st["event_count"] == 1
    assert ctx.get("/api/record/status").json["active"] is False


# replay (global) -------------------------------------------------------------------------------------
def _stop_replays(ctx: Ctx) -> None:
    ctx.post("/api/replay/stop")


@check("POST /api/replay/start/<f> success, total_events, simulation_mode")
def _(ctx: Ctx) -> None:
    r = ctx.post("/api/replay/start/demo", {"speed": 2.0}).json
    assert r["success"] is True and r["total_events"] == 300 and r["simulation_mode"] is True
    _stop_replays(ctx)


@check("GET /api/replay/status active, paused, current_event, total_events, speed, progress")
def _(ctx: Ctx) -> None:
    ctx.post("/api/replay/start/old_session.json", {"speed": 100})
    wait_for(lambda: not ctx.get("/api/replay/status").json["active"])
    st = ctx.get("/api/replay/status").json
    assert st["paused"] is False and st["current_event"] == st["total_events"] == 20
    assert st["speed"] == 100 and st["progress"] == 100 and st["filename"] == "old_session.json"


@check("POST /api/replay/pause status toggles paused/playing")
def _(ctx: Ctx) -> None:
    ctx.post("/api/replay/start/demo", {"speed": 1})
    a, b = ctx.post("/api/replay/pause").json, ctx.post("/api/replay/pause").json
    assert (a["success"], a["status"], b["status"]) == (True, "paused", "playing")
    _stop_replays(ctx)
    assert ctx.post("/api/replay/pause").status_code == 400


@check("POST /api/replay/speed success, speed")
def _(ctx: Ctx) -> None:
    ctx.post("/api/replay/start/demo", {"speed": 1})
    r = ctx.post("/api/replay/speed", {"speed": 5.0}).json
    assert r == {"success": True, "speed": 5.0} and ctx.get("/api/replay/status").json["speed"] == 5.0
    _stop_replays(ctx)


@check("POST /api/replay/stop success, message")
def _(ctx: Ctx) -> None:
    ctx.post("/api/replay/start/demo", {"speed": 1})
    r = ctx.post("/api/replay/stop").json
    assert r["success"] is True and r["message"] and ctx.get("/api/replay/status").json["active"] is False


# players -------------------------------------------------------------------------------------------------
def _register(ctx: Ctx) -> dict:
    return ctx.post("/api/player/register", {"player_endpoint": ctx.player.url, "consumer_name": "bot"}).json


@check("POST /api/player/register success, consumer_name, player_endpoint")
def _(ctx: Ctx) -> None:
    r = _register(ctx)
    assert r["success"] is True and r["consumer_name"] == "bot" and r["player_endpoint"] == ctx.player.url
    ctx.post("/api/player/unregister", {"player_endpoint": ctx.player.url})


@check("GET /api/player/list players[].consumer_name, player_endpoint, count")
def _(ctx: Ctx) -> None:
    _register(ctx)
    r = ctx.get("/api/player/list").json
    assert r["count"] == 1 and r["players"][0]["consumer_name"] == "bot"
    assert r["players"][0]["player_endpoint"] == ctx.player.url
    ctx.post("/api/player/unregister", {"player_endpoint": ctx.player.url})


@check("POST /api/replay/execute/<f> success, total_events, target_players, speed; players get the events")
def _(ctx: Ctx) -> None:
    _register(ctx)
    ctx.player.received.clear()
    r = ctx.post("/api/replay/execute/old_session.json", {"speed": 100}).json
    assert r["success"] is True and r["total_events"] == 20 and r["target_players"] == 1 and r["speed"] == 100
    wait_for(lambda: len(ctx.player.received) == 20)
    assert {k: ctx.player.received[0][k] for k in ("event_name", "event_data", "source")} == \
        {"event_name": "Legacy0", "event_data": {"i": 0}, "source": "Old"}
    ctx.post("/api/player/unregister", {"player_endpoint": ctx.player.url})


@check("POST /api/replay/start/<f> with registered players replays to them")
def _(ctx: Ctx) -> None:
    _register(ctx)
    ctx.player.received.clear()
    r = ctx.post("/api/replay/start/old_session.json", {"speed": 100}).json
    assert r["success"] is True and r["target_players"] == 1
    wait_for(lambda: len(ctx.player.received) == 20)
    ctx.post("/api/player/unregister", {"player_endpoint": ctx.player.url})


@check("POST /api/player/unregister success, consumer_name; unknown is 404")
def _(ctx: Ctx) -> None:
    _register(ctx)
    r = ctx.post("/api/player/unregister", {"player_endpoint": ctx.player.url}).json
    assert r["success"] is True and r["consumer_name"] == "bot"
    assert ctx.post("/api/player/unregister", {"player_endpoint": ctx.player.url}).status_code == 404
    assert ctx.get("/api/player/list").json["count"] == 0


@check("the original's HTTP client example: start, events, stop, then r['filename']")
def _(ctx: Ctx) -> None:
    ctx.post("/api/record/start", {"session_name": "client"})
    for i in range(3):
        assert ctx.post("/api/record/event", {"event_name": "TestEvent", "event_data": {"key": i},
                                              "source": "TestAgent"}).status_code == 200
    result = ctx.post("/api/record/stop").json
    filename = result["filename"]
    doc = _whole(ctx, filename)
    assert [e["event_data"]["key"] for e in doc["events"]] == [0, 1, 2]
    assert filename in [i["filename"] for i in ctx.get("/api/recordings").json]


@check("GET / lists the recordings without JavaScript")
def _(ctx: Ctx) -> None:
    html = ctx.get("/").get_data(as_text=True)
    assert 'href="/recording/demo"' in html and 'href="/recording/old_session.json"' in html


def run_all(ctx: Ctx) -> list[tuple[str, bool, str]]:
    """(name, passed, why) for every check, in order."""
    out = []
    for name, f in CHECKS:
        try:
            f(ctx)
            out.append((name, True, ""))
        except Exception as exc:  # noqa: BLE001 - a failed check is reported, not raised
            out.append((name, False, f"{type(exc).__name__}: {exc}"[:200]))
    return out
