"""Fixtures of the dashboard tests: a recordings folder with a demo, a legacy file and a hostile payload."""
from __future__ import annotations

import os
import threading
from collections.abc import Iterator

import pytest
from webtools import make_demo, make_legacy, make_xss

from evlog.web import create_app


@pytest.fixture
def rec_dir(tmp_path) -> str:
    root = str(tmp_path / "recordings")
    os.makedirs(root)
    make_demo(root)
    make_legacy(root)
    make_xss(root)
    return root


@pytest.fixture
def app(rec_dir):
    app = create_app(rec_dir)
    yield app
    app.extensions["evlog_replays"].stop_all()
    app.extensions["evlog_sessions"].close_all()
    app.extensions["evlog_jobs"].cancel_all()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def token_app(rec_dir):
    app = create_app(rec_dir, token="s3cret", require_token=True)
    yield app
    app.extensions["evlog_replays"].stop_all()
    app.extensions["evlog_sessions"].close_all()


@pytest.fixture
def token_client(token_app):
    return token_app.test_client()


class LiveServer:
    def __init__(self, app) -> None:
        from werkzeug.serving import make_server
        self.app = app
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.port = self.server.server_port
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join(5)


@pytest.fixture
def live_server(rec_dir) -> Iterator[LiveServer]:
    app = create_app(rec_dir)
    app.config["EVLOG_HOST_POLICY"] = None   # the port is known only once bound
    srv = LiveServer(app)
    from evlog.web.security import HostPolicy
    app.config["EVLOG_HOST_POLICY"] = HostPolicy("127.0.0.1", srv.port)
    yield srv
    srv.stop()
    app.extensions["evlog_replays"].stop_all()
    app.extensions["evlog_sessions"].close_all()
    app.extensions["evlog_jobs"].cancel_all()
