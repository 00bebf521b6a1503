"""User mistakes: each gets its own error class with a one-line message; nothing recorded is harmed."""
from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import textwrap

import pytest
import xxhash

from evlog.segments import (
    CorruptRecordingError, EventEncodeError, EventTooLargeError, EvlogError, Log, LogClosedError,
    NotARecordingError, RecordingExistsError, RecordingLockedError, RecordingNotFoundError,
    UnsupportedFormatError, verify,
)
from evlog.segments.block import HEADER_SIZE, MAX_EVENT_BYTES, MAX_NAME_BYTES
from evlog.segments.segment import SEGMENT_HEADER_SIZE, index_filename, list_segments, segment_filename


def one_line(exc: BaseException) -> str:
    text = str(exc)
    assert text and "\n" not in text, text
    assert isinstance(exc, EvlogError)
    return text


def small_log(path: str, n: int = 10, **opts) -> list:
    with Log.create(path, "s", fsync="never", block_max_records=3, **opts) as log:
        for i in range(n):
            log.append("E", {"i": i}, "src")
    return [(r.offset, r.data) for r in Log.open(path).read()]


def contents(path: str) -> list:
    return [(r.offset, r.data) for r in Log.open(path).read()]


def test_path_does_not_exist(tmp_path):
    with pytest.raises(RecordingNotFoundError) as ei:
        Log.open(str(tmp_path / "nope"))
    assert "no such recording" in one_line(ei.value)
    assert isinstance(ei.value, FileNotFoundError)
    with pytest.raises(RecordingNotFoundError):
        Log.open(str(tmp_path / "nope"), "a")


def test_not_a_recording(tmp_path):
    f = tmp_path / "file.txt"
    f.write_text("hello")
    with pytest.raises(NotARecordingError, match="is a directory"):
        Log.open(str(f))
    d = tmp_path / "dir"
    d.mkdir()
    with pytest.raises(NotARecordingError, match="no manifest.json"):
        Log.open(str(d))
    (d / "manifest.json").write_text("{not json")
    with pytest.raises(NotARecordingError, match="unreadable"):
        Log.open(str(d))
    (d / "manifest.json").write_text(json.dumps({"format": "other", "format_version": 1}))
    with pytest.raises(NotARecordingError):
        Log.open(str(d))
    (d / "manifest.json").write_text(json.dumps({"format": "evlog", "format_version": 1}))
    with pytest.raises(NotARecordingError, match="incomplete"):
        Log.open(str(d))
    # create refuses a non-empty directory that is not a recording, and a file
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    with pytest.raises(NotARecordingError) as ei:
        Log.create(str(other))
    assert (other / "notes.txt").read_text() == "mine"
    one_line(ei.value)
    with pytest.raises(NotARecordingError):
        Log.create(str(f))
    assert f.read_text() == "hello"


def test_create_existing(rec_path):
    before = small_log(rec_path)
    with pytest.raises(RecordingExistsError) as ei:
        Log.create(rec_path)
    one_line(ei.value)
    with Log.create(rec_path, exist_ok=True, fsync="never") as log:
        assert log.end_offset == len(before)
        log.append("more", 1)
    assert contents(rec_path)[:len(before)] == before


def test_bad_mode_and_options(rec_path):
    small_log(rec_path)
    with pytest.raises(ValueError, match="mode"):
        Log.open(rec_path, "w")
    for bad in ({"fsync": "sometimes"}, {"segment_max_bytes": 100}, {"block_max_records": 0},
                {"block_max_bytes": 0}, {"block_max_age": 0}, {"segment_max_age": -1},
                {"max_pending_blocks": 0}):
        with pytest.raises(ValueError):
            Log.open(rec_path, "a", **bad)
    with Log.open(rec_path, "a") as log:   # the failed opens left no lock behind
        assert log.writable


def _rewrite_manifest_version(path: str, version) -> None:
    mp = os.path.join(path, "manifest.json")
    doc = json.load(open(mp))
    doc["format_version"] = version
    with open(mp, "w") as f:
        json.dump(doc, f)


def test_unknown_manifest_version(rec_path):
    small_log(rec_path)
    _rewrite_manifest_version(rec_path, 3)
    for opener in (lambda: Log.open(rec_path), lambda: Log.open(rec_path, "a"), lambda: verify(rec_path)):
        with pytest.raises(UnsupportedFormatError, match="version 3; this evlog reads versions 1 and 2") as ei:
            opener()
        one_line(ei.value)


def test_unknown_segment_version(rec_path):
    before = small_log(rec_path, segment_max_bytes=4096)
    seg = os.path.join(rec_path, segment_filename(list_segments(rec_path)[0]))
    with open(seg, "r+b") as f:
        head = bytearray(f.read(SEGMENT_HEADER_SIZE))
        head[8] = 9
        head[-8:] = struct.pack("<Q", xxhash.xxh3_64_intdigest(bytes(head[:-8])))
        f.seek(0)
        f.write(head)
    with pytest.raises(UnsupportedFormatError, match="version 9") as ei:
        list(Log.open(rec_path).read())
    one_line(ei.value)
    with pytest.raises(UnsupportedFormatError):
        Log.open(rec_path, "a")
    assert before


def test_unknown_block_version(rec_path):
    small_log(rec_path)
    seg = os.path.join(rec_path, segment_filename(0))
    with open(seg, "r+b") as f:
        f.seek(SEGMENT_HEADER_SIZE + 4)
        f.write(bytes([7]))
    with pytest.raises((UnsupportedFormatError, CorruptRecordingError)) as ei:
        list(Log.open(rec_path).read())
    one_line(ei.value)
    from evlog.segments.block import parse_header
    with open(seg, "rb") as f:
        f.seek(SEGMENT_HEADER_SIZE)
        with pytest.raises(UnsupportedFormatError, match="version 7"):
            parse_header(f.read(HEADER_SIZE))


def test_unknown_index_version(rec_path):
    before = small_log(rec_path)
    idx = os.path.join(rec_path, index_filename(0))
    with open(idx, "r+b") as f:
        buf = bytearray(f.read())
        buf[8] = 5
        buf[-8:] = struct.pack("<Q", xxhash.xxh3_64_intdigest(bytes(buf[:-8])))
        f.seek(0)
        f.write(buf)
    from evlog.segments.index import parse_index
    with pytest.raises(UnsupportedFormatError, match="version 5"):
        parse_index(bytes(buf), "x")
    assert contents(rec_path) == before       # the reader scans the segment instead
    report = verify(rec_path)
    assert any("version 5" in p.message for p in report.problems)


def test_two_writers(rec_path):
    small_log(rec_path)
    with Log.open(rec_path, "a") as log:
        with pytest.raises(RecordingLockedError, match=f"pid {os.getpid()}") as ei:
            Log.open(rec_path, "a")
        one_line(ei.value)
        with pytest.raises(RecordingLockedError):
            Log.create(rec_path, exist_ok=True)
        # readers are welcome
        assert len(Log.open(rec_path)) == 10
        log.append("x", 1)
    with Log.open(rec_path, "a"):
        pass


def test_second_writer_in_another_process(rec_path):
    small_log(rec_path)
    code = textwrap.dedent(f"""
        from evlog.segments import Log, RecordingLockedError
        try:
            Log.open({rec_path!r}, "a")
        except RecordingLockedError as exc:
            print("LOCKED", exc)
        else:
            print("OPENED")
    """)
    with Log.open(rec_path, "a") as log:
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
        assert out.stdout.startswith("LOCKED"), (out.stdout, out.stderr)
        assert f"pid {os.getpid()}" in out.stdout
        log.append("still", "fine")
    assert contents(rec_path)[-1] == (10, "fine")


def test_event_too_large(rec_path):
    with Log.create(rec_path, fsync="never") as log:
        log.append("ok", 1)
        with pytest.raises(EventTooLargeError, match="exceeds") as ei:
            log.append("big", "x" * MAX_EVENT_BYTES)
        one_line(ei.value)
        with pytest.raises(EventTooLargeError):
            log.append("n" * (MAX_NAME_BYTES + 1), 1)
        with pytest.raises(EventTooLargeError):
            log.append("n", 1, "é" * (MAX_NAME_BYTES // 2 + 1))
        log.append("n" * MAX_NAME_BYTES, 2, "s" * MAX_NAME_BYTES)   # the limits themselves are fine
        log.append("almost", "y" * (MAX_EVENT_BYTES - 2))
        off = log.append("after", 3)
    recs = list(Log.open(rec_path).read())
    assert [r.name[:6] for r in recs] == ["ok", "n" * 6, "almost", "after"]
    assert recs[2].data == "y" * (MAX_EVENT_BYTES - 2) and off == 3


class Unserializable:
    pass


@pytest.mark.parametrize("bad_call", [
    lambda log: log.append("E", Unserializable()),
    lambda log: log.append("E", {"k": object()}),
    lambda log: log.append("E", "lone \ud800 surrogate"),
    lambda log: log.append("bad\udc00name", 1),
    lambda log: log.append("E", 1, "bad\ud800source"),
    lambda log: log.append(None, 1),
    lambda log: log.append("E", 1, b"bytes source"),
    lambda log: log.append("E", 1, timestamp=1.5),
    lambda log: log.append("E", 1, timestamp=1 << 63),
    lambda log: log.append("E", 1, monotonic=-(1 << 63)),
    lambda log: log.append_encoded("E", "", 0, b"1,2"),
    lambda log: log.append_encoded("E", "", 0, b"{"),
    lambda log: log.append_encoded("E", "", 0, "str"),
    lambda log: log.append_encoded("E", "", 0x80, b"1"),
    lambda log: log.append_encoded("E", "", 1, b"1", b'[[["x"],"uuid"]]'),
    lambda log: log.append_encoded("E", "", 1, b'"a"', b'[[[],"nonsense"]]'),
    lambda log: log.append_batch([("ok", 1), ("bad", object())]),
    lambda log: log.append_batch([("ok", 1), ("bad\ud800", 1)], atomic=True),
    lambda log: log.append_batch([("ok", 1), ("bad\ud800", 1)]),
    lambda log: log.append_batch([("ok", 1, "", "not a time")]),
    lambda log: log.append_batch([()]),
    lambda log: log.append_batch([("x",) * 6]),
])
def test_failed_append_damages_nothing(rec_path, bad_call):
    log = Log.create(rec_path, fsync="never", block_max_records=4)
    for i in range(6):
        log.append("E", i)
    with pytest.raises((EventEncodeError, EventTooLargeError, ValueError)) as ei:
        bad_call(log)
    assert str(ei.value) and "\n" not in str(ei.value)
    log.append("E", 6)            # the writer still works
    assert log.flush() == 7
    log.close()
    assert contents(rec_path) == [(i, i) for i in range(7)]
    assert verify(rec_path).ok


def test_unserializable_marker_and_pydantic_model(rec_path):
    from pydantic import BaseModel

    from evlog.segments.codec import FLAG_MODEL, FLAG_UNSERIALIZABLE, unserializable_marker

    class M(BaseModel):
        x: int
        y: str = "a"

    class BadRepr:
        def __repr__(self):
            raise RuntimeError("no")

    from evlog import Log as TopLog   # the engine's Log knows no pydantic: evlog.Log's encoder does
    with TopLog.create(rec_path, fsync="never") as log:
        log.append("M", M(x=3))
        raw, flags, types = unserializable_marker(BadRepr(), TypeError("nope"))
        log.append_encoded("U", "", flags, raw, types)
    recs = list(Log.open(rec_path).read())
    assert recs[0].data == {"x": 3, "y": "a"} and recs[0].flags == FLAG_MODEL
    assert M.model_validate(recs[0].data) == M(x=3)
    assert recs[1].flags == FLAG_UNSERIALIZABLE and recs[1].data["$unserializable"] is True
    assert "repr failed" in recs[1].data["repr"]


def test_closed_and_read_only(rec_path):
    small_log(rec_path)
    ro = Log.open(rec_path)
    with pytest.raises(LogClosedError, match="reading only"):
        ro.append("x", 1)
    assert not ro.writable and not ro.recovery_report
    assert ro.durable_offset == 10
    ro.close()
    ro.close()
    with pytest.raises(LogClosedError):
        list(ro.read())
    log = Log.open(rec_path, "a")
    log.close()
    with pytest.raises(LogClosedError, match="closed"):
        log.append("x", 1)
    with pytest.raises(LogClosedError):
        len(log)
    assert contents(rec_path) == [(i, {"i": i}) for i in range(10)]


def test_get_missing_offset(rec_path):
    small_log(rec_path)
    log = Log.open(rec_path)
    with pytest.raises(IndexError, match="no event at offset 10"):
        log.get(10)
    assert log.get(9).data == {"i": 9}
