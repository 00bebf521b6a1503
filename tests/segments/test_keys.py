"""Key indexes: lookups equal a filtering scan, in offset order, through segment rolls,
reopening, torn tails and recovery, missing or damaged key files, and reindex --key."""
from __future__ import annotations

import os
import uuid
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from evlog.filters import _text
from evlog.segments import Log, reindex
from evlog.segments.keyindex import key_text, keys_filename, parse_key_path
from evlog.segments.segment import list_segments

KEYS = ["data.pid", "headers.cid", "data.nested.id", "source"]
PIDS = ["p-0", "p-1", "p-2", "p-3", 7, "7", None]

record = st.fixed_dictionaries({
    "pid": st.sampled_from(PIDS),
    "cid": st.sampled_from([None, "c-0", "c-1"]),
    "nested": st.sampled_from([None, "n-0", 3]),
    "source": st.sampled_from(["a", "b"]),
    "roll": st.integers(0, 15),
})
SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _append(log: Log, recs: list[dict]) -> None:
    for r in recs:
        data: dict = {"x": 1}
        if r["pid"] is not None:
            data["pid"] = r["pid"]
        if r["nested"] is not None:
            data["nested"] = {"id": r["nested"]}
        log.append("E", data, r["source"], headers={"cid": r["cid"]} if r["cid"] else None)
        if r["roll"] == 0:
            log.flush(sync=False)
            log.roll()


def _value(rec, path: str):
    key = parse_key_path(path)
    if key.root == "source":
        return rec.source
    if key.root == "headers":
        return rec.headers.get(key.fields[0])
    value = rec.data
    for f in key.fields:
        value = value.get(f) if isinstance(value, dict) else None
    return key_text(value)


def _check(log: Log) -> None:
    everything = list(log.read())
    for path in KEYS:
        for values in (["p-1"], ["p-0", "7"], ["c-1"], ["n-0", "3"], ["a"], ["nothing"]):
            got = [r.offset for r in log.lookup(path, values)]
            assert got == [r.offset for r in everything if _value(r, path) in values], (path, values)
            back = [r.offset for r in log.read(key=(path, values), reverse=True)]
            assert back == got[::-1]
            raw = [r.offset for r in log.lookup(path, values, raw=True)]
            assert raw == got


@SETTINGS
@given(first=st.lists(record, max_size=60), second=st.lists(record, max_size=30))
def test_lookup_equals_scan(tmp_path_factory, first, second):
    path = str(tmp_path_factory.mktemp("k") / "rec")
    with Log.create(path, keys=KEYS, block_max_records=4, fsync="never") as log:
        _append(log, first)
        _check(log)   # the writer's own reads: key files of sealed segments, the tail decoded
    with Log.open(path) as log:
        _check(log)
    with Log.open(path, "a", block_max_records=3, fsync="never") as log:
        _append(log, second)
        _check(log)
    with Log.open(path) as log:
        _check(log)
    bases = list_segments(path)
    assert all(os.path.exists(os.path.join(path, keys_filename(b))) for b in bases)


@SETTINGS
@given(recs=st.lists(record, min_size=1, max_size=40), cut=st.integers(1, 60))
def test_torn_tail_then_recovery(tmp_path_factory, recs, cut):
    path = str(tmp_path_factory.mktemp("k") / "rec")
    with Log.create(path, keys=KEYS, block_max_records=4, fsync="never") as log:
        _append(log, recs)
    last = os.path.join(path, f"{list_segments(path)[-1]:020d}.seg")
    with open(last, "ab") as f:   # an unfinished last write
        f.write(b"EVBK" + bytes(cut))
    with Log.open(path) as log:
        _check(log)
    with Log.open(path, "a", fsync="never") as log:
        _append(log, recs[:5])
        _check(log)
    with Log.open(path) as log:
        _check(log)


def test_missing_and_damaged_key_files_are_rebuilt(tmp_path):
    path = str(tmp_path / "rec")
    recs = [{"pid": PIDS[i % 7], "cid": "c-1" if i % 3 else None, "nested": None, "source": "a",
             "roll": 0 if i % 10 == 9 else 1} for i in range(45)]
    with Log.create(path, keys=KEYS, block_max_records=4) as log:
        _append(log, recs)
    bases = list_segments(path)
    assert len(bases) >= 4
    os.remove(os.path.join(path, keys_filename(bases[0])))
    with open(os.path.join(path, keys_filename(bases[1])), "r+b") as f:
        f.seek(40)
        f.write(b"\xff\xff")
    with Log.open(path) as log:   # a reader decodes what no usable key file covers
        _check(log)
    with Log.open(path, "a") as log:
        rebuilt = log.recovery_report.rebuilt_indexes
        assert keys_filename(bases[0]) in rebuilt and keys_filename(bases[1]) in rebuilt
        _check(log)


def test_no_keys_no_key_files_and_lookup_scans(tmp_path):
    path = str(tmp_path / "rec")
    with Log.create(path, block_max_records=4) as log:
        log.append_batch([("E", {"pid": f"p-{i % 3}"}, "s") for i in range(20)])
        log.roll()
        log.append_batch([("E", {"pid": f"p-{i % 3}"}, "s") for i in range(20)])
        assert log.keys == []
        assert [r.offset for r in log.lookup("data.pid", ["p-1"])] == [i for i in range(40) if i % 20 % 3 == 1]
    assert not [n for n in os.listdir(path) if n.endswith(".keys")]
    with open(os.path.join(path, "manifest.json")) as f:
        assert '"keys"' not in f.read()


def test_reindex_adds_a_key(tmp_path):
    path = str(tmp_path / "rec")
    with Log.create(path, keys=["source"], block_max_records=4) as log:
        for i in range(30):
            log.append("E", {"order_id": f"o-{i % 4}"}, "s")
            if i % 11 == 10:
                log.roll()
    rewritten = reindex(path, keys=["data.order_id"])
    assert any(n.endswith(".keys") for n in rewritten)
    with Log.open(path) as log:
        assert log.keys == ["source", "data.order_id"]
        assert [r.offset for r in log.lookup("data.order_id", ["o-2"])] == [i for i in range(30) if i % 4 == 2]
        # served by the index: every segment's key file names the new path
        views = log._read().segments
        list(log.lookup("data.order_id", ["o-2"]))
        assert all(v.keys is not None and v.keys.file is not None and v.keys.file.paths == log.keys
                   for v in views)
    with pytest.raises(ValueError, match="bad key path"):
        reindex(path, keys=["order_id"])


def test_bad_key_paths_are_refused(tmp_path):
    for bad in ("data", "order_id", "headers.a.b", "data..x", "data.a b"):
        with pytest.raises(ValueError, match="bad key path"):
            Log.create(str(tmp_path / "r"), keys=[bad])


values = st.one_of(st.text(max_size=5), st.integers(), st.floats(allow_nan=True), st.booleans(), st.none(),
                   st.decimals(allow_nan=False, allow_infinity=False), st.uuids(), st.datetimes(), st.dates(),
                   st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=2), st.integers(), max_size=2))


@given(values)
def test_key_text_is_the_filters_text(value):
    assert key_text(value) == _text(value)


def test_key_text_examples():
    assert key_text(17) == "17" and key_text(Decimal("1.50")) == "1.50" and key_text(True) is None
    u = uuid.uuid4()
    assert key_text(u) == str(u)


def test_cli_reindex_key(tmp_path):
    from click.testing import CliRunner

    from evlog.cli import cli as main
    path = str(tmp_path / "rec")
    with Log.create(path, block_max_records=8) as log:
        log.append_batch([("E", {"order_id": f"o-{i % 5}"}, "s") for i in range(50)])
    result = CliRunner().invoke(main, ["reindex", path, "--key", "data.order_id"])
    assert result.exit_code == 0, result.output
    with Log.open(path) as log:
        assert log.keys == ["data.order_id"]
        assert [r.offset for r in log.lookup("data.order_id", ["o-3"])] == list(range(3, 50, 5))
    result = CliRunner().invoke(main, ["reindex", path, "--key", "order_id"])
    assert result.exit_code == 2 and "bad key path" in result.output and "Traceback" not in result.output


def test_reopen_an_empty_last_segment(tmp_path):
    """The last segment's only block torn away: the writer goes on in that segment (its base
    is not 0) and indexes what it appends there."""
    path = str(tmp_path / "rec")
    with Log.create(path, keys=["data.pid"], block_max_records=4) as log:
        log.append_batch([("E", {"pid": f"p-{i % 3}"}, "s") for i in range(10)])
        log.flush()
        log.roll()
        log.append_batch([("E", {"pid": "p-9"}, "s") for _ in range(3)])
    last = list_segments(path)[-1]
    assert last == 10
    seg = os.path.join(path, f"{last:020d}.seg")
    with open(seg, "r+b") as f:
        f.truncate(32 + 10)   # the header and a few bytes of the torn block
    os.remove(os.path.join(path, f"{last:020d}.idx"))
    with Log.open(path, "a") as log:
        assert log.recovery_report.truncated
        log.append_batch([("E", {"pid": "p-1"}, "s") for _ in range(5)])
    with Log.open(path) as log:
        assert [r.offset for r in log.lookup("data.pid", ["p-1"])] == [1, 4, 7, 10, 11, 12, 13, 14]
        assert list(log.lookup("data.pid", ["p-9"])) == []


def test_recover_keeps_the_key_paths(tmp_path):
    from evlog import ops
    path = str(tmp_path / "rec")
    with Log.create(path, keys=["data.pid"], block_max_records=4) as log:
        log.append_batch([("E", {"pid": f"p-{i % 3}"}, "s") for i in range(20)])
    result = ops.recover(path, str(tmp_path / "fixed"))
    with Log.open(result.path) as log:
        assert log.keys == ["data.pid"]
        assert [r.offset for r in log.lookup("data.pid", ["p-2"])] == list(range(2, 20, 3))
    assert any(n.endswith(".keys") for n in os.listdir(result.path))


def test_verify_names_key_file_problems_and_reindex_repairs_them(tmp_path):
    from evlog.segments import verify
    path = str(tmp_path / "rec")
    with Log.create(path, keys=["data.pid"], block_max_records=4) as log:
        log.append_batch([("E", {"pid": f"p-{i % 3}"}, "s") for i in range(12)])
        log.flush()
        log.roll()
        log.append_batch([("E", {"pid": "p-1"}, "s") for _ in range(4)])
    assert verify(path).ok
    first = os.path.join(path, keys_filename(0))
    with open(first, "r+b") as f:
        f.seek(44)
        f.write(b"\x00\x01")
    report = verify(path)
    assert not report.ok and report.repair == "reindex"
    assert any(p.segment == keys_filename(0) for p in report.problems)
    reindex(path)
    assert verify(path).ok
    os.remove(first)
    assert [p.message for p in verify(path).problems] == ["key file is missing"]


def test_keyed_recordings_write_smaller_blocks_by_default(tmp_path):
    with Log.create(str(tmp_path / "a"), keys=["data.pid"]) as log:
        assert log._writer.options.block_max_bytes == 64 << 10
    with Log.open(str(tmp_path / "a"), "a") as log:
        assert log._writer.options.block_max_bytes == 64 << 10
    with Log.create(str(tmp_path / "b"), keys=["data.pid"], block_max_bytes=1 << 20) as log:
        assert log._writer.options.block_max_bytes == 1 << 20
    with Log.create(str(tmp_path / "c")) as log:
        assert log._writer.options.block_max_bytes == 384 << 10
