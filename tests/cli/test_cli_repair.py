"""verify's advice per kind of problem, and a reindex that never makes a recording worse.

* a stale or missing index: verify says `evlog reindex`, which repairs it;
* a damaged block: verify says `evlog recover`; reindex refuses in one line (exit 2), says
  to run `evlog recover`, and leaves every file as it was, so info, tail and cat still work;
* a torn tail: verify is OK and says opening for append cuts it off.
"""
from __future__ import annotations

import errno
import os
import random
import subprocess
import sys

import pytest
from click.testing import CliRunner

from evlog.cli import cli
from evlog.segments import FileSystem, Log, reindex
from evlog.segments.segment import index_filename, list_segments, segment_filename

EVLOG = os.path.join(os.path.dirname(sys.executable), "evlog")
EVENTS = 600


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def build(path: str) -> str:
    """A closed recording of several segments, every one indexed."""
    with Log.create(path, "repair", fsync="never", segment_max_bytes=4096, block_max_records=20) as log:
        for i in range(EVENTS):
            log.append(f"E{i % 3}", {"i": i, "pad": random.Random(i).randbytes(8).hex()}, "src")
    assert len(list_segments(path)) >= 4
    return path


def damage_first_segment(path: str) -> None:
    """Flip a byte in the payload of the second block of the first segment."""
    with Log.open(path) as log:
        seg, entry = log.index_entries()[1]
    with open(os.path.join(path, seg), "r+b") as f:
        f.seek(entry.position + entry.frame_len - 5)
        b = f.read(1)
        f.seek(entry.position + entry.frame_len - 5)
        f.write(bytes([b[0] ^ 0x40]))


def snapshot(path: str) -> dict[str, bytes]:
    out = {}
    for name in sorted(os.listdir(path)):
        if name != ".lock":
            with open(os.path.join(path, name), "rb") as f:
                out[name] = f.read()
    return out


def views(path: str) -> dict[str, str]:
    """What the read-only commands print: info, tail, and cat past the damaged segment."""
    later = list_segments(path)[1]
    out = {}
    for args in (["info", path], ["tail", path, "-n", "7"], ["cat", path, "--offsets", f"{later}:{later + 50}"]):
        r = run(*args)
        assert r.exit_code == 0, (args, r.output)
        out[args[0]] = r.stdout
    return out


@pytest.fixture
def rec(tmp_path):
    return build(str(tmp_path / "rec"))


def test_damaged_block_reindex_changes_nothing_and_says_recover(rec):
    damage_first_segment(rec)
    before_files = snapshot(rec)
    before = views(rec)
    assert len(before["tail"].splitlines()) == 7 and len(before["cat"].splitlines()) == 50
    r = run("verify", rec)
    assert r.exit_code == 1
    assert "damaged:" in r.stdout and "run `evlog recover`" in r.stdout and "reindex`)" not in r.stdout
    r = run("reindex", rec)
    assert r.exit_code == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "evlog recover" in lines[0] and "nothing was changed" in lines[0]
    assert snapshot(rec) == before_files   # not one index deleted or rewritten
    assert views(rec) == before            # info, tail and cat work as before
    r = run("recover", rec, "-o", f"{rec}.fixed")
    assert r.exit_code == 0
    assert run("verify", f"{rec}.fixed").exit_code == 0


@pytest.mark.parametrize("how", ["missing", "stale", "garbled"])
def test_index_problems_say_reindex_and_reindex_repairs_them(rec, how):
    before = views(rec)
    idx = os.path.join(rec, index_filename(list_segments(rec)[1]))
    if how == "missing":
        os.remove(idx)
    elif how == "stale":   # the index of another segment, naming the wrong base
        os.replace(os.path.join(rec, index_filename(list_segments(rec)[2])), idx)
    else:
        with open(idx, "r+b") as f:
            f.seek(50)
            f.write(b"\xff\xff")
    r = run("verify", rec)
    assert r.exit_code == 1 and "run `evlog reindex`" in r.stdout and "evlog recover" not in r.stdout
    r = run("reindex", rec)
    assert r.exit_code == 0 and "rewrote" in r.stderr
    r = run("verify", rec)
    assert r.exit_code == 0 and "OK" in r.stdout and "advice" not in r.stdout
    assert views(rec) == before


def test_torn_tail_is_ok_and_append_repairs_it(rec):
    seg = os.path.join(rec, segment_filename(list_segments(rec)[-1]))
    with open(seg, "ab") as f:
        f.write(b"EVBK" + bytes(40))
    r = run("verify", rec)
    assert r.exit_code == 0 and "unfinished write" in r.stdout and "opening the recording for append" in r.stdout
    assert run("reindex", rec).exit_code == 0   # indexes the blocks before the torn tail, leaves it
    with Log.open(rec, "a") as log:
        assert log.recovery_report.truncated and log.end_offset == EVENTS
    r = run("verify", rec)
    assert r.exit_code == 0 and "unfinished" not in r.stdout and "advice" not in r.stdout


def test_reindex_replaces_each_index_only_once_written(rec):
    """A failure while writing the new indexes leaves every index whole (old or new)."""
    before = views(rec)
    names = [index_filename(b) for b in list_segments(rec)]

    class FailingFS(FileSystem):
        def __init__(self):
            self.written = 0

        def write_atomic(self, path, data):
            if self.written == 2:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            self.written += 1
            super().write_atomic(path, data)

    with pytest.raises(OSError):
        reindex(rec, fs=FailingFS())
    assert all(os.path.exists(os.path.join(rec, n)) for n in names)
    assert views(rec) == before
    assert run("verify", rec).exit_code == 0


def test_reindex_refusal_as_a_process(rec):
    damage_first_segment(rec)
    before = snapshot(rec)
    p = subprocess.run([EVLOG, "reindex", rec], capture_output=True, timeout=120)
    assert p.returncode == 2 and p.stdout == b""
    err = p.stderr.decode()
    assert err.count("\n") == 1 and err.startswith("evlog: error: cannot reindex") and "evlog recover" in err
    assert "Traceback" not in err
    assert snapshot(rec) == before
    p = subprocess.run([EVLOG, "info", rec], capture_output=True, timeout=120)
    assert p.returncode == 0 and f"{EVENTS}" in p.stdout.decode()
