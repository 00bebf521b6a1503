"""A planted secret appears in no byte of a recording made through a policy (every file, and
every compressed block decompressed), of an export, merge or slice through a policy, or of a
dashboard response (`evlog serve --redact`); HMAC tokens match across recordings made with the
same key; bad policies are one-line errors."""
from __future__ import annotations

import io
import json
import os
import uuid

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from redacttools import KEY, all_bytes, leaks, planted_event, policy

from evlog import EventRecorder
from evlog.cli import cli
from evlog.log import Log
from evlog.ops import export, merge, slice_recording
from evlog.recording import open_recording

EVENTS = st.lists(planted_event(), min_size=1, max_size=6)
SETTINGS = settings(max_examples=20, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


def _secrets(events) -> list[str]:
    return [s for _d, _h, ss in events for s in ss]


def _record(root, events, redact=None, name="r") -> str:
    rec = EventRecorder(name, root, fsync="never", redact=redact)
    rec.start_recording(None)
    for i, (data, headers, _s) in enumerate(events):
        rec.record(f"Ev{i % 2}", data, "src", headers=headers)
    rec.stop_recording()
    return str(rec.save())


def _plain(path, events) -> str:
    with Log.create(path, "plain", fsync="never") as log:
        for i, (data, headers, _s) in enumerate(events):
            log.append(f"Ev{i % 2}", data, "src", headers=headers)
    return path


@SETTINGS
@given(EVENTS, st.sampled_from(["drop", "mask", "hmac"]))
def test_recorder_writes_no_byte_of_a_secret(tmp_path_factory, events, mode) -> None:
    root = str(tmp_path_factory.mktemp("rec"))
    path = _record(root, events, policy(mode).compile(KEY))
    secrets = _secrets(events)
    assert not leaks(all_bytes(path), secrets)
    with open_recording(path) as rec:
        assert len(rec) == len(events)
        assert rec.metadata["redaction"]["id"] == "test"
        assert "key" not in json.dumps(rec.metadata["redaction"]).replace("key_id", "")
    out = io.BytesIO()
    export(path, out, format="jsonl")
    assert not leaks([("export", out.getvalue())], secrets)


@SETTINGS
@given(EVENTS, st.sampled_from(["drop", "mask", "hmac"]), st.sampled_from(["jsonl", "csv", "json", "cloudevents"]))
def test_outputs_through_a_policy(tmp_path_factory, events, mode, fmt) -> None:
    """export, merge and slice of an unredacted recording, through the policy."""
    root = tmp_path_factory.mktemp("out")
    src = _plain(str(root / "src"), events)
    secrets = _secrets(events)
    assert leaks(all_bytes(src), secrets) or not secrets   # the secrets are there to be found
    r = policy(mode).compile(KEY)
    out = io.BytesIO()
    assert export(src, out, format=fmt, redact=r) == len(events)
    assert not leaks([("export", out.getvalue())], secrets)
    merge([src, src], str(root / "m"), redact=r)
    slice_recording(src, str(root / "s"), redact=r)
    for p in (root / "m", root / "s"):
        assert not leaks(all_bytes(str(p)), secrets)
        with open_recording(str(p)) as rec:
            assert rec.metadata["redaction"]["fingerprint"] == r.policy.fingerprint


def test_hmac_tokens_match_across_recordings(tmp_path) -> None:
    ev = [({"user": {"api_key": "PLANTEDJOIN1"}, "n": 1}, {"trace": "t"}, ["PLANTEDJOIN1"])]
    p = policy("hmac")
    a = _record(str(tmp_path / "a"), ev, p.compile(KEY))
    b = _record(str(tmp_path / "b"), ev, p.compile(KEY))
    c = _record(str(tmp_path / "c"), ev, p.compile(b"a-different-key-0123"))

    def token(path):
        with open_recording(path) as rec:
            return next(iter(rec.read())).data["user"]["api_key"]
    assert token(a) == token(b) != token(c)
    assert token(a).startswith("hmac:")
    from evlog.ops import iter_diff
    summary = list(iter_diff(a, b))[-1]
    assert summary.equal


def test_evlog_log_redacts_every_append_path(tmp_path) -> None:
    r = policy("mask").compile(KEY)
    with Log.create(str(tmp_path / "l"), "l", fsync="never", redact=r) as log:
        log.append("A", {"api_key": "PLANTEDA1"}, headers={"Authorization": "PLANTEDA2"})
        log.append_batch([("B", {"x": {"password": "PLANTEDA3"}}, "", None, None, {"authorization": "PLANTEDA4"}),
                          {"name": "C", "data": {"s": "sk-" + "Q" * 24}}])
    assert not leaks(all_bytes(str(tmp_path / "l")), ["PLANTEDA1", "PLANTEDA2", "PLANTEDA3", "PLANTEDA4", "Q" * 24])


def test_recorder_without_policy_is_unchanged(tmp_path) -> None:
    path = _record(str(tmp_path), [({"api_key": "PLANTEDPLAIN"}, {}, [])])
    assert leaks(all_bytes(path), ["PLANTEDPLAIN"])
    with open_recording(path) as rec:
        assert "redaction" not in rec.metadata


# the dashboard ---------------------------------------------------------------------------
def _responses(client, name: str, events, secrets) -> list[tuple[str, bytes]]:
    """Every read the API offers on recording `name`, with a secret typed into filters too."""
    s = secrets[0] if secrets else "PLANTEDNONE"
    flt = f'data.api_key == "{s}" or name == "Ev0"'
    urls = [f"/api/v1/recording/{name}?limit=1000", f"/api/v1/recording/{name}?filter={flt}",
            f"/api/v1/recording/{name}/count?filter={flt}", f"/api/v1/recording/{name}/count?filter=(({s}",
            f"/api/v1/recording/{name}/count?filter=data.x == 1 {s}", f"/api/v1/recording/{name}?filter=Ev0 {s}",
            f"/api/v1/recording/{name}/summary", f"/api/recording/{name}", f"/api/recording/{name}/events",
            f"/api/recording/{name}/fields", f"/api/v1/recording/{name}/export?format=jsonl",
            f"/api/v1/recording/{name}/export?format=csv", f"/api/v1/recording/{name}/export?format=json",
            f"/api/v1/diff?a={name}&b={name}", f"/api/v1/diff?a={name}&b={name}&filter={flt}",
            f"/api/v1/diff/run?a={name}&b={name}", f"/api/v1/recording/{name}/chain?offset=0",
            "/api/v1/recordings", "/api/recordings"]
    urls += [f"/api/v1/recording/{name}/event/{i}" for i in range(len(events))]
    out = [(u, client.get(u).get_data()) for u in urls]
    new = f"sl_{uuid.uuid4().hex[:8]}"
    resp = client.post(f"/api/v1/recording/{name}/slice", json={"name": new, "all_matching": True, "filter": flt})
    out.append(("slice", resp.get_data()))
    out.append(("slice page", client.get(f"/api/v1/recording/{new}?limit=1000").get_data()))
    out.append(("slice metadata", client.get(f"/api/v1/recording/{new}/summary").get_data()))
    return out


@settings(max_examples=10, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(EVENTS, st.sampled_from(["drop", "mask", "hmac"]))
def test_dashboard_responses_hold_no_secret(tmp_path_factory, events, mode) -> None:
    from evlog.web import create_app
    root = tmp_path_factory.mktemp("web")
    _plain(str(root / "plain"), events)
    secrets = _secrets(events)
    app = create_app(str(root), redact=policy(mode).compile(KEY))
    try:
        client = app.test_client()
        got = _responses(client, "plain", events, secrets)
        assert not leaks(got, secrets)
        for sub in os.listdir(root):   # the slice the dashboard made
            if sub.startswith("sl_"):
                assert not leaks(all_bytes(str(root / sub)), secrets)
        assert json.loads(client.get("/api/v1/recording/plain/timetravel").get_data())["status"] == 403
    finally:
        app.extensions["evlog_jobs"].cancel_all()
        app.extensions["evlog_sessions"].close_all()


def test_dashboard_without_policy_shows_the_data(tmp_path) -> None:
    """The check above can fail: without a policy the same requests show the secret."""
    from evlog.web import create_app
    events = [({"user": {"api_key": "PLANTEDSHOWN1"}}, {"authorization": "Bearer PLANTEDSHOWN2"},
               ["PLANTEDSHOWN1", "PLANTEDSHOWN2"])]
    _plain(str(tmp_path / "plain"), events)
    client = create_app(str(tmp_path)).test_client()
    found = leaks(_responses(client, "plain", events, _secrets(events)), _secrets(events))
    assert any("PLANTEDSHOWN1" in f for f in found) and any("PLANTEDSHOWN2" in f for f in found)


def test_dashboard_replay_sends_redacted_events(tmp_path) -> None:
    import time

    from evlog.web import create_app
    events = [({"user": {"api_key": f"PLANTEDREPLAY{i}"}, "i": i}, {"Authorization": f"Bearer PLANTEDHDR{i}"}, [])
              for i in range(20)]
    _plain(str(tmp_path / "plain"), events)
    app = create_app(str(tmp_path), redact=policy("hmac").compile(KEY))
    try:
        client = app.test_client()
        rid = client.post("/api/v1/replay/start/plain", json={"speed": 100}).get_json()["replay_id"]
        got: list = []
        deadline = time.monotonic() + 20
        while len(got) < 20 and time.monotonic() < deadline:
            body = client.get(f"/api/v1/replay/{rid}/events?after=0").get_data()
            got = json.loads(body)["events"]
            time.sleep(0.05)
        assert len(got) == 20
        assert not leaks([("replay", body)], [f"PLANTEDREPLAY{i}" for i in range(20)] + ["PLANTEDHDR"])
        assert body.count(b"hmac:") >= 40
    finally:
        app.extensions["evlog_replays"].stop_all()


def test_dashboard_records_through_the_policy(tmp_path) -> None:
    from evlog.web import create_app
    app = create_app(str(tmp_path), redact=policy("mask").compile(KEY))
    client = app.test_client()
    name = client.post("/api/v1/record/start", json={"session_name": "live"}).get_json()["recording"]
    client.post("/api/v1/record/event", json={"event_name": "A", "event_data": {"api_key": "PLANTEDLIVE"}})
    client.post("/api/v1/record/stop", json={"recording": name})
    app.extensions["evlog_sessions"].close_all()
    assert not leaks(all_bytes(str(tmp_path / name)), ["PLANTEDLIVE"])
    with open_recording(str(tmp_path / name)) as rec:
        assert [r.data for r in rec.read()] == [{"api_key": "***"}]


# the command line ------------------------------------------------------------------------
POLICY = """
id = "cli"
version = 2
[[rules]]
paths = ["data.api_key"]
mode = "hmac"
"""


def test_cli_record_export_slice_merge(tmp_path, monkeypatch) -> None:
    (tmp_path / "p.toml").write_text(POLICY)
    monkeypatch.setenv("EVLOG_TEST_KEY", "0123456789abcdef!")
    runner = CliRunner()
    lines = "".join(json.dumps({"event_name": "A", "event_data": {"api_key": f"PLANTEDCLI{i}", "i": i}}) + "\n"
                    for i in range(5))
    opts = ["--redact", str(tmp_path / "p.toml"), "--redact-key-env", "EVLOG_TEST_KEY"]
    res = runner.invoke(cli, ["record", "-o", str(tmp_path / "r"), *opts], input=lines)
    assert res.exit_code == 0, res.output
    secrets = [f"PLANTEDCLI{i}" for i in range(5)]
    assert not leaks(all_bytes(str(tmp_path / "r")), secrets)
    plain = runner.invoke(cli, ["record", "-o", str(tmp_path / "plain")], input=lines)
    assert plain.exit_code == 0
    res = runner.invoke(cli, ["export", str(tmp_path / "plain"), *opts])
    assert res.exit_code == 0 and not leaks([("out", res.stdout_bytes)], secrets)
    # the same key: the same tokens as the recording made through the policy
    recorded = runner.invoke(cli, ["export", str(tmp_path / "r")]).stdout
    tokens = [json.loads(line)["event_data"]["api_key"] for line in recorded.splitlines()]
    assert tokens == [json.loads(line)["event_data"]["api_key"] for line in res.stdout.splitlines()]
    for cmd in (["slice", str(tmp_path / "plain"), "-o", str(tmp_path / "s")],
                ["merge", str(tmp_path / "plain"), str(tmp_path / "r"), "-o", str(tmp_path / "m")]):
        res = runner.invoke(cli, [*cmd, *opts])
        assert res.exit_code == 0, res.output
    for p in ("s", "m"):
        assert not leaks(all_bytes(str(tmp_path / p)), secrets)


@pytest.mark.parametrize("policy_text, args, message", [
    ("id = ", [], "not valid TOML"),
    ('id="x"\n[[rules]]\npaths=["nope.a"]\nmode="mask"', [], "must start with data or headers"),
    (POLICY, [], "hmac rules: give the key"),
    (POLICY, ["--redact-key-env", "EVLOG_TEST_UNSET_KEY"], "EVLOG_TEST_UNSET_KEY is not set"),
    (POLICY, ["--redact-key-file", "/nonexistent/key"], "HMAC key file"),
])
def test_cli_bad_policy_is_one_line(tmp_path, policy_text, args, message) -> None:
    (tmp_path / "p.toml").write_text(policy_text)
    runner = CliRunner()
    for cmd in (["record", "-o", str(tmp_path / "r")], ["export", str(tmp_path / "r")],
                ["slice", str(tmp_path / "r"), "-o", str(tmp_path / "s")]):
        res = runner.invoke(cli, [*cmd, "--redact", str(tmp_path / "p.toml"), *args], input="")
        assert res.exit_code == 2, res.output
        err = res.stderr if hasattr(res, "stderr") else res.output
        assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    res = runner.invoke(cli, ["export", str(tmp_path / "r"), "--redact", str(tmp_path / "missing.toml")])
    assert res.exit_code == 2 and "missing.toml" in (res.stderr if hasattr(res, "stderr") else res.output)
