"""diff and schema changes: a type whose fields (or type_version) changed is one "schema:" line,
not a change per field per event; its events are compared in the new schema's terms, so the
real value changes still show (and nothing else: a property test against the same edits
without the schema change); free-form data is compared field by field as before."""
from __future__ import annotations

import io
import json

from click.testing import CliRunner
from hypothesis import given, settings

from evlog import ops
from evlog.cli import cli
from evlog.ops.diff_render import write_diff
from evlog.segments import Log

from .helpers import START
from .test_diff import planted


def write(path, events) -> str:
    """events: (name, data, version or None)."""
    with Log.create(path, "s", start_time_ns=START, fsync="never") as log:
        for i, (name, data, version) in enumerate(events):
            log.append(name, data, "bot", timestamp=START + i, monotonic=i,
                       headers={"type_version": str(version)} if version is not None else None)
    return str(path)


def sold_v1(i: int) -> dict:
    return {"pair": "BTC/USDT", "profit": i / 4, "profit_pct": i / 100, "ts": f"t{i}"}


def sold_v2(i: int) -> dict:
    return {"pair": "BTC/USDT", "pnl": i / 4, "fee": 0.1, "ts": f"t{i}"}


def test_a_thousand_events_under_a_new_schema_are_one_line(tmp_path):
    base = [("PositionSold", sold_v1(i), 1) for i in range(1000)] + [("Tick", {"n": 1}, None)]
    new = [("PositionSold", sold_v2(i), 2) for i in range(1000)] + [("Tick", {"n": 1}, None)]
    new[500] = ("PositionSold", {**sold_v2(500), "pnl": -1.0}, 2)      # one real change
    a, b = write(tmp_path / "a", base), write(tmp_path / "b", new)
    out = io.StringIO()
    summary = write_diff(ops.iter_diff(a, b), out)
    lines = out.getvalue().splitlines()
    assert lines == ["~ #500 -> #500 PositionSold", "    data.pnl: 125.0 -> -1.0",
                     "schema: PositionSold v1 -> v2 (added: fee; removed: profit_pct; renamed: profit -> pnl)",
                     "recordings differ: 1 schema change, 0 only in baseline, 0 only in new, 1 changed, "
                     "0 timing shifts (1000 equal; 1001 vs 1001 events)"]
    assert not summary.equal and summary.changed == 1
    r = CliRunner().invoke(cli, ["diff", a, b, "--format", "json"])
    assert r.exit_code == 1
    doc = json.loads(r.stdout)
    assert doc["summary"]["schema"] == [{"event_name": "PositionSold", "old_version": "1", "new_version": "2",
                                         "added": ["fee"], "removed": ["profit_pct"],
                                         "renamed": [{"old": "profit", "new": "pnl"}]}]


def test_without_versions_and_with_only_a_version(tmp_path):
    a = write(tmp_path / "a", [("E", {"x": 1, "y": 2}, None)] * 3)
    b = write(tmp_path / "b", [("E", {"x": 1, "z": 3}, None)] * 3)
    r = ops.diff(a, b)
    assert [c.describe() for c in r.summary.schema_changes] == ["schema: E (added: z; removed: y)"]
    assert r.differences == [] and not r.equal
    c = write(tmp_path / "c", [("E", {"x": 1, "y": 2}, 2)] * 3)
    r = ops.diff(a, c)
    assert [x.describe() for x in r.summary.schema_changes] == ["schema: E v1 -> v2 (same fields)"]
    assert r.differences == [] and r.summary.matched == 3


def test_free_form_data_is_compared_field_by_field(tmp_path):
    """Events of one name whose fields vary are not a schema: nothing is hidden."""
    a = write(tmp_path / "a", [("E", {"x": 1}, None), ("E", {"x": 2, "note": "n"}, None)])
    b = write(tmp_path / "b", [("E", {"x": 1, "y": 0}, None), ("E", {"x": 2, "note": "n"}, None)])
    r = ops.diff(a, b)
    assert r.summary.schema_changes == []
    assert [[(c.path, c.new) for c in d.changes] for d in r.differences] == [[("data.y", 0)]]


def test_a_filter_limits_the_schema_check_to_its_names(tmp_path):
    a = write(tmp_path / "a", [("E", {"x": 1}, None), ("F", {"x": 1}, None)])
    b = write(tmp_path / "b", [("E", {"y": 1}, None), ("F", {"x": 1}, None)])
    assert ops.diff(a, b, selection=ops.Selection(filter="F")).equal
    assert len(ops.diff(a, b).summary.schema_changes) == 1


@settings(max_examples=60)
@given(plan=planted())
def test_a_schema_change_hides_nothing_else(tmp_path_factory, plan):
    """The same edits with and without renaming a field of every "A" event in the new
    recording: the same differences (kinds, events, changed paths), plus one schema change
    when "A" is on both sides."""
    base, new, *_ = plan
    d = tmp_path_factory.mktemp("sc")
    a = write(d / "a", [(n, data, None) for n, data in base])
    plain = write(d / "b", [(n, data, None) for n, data in new])
    renamed = write(d / "c", [(n, {"seq": data["seq"], "v": data["v"], "ww": data["w"]}, 2) if n == "A"
                              else (n, data, None) for n, data in new])

    def shape(r):
        return [(x.kind, x.baseline.offset if x.baseline else None, x.new.offset if x.new else None,
                 [c.path for c in x.changes]) for x in r.differences]
    want, got = ops.diff(a, plain, max_differences=None), ops.diff(a, renamed, max_differences=None)
    assert shape(got) == shape(want)
    both = any(n == "A" for n, _ in base) and any(n == "A" for n, _ in new)
    assert [c.describe() for c in got.summary.schema_changes] == \
        (["schema: A v1 -> v2 (renamed: w -> ww)"] if both else [])
    assert got.summary.matched == want.summary.matched
