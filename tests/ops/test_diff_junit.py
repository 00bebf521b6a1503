"""evlog diff --format junit: well-formed JUnit XML, one test case per event type, failures
carrying the readable diff of their type, counts that add up, text XML cannot hold replaced."""
from __future__ import annotations

import xml.etree.ElementTree as ET

from click.testing import CliRunner

from evlog.cli import cli

from .helpers import make_recording


def _check_junit(text: str) -> ET.Element:
    """The structure of the JUnit schema CI systems read (attributes, nesting, counts)."""
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n')
    root = ET.fromstring(text.encode("utf-8"))
    assert root.tag == "testsuites" and set(root.attrib) == {"name", "tests", "failures", "errors", "time"}
    (suite,) = root
    assert suite.tag == "testsuite"
    assert set(suite.attrib) == {"name", "tests", "failures", "errors", "skipped", "time"}
    cases = suite.findall("testcase")
    assert [c.tag for c in suite] == ["testcase"] * len(cases) + ["system-out"]
    failed = 0
    for case in cases:
        assert set(case.attrib) == {"classname", "name", "time"}
        children = list(case)
        assert len(children) <= 1
        if children:
            assert children[0].tag == "failure" and set(children[0].attrib) == {"message", "type"}
            failed += 1
    assert int(suite.get("tests")) == len(cases) == int(root.get("tests"))
    assert int(suite.get("failures")) == failed == int(root.get("failures"))
    float(suite.get("time"))
    return suite


def test_one_case_per_event_type_failing_with_its_diff(tmp_path):
    a = make_recording(str(tmp_path / "a"), [("Sold", {"p": 1}, "s", 0), ("Tick", {"n": 1}, "s", 1),
                                             ("Failed", {"why": "x"}, "s", 2), ("Sold", {"p": 2}, "s", 3)])
    b = make_recording(str(tmp_path / "b"), [("Sold", {"p": 1}, "s", 0), ("Tick", {"n": 1}, "s", 1),
                                             ("Sold", {"p": 3}, "s", 3), ("New\x01", {"c": "\x00bad"}, "s", 4)])
    r = CliRunner().invoke(cli, ["diff", a, b, "--format", "junit"])
    assert r.exit_code == 1, r.output
    suite = _check_junit(r.stdout)
    cases = {c.get("name"): c for c in suite.findall("testcase")}
    assert sorted(cases) == ["Failed", "New\ufffd", "Sold", "Tick"]
    assert cases["Tick"].find("failure") is None
    sold = cases["Sold"].find("failure")
    assert sold.get("message") == "1 changed"
    assert sold.text.splitlines() == ["~ #3 -> #2 Sold", "    data.p: 2 -> 3"]
    assert cases["Failed"].find("failure").get("message") == "1 only in baseline"
    assert "only in new" in cases["New\ufffd"].find("failure").text
    assert suite.find("system-out").text.startswith("recordings differ: 1 only in baseline, 1 only in new, 1 changed")


def test_equal_recordings_pass_and_max_differences_is_counted(tmp_path):
    events = [("E", {"i": i, "k": 0}, "s", i) for i in range(5)]
    a = make_recording(str(tmp_path / "a"), events)
    r = CliRunner().invoke(cli, ["diff", a, a, "--format", "junit"])
    assert r.exit_code == 0
    suite = _check_junit(r.stdout)
    assert [c.get("name") for c in suite] == ["E", None] and suite.get("failures") == "0"
    b = make_recording(str(tmp_path / "b"), [("E", {"i": -i, "k": 0}, "s", i) for i in range(5)])
    r = CliRunner().invoke(cli, ["diff", a, b, "--format", "junit", "--max-differences", "2"])
    failure = _check_junit(r.stdout).find("testcase/failure")
    assert failure.get("message") == "4 changed"        # #0 is equal (0 == -0)
    assert failure.text.splitlines()[-1] == "... 2 more differences not shown (--max-differences)"


def test_a_schema_change_fails_its_type(tmp_path):
    from .test_diff_schema import write
    a = write(tmp_path / "a", [("E", {"x": 1}, None)])
    b = write(tmp_path / "b", [("E", {"y": 2}, 2)])
    r = CliRunner().invoke(cli, ["diff", a, b, "--format", "junit"])
    failure = _check_junit(r.stdout).find("testcase/failure")
    assert failure.get("message") == "schema changed"
    assert failure.text == "schema: E v1 -> v2 (added: y; removed: x)\n"
