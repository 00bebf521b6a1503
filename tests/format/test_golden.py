"""The golden recordings of every format version read exactly as they were written.

`tests/format/v<N>/<case>/` are small recordings written by the format-N writer (see
make_golden.py) and frozen; `<case>.json` is what a reader must return: records (times,
names, sources, flags, headers, stored bytes, JSON-mode data, typed values), segments,
summary, bounded and filtered reads, the error a damaged or newer-version case raises,
what salvage keeps, and whether verify passes.
"""
from __future__ import annotations

import glob
import json
import os
import shutil

import pytest

from make_golden import check

HERE = os.path.dirname(os.path.abspath(__file__))
CASES = sorted(glob.glob(os.path.join(HERE, "v*", "*.json")))


def _case_id(path: str) -> str:
    return f"{os.path.basename(os.path.dirname(path))}/{os.path.basename(path)[:-5]}"


def test_golden_files_exist():
    versions = {os.path.basename(os.path.dirname(p)) for p in CASES}
    assert {"v1", "v2"} <= versions
    for path in CASES:
        assert os.path.isdir(path[:-5]), path


@pytest.mark.parametrize("expected_path", CASES, ids=_case_id)
def test_golden_recording_reads_as_expected(expected_path, tmp_path):
    with open(expected_path, encoding="utf-8") as f:
        doc = json.load(f)
    copy = str(tmp_path / doc["case"])
    shutil.copytree(expected_path[:-5], copy)   # reading must not need to write, but never risk the originals
    check(copy, doc)


def test_check_catches_a_difference(tmp_path):
    """The comparison can fail: a golden recording read against another case's expectations."""
    with open(os.path.join(HERE, "v1", "typed.json"), encoding="utf-8") as f:
        doc = json.load(f)
    doc["records"][4]["value"]["id"] = {"$uuid": "00000000-0000-0000-0000-000000000000"}
    copy = str(tmp_path / "typed")
    shutil.copytree(os.path.join(HERE, "v1", "typed"), copy)
    with pytest.raises(AssertionError):
        check(copy, doc)


def test_the_same_events_read_the_same_in_both_versions():
    """typed and model hold the same events in v1 and v2: the reads agree record for record."""
    for case in ("typed", "model"):
        docs = []
        for version in ("v1", "v2"):
            with open(os.path.join(HERE, version, f"{case}.json"), encoding="utf-8") as f:
                docs.append(json.load(f))
        assert docs[0]["records"] == docs[1]["records"] and docs[0]["summary"] == docs[1]["summary"]
        assert (docs[0]["format_version"], docs[1]["format_version"]) == (1, 2)


def _read_or_error(log, **filters):
    """The records a read gives, or the error (type and message) it stops with."""
    try:
        return list(log.read(**filters))
    except Exception as exc:  # noqa: BLE001 - compared between the two reads
        return type(exc).__name__, str(exc).split(":")[0]


@pytest.mark.parametrize("expected_path", CASES, ids=_case_id)
def test_golden_filtered_reads_equal_a_plain_read_then_a_filter(expected_path, tmp_path):
    """Every name and source of every golden recording: the pushed-down filter (a sparse read
    of each block) gives the plain read's records, or stops with the same error."""
    from evlog.segments import Log
    with open(expected_path, encoding="utf-8") as f:
        doc = json.load(f)
    if doc["open_error"] is not None:
        return
    copy = str(tmp_path / doc["case"])
    shutil.copytree(expected_path[:-5], copy)
    with Log.open(copy) as log:
        plain = _read_or_error(log)
        names = {r["name"] for r in doc["records"]}
        sources = {r["source"] for r in doc["records"]}
        assert names
        for key, values in (("names", names), ("sources", sources)):
            for value in values:
                got = _read_or_error(log, **{key: value})
                if isinstance(plain, list):
                    assert got == [r for r in plain if getattr(r, key[:-1]) == value], (key, value)
                elif isinstance(got, tuple):
                    assert got == plain, (key, value)
                else:   # the damage lies in a block without this name: the records before it, in order
                    want = [r for r in doc["records"] if r[key[:-1]] == value]
                    assert [r.offset for r in got] == [r["offset"] for r in want][:len(got)]
