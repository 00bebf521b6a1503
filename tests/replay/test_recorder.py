"""EventRecorder: the seed README's API, streaming to disk, threads, never breaking the bus."""
from __future__ import annotations

import logging
import re
import subprocess
import sys
import textwrap
import threading
from decimal import Decimal
from pathlib import Path

import pytest

from evlog.bus import ServiceBus
from evlog.demo import EVENT_TYPES, trading_session
from evlog.recorder import EventRecorder, RecorderError
from evlog.recording import open_recording
from evlog.segments import Log
from evlog.segments.errors import EvlogError, RecordingExistsError
from evlog.segments.fsio import FileSystem


def events(path: Path) -> list:
    with open_recording(path) as rec:
        return [(r.name, r.data, r.source) for r in rec.read()]


def test_readme_quick_usage(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    service_bus = ServiceBus()
    recorder = EventRecorder("ma_session")
    recorder.start_recording(service_bus)
    for name, event, source, _ in trading_session(50):
        service_bus.publish(name, event, source)
    recorder.stop_recording()
    filepath = recorder.save()
    assert isinstance(filepath, Path) and filepath.is_dir()
    assert filepath.parent == Path("recordings")
    assert re.fullmatch(r"ma_session_\d{8}_\d{6}", filepath.name)
    got = events(filepath)
    want = [(n, e.model_dump(mode="json"), s) for n, e, s, _ in trading_session(50)]
    assert got == want
    assert "publish" not in service_bus.__dict__  # the bus is as it was


def test_context_manager_and_save_inside(tmp_path) -> None:
    bus = ServiceBus()
    with EventRecorder("debug_session", output_dir=tmp_path) as recorder:
        recorder.start_recording(bus)
        bus.publish("A", {"i": 1}, "src")
        path = recorder.save()
        bus.publish("B", {"i": 2}, "src")  # still recording after save()
    assert not recorder.is_recording
    assert [e[0] for e in events(path)] == ["A", "B"]
    with Log.open(path) as log:
        assert log.manifest.metadata["recorder"]["events"] == 2


def test_publish_return_value_and_arguments_pass_through(tmp_path) -> None:
    class Bus:
        def publish(self, event_name, event, source=None, *, priority=0):
            return ("ok", event_name, priority)
    bus = Bus()
    with EventRecorder("s", tmp_path) as rec:
        rec.start_recording(bus)
        assert bus.publish("A", {"x": 1}, "src", priority=3) == ("ok", "A", 3)
        assert bus.publish(event_name="B", event=[1], source="s2") == ("ok", "B", 0)
        path = rec.save()
    assert events(path) == [("A", {"x": 1}, "src"), ("B", [1], "s2")]


def test_save_with_filename_and_collisions(tmp_path) -> None:
    rec = EventRecorder("s", tmp_path)
    rec.record("A", 1)
    rec.stop_recording()
    path = rec.save("baseline")
    assert path == tmp_path / "baseline" and events(path) == [("A", 1, "")]
    rec2 = EventRecorder("s", tmp_path)
    rec2.start_recording()
    with pytest.raises(RecordingExistsError):
        rec2.save("baseline")
    rec2.close()
    # two recorders in the same second do not collide
    a, b = EventRecorder("same", tmp_path), EventRecorder("same", tmp_path)
    a.start_recording()
    b.start_recording()
    assert a.path != b.path
    a.close()
    b.close()


def test_save_without_events_gives_an_empty_recording(tmp_path) -> None:
    path = EventRecorder("empty", tmp_path).save()
    assert events(path) == []


def test_state_errors_are_one_line_evlog_errors(tmp_path) -> None:
    with pytest.raises(RecorderError):
        EventRecorder("")
    with pytest.raises(RecorderError):
        EventRecorder("a/b")
    rec = EventRecorder("s", tmp_path)
    with pytest.raises(RecorderError, match="no publish method"):
        rec.start_recording(object())
    rec.start_recording()
    with pytest.raises(RecorderError, match="already recording"):
        rec.start_recording()
    rec.stop_recording()
    with pytest.raises(RecorderError, match="stopped"):
        rec.record("A", 1)
    rec.close()
    assert issubclass(RecorderError, EvlogError)


def test_events_stream_to_disk_while_recording(tmp_path) -> None:
    bus = ServiceBus()
    rec = EventRecorder("live", tmp_path)
    rec.start_recording(bus)
    for i in range(500):
        bus.publish("Tick", {"i": i}, "clock")
    assert rec.flush() == 500
    with Log.open(rec.path) as log:  # another reader sees them before any save()
        assert len(log) == 500 and log.get(499).data == {"i": 499}
    rec.close()


def test_a_crash_keeps_flushed_events(tmp_path) -> None:
    script = textwrap.dedent(f"""
        import os
        from evlog.recorder import EventRecorder
        rec = EventRecorder("crash", {str(tmp_path)!r})
        rec.start_recording()
        for i in range(300):
            rec.record("E", {{"i": i}})
        rec.flush()
        print(rec.path, flush=True)
        rec.record("late", 1)
        os._exit(1)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    path = out.stdout.strip()
    got = events(Path(path))
    assert len(got) >= 300 and got[:300] == [("E", {"i": i}, "") for i in range(300)]


def test_threads_record_in_publish_order(tmp_path) -> None:
    bus = ServiceBus()
    order: list = []
    lock = threading.Lock()
    rec = EventRecorder("threads", tmp_path)
    rec.start_recording(bus)

    def work(t: int) -> None:
        for i in range(400):
            with lock:  # makes the publish order observable; the recorder itself takes no lock
                order.append((t, i))
                bus.publish("E", {"t": t, "i": i}, f"thread{t}")
    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    rec.stop_recording()
    path = rec.save()
    got = [(d["t"], d["i"]) for _, d, _ in events(path)]
    assert got == order


def test_unserializable_events_are_markers_counted_in_metadata(tmp_path) -> None:
    bus = ServiceBus()
    bus.subscribe("*", lambda n, e, s: None)

    class Opaque:   # a plain object is stored as its attributes: this one holds a lock
        def __init__(self) -> None:
            self.lock = threading.Lock()

        def __repr__(self) -> str:
            return "<Opaque>"
    with EventRecorder("u", tmp_path) as rec:
        rec.start_recording(bus)
        assert bus.publish("Bad", {"o": Opaque()}, "x") == 1
        assert bus.publish("Good", {"d": Decimal("1.5")}, "x") == 1
        path = rec.save()
    assert rec.info()["unserializable"] == 1
    with Log.open(path) as log:
        first = log.get(0)
        assert first.flags & 0x02 and first.data["$unserializable"] and "<Opaque>" in first.data["repr"]
        assert log.get(1).data == {"d": Decimal("1.5")}
        assert log.manifest.metadata["recorder"]["unserializable"] == 1


def test_a_broken_model_is_a_marker_not_a_crash(tmp_path) -> None:
    from pydantic import BaseModel

    class M(BaseModel):
        x: object
    with EventRecorder("m", tmp_path) as rec:
        rec.start_recording()
        rec.record("M", M(x=object()))
        rec.record("Ok", {"a": 1})
        path = rec.save()
    got = events(path)
    assert got[0][1]["$unserializable"] and got[1] == ("Ok", {"a": 1}, "")


class FailingFS(FileSystem):
    def __init__(self) -> None:
        self.fail = False

    def write(self, fd: int, data: bytes) -> None:
        if self.fail:
            raise OSError(28, "No space left on device")
        super().write(fd, data)


def test_a_full_disk_stops_recording_but_not_the_bus(tmp_path, caplog) -> None:
    fs = FailingFS()
    bus = ServiceBus()
    delivered: list = []
    bus.subscribe("*", lambda n, e, s: delivered.append(n))
    rec = EventRecorder("full", tmp_path, fs=fs)
    rec.start_recording(bus)
    bus.publish("Before", 1, "")
    rec.flush()
    fs.fail = True
    with caplog.at_level(logging.ERROR, logger="evlog.recorder"):
        for i in range(50):
            assert bus.publish("During", i, "") == 1
        rec.flush()
        for i in range(5):
            bus.publish("After", i, "")
    assert len(delivered) == 56
    assert not rec.is_recording and rec.error and "No space" in rec.error
    assert any("recording stopped" in r.message for r in caplog.records)
    rec.close()  # no exception
    assert events(rec.path)[0] == ("Before", 1, "")


def test_capture_failure_still_publishes(tmp_path) -> None:
    class Bus:
        def publish(self, name, event, source):
            return 0
    bus = Bus()
    rec = EventRecorder("c", tmp_path)
    rec.start_recording(bus)

    class BadName:
        def __str__(self) -> str:
            raise RuntimeError("no name")
    assert bus.publish(BadName(), 1, "") == 0
    assert rec.lost == 1
    rec.close()


def test_pydantic_events_come_back_equal(tmp_path) -> None:
    from evlog.replayer import EventReplayer
    from evlog.bus import CollectingBus
    bus = ServiceBus()
    with EventRecorder("p", tmp_path) as rec:
        rec.start_recording(bus)
        originals = list(trading_session(300))
        for name, event, source, _ in originals:
            bus.publish(name, event, source)
        path = rec.save()
    out = CollectingBus()
    EventReplayer(path).replay(out, speed_multiplier="max", registry=EVENT_TYPES)
    assert out.events == [(n, e, s) for n, e, s, _ in originals]


def test_back_pressure_bounds_the_queue(tmp_path) -> None:
    rec = EventRecorder("bp", tmp_path, max_pending=10)
    rec.start_recording()
    for i in range(2000):
        rec.record("E", {"i": i})
        assert rec._queued() <= 11
    rec.close()
    assert len(events(rec.path)) == 2000


def test_headers_from_record_and_from_publish(tmp_path) -> None:
    class Bus:
        def publish(self, event_name, event, source="", *, headers=None):
            return headers
    bus = Bus()
    head = {"correlation_id": "c-1", "traceparent": "00-abc-01"}
    with EventRecorder("h", tmp_path) as rec:
        rec.start_recording(bus)
        assert bus.publish("A", {"x": 1}, "src", headers=head) is head   # passed through
        head["correlation_id"] = "c-2"                                      # taken at publish
        bus.publish("B", 2, "src")
        rec.record("C", 3, "me", headers={"id": "e-3", "n": 7})          # non-str values: str()
        path = rec.save()
    with Log.open(path) as log:
        got = [(r.name, r.data, dict(r.headers)) for r in log.read()]
    assert got == [("A", {"x": 1}, {"correlation_id": "c-1", "traceparent": "00-abc-01"}),
                   ("B", 2, {}), ("C", 3, {"id": "e-3", "n": "7"})]


def test_rows_the_log_refuses_become_markers_and_recording_goes_on(tmp_path) -> None:
    long_name = "N" * 5000
    with EventRecorder("refused", tmp_path) as rec:
        rec.start_recording()
        rec.record("Ok", 1)
        rec.record(long_name, {"a": 1}, "src")
        rec.record("Big", "x" * (9 << 20))
        rec.record("Ok", 2, headers={"k": "v" * (70 << 10)})   # headers over 64 KiB
        rec.record("Ok", 3)
        path = rec.save()
    assert rec.info()["unserializable"] == 3 and rec.recorded == 5 and rec.lost == 0
    got = events(path)
    assert [g[0] for g in got] == ["Ok", "N" * 1024, "Big", "Ok", "Ok"]
    assert got[0][1] == 1 and got[4][1] == 3
    assert all(g[1]["$unserializable"] for g in got[1:4])
    assert "1024" in got[1][1]["error"] and "exceeds" in got[2][1]["error"]
