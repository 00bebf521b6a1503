"""A max-speed replay of dicts with nothing to filter reads pages of columns
(`_Replay._max_speed_pass`); it must deliver what the general loop delivers, with the same
counters, on every kind of record: models, typed values (type maps), markers, headers,
failing handlers, offset bounds, several passes."""
from __future__ import annotations

import datetime as _dt
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evlog import Log
from evlog.recording import open_recording
from evlog.replay import scheduler
from evlog.replay.scheduler import run_replay
from evlog.segments.codec import FLAG_UNSERIALIZABLE

T0 = _dt.datetime(2025, 10, 12, tzinfo=_dt.timezone.utc)


def _make(path, kinds: list[int]) -> None:
    with Log.create(path, "pages", fsync="never") as log:
        for i, kind in enumerate(kinds):
            if kind == 0:
                log.append("Plain", {"i": i, "s": "x" * (i % 7)}, "a")
            elif kind == 1:
                log.append("Typed", {"i": i, "price": Decimal(i) / 8, "at": T0}, "b")
            elif kind == 2:
                log.append("Headed", {"i": i}, "c", headers={"correlation_id": f"c-{i}"})
            else:
                log.append_encoded("Marker", "d", FLAG_UNSERIALIZABLE, b'{"unserializable": "Lock"}')


class Bus:
    def __init__(self, fail_every: int = 0, headers: bool = False) -> None:
        self.events: list = []
        self.fail_every = fail_every
        if headers:
            self.publish = self._publish_headers   # type: ignore[method-assign]

    def publish(self, name, event, source):
        self.events.append((name, event, source))
        if self.fail_every and len(self.events) % self.fail_every == 0:
            raise RuntimeError(f"handler failed at {len(self.events)}")

    def _publish_headers(self, name, event, source, *, headers=None):
        self.events.append((name, event, source, headers))
        if self.fail_every and len(self.events) % self.fail_every == 0:
            raise RuntimeError("handler failed")


def _both(recording, fail_every: int, headers: bool, **kw):
    """(fast, general) runs of the same replay: the general one forced by a progress callback."""
    fast_bus, general_bus = Bus(fail_every, headers), Bus(fail_every, headers)
    fast = run_replay(recording, fast_bus.publish, speed="max", **kw)
    general = run_replay(recording, general_bus.publish, speed="max", progress=lambda *a: None, **kw)
    return (fast, fast_bus), (general, general_bus)


def _same(a, b) -> None:
    (ra, ba), (rb, bb) = a, b
    assert ba.events == bb.events
    for field in ("published", "failed", "unserializable", "filtered_out", "passes", "stopped", "last_offset",
                  "errors"):
        assert getattr(ra, field) == getattr(rb, field), field


@settings(max_examples=25, deadline=None)
@given(kinds=st.lists(st.integers(0, 3), min_size=0, max_size=40), fail_every=st.sampled_from([0, 3, 7]),
       stop_on_error=st.booleans(), markers=st.booleans(), headers=st.booleans(), loop=st.sampled_from([False, 2]),
       bounds=st.tuples(st.integers(0, 45), st.integers(0, 45)))
def test_pages_deliver_what_the_general_loop_delivers(tmp_path_factory, monkeypatch, kinds, fail_every,
                                                      stop_on_error, markers, headers, loop, bounds):
    monkeypatch.setattr(scheduler, "MAX_SPEED_PAGE", 5)   # several pages, a block split across them
    path = tmp_path_factory.mktemp("rec") / "r"
    _make(path, kinds)
    start, end = min(bounds), max(bounds)
    with open_recording(str(path)) as recording:
        for kw in ({}, {"start": start, "end": end}, {"start": start}):
            fast, general = _both(recording, fail_every=fail_every, headers=headers, stop_on_error=stop_on_error,
                                  markers=markers, loop=loop, **kw)
            _same(fast, general)


def test_the_pages_are_the_path_taken_at_max_speed_only(tmp_path, monkeypatch):
    monkeypatch.setattr(scheduler, "MAX_SPEED_PAGE", 5)
    _make(tmp_path / "r", [0, 1, 2, 3] * 10)
    calls = []
    original = scheduler._Replay._max_speed_pass

    def spy(self, lo, hi):
        calls.append((lo, hi))
        return original(self, lo, hi)
    monkeypatch.setattr(scheduler._Replay, "_max_speed_pass", spy)
    with open_recording(str(tmp_path / "r")) as recording:
        run_replay(recording, Bus().publish, speed="max")
        assert calls == [(0, 40)]
        run_replay(recording, Bus().publish, speed="max", start=5, end=30)
        assert calls[-1] == (5, 30)
        n = len(calls)
        run_replay(recording, Bus().publish, speed="max", start=5, end=9)                 # a seek: shorter
        assert len(calls) == n
        run_replay(recording, Bus().publish, speed=1000.0)                                # timed
        run_replay(recording, Bus().publish, speed="max", resolve=lambda name: None)    # models
        run_replay(recording, Bus().publish, speed="max", start=_dt.timedelta(0))        # from a time
        assert len(calls) == n


def test_a_corrupt_event_in_a_page_is_a_corrupt_block_error(tmp_path, monkeypatch):
    from evlog.segments import EncodedRows
    from evlog.segments.errors import CorruptBlockError

    monkeypatch.setattr(scheduler, "MAX_SPEED_PAGE", 1)

    with Log.create(tmp_path / "r", "bad", fsync="never") as log:
        log.append("A", {"i": 1}, "s")
        # bytes that are not JSON, stored unchecked (validate=False): the page is spoilt on reading
        log.append_rows(EncodedRows(["A"], ["s"], [0], [b"{not json"], [b""]), validate=False)
    with open_recording(str(tmp_path / "r")) as recording:
        with pytest.raises(CorruptBlockError, match="bad event data"):
            run_replay(recording, Bus().publish, speed="max")

def test_a_seek_looks_at_the_recording_once_and_counts_as_before(tmp_path, monkeypatch):
    """A short replay between offsets (a seek) lists the recording's directory once, for its
    read: it starts at its first record read and ends where the read stopped (nothing is
    filtered out), neither looked up; the counters are those of a pass that looks, whether
    the end bound is reached or not, and with a filter (which looks its start up)."""
    from evlog.segments import reader

    _make(tmp_path / "r", [0, 1, 2, 3] * 10)
    listings = []
    original = reader.list_segments

    def counting(directory):
        listings.append(directory)
        return original(directory)
    monkeypatch.setattr(reader, "list_segments", counting)
    with open_recording(str(tmp_path / "r")) as recording:
        for kw, published, unserializable, filtered_out, looks in (
                ({"start": 12, "end": 13}, 1, 0, 0, 1),
                ({"start": 12, "end": 20}, 6, 2, 0, 1),
                ({"start": 36, "end": 50}, 3, 1, 0, 2),    # past the end: the end is looked up
                ({"start": 12, "end": 20, "loop": 2}, 12, 4, 0, 2)):
            del listings[:]
            bus = Bus()
            res = run_replay(recording, bus.publish, speed="max", **kw)
            assert (res.published, res.unserializable, res.filtered_out, res.last_offset) == \
                (published, unserializable, filtered_out, min(kw["end"], 40) - 1)
            assert len(listings) == looks, kw
        from evlog.selection import Selection
        for start, end, published, filtered_out in ((12, 20, 2, 6), (13, 20, 1, 6), (13, 16, 0, 3)):
            res = run_replay(recording, Bus().publish, Selection.of("Plain"), speed="max", start=start, end=end)
            assert (res.published, res.filtered_out) == (published, filtered_out)
