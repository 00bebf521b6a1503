"""diff compares per-event headers: a changed, added or removed header is a change
(`headers.KEY`), `--ignore-field headers.KEY` / `headers` leave them out, and a property test
plants header edits into a copy of a recording and finds exactly those."""
from __future__ import annotations

import io
import json

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from evlog import ops
from evlog.cli import cli
from evlog.ops.diff_render import write_diff

from .helpers import make_recording

BASE = [("A", {"i": 0}, "s", 0, {"traceparent": "00-a-b-01", "correlation_id": "c-1"}),
        ("B", {"i": 1}, "s", 10, {}),
        ("A", {"i": 2}, "s", 20, {"correlation_id": "c-2"})]


def _pair(tmp_path, new_headers: list[dict]) -> tuple[str, str]:
    a = make_recording(str(tmp_path / "a"), BASE)
    b = make_recording(str(tmp_path / "b"), [e[:4] + (h,) for e, h in zip(BASE, new_headers)])
    return a, b


def test_a_header_change_is_a_difference(tmp_path) -> None:
    a, b = _pair(tmp_path, [{"traceparent": "00-z-b-01", "correlation_id": "c-1"}, {"new": "x"}, {}])
    r = ops.diff(a, b)
    assert not r.equal and r.summary.changed == 3 and r.summary.matched == 0
    changes = [[c.to_dict() for c in d.changes] for d in r.differences]
    assert changes == [[{"path": "headers.traceparent", "old": "00-a-b-01", "new": "00-z-b-01"}],
                       [{"path": "headers.new", "new": "x"}],
                       [{"path": "headers.correlation_id", "old": "c-2"}]]
    assert r.differences[0].to_dict()["baseline"]["headers"]["traceparent"] == "00-a-b-01"
    assert "headers" not in r.differences[1].to_dict()["baseline"]
    text = io.StringIO()
    write_diff(ops.iter_diff(a, b), text)
    assert '    headers.traceparent: "00-a-b-01" -> "00-z-b-01"' in text.getvalue()
    assert '    headers.new: (absent) -> "x"' in text.getvalue()


@pytest.mark.parametrize("ignore, equal", [
    (["headers.traceparent"], False), (["headers.traceparent", "headers.new", "headers.correlation_id"], True),
    (["headers"], True), (["headers.*"], True), (["*"], False), (["traceparent"], False),
])
def test_ignore_field_leaves_headers_out(tmp_path, ignore, equal) -> None:
    a, b = _pair(tmp_path, [{"traceparent": "00-z-b-01", "correlation_id": "c-1"}, {"new": "x"}, {}])
    r = ops.diff(a, b, ignore_fields=ignore)
    assert r.equal is equal
    if ignore == ["headers.traceparent"]:
        assert r.summary.changed == 2 and r.summary.matched == 1


def test_only_the_ignored_header_is_left_out(tmp_path) -> None:
    a, b = _pair(tmp_path, [{"traceparent": "00-z-b-01", "correlation_id": "c-9"}, {}, {"correlation_id": "c-2"}])
    r = ops.diff(a, b, ignore_fields=["headers.traceparent"])
    assert [[c.path for c in d.changes] for d in r.differences] == [["headers.correlation_id"]]


def test_headers_in_another_key_order_are_equal(tmp_path) -> None:
    a, b = _pair(tmp_path, [{"correlation_id": "c-1", "traceparent": "00-a-b-01"}, {}, {"correlation_id": "c-2"}])
    assert ops.diff(a, b).equal


def test_a_data_field_named_headers_is_ignored_through_data(tmp_path) -> None:
    a = make_recording(str(tmp_path / "a"), [("A", {"headers": {"x": 1}, "k": 1}, "s", 0)])
    b = make_recording(str(tmp_path / "b"), [("A", {"headers": {"x": 2}, "k": 1}, "s", 0)])
    assert not ops.diff(a, b, ignore_fields=["headers.x"]).equal
    assert ops.diff(a, b, ignore_fields=["data.headers.x"]).equal


def test_cli_diff_status_and_ignore_field(tmp_path) -> None:
    a, b = _pair(tmp_path, [{"traceparent": "00-z-b-01", "correlation_id": "c-1"}, {}, {"correlation_id": "c-2"}])
    runner = CliRunner()
    r = runner.invoke(cli, ["diff", a, b])
    assert r.exit_code == 1 and "headers.traceparent" in r.stdout
    assert runner.invoke(cli, ["diff", a, b, "--ignore-field", "headers.traceparent"]).exit_code == 0
    doc = json.loads(runner.invoke(cli, ["diff", a, b, "--format", "json"]).stdout)
    assert doc["differences"][0]["changes"][0]["path"] == "headers.traceparent"


values = st.sampled_from(["c-1", "c-2", "x"])
header_maps = st.dictionaries(st.sampled_from(["correlation_id", "traceparent", "k"]), values, max_size=3)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(header_maps, header_maps), max_size=30), st.booleans())
def test_planted_header_edits_are_found_and_nothing_else(tmp_path_factory, pairs, ignore_k) -> None:
    d = tmp_path_factory.mktemp("dh")
    a = make_recording(str(d / "a"), [("E", {"i": i}, "s", i, h) for i, (h, _) in enumerate(pairs)])
    b = make_recording(str(d / "b"), [("E", {"i": i}, "s", i, h) for i, (_, h) in enumerate(pairs)])

    def kept(h: dict) -> dict:
        return {k: v for k, v in h.items() if not (ignore_k and k == "k")}
    r = ops.diff(a, b, ignore_fields=["headers.k"] if ignore_k else [])
    want = {i for i, (x, y) in enumerate(pairs) if kept(x) != kept(y)}
    assert {dd.baseline.offset for dd in r.differences} == want
    assert r.summary.changed == len(want) and r.summary.matched == len(pairs) - len(want)
    for dd in r.differences:
        x, y = (kept(h) for h in pairs[dd.baseline.offset])
        assert {c.path for c in dd.changes} == {f"headers.{k}" for k in x.keys() | y.keys() if x.get(k) != y.get(k)}
