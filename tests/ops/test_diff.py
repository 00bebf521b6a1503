"""diff: A vs A is empty; planted insertions, deletions and changes are all found, and
nothing else; ignore-field globs; timing; the windowed alignment on long recordings."""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from evlog import ops
from evlog.ops.align import myers

from .helpers import event_lists, make_recording, trading


@settings(max_examples=40)
@given(events=event_lists(max_size=40))
def test_diff_of_a_recording_with_itself_is_empty(tmp_path_factory, events):
    d = tmp_path_factory.mktemp("same")
    a = make_recording(str(d / "a"), events)
    b = make_recording(str(d / "b"), events)
    r = ops.diff(a, b, time_tolerance_ns=0)
    assert r.equal and r.differences == [] and r.summary.matched == len(events)


@st.composite
def planted(draw):
    """A baseline of unique events and a copy with planted edits; returns both and the plan."""
    n = draw(st.integers(0, 60))
    names = ["A", "B", "C"]
    base = [(draw(st.sampled_from(names)), {"seq": i, "v": draw(st.integers(0, 3)), "w": "x"}) for i in range(n)]
    new, deleted, inserted, changed = [], set(), set(), set()
    ins_id = 0
    for i, (name, data) in enumerate(base):
        while draw(st.integers(0, 9)) == 0:          # insert before this one
            ins_id += 1
            # inserted events have their own names: a deletion and an insertion of the same name
            # at the same place is a replacement, reported as a change (see the next test)
            ev = (draw(st.sampled_from(["I1", "I2"])), {"seq": -ins_id, "v": f"ins{ins_id}", "w": f"ins{ins_id}"})
            new.append(ev)
            inserted.add(-ins_id)
        op = draw(st.sampled_from(["keep"] * 6 + ["delete", "change"]))
        if op == "delete":
            deleted.add(i)
        elif op == "change":
            new.append((name, {**data, "v": data["v"] + 10}))
            changed.add(i)
        else:
            new.append((name, data))
    if draw(st.booleans()):
        ins_id += 1
        new.append(("I1", {"seq": -ins_id, "v": "end", "w": "end"}))
        inserted.add(-ins_id)
    return base, new, deleted, inserted, changed


@settings(max_examples=100)
@given(plan=planted(), window=st.sampled_from([8, 16, 4096]))
def test_diff_finds_exactly_the_planted_edits(tmp_path_factory, plan, window):
    base, new, deleted, inserted, changed = plan
    d = tmp_path_factory.mktemp("pl")
    a = make_recording(str(d / "a"), [(n, data, "s", i) for i, (n, data) in enumerate(base)])
    b = make_recording(str(d / "b"), [(n, data, "s", i) for i, (n, data) in enumerate(new)])
    r = ops.diff(a, b, window=window, max_differences=None)
    got_del = {x.baseline.data["seq"] for x in r.differences if x.kind == "deleted"}
    got_ins = {x.new.data["seq"] for x in r.differences if x.kind == "inserted"}
    got_chg = {x.baseline.data["seq"] for x in r.differences if x.kind == "changed"}
    assert (got_del, got_ins, got_chg) == (deleted, inserted, changed)
    assert all(x.new.data["seq"] == x.baseline.data["seq"] for x in r.differences if x.kind == "changed")
    assert all([c.path for c in x.changes] == ["data.v"] for x in r.differences if x.kind == "changed")
    assert r.summary.matched == len(base) - len(deleted) - len(changed)
    assert r.equal == (not deleted and not inserted and not changed)


def test_a_replacement_in_place_is_a_change(tmp_path):
    a = make_recording(str(tmp_path / "a"), [("E", {"v": 1}, "s", 0), ("K", 0, "s", 0), ("E", {"x": 1, "y": 2}, "s", 1),
                                             ("E", {"x": 5, "y": 6}, "s", 1), ("K", 1, "s", 1)])
    b = make_recording(str(tmp_path / "b"), [("E", {"v": 2}, "s", 0), ("K", 0, "s", 0), ("E", {"x": 1, "y": 3}, "s", 1),
                                             ("K", 1, "s", 1)])
    r = ops.diff(a, b)
    assert [(d.kind, (d.baseline or d.new).offset) for d in r.differences] == \
        [("changed", 0), ("changed", 2), ("deleted", 3)]
    assert [c.path for c in r.differences[1].changes] == ["data.y"]


def test_ignore_fields_with_globs(tmp_path):
    a = make_recording(str(tmp_path / "a"), [("E", {"id": 1, "at": "t1", "x": {"ts": 1, "v": 1}}, "s", 0)])
    b = make_recording(str(tmp_path / "b"), [("E", {"id": 2, "at": "t2", "x": {"ts": 9, "v": 1}}, "s", 0)])
    assert not ops.diff(a, b).equal
    assert ops.diff(a, b, ignore_fields=["id", "data.at", "*.ts"]).equal
    r = ops.diff(a, b, ignore_fields=["id", "at"])
    assert [c.path for c in r.differences[0].changes] == ["data.x.ts"]


def test_timing_shifts_beyond_the_tolerance(tmp_path):
    a = make_recording(str(tmp_path / "a"), [("E", i, "s", i * 1_000_000_000) for i in range(5)])
    b = make_recording(str(tmp_path / "b"), [("E", i, "s", i * 1_000_000_000 + (300_000_000 if i == 3 else 0))
                                             for i in range(5)])
    assert ops.diff(a, b).equal                                   # timing is compared only when asked
    r = ops.diff(a, b, time_tolerance_ns=100_000_000)
    assert [(x.kind, x.baseline.offset, x.time_shift_ns) for x in r.differences] == [("timing", 3, 300_000_000)]
    assert ops.diff(a, b, time_tolerance_ns=500_000_000).equal


def test_source_change_is_a_change(tmp_path):
    a = make_recording(str(tmp_path / "a"), [("E", 1, "s1", 0)])
    b = make_recording(str(tmp_path / "b"), [("E", 1, "s2", 0)])
    r = ops.diff(a, b)
    assert r.differences[0].kind == "changed" and r.differences[0].changes[0].path == "source"
    assert ops.diff(a, b, ignore_fields=["source"]).equal


def test_long_recordings_with_scattered_edits(tmp_path):
    base = trading(3000, str(tmp_path / "a"))
    from evlog.recording import open_recording
    with open_recording(base) as rec:
        events = [(r.name, r.data, r.source, r.monotonic) for r in rec.read()]
    edited = list(events)
    del edited[2500]
    edited.insert(1200, ("Injected", {"k": 1}, "x", events[1200][3]))
    name, data, src, mono = edited[100]
    edited[100] = (name, {**data, "cycle_number": -1} if "cycle_number" in data else {**data, "cycle_id": -1}, src, mono)
    new = make_recording(str(tmp_path / "b"), edited)
    r = ops.diff(base, new, window=64)
    kinds = sorted((x.kind, (x.baseline or x.new).offset) for x in r.differences)
    assert kinds == [("changed", 100), ("deleted", 2500), ("inserted", 1200)]


def test_myers_is_a_longest_common_subsequence():
    a, b = list("ABCABBA"), list("CBABAC")
    pairs = myers(a, b, 100)
    assert len(pairs) == 4 and all(a[i] == b[j] for i, j in pairs)
    assert myers(list("AAAA"), list("BBBB"), 2) is None   # beyond max_d


def test_same_data_in_another_key_order_is_equal(tmp_path):
    import json
    a = make_recording(str(tmp_path / "a"), [("E", {"a": 1, "b": {"c": 2, "d": 3}}, "s", 0), ("F", 1, "s", 1)])
    doc = {"session_name": "x", "start_time": "2025-10-09T08:53:20+00:00", "events": [
        {"timestamp_offset_ms": 0, "event_name": "E", "event_data": {"b": {"d": 3, "c": 2}, "a": 1}, "source": "s"},
        {"timestamp_offset_ms": 0, "event_name": "F", "event_data": 1, "source": "s"}]}
    (tmp_path / "b.json").write_text(json.dumps(doc))
    r = ops.diff(a, str(tmp_path / "b.json"))
    assert r.equal and r.summary.matched == 2


def test_result_to_dict_is_json(tmp_path):
    import json
    a = make_recording(str(tmp_path / "a"), [("E", {"v": 1}, "s", 0), ("F", 1, "s", 1)])
    b = make_recording(str(tmp_path / "b"), [("E", {"v": 2}, "s", 0)])
    d = json.loads(json.dumps(ops.diff(a, b, max_differences=1).to_dict()))
    assert d["summary"]["changed"] == 1 and d["summary"]["deleted"] == 1
    assert len(d["differences"]) == 1 and d["truncated"] is True
    assert d["differences"][0]["changes"] == [{"path": "data.v", "old": 1, "new": 2}]
