"""Trigger windows of a running FlightRecorder: exactly the events of [t - keep, t + after]
(checked by the ring's sequence numbers), overlapping triggers extend one recording, the
recorder keeps running, a predicate triggers."""
from __future__ import annotations

import threading
import time

import pytest
from flighttools import publish_for, read_recording

from evlog.bus import ServiceBus
from evlog.flight import FlightRecorder
from evlog.recorder import RecorderError


def check_exact(flight, window, path) -> list:
    """The recording holds the ring's events of the window, each once, in order, with their
    times rebased on the window's start; the events just outside are outside."""
    records, meta = read_recording(path)
    ring = list(flight.ring_records())
    want = [r for r in ring if window.start <= r.monotonic <= window.end]
    assert want, "the window should hold events"
    assert [r.data["i"] for r in records] == [int(r.data[5:r.data.index(b"}")]) for r in want]
    assert [r.monotonic for r in records] == [r.monotonic - window.start for r in want]
    assert meta["flight"]["first_seq"] == want[0].offset and meta["flight"]["last_seq"] == want[-1].offset
    assert meta["flight"]["events"] == len(records)
    before = [r for r in ring if r.offset == want[0].offset - 1]
    after = [r for r in ring if r.offset == want[-1].offset + 1]
    assert not before or before[0].monotonic < window.start
    assert not after or after[0].monotonic > window.end
    return records


@pytest.fixture
def flight(tmp_path):
    f = FlightRecorder("t", keep="0.4s", after="0.2s", output_dir=tmp_path, keep_bytes="64MiB")
    yield f
    f.close()


def test_a_trigger_writes_exactly_its_window_and_the_recorder_goes_on(flight):
    bus = ServiceBus()
    flight.start_recording(bus)
    n = publish_for(bus, 0.6)
    path = flight.trigger("manual")
    assert path.name.startswith("t_flight_") and path.parent == flight.output_dir
    n = publish_for(bus, 0.4, start=n)
    assert flight.wait(10)
    window = flight.windows[0]
    assert window.end - window.start == flight.keep_ns + flight.after_ns
    records, meta = read_recording(path)
    assert meta["trigger_reason"] == "manual" and meta["flight"]["ended"] == "after elapsed"
    assert meta["window_start"] < meta["trigger_time"] < meta["window_end"]
    assert meta["flight"]["triggers"][0]["offset_ns"] == flight.keep_ns
    # contiguous events, none missing or doubled, spanning keep + after
    ii = [r.data["i"] for r in records]
    assert ii == list(range(ii[0], ii[-1] + 1))
    assert records[-1].monotonic <= flight.keep_ns + flight.after_ns
    assert flight.is_recording and flight.info()["captured"] == n


def test_window_exact_by_sequence_numbers(tmp_path):
    with FlightRecorder("t", keep="0.3s", after="0.2s", output_dir=tmp_path / "a", keep_bytes="64MiB") as f:
        bus = ServiceBus()
        f.start_recording(bus)
        f._ring.max_age_ns = 10**12   # the ring holds everything: the check reads it back
        n = publish_for(bus, 0.5)
        path = f.trigger("x")
        publish_for(bus, 0.4, start=n)
        assert f.wait(10)
        check_exact(f, f.windows[0], path)


def test_overlapping_triggers_extend_one_recording(tmp_path):
    with FlightRecorder("t", keep="0.6s", after="0.2s", output_dir=tmp_path, keep_bytes="64MiB") as f:
        bus = ServiceBus()
        f.start_recording(bus)
        f._ring.max_age_ns = 10**12   # the ring holds everything: the check reads it back
        n = publish_for(bus, 0.7)
        first = f.trigger("one")
        n = publish_for(bus, 0.1, start=n)
        assert f.trigger("two") == first              # inside the window: extends it
        n = publish_for(bus, 0.5, start=n)
        assert f.wait(10)
        assert f.windows[0].written.is_set()
        # ended and written: a trigger whose window still meets it (t - keep <= end) extends it again
        assert f.trigger("three", after="0.1s") == first
        publish_for(bus, 0.3, start=n)
        assert f.wait(10)
        assert len(f.recordings) == 1
        w = f.windows[0]
        assert [t["reason"] for t in w.triggers] == ["one", "two", "three"]
        records = check_exact(f, w, first)
        meta = read_recording(first)[1]
        assert meta["trigger_reason"] == "one" and meta["flight"]["trigger_count"] == 3
        assert w.end - w.start > f.keep_ns + f.after_ns
        assert len(records) == meta["flight"]["events"]


def test_separate_triggers_make_separate_recordings(tmp_path):
    with FlightRecorder("t", keep="0.1s", after="0.05s", output_dir=tmp_path) as f:
        bus = ServiceBus()
        f.start_recording(bus)
        n = publish_for(bus, 0.2)
        a = f.trigger("a")
        n = publish_for(bus, 0.5, start=n)
        b = f.trigger("b")
        publish_for(bus, 0.2, start=n)
        assert f.wait(10)
        assert a != b and f.recordings == [a, b]
        ra, rb = read_recording(a)[0], read_recording(b)[0]
        assert ra[-1].data["i"] < rb[0].data["i"]


def test_stop_ends_the_window_early_and_writes_it(tmp_path):
    f = FlightRecorder("t", keep="1s", after="30s", output_dir=tmp_path)
    bus = ServiceBus()
    f.start_recording(bus)
    publish_for(bus, 0.1)
    path = f.trigger("long")
    f.stop_recording()
    assert f.wait(5)
    records, meta = read_recording(path)
    assert meta["flight"]["ended"] == "stopped" and len(records) > 0
    f.close()


def test_predicate_triggers_at_the_matching_event(tmp_path):
    with FlightRecorder("t", keep="0.2s", after="0.1s", output_dir=tmp_path,
                        trigger_on="OrderFailed or data.drawdown > 0.05") as f:
        bus = ServiceBus()
        f.start_recording(bus)
        n = publish_for(bus, 0.3)
        bus.publish("Risk", {"drawdown": 0.01}, "risk")     # below: nothing
        publish_for(bus, 0.3, start=n)
        assert f.recordings == []
        bus.publish("Risk", {"drawdown": 0.2}, "risk")
        publish_for(bus, 0.3, start=n)
        bus.publish("OrderFailed", {"id": 7}, "broker")
        publish_for(bus, 0.3, start=n)
        assert f.wait(10)
        assert len(f.recordings) == 2
        (r1, m1), (r2, m2) = (read_recording(p) for p in f.recordings)
        assert "data.drawdown > 0.05" in m1["trigger_reason"] and "Risk" in m1["trigger_reason"]
        assert "OrderFailed" in m2["trigger_reason"]
        assert any(r.name == "Risk" and r.data == {"drawdown": 0.2} for r in r1)
        assert not any(r.name == "Risk" and r.data == {"drawdown": 0.01} for r in r1)
        # the matching event is at the trigger time: keep before it
        hit = next(r for r in r2 if r.name == "OrderFailed")
        assert hit.monotonic == pytest.approx(f.keep_ns, abs=2_000_000)


def test_memory_stays_under_keep_bytes_and_a_cut_window_says_so(tmp_path):
    with FlightRecorder("t", keep="60s", after="0s", output_dir=tmp_path, keep_bytes="64KiB") as f:
        bus = ServiceBus()
        f.start_recording(bus)
        seen = 0
        for i in range(4000):
            bus.publish("Big", {"i": i, "blob": f"{i:08d}" * 40}, "s")
            if i % 500 == 0:
                f.flush()
                seen = max(seen, f.ring_bytes)
        f.flush()
        assert 0 < seen <= f.keep_bytes and f.ring_bytes <= f.keep_bytes
        assert f.info()["evicted"] > 0
        path = f.trigger("cut")
        assert f.wait(10)
        records, meta = read_recording(path)
        assert meta["flight"]["truncated"] is True
        assert records[-1].data["i"] == 3999 and records[0].data["i"] > 0


def test_trigger_cost_and_thread_safety(tmp_path):
    with FlightRecorder("t", keep="0.2s", after="0.05s", output_dir=tmp_path) as f:
        bus = ServiceBus()
        f.start_recording(bus)
        costs: list[int] = []

        def work(k: int) -> None:
            for i in range(300):
                bus.publish("E", {"i": i, "k": k}, "s")
                if i % 50 == 0:
                    t0 = time.perf_counter_ns()
                    f.trigger(f"k{k}")
                    costs.append(time.perf_counter_ns() - t0)
                time.sleep(0.0002)

        threads = [threading.Thread(target=work, args=(k,)) for k in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        f.stop_recording()
        assert f.wait(10)
        got = [(r.data["k"], r.data["i"]) for p in f.recordings for r in read_recording(p)[0]]
        assert len(got) == len(set(got))   # no event twice across the recordings
        assert sorted(costs)[len(costs) // 2] < 1_000_000


def test_bad_arguments_are_one_line_errors(tmp_path):
    with pytest.raises(RecorderError, match="keep must be a duration"):
        FlightRecorder("t", keep="soon", output_dir=tmp_path)
    with pytest.raises(RecorderError, match="keep_bytes"):
        FlightRecorder("t", keep_bytes="lots", output_dir=tmp_path)
    with pytest.raises(RecorderError, match="trigger_on"):
        FlightRecorder("t", trigger_on="data.x >", output_dir=tmp_path)
    with pytest.raises(RecorderError, match="not started"):
        FlightRecorder("t", output_dir=tmp_path).trigger("x")


def test_a_trigger_on_a_stopped_recorder_writes_the_ring_at_once(tmp_path):
    f = FlightRecorder("t", keep="5s", after="10s", output_dir=tmp_path)
    bus = ServiceBus()
    f.start_recording(bus)
    n = publish_for(bus, 0.1)
    f.stop_recording()
    path = f.trigger("after the fact")
    assert f.wait(10)
    records, meta = read_recording(path)
    assert [r.data["i"] for r in records] == list(range(n)) and meta["flight"]["ended"] == "stopped"
    f.close()
    with pytest.raises(RecorderError, match="closed"):
        f.trigger("late")
