"""A few commands as real processes: the console script, `python -m evlog`, pipes, exit codes."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from ops.helpers import trading

EVLOG = os.path.join(os.path.dirname(sys.executable), "evlog")


def sh(*args, input=None, **kw):
    return subprocess.run([str(a) for a in args], input=input, capture_output=True, timeout=120, **kw)


@pytest.fixture(scope="module")
def rec(tmp_path_factory):
    return trading(3000, str(tmp_path_factory.mktemp("sp") / "rec"), session="bot")


def test_python_m_evlog_and_console_script(rec):
    a = sh(sys.executable, "-m", "evlog", "info", rec, "--json")
    b = sh(EVLOG, "info", rec, "--json")
    assert a.returncode == b.returncode == 0
    assert json.loads(a.stdout) == json.loads(b.stdout)
    assert json.loads(a.stdout)["total_events"] == 3000


def test_cat_into_a_closed_pipe_is_quiet(rec):
    p = subprocess.run(f"'{EVLOG}' cat '{rec}' | head -n 1", shell=True, capture_output=True, timeout=120)
    assert json.loads(p.stdout)["offset"] == 0
    assert b"Traceback" not in p.stderr and p.stderr == b""


def test_errors_are_one_line_without_traceback(tmp_path):
    p = sh(EVLOG, "cat", tmp_path / "missing")
    assert p.returncode == 2 and p.stdout == b""
    assert p.stderr.decode().strip().count("\n") == 0 and b"Traceback" not in p.stderr


def test_diff_exit_codes(rec, tmp_path):
    assert sh(EVLOG, "diff", rec, rec).returncode == 0
    sh(EVLOG, "slice", rec, "-o", tmp_path / "s", "--offsets", ":10")
    assert sh(EVLOG, "diff", rec, tmp_path / "s").returncode == 1
    assert sh(EVLOG, "diff", rec, tmp_path / "nope").returncode == 2


def test_record_from_a_pipe(tmp_path):
    lines = b"".join(b'{"event_name": "E", "event_data": {"i": %d}}\n' % i for i in range(50))
    p = sh(EVLOG, "record", "-o", tmp_path / "r", input=lines)
    assert p.returncode == 0 and b"recorded 50 events" in p.stderr
    # progress bars never reach a pipe
    p = sh(EVLOG, "export", tmp_path / "r", "-o", tmp_path / "x.jsonl")
    assert p.stderr.decode().strip() == f"50 events written to {tmp_path / 'x.jsonl'}"


@pytest.mark.timeout(120)
def test_tail_follow_prints_events_as_they_are_written(tmp_path):
    from evlog.segments import Log
    path = str(tmp_path / "live")
    log = Log.create(path, "live", fsync="never")
    log.append("Before", 1)
    log.flush()
    proc = subprocess.Popen([EVLOG, "tail", path, "-f", "--jsonl", "--poll", "0.02"], stdout=subprocess.PIPE)
    try:
        first = json.loads(proc.stdout.readline())
        log.append("After", 2)
        log.flush()
        second = json.loads(proc.stdout.readline())
    finally:
        proc.terminate()
        proc.wait(30)
        log.close()
    assert (first["event_name"], second["event_name"]) == ("Before", "After")
