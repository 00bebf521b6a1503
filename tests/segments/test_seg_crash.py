"""Crash safety: a writer with fsync="always" killed with SIGKILL at random moments.

Everything the writer reported durable (log.durable_offset after flush) must be readable
after recovery, in order and with the right content, and appending must work again.
One recording is reused across many kills so recovery of torn tails runs repeatedly.
"""
from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from evlog.segments import Log, NotARecordingError, verify

BIG = random.Random(0).randbytes(200_000).hex()


def expected(off: int) -> tuple[str, object, str]:
    """The event stored at `off`: a pure function of the offset, so any reader can check it."""
    name = f"E{off % 3}"
    source = "crash" if off % 2 else ""
    if off % 11 == 5:
        data = {"off": off, "big": BIG[off % 1000: off % 1000 + 150_000]}   # a long write() call
    else:
        data = {"off": off, "pad": "x" * (off * 37 % 300), "l": [off, str(off)]}
    return name, data, source


def writer_options(rnd: random.Random) -> dict:
    return {
        "fsync": "always",
        "block_max_records": rnd.choice([1, 2, 5, 50]),
        "segment_max_bytes": rnd.choice([4096, 65536, 1 << 20]),
    }


def _child(path: str, wfd: int, seed: int, opts: dict) -> None:
    """Runs in the forked child: append and report durable offsets until killed."""
    code = 0
    try:
        rnd = random.Random(seed)
        log = Log.open(path, "a", **opts) if os.path.exists(os.path.join(path, "manifest.json")) \
            else Log.create(path, "crash", **opts)
        off = log.end_offset
        os.write(wfd, f"{log.durable_offset}\n".encode())
        while True:
            for _ in range(rnd.randint(1, 6)):
                name, data, source = expected(off)
                assert log.append(name, data, source) == off
                off += 1
            log.flush()
            os.write(wfd, f"{log.durable_offset}\n".encode())
    except BaseException:  # noqa: BLE001 - report by exit status only
        code = 3
    finally:
        os._exit(code)


def check_recovered(path: str, durable: int, full_verify: bool = True) -> tuple[int, bool]:
    """Reopen for append; check every record; append one more. Returns (end offset, truncated?)."""
    try:
        log = Log.open(path, "a", fsync="never")
    except NotARecordingError:
        # killed inside Log.create before the manifest existed: nothing can have been durable
        assert durable == 0
        return -1, False
    try:
        report = log.recovery_report
        end = log.end_offset
        assert end >= durable, (end, durable, report.lines())
        n = 0
        for rec in log.read():
            assert rec.offset == n
            name, data, source = expected(n)
            assert (rec.name, rec.data, rec.source) == (name, data, source), n
            n += 1
        assert n == end
        name, data, source = expected(end)
        assert log.append(name, data, source) == end
        assert log.flush() == end + 1
        assert log.get(end).data == data
    finally:
        log.close()
    if not full_verify:
        return end + 1, bool(report.truncated)
    v = verify(path)
    assert v.ok and v.torn_tail is None, [str(p) for p in v.problems]
    return end + 1, bool(report.truncated)


def tear_tail(path: str, rnd: random.Random) -> None:
    """Simulate a write cut short: add a prefix of a frame (or junk) after the last segment's end."""
    from evlog.segments.block import HEADER_SIZE, parse_header
    from evlog.segments.segment import SEGMENT_HEADER_SIZE, list_segments, segment_filename
    bases = list_segments(path)
    if not bases:
        return
    seg = os.path.join(path, segment_filename(bases[-1]))
    with open(seg, "rb") as f:
        buf = f.read()
    if len(buf) < SEGMENT_HEADER_SIZE:
        return   # its header was never written whole: a later write cannot have started
    end = SEGMENT_HEADER_SIZE   # the end of its frames: zeros its writer reserved may follow
    while end + HEADER_SIZE <= len(buf) and buf[end:end + 4] == b"EVBK":
        frame_len = parse_header(buf[end:end + HEADER_SIZE]).frame_len
        if end + frame_len > len(buf):
            break
        end += frame_len
    if end > SEGMENT_HEADER_SIZE and rnd.random() < 0.7:
        frame_len = parse_header(buf[SEGMENT_HEADER_SIZE:]).frame_len
        tail = buf[SEGMENT_HEADER_SIZE:SEGMENT_HEADER_SIZE + rnd.randint(1, frame_len - 1)]
    else:
        tail = rnd.randbytes(rnd.randint(1, 300))
    with open(seg, "r+b") as f:   # where the next write would have gone, into the reserved zeros if any
        f.seek(end)
        f.write(tail)


def fork_and_kill(path: str, seed: int, opts: dict, delay: float, after_start: bool = True) -> int:
    """Fork a writer, SIGKILL it `delay` s after it starts appending (or after the fork);
    return the highest durable offset it reported."""
    rfd, wfd = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(rfd)
        _child(path, wfd, seed, opts)
    os.close(wfd)
    first = b""
    try:
        if after_start:
            while not first.endswith(b"\n"):
                chunk = os.read(rfd, 64)   # the child opened the log (recovered) and is appending
                if not chunk:
                    break
                first += chunk
        time.sleep(delay)
        os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
        chunks = []
        while True:
            chunk = os.read(rfd, 65536)
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(rfd)
    # killed by our signal, not dead of an error of its own
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, status
    lines = (first + b"".join(chunks)).split(b"\n")
    return max([int(x) for x in lines if x] or [0])


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_sigkill_loop_fork(tmp_path, seed):
    rnd = random.Random(seed)
    path = str(tmp_path / "rec")
    durable_seen = 0
    truncations = 0
    kills = 0
    while kills < 68:
        durable = fork_and_kill(path, rnd.randrange(1 << 30), writer_options(rnd), rnd.uniform(0.0, 0.03),
                                after_start=rnd.random() < 0.8)
        kills += 1
        durable_seen = max(durable_seen, durable)
        if rnd.random() < 0.3:
            tear_tail(path, rnd)
        end, truncated = check_recovered(path, durable_seen, full_verify=kills % 5 == 0)
        truncations += truncated
        if end < 0:
            import shutil
            shutil.rmtree(path)
            durable_seen = 0
    assert truncations > 0      # torn tails were found and cut off
    assert Log.open(path).end_offset >= durable_seen


SUBPROCESS_WRITER = textwrap.dedent("""
    import sys
    sys.path.insert(0, {testdir!r})
    from test_seg_crash import expected
    from evlog.segments import Log
    import os
    path = sys.argv[1]
    log = Log.open(path, "a", fsync="always", block_max_records=3) if os.path.exists(path) \\
        else Log.create(path, fsync="always", block_max_records=3)
    off = log.end_offset
    while True:
        for _ in range(4):
            name, data, source = expected(off)
            log.append(name, data, source)
            off += 1
        log.flush()
        print(log.durable_offset, flush=True)
""")


def test_sigkill_real_subprocess(tmp_path):
    path = str(tmp_path / "rec")
    code = SUBPROCESS_WRITER.format(testdir=os.path.dirname(__file__))
    durable_seen = 0
    for i in range(4):
        proc = subprocess.Popen([sys.executable, "-c", code, path], stdout=subprocess.PIPE)
        try:
            first = proc.stdout.readline()   # wait until it is writing
            assert first.strip(), "writer produced no output"
            time.sleep(0.02 * i)
        finally:
            proc.send_signal(signal.SIGKILL)
            out, _ = proc.communicate()
        assert proc.returncode == -signal.SIGKILL
        reported = [int(x) for x in (first + out).split() if x]
        durable_seen = max([durable_seen] + reported)
        end, _ = check_recovered(path, durable_seen)
        assert end > durable_seen
