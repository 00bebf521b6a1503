"""Crash harness: a writer process killed with SIGKILL 100 times loses no acknowledged event.

Each round starts tests/segments/crash_writer.py on the same recording (it reopens it for
append, so recovery of what the previous kill left runs every time, and continues the
numbering), lets it run a random moment (sometimes killing it while it is still opening and
recovering), kills it with SIGKILL and reads what it acknowledged on stdout (the offsets
`flush()` returned, with fsync="always"). At the end every acknowledged event is in the
recording exactly once and in order (event n at offset n), and the recording verifies clean.
"""
from __future__ import annotations

import pytest

import os
import random
import signal
import subprocess
import sys
import time

from evlog.segments import Log, verify

from crash_writer import event

WRITER = os.path.join(os.path.dirname(__file__), "crash_writer.py")
KILLS = 100


def start(path: str, seed: int) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, WRITER, path, str(seed)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)


def kill_round(path: str, rnd: random.Random) -> tuple[int, int | None, int]:
    """One writer's life. Returns the highest offset acknowledged, the offset it opened at
    (None if killed before) and the torn tails its recovery cut."""
    proc = start(path, rnd.randrange(1 << 30))
    line = b""
    try:
        if rnd.random() < 0.2:
            time.sleep(rnd.uniform(0.0, 0.3))   # often still importing, opening or recovering
        else:
            line = proc.stdout.readline()        # opened (recovered) and appending
            assert line.startswith(b"open "), (line, proc.stderr.read() if proc.poll() is not None else b"")
            time.sleep(rnd.uniform(0.0, 0.04))
    finally:
        proc.send_signal(signal.SIGKILL)
        out, err = proc.communicate()
    assert proc.returncode == -signal.SIGKILL, err.decode(errors="replace")   # killed, not dead of an error
    acked, opened, cut = 0, None, 0
    for text in (line + out).decode().splitlines():   # the last line may be cut by the kill
        word, *values = text.split()
        if word == "ack" and len(values) == 1:
            acked = max(acked, int(values[0]))
        elif word == "open" and len(values) == 2:
            opened, cut = int(values[0]), int(values[1])
    return acked, opened, cut


def check_recording(path: str, acked: int) -> int:
    """Every event once, in order, numbered by its offset; at least the acknowledged ones."""
    with Log.open(path) as log:
        n = 0
        for rec in log.read():
            assert rec.offset == n and (rec.name, rec.data, rec.source) == event(n), (rec, n)
            n += 1
    assert n >= acked, (n, acked)
    return n


@pytest.mark.slow   # ~30-35 s: run once by `make test` (its second, pure-Python pass skips slow tests)
def test_sigkill_100_times_loses_no_acknowledged_event(tmp_path):
    rnd = random.Random(20240611)
    path = str(tmp_path / "rec")
    acked = 0
    opened_after_ack = 0
    torn_tails_cut = 0
    for kill in range(KILLS):
        got, opened, cut = kill_round(path, rnd)
        torn_tails_cut += cut
        if opened is not None:
            # a new writer starts after everything acknowledged before (no event twice, none lost)
            assert opened >= acked, (kill, opened, acked)
            opened_after_ack += 1
        acked = max(acked, got)
        if kill % 10 == 9:
            check_recording(path, acked)
    # kills fell while opening and while appending; how many fell inside a write and left a
    # torn tail depends on timing (the long writes of the 300 KB events make it likely)
    assert opened_after_ack > KILLS // 2 and acked > 200, (opened_after_ack, acked, torn_tails_cut)
    end = check_recording(path, acked)
    report = verify(path)
    assert report.ok, [str(p) for p in report.problems]
    with Log.open(path, "a") as log:   # the last kill's torn tail (if any) is cut; nothing acknowledged is
        assert log.end_offset == end
    report = verify(path)
    assert report.ok and report.torn_tail is None, [str(p) for p in report.problems]
