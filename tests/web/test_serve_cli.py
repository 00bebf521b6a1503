"""`evlog serve`: the folder as DIR, --dir or --recordings-dir; --port checked; the options
reach the app."""
from __future__ import annotations

import pytest
from click.testing import CliRunner

from evlog import web
from evlog.cli import cli


@pytest.fixture
def served(monkeypatch):
    seen: dict = {}
    import werkzeug.serving
    monkeypatch.setattr(werkzeug.serving, "run_simple",
                        lambda host, port, app, **kw: seen.update(host=host, port=port, app=app, kw=kw))
    monkeypatch.delenv("EVLOG_TOKEN", raising=False)
    return seen


@pytest.mark.parametrize("args", [["DIR"], ["--dir", "DIR"], ["--recordings-dir", "DIR"], ["DIR", "--dir", "DIR"]])
def test_folder_forms(served, rec_dir, args):
    args = [rec_dir if a == "DIR" else a for a in args]
    r = CliRunner().invoke(cli, ["serve", *args, "--port", "5999"])
    assert r.exit_code == 0, r.output
    assert served["app"].extensions["evlog_catalog"].root.endswith("recordings") and served["port"] == 5999
    assert served["kw"]["use_debugger"] is False


@pytest.mark.parametrize("port", ["0", "65536", "-1", "http", ""])
def test_bad_port_is_one_line(served, rec_dir, port):
    r = CliRunner().invoke(cli, ["serve", rec_dir, "--port", port])
    assert r.exit_code == 2 and "app" not in served
    lines = [x for x in r.output.splitlines() if x.strip()]
    assert len(lines) == 1 and "--port" in lines[0] and "Traceback" not in r.output


def test_two_different_folders_is_an_error(served, rec_dir, tmp_path):
    r = CliRunner().invoke(cli, ["serve", rec_dir, "--dir", str(tmp_path)])
    assert r.exit_code == 2 and "once" in r.output


def test_lan_options_reach_the_app(served, rec_dir):
    r = CliRunner().invoke(cli, ["serve", rec_dir, "--host", "0.0.0.0", "--allowed-host", "dash.lan",
                                 "--allowed-host", "bot.lan", "--port", "5998"])
    assert r.exit_code == 0, r.output
    app = served["app"]
    token = app.config["EVLOG_TOKEN"]
    assert f"?token={token}" in r.output
    c = app.test_client()
    assert c.get("/api/recordings", headers={"Host": "dash.lan:5998", "X-Evlog-Token": token}).status_code == 200
    assert c.get("/api/recordings", headers={"Host": "dash.lan:5998"}).status_code == 401
    assert c.get("/api/recordings", headers={"Host": "evil.lan:5998", "X-Evlog-Token": token}).status_code == 400
    r = CliRunner().invoke(cli, ["serve", rec_dir, "--host", "0.0.0.0", "--public-read"])
    assert served["app"].test_client().get("/api/recordings", headers={"Host": "10.1.2.3:5556"}).status_code == 200


def test_web_serve_keeps_its_signature(served, rec_dir):
    web.serve(rec_dir, "127.0.0.1", 5997)
    assert served["app"].config["EVLOG_TOKEN"] is None
