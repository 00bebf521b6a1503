"""Capture of an application's events into evlog, replay into a fresh system, time travel."""
from __future__ import annotations

import os
import sys
from typing import Any
from uuid import uuid4

import pytest
from eventsourcing.system import SingleThreadedRunner, System

sys.path.insert(0, os.path.dirname(__file__))
from es_domain import Counter, Counters, Totals, total_id  # noqa: E402

from evlog.eventsourcing.access import open_store  # noqa: E402
from evlog.eventsourcing.capture import capture  # noqa: E402
from evlog.eventsourcing.replay import replay, replay_into_runner  # noqa: E402
from evlog.eventsourcing.store import release  # noqa: E402
from evlog.eventsourcing.timetravel import (  # noqa: E402
    aggregate_at, aggregate_state_json, application_at, application_state_json,
)
from evlog.segments import Log  # noqa: E402

POPO = {"PERSISTENCE_MODULE": "eventsourcing.popo"}


def make_activity(app: Counters, n_counters: int = 3, rounds: int = 4) -> list:
    ids = [app.create(f"c{i}") for i in range(n_counters)]
    for r in range(rounds):
        for i, cid in enumerate(ids):
            app.increment(cid, r * 10 + i + 1)
    return ids


def notifications(app: Any) -> list:
    return list(app.recorder.select_notifications(None, 10_000))


def recorded(path: str) -> list:
    store = open_store(path)
    try:
        return [(r.source, r.name) for r in store.read(0)]
    finally:
        release(store)


def test_capture_is_resumable_without_loss_or_duplicates(tmp_path):
    app = Counters(env=POPO)
    ids = make_activity(app, 2, 2)
    rec = str(tmp_path / "rec")
    first = capture(app, rec, batch=3)
    assert first.captured == len(notifications(app)) == 6
    assert first.position == 6
    # the application goes on; a restarted capture continues where the recording stopped
    app.increment(ids[0], 100)
    app.create("late")
    second = capture(app, rec, batch=3)
    assert second.captured == 2 and second.position == 8
    assert capture(app, rec).captured == 0
    source = [(str(n.originator_id), n.topic, n.originator_version, n.state) for n in notifications(app)]
    store = open_store(rec)
    try:
        from evlog.eventsourcing.access import iter_stored_events
        copied = [(str(s.originator_id), s.topic, s.originator_version, s.state)
                  for _, s in iter_stored_events(store)]
        assert store.max_tracking_id("Counters") == 8
    finally:
        release(store)
    assert copied == source


def test_capture_from_sqlite_file_application(tmp_path):
    env = {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(tmp_path / "app.db")}
    app = Counters(env=env)
    make_activity(app, 2, 3)
    expected = len(notifications(app))
    app.close()
    rec = str(tmp_path / "rec")
    app = Counters(env=env)   # a restart of the source application
    assert capture(app, rec).captured == expected
    assert len(recorded(rec)) == expected


PG_DSN = "host=127.0.0.1 port=5432 dbname=test user=postgres"


def _postgres_env(schema: str) -> dict:
    return {"PERSISTENCE_MODULE": "eventsourcing.postgres", "POSTGRES_DBNAME": "test",
            "POSTGRES_HOST": "127.0.0.1", "POSTGRES_PORT": "5432", "POSTGRES_USER": "postgres",
            "POSTGRES_PASSWORD": "", "POSTGRES_SCHEMA": schema}


def test_capture_from_postgres_application(tmp_path):
    psycopg = pytest.importorskip("psycopg")
    from psycopg import sql
    try:
        conn = psycopg.connect(PG_DSN, connect_timeout=3, autocommit=True)
    except Exception as exc:  # noqa: BLE001
        pytest.skip(f"PostgreSQL not reachable: {exc}")
    # a schema of its own: concurrent runs (CI jobs, xdist workers) never share tables
    schema = f"evlog_test_{uuid4().hex[:16]}"
    drop = sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema))
    with conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
        try:
            app = Counters(env=_postgres_env(schema))
            try:
                make_activity(app, 2, 2)
                expected = notifications(app)
                rec = str(tmp_path / "rec")
                assert capture(app, rec, batch=4).captured == len(expected)
                assert recorded(rec) == [(str(n.originator_id), n.topic) for n in expected]
            finally:
                app.close()
        finally:
            conn.execute(drop)
        gone = conn.execute("SELECT count(*) FROM pg_namespace WHERE nspname = %s", (schema,))
        assert gone.fetchone() == (0,)


def _system_state(runner: Any, ids: list) -> tuple:
    counters = runner.get(Counters)
    totals = runner.get(Totals)
    agg = [vars(counters.repository.get(i)) for i in ids]
    # the process application derives its events anew: their timestamps are replay time
    tot = [{k: v for k, v in vars(totals.repository.get(total_id(f"c{n}"))).items()
            if k not in ("_created_on", "_modified_on")} for n in range(len(ids))]
    return agg, tot


def test_replay_into_fresh_system_rebuilds_the_same_state(tmp_path):
    system = System(pipes=[[Counters, Totals]])
    runner = SingleThreadedRunner(system, env=POPO)
    runner.start()
    ids = make_activity(runner.get(Counters), 3, 4)
    original = _system_state(runner, ids)
    rec = str(tmp_path / "rec")
    capture(runner.get(Counters), rec)
    runner.stop()

    fresh = SingleThreadedRunner(System(pipes=[[Counters, Totals]]), env=POPO)
    fresh.start()
    try:
        assert replay_into_runner(rec, fresh, Counters, batch=5) == 15
        rebuilt = _system_state(fresh, ids)
        assert rebuilt == original
        assert rebuilt[1][0]["total"] == sum(r * 10 + 1 for r in range(4))
    finally:
        fresh.stop()


def test_replay_into_evlog_backed_application(tmp_path):
    app = Counters(env=POPO)
    ids = make_activity(app, 2, 2)
    rec = str(tmp_path / "rec")
    capture(app, rec)
    target = Counters(env={"PERSISTENCE_MODULE": "evlog.eventsourcing", "EVLOG_PATH": str(tmp_path / "es"),
                           "EVLOG_FSYNC": "interval"})
    try:
        assert replay(rec, target) == 6
        assert [vars(target.repository.get(i)) for i in ids] == [vars(app.repository.get(i)) for i in ids]
    finally:
        target.close()


def test_time_travel_aggregate_and_application(tmp_path):
    app = Counters(env=POPO)
    ids = make_activity(app, 2, 3)   # offsets: 0,1 created; then 2..7 increments
    rec = str(tmp_path / "rec")
    capture(app, rec)
    # offset 4 is the second round's first increment (c0): c0 has version 3, c1 version 2
    past = aggregate_at(rec, ids[0], app, offset=4)
    assert isinstance(past, Counter)
    assert vars(past) == vars(app.repository.get(ids[0], version=3))
    assert aggregate_at(rec, ids[1], app, offset=0) is None
    assert vars(aggregate_at(rec, ids[1], app)) == vars(app.repository.get(ids[1]))

    then = application_at(rec, Counters, offset=4)
    assert then.repository.get(ids[0]).count == 1 + 11
    assert then.repository.get(ids[1]).count == 2
    assert then.recorder.max_notification_id() == 5

    view = aggregate_state_json(rec, ids[0], offset=4)
    assert view["version"] == 3 and view["state"]["name"] == "c0" and view["events"] == 3
    assert view["state"]["by"] == 11   # the last Incremented event's field
    whole = application_state_json(rec, offset=1)
    assert set(whole["aggregates"]) == {str(i) for i in ids}
    assert all(a["version"] == 1 for a in whole["aggregates"].values())


def test_time_travel_by_wall_clock_time(tmp_path):
    app = Counters(env=POPO)
    ids = make_activity(app, 1, 1)
    rec = str(tmp_path / "rec")
    capture(app, rec)
    with Log.open(os.path.join(rec, "events")) as log:
        t0 = log.get(0).timestamp
    import time
    time.sleep(0.01)
    app.increment(ids[0], 5)
    capture(app, rec)
    assert aggregate_at(rec, ids[0], app, time_ns=t0).count == 0
    assert aggregate_at(rec, ids[0], app).count == 6


def test_evlog_state_command_shows_the_past(tmp_path):
    """`evlog state`: the time-travel views on the command line (JSON on stdout)."""
    import json

    from click.testing import CliRunner

    from evlog.cli import cli
    app = Counters(env=POPO)
    ids = make_activity(app, 2, 3)
    rec = str(tmp_path / "rec")
    capture(app, rec)
    runner = CliRunner()
    one = runner.invoke(cli, ["state", rec, "--aggregate", str(ids[0]), "--offset", "4"])
    assert one.exit_code == 0, one.output
    view = json.loads(one.output)
    assert view == json.loads(json.dumps(aggregate_state_json(rec, ids[0], offset=4), default=str))
    assert view["version"] == 3
    whole = runner.invoke(cli, ["state", rec, "--offset", "1"])
    assert whole.exit_code == 0, whole.output
    assert set(json.loads(whole.output)["aggregates"]) == {str(i) for i in ids}
    later = runner.invoke(cli, ["state", rec, "--aggregate", str(ids[1]), "--at", "1h"])
    assert later.exit_code == 0 and json.loads(later.output)["version"] == 4   # created + 3 increments
    missing = runner.invoke(cli, ["state", rec, "--aggregate", str(ids[1]), "--offset", "0"])
    assert missing.exit_code == 2 and "no aggregate" in missing.output
    bad = runner.invoke(cli, ["state", str(tmp_path / "nope")])
    assert bad.exit_code == 2 and "Traceback" not in bad.output
