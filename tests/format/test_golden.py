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
    assert "v1" in versions
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
