"""Filters on indexed keys use the key index (API, CLI, dashboard) and select exactly what
the same filter selects by a scan; `key_constraints` finds only sound constraints."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings, strategies as st

from evlog.cli import cli
from evlog.filters import key_constraints, parse_filter
from evlog.recording import open_recording
from evlog.segments import Log
from evlog.segments.reader import SegmentView

N, PIDS = 600, 30


def _make(path: str, keys: list[str]) -> None:
    with Log.create(path, keys=keys, block_max_records=10) as log:
        log.append_batch([("Fill", {"position_id": f"p-{i % PIDS}", "n": i}, f"s{i % 4}", None, None,
                           {"correlation_id": f"c-{i % 7}"}) for i in range(N)])


@pytest.fixture
def decoded(monkeypatch):
    """Counts the blocks readers decode."""
    calls = []
    original = SegmentView.read_block

    def spy(self, entry):
        calls.append(entry.first_offset)
        return original(self, entry)
    monkeypatch.setattr(SegmentView, "read_block", spy)
    return calls


def test_cli_filter_uses_the_index(tmp_path, decoded):
    indexed, plain = str(tmp_path / "idx"), str(tmp_path / "plain")
    _make(indexed, ["data.position_id"])
    _make(plain, [])
    flt = 'data.position_id == "p-17"'
    out = CliRunner().invoke(cli, ["cat", indexed, "--filter", flt])
    assert out.exit_code == 0, out.output
    got = [json.loads(line)["offset"] for line in out.output.splitlines() if line.startswith("{")]
    assert got == list(range(17, N, PIDS))
    assert len(decoded) <= len(got)   # only the blocks holding p-17 (each block holds one)
    decoded.clear()
    out = CliRunner().invoke(cli, ["cat", plain, "--filter", flt])
    assert [json.loads(line)["offset"] for line in out.output.splitlines() if line.startswith("{")] == got
    assert len(decoded) >= N // 10   # without an index: every block


def test_dashboard_filter_uses_the_index(tmp_path, decoded):
    from evlog.web import create_app
    root = tmp_path / "recs"
    root.mkdir()
    _make(str(root / "run"), ["data.position_id", "headers.correlation_id"])
    app = create_app(str(root))
    try:
        client = app.test_client()
        d = client.get('/api/v1/recording/run?limit=1000&filter=data.position_id in ["p-3", "p-4"]').json
        assert [e["offset"] for e in d["events"]] == [i for i in range(N) if i % PIDS in (3, 4)]
        assert len(decoded) <= 2 * (N // PIDS)
    finally:
        app.extensions["evlog_replays"].stop_all()
        app.extensions["evlog_sessions"].close_all()
        app.extensions["evlog_jobs"].cancel_all()


ATOMS = ['data.position_id == "p-3"', 'data.position_id in ["p-1", "p-4", p-9]', 'headers.correlation_id == "c-2"',
         'source == "s1"', 'data.position_id == 3', "data.n > 300", "Fill", 'not data.position_id == "p-1"',
         'data.position_id != "p-2"', 'headers.correlation_id in ["c-1", "c-5"]']


@st.composite
def filters(draw, depth=2):
    if depth == 0 or draw(st.booleans()):
        return draw(st.sampled_from(ATOMS))
    op = draw(st.sampled_from([" and ", " or "]))
    parts = draw(st.lists(filters(depth=depth - 1), min_size=2, max_size=3))
    text = op.join(parts)
    return f"({text})" if draw(st.booleans()) else text


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    root = tmp_path_factory.mktemp("pair")
    _make(str(root / "idx"), ["data.position_id", "headers.correlation_id", "source"])
    _make(str(root / "plain"), [])
    return str(root / "idx"), str(root / "plain")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=filters(), reverse=st.booleans())
def test_indexed_filter_equals_scan(pair, text, reverse):
    flt = parse_filter(text)
    with open_recording(pair[0]) as a, open_recording(pair[1]) as b:
        expect = [r.offset for r in b.read() if flt.matches(r)]
        if reverse:
            expect.reverse()
        assert [r.offset for r in a.read(reverse=reverse, **flt.read_kwargs())] == expect
        assert [r.offset for r in b.read(reverse=reverse, **flt.read_kwargs())] == expect


def test_key_constraints_are_sound():
    assert key_constraints('data.position_id == "p-17"') == {"data.position_id": frozenset({"p-17"})}
    assert key_constraints('data.a in [x, "y"] and data.a == y and Fill') == {"data.a": frozenset({"y"})}
    assert key_constraints('(data.a == "x" and headers.h == "v") and data.b > 1',
                           keys=["headers.h"]) == {"headers.h": frozenset({"v"})}
    for text in ('data.a == "x" or data.b == "y"', "data.a == 17", 'data.a in ["x", 17]', 'not data.a == "x"',
                 'data.a != "x"', '(data.a == "x") or (data.a == "y")', 'data.l[0] == "x"', "data.a == true",
                 'data.a contains "x"', 'exists(data.a)', '(data.a == "x") and (data.b == "y") or Fill'):
        assert key_constraints(text) == {}, text
