"""info, timeline, tail, verify / recover / reindex, record_stream."""
from __future__ import annotations

import io
import os
import threading
import time

import pytest

from evlog import ops
from evlog.ops import OpError, Selection
from evlog.segments import Log

from .helpers import make_recording, read_all, trading


def test_info_from_the_index(tmp_path):
    src = trading(500, str(tmp_path / "r"), session="bot")
    d = ops.info(src)
    assert d["session_name"] == "bot" and d["format"] == "evlog"
    assert d["total_events"] == 500 == sum(d["events_by_name"].values()) == sum(d["events_by_source"].values())
    assert d["size_bytes"] > 0 and d["compression_ratio"] > 1
    assert d["segments"][0]["events"] == 500
    assert d["start_time"].startswith("2025-10-09T08:53:20")
    text = ops.format_info(d)
    assert "Session:     bot" in text and "MarketPriceFetched" in text


def test_info_of_the_original_format(tmp_path):
    src = trading(50, str(tmp_path / "r"))
    ops.export(src, str(tmp_path / "old.json"), format="json")
    d = ops.info(str(tmp_path / "old.json"))
    assert d["format"] == "legacy-json" and d["total_events"] == 50
    assert d["events_by_name"] == ops.info(src)["events_by_name"]


def test_timeline_markers_and_limit(tmp_path):
    src = make_recording(str(tmp_path / "r"), [
        ("BotMonitoringCycleStarted", {}, "o", 0), ("OrderFailed", {"e": 1}, "x", 1),
        ("PositionPurchased", {"p": 1}, "x", 2), ("Other", None, "", 3)])
    entries = list(ops.timeline(src, max_events=3))
    assert [e.kind for e in entries] == ["cycle", "failure", "trade"]
    assert "❌" in ops.format_entry(entries[1]) and "!!" in ops.format_entry(entries[1], ascii_only=True)
    assert [e.name for e in ops.timeline(src, max_events=None, selection=Selection(filter="Other"))] == ["Other"]


def test_tail_last_events_and_follow(tmp_path):
    src = trading(100, str(tmp_path / "r"))
    assert [r.offset for r in ops.tail(src, 3)] == [97, 98, 99]
    assert [r.name for r in ops.tail(src, 2, selection=Selection(filter="PositionSold"))] == ["PositionSold"] * 2
    path = str(tmp_path / "live")
    log = Log.create(path, "live", fsync="never")
    log.append("First", 1)
    log.flush()
    seen: list = []
    done = threading.Event()

    def follow() -> None:
        for r in ops.tail(path, 5, follow=True, poll_interval=0.01, stop=lambda: len(seen) >= 3):
            seen.append(r.name)
        done.set()
    t = threading.Thread(target=follow)
    t.start()
    for name in ("Second", "Third"):
        log.append(name, 1)
        log.flush()
    done.wait(30)
    log.close()
    t.join(5)
    assert seen == ["First", "Second", "Third"]


def _segment_files(path: str) -> list[str]:
    return [f for f in os.listdir(path) if f not in ("manifest.json", "merge_origins.bin") and not f.endswith(".idx")
            and not f.endswith(".lock")]


def test_verify_recover_reindex(tmp_path):
    src = str(tmp_path / "r")
    with Log.create(src, "r", fsync="never", block_max_records=100) as log:
        for i in range(1000):
            log.append("E", {"i": i, "pad": "x" * 50}, "s")
    assert ops.verify(src).ok
    seg = os.path.join(src, _segment_files(src)[0])
    size = os.path.getsize(seg)
    with open(seg, "r+b") as f:
        f.seek(size // 2)
        b = f.read(1)
        f.seek(size // 2)
        f.write(bytes([b[0] ^ 0xFF]))
    report = ops.verify(src)
    assert not report.ok and report.problems
    res = ops.recover(src, str(tmp_path / "fixed"))
    assert 0 < res.report.events < 1000 and res.report.skipped
    got = [r[4]["i"] for r in read_all(res.path)]
    assert got == sorted(got) and len(got) == res.report.events
    assert ops.verify(res.path).ok
    # reindex rebuilds a deleted index
    idx = [f for f in os.listdir(res.path) if f.endswith(".idx")]
    for f in idx:
        os.remove(os.path.join(res.path, f))
    assert ops.reindex(res.path)
    assert ops.verify(res.path).ok


def test_maintenance_refuses_the_original_format(tmp_path):
    src = trading(5, str(tmp_path / "r"))
    ops.export(src, str(tmp_path / "o.json"), format="json")
    with pytest.raises(OpError, match="original format"):
        ops.verify(str(tmp_path / "o.json"))


def test_record_stream_skips_bad_lines_and_stamps_times(tmp_path):
    lines = (b'{"event_name": "A", "event_data": {"x": 1}, "source": "s"}\n'
             b'not json\n'
             b'{"event_name": "B", "timestamp": "2025-10-12T10:00:00Z"}\n'
             b'{"source": "no name"}\n')
    res = ops.record_stream(io.BytesIO(lines), str(tmp_path / "rec"))
    assert (res.events, res.skipped) == (2, 2)
    assert "line 2" in res.errors[0] and "line 4" in res.errors[1]
    recs = read_all(str(tmp_path / "rec"))
    assert [(r[0], r[4]) for r in recs] == [("A", {"x": 1}), ("B", None)]
    with pytest.raises(OpError, match="line 2"):
        ops.record_stream(io.BytesIO(lines), str(tmp_path / "rec2"), on_error="fail")


def test_record_stream_flushes_as_it_goes(tmp_path):
    r, w = os.pipe()
    path = str(tmp_path / "live")
    result: list = []
    reader = os.fdopen(r, "rb", buffering=0)
    t = threading.Thread(target=lambda: result.append(ops.record_stream(reader, path, flush_interval=0)))
    t.start()
    os.write(w, b'{"event_name": "A"}\n')
    deadline = time.monotonic() + 30
    seen = 0
    while time.monotonic() < deadline and not seen:      # readers see it before EOF
        try:
            seen = len(Log.open(path))
        except Exception:
            pass
        time.sleep(0.02)
    os.close(w)
    t.join(30)
    assert seen == 1 and result[0].events == 1
