"""EventReplayer where the original tool's behaviour is observable (issue 18): a missing events
module, progress with a filter, the filtered replayer's name and duration, the summary's order.

Every recording is written in the original JSON format and in evlog's: both must behave the
same. `original_*` below restate the original's documented behaviour over a plain list of
events, as the reference the replayer is compared with.
"""
from __future__ import annotations

import io
import json
import logging
import math
from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evlog.bus import CollectingBus
from evlog.recorder import EventRecorder
from evlog.replay import ReplayError, VirtualClock
from evlog.replay.convert import ConvertError
from evlog.replayer import EventReplayer

from .conftest import EVENTS, write_evlog, write_legacy
from .test_replayer import MarketPriceFetched

FIVE = [  # the example: a "Failed" filter keeps the 1st and the 4th of 5 events
    ("OrderFailed", {"pair": "BTC/USDT"}, "OrderExecutor", 0),
    ("MarketPriceFetched", {"cycle_id": 1, "pair": "BTC/USDT", "current_price": "1.5"}, "Fetcher", 250),
    ("PositionPurchased", {"pair": "BTC/USDT"}, "OrderExecutor", 400),
    ("PriceFetchFailed", {"pair": "ETH/USDT"}, "Fetcher", 725),
    ("BotMonitoringCycleCompleted", {"cycle_number": 1}, "Orchestrator", 1000),
]


def write(kind: str, path, events) -> str:
    if kind == "evlog":
        return write_evlog(path / "rec", events, block_max_records=2)
    return write_legacy(path / "rec.json", events)


@pytest.fixture(params=["evlog", "legacy"])
def kind(request) -> str:
    return request.param


# the original's behaviour, restated over a list of (name, data, source, offset_ms) -------------
def original_progress(events, keep) -> list[tuple[int, int]]:
    """progress_callback(i + 1, len(events)) after each event the filter lets through."""
    return [(i + 1, len(events)) for i, e in enumerate(events) if keep(e[0])]


def original_summary(events) -> dict[str, int]:
    return dict(Counter(e[0] for e in events).most_common())


def original_filtered(events, name, keep) -> tuple[str, float, list]:
    kept = [e for e in events if keep(e[0])]
    return f"{name}_filtered", kept[-1][3] if kept else 0, kept


# events module -----------------------------------------------------------------------------------
def test_a_missing_events_module_is_a_warning_and_dicts_are_replayed(kind, tmp_path, caplog) -> None:
    r = EventReplayer(write(kind, tmp_path, EVENTS), clock=VirtualClock())
    bus = CollectingBus()
    with caplog.at_level(logging.WARNING, logger="evlog"):
        res = r.replay(bus, 10.0, "missing.module")
    assert res.published == len(EVENTS) and res.failed == 0
    assert [(n, e) for n, e, _ in bus.events] == [(n, d) for n, d, _, _ in EVENTS]
    assert all(type(e) is dict for _, e, _ in bus.events)
    assert len(res.warnings) == 1 and "'missing.module'" in res.warnings[0] and "plain dicts" in res.warnings[0]
    assert "warning: could not import events module 'missing.module'" in str(res)
    logged = [rec for rec in caplog.records if rec.levelno == logging.WARNING]
    assert [rec.getMessage() for rec in logged] == res.warnings
    # a registry still rebuilds its models when the module is missing
    bus = CollectingBus()
    res = r.replay(bus, "max", "missing.module", registry={"MarketPriceFetched": MarketPriceFetched})
    assert isinstance(bus.events[1][1], MarketPriceFetched) and type(bus.events[0][1]) is dict
    assert "where the registry has no model" in res.warnings[0]
    # a module that is found brings no warning
    assert r.replay(CollectingBus(), "max", events_module_name=__name__).warnings == []


def test_a_module_that_breaks_on_import_is_an_error_but_one_missing_a_dependency_warns(
        kind, tmp_path, monkeypatch) -> None:
    mods = tmp_path / "mods"
    mods.mkdir()
    (mods / "evlog_t18_broken.py").write_text("raise RuntimeError('bad config\\nsecond line')\n")
    (mods / "evlog_t18_needs_dep.py").write_text("import evlog_t18_no_such_dependency\n")
    monkeypatch.syspath_prepend(str(mods))
    r = EventReplayer(write(kind, tmp_path, EVENTS))
    bus = CollectingBus()
    with pytest.raises(ConvertError, match=r"^cannot import events module 'evlog_t18_broken': RuntimeError: bad config$"):
        r.replay(bus, "max", "evlog_t18_broken")
    assert bus.events == []
    res = r.replay(bus, "max", "evlog_t18_needs_dep")   # an ImportError, as the original caught
    assert res.published == len(EVENTS) and "evlog_t18_no_such_dependency" in res.warnings[0]


# progress ----------------------------------------------------------------------------------------
def progress_calls(replayer, **kw) -> list[tuple[int, int]]:
    calls: list = []
    replayer.replay(CollectingBus(), clock=VirtualClock(), progress_callback=lambda c, t: calls.append((c, t)), **kw)
    return calls


def test_progress_with_a_filter_is_the_position_in_the_whole_recording(kind, tmp_path) -> None:
    r = EventReplayer(write(kind, tmp_path, FIVE))
    failed = lambda name: "Failed" in name  # noqa: E731 - the README's form
    assert progress_calls(r, speed_multiplier=10.0, event_filter=failed) == [(1, 5), (4, 5)]
    assert progress_calls(r, speed_multiplier=10.0, event_filter=failed) == original_progress(FIVE, failed)
    # the README's show_progress on a filtered replay: percentages of the whole recording
    seen: list[str] = []
    r.replay(CollectingBus(), "max", event_filter=failed,
             progress_callback=lambda current, total: seen.append(f"{(current / total) * 100:.1f}%"))
    assert seen == ["20.0%", "80.0%"]
    # the selected-count form, on request
    assert progress_calls(r, event_filter=failed, progress="selected") == [(1, 2), (2, 2)]
    with pytest.raises(ReplayError, match="progress must be one of"):
        r.replay(CollectingBus(), progress_callback=print, progress="percent")
    # unfiltered, both forms agree
    assert progress_calls(r) == progress_calls(r, progress="selected") == [(i, 5) for i in range(1, 6)]


def test_progress_positions_under_bounds_loops_and_failures(kind, tmp_path) -> None:
    r = EventReplayer(write(kind, tmp_path, FIVE))
    assert progress_calls(r, speed_multiplier="max", start=2, event_filter="*Failed") == [(4, 5)]
    assert progress_calls(r, speed_multiplier="max", loop=2, event_filter="*Failed") == [(1, 5), (4, 5)] * 2

    def failing(name, event, source):
        raise RuntimeError("handler down")
    calls: list = []
    res = r.replay(failing, "max", event_filter="*Failed", progress_callback=lambda c, t: calls.append((c, t)))
    assert res.failed == 2 and calls == [(1, 5), (4, 5)]   # the original reported failed events too


def test_a_filtered_replayers_progress_counts_its_own_events(kind, tmp_path) -> None:
    """The original's filter_events wrote a new recording: its positions are in that one."""
    r = EventReplayer(write(kind, tmp_path, FIVE))
    only = r.filter_events(lambda name: name != "PositionPurchased")          # 4 events
    assert progress_calls(only, speed_multiplier="max") == [(i, 4) for i in range(1, 5)]
    assert progress_calls(only, speed_multiplier="max", event_filter=lambda n: "Failed" in n) == [(1, 4), (3, 4)]
    assert progress_calls(only, speed_multiplier="max", event_filter="*Failed", progress="selected") == [(1, 2), (2, 2)]


def test_progress_counts_a_skipped_marker(tmp_path) -> None:
    recorder = EventRecorder("m", output_dir=tmp_path)
    recorder.record("A", {"x": 1})
    recorder.record("B", object())       # stored as a marker, skipped by replay
    recorder.record("C", {"x": 2})
    r = EventReplayer(recorder.save())
    assert progress_calls(r, speed_multiplier="max") == [(1, 3), (2, 3), (3, 3)]
    assert progress_calls(r, speed_multiplier="max", progress="selected")[-1] == (3, 3)


# filter_events -----------------------------------------------------------------------------------
def test_a_filtered_replayer_is_named_and_timed_like_the_originals(kind, tmp_path) -> None:
    r = EventReplayer(write(kind, tmp_path, EVENTS))
    failed = lambda name: "Failed" in name  # noqa: E731
    f = r.filter_events(failed)
    name, duration, kept = original_filtered(EVENTS, r.session_name, failed)
    assert (f.session_name, f.duration_ms) == (name, duration) == ("bull_run_scenario_filtered", 1700)
    assert [(e["event_name"], e["timestamp_offset_ms"]) for e in f.events] == [(e[0], e[3]) for e in kept]
    assert len(f.events) == len(f) == 2 and f.start_time == r.start_time
    assert r.session_name == "bull_run_scenario" and r.duration_ms == 3000   # the source is unchanged
    # chained: the name grows, the duration is the last event both filters keep
    g = f.filter_events(lambda name: name.startswith("Price"))
    assert (g.session_name, g.duration_ms) == ("bull_run_scenario_filtered_filtered", 600)
    assert g.get_event_summary() == {"PriceFetchFailed": 1}
    # nothing kept: no duration
    empty = r.filter_events(lambda name: False)
    assert (empty.session_name, empty.duration_ms, len(empty.events), empty.get_event_summary()) == \
        ("bull_run_scenario_filtered", 0, 0, {})
    # the filtered replayer's timeline says the same
    out = io.StringIO()
    f.print_timeline(file=out)
    head = out.getvalue().splitlines()[0]
    assert head == "Timeline of bull_run_scenario_filtered (2 events, 1.70s)"
    assert "PriceFetchFailed" in out.getvalue() and "OrderFailed" in out.getvalue()
    assert "MarketPriceFetched" not in out.getvalue()


def test_filtered_duration_by_event_predicate_and_filter_text(kind, tmp_path) -> None:
    r = EventReplayer(write(kind, tmp_path, EVENTS))
    assert r.filter_events("source == Orchestrator").duration_ms == 3000
    assert r.filter_events("data.pair == 'BTC/USDT'").duration_ms == 2500
    assert r.filter_events(lambda name, event: event["timestamp_offset_ms"] < 1000).duration_ms == 600


# the README's inspection and statistics examples ---------------------------------------------------
def test_offsets_read_as_the_original_wrote_them(kind, tmp_path, capsys) -> None:
    events = EVENTS + [("PositionPurchased", {"pair": "ETH/USDT", "purchase_price": "2000"}, "OrderExecutor", 3250.5)]
    r = EventReplayer(write(kind, tmp_path, events))
    for event_data in r.events:
        if event_data["event_name"] == "PositionPurchased":
            data = event_data["event_data"]
            print(f"Purchase at {event_data['timestamp_offset_ms']}ms: {data['purchase_price']} {data['pair']}")
    assert capsys.readouterr().out.splitlines() == ["Purchase at 1000ms: 50010.5 BTC/USDT",
                                                     "Purchase at 3250.5ms: 2000 ETH/USDT"]
    assert type(r.events[0]["timestamp_offset_ms"]) is int and r.duration_ms == 3250.5
    assert r.filter_events(lambda n: n != "PositionPurchased").duration_ms == 3000


def test_an_original_files_own_duration_is_its_duration(tmp_path) -> None:
    path = write_legacy(tmp_path / "r.json")
    doc = json.loads(path.read_text())
    doc["duration_ms"] = 45000
    path.write_text(json.dumps(doc))
    r = EventReplayer(path)
    assert r.duration_ms == 45000                                   # as the original read it
    assert r.filter_events(lambda n: "Failed" in n).duration_ms == 1700   # as its filter_events wrote it


def test_summary_ties_keep_the_order_of_first_appearance(kind, tmp_path) -> None:
    r = EventReplayer(write(kind, tmp_path, EVENTS))
    summary = r.get_event_summary()
    assert list(summary) == ["MarketPriceFetched", "BotMonitoringCycleStarted", "PriceFetchFailed",
                             "PositionPurchased", "OrderFailed", "PositionSold", "BotMonitoringCycleCompleted"]
    assert summary == original_summary(EVENTS)
    # the README's "Top 5 most frequent events"
    assert list(summary.items())[:5] == [("MarketPriceFetched", 2), ("BotMonitoringCycleStarted", 1),
                                         ("PriceFetchFailed", 1), ("PositionPurchased", 1), ("OrderFailed", 1)]
    assert r.filter_events("source == OrderExecutor").get_event_summary() == \
        original_summary([e for e in EVENTS if e[2] == "OrderExecutor"])


def test_summary_order_does_not_depend_on_the_index_order(tmp_path, monkeypatch) -> None:
    """The index keeps counts; the order of equal counts is read from the events."""
    r = EventReplayer(write_evlog(tmp_path / "rec", EVENTS, block_max_records=2))
    real = r.recording.summary()
    shuffled = type(real)(**{**real.__dict__, "names": Counter(dict(reversed(list(real.names.items()))))})
    monkeypatch.setattr(r.recording, "summary", lambda: shuffled)
    assert list(r.get_event_summary()) == list(original_summary(EVENTS))


# the same, on any recording --------------------------------------------------------------------------
NAMES = st.sampled_from(["A", "BFailed", "C", "DFailed", "E*", "F"])
SESSIONS = st.lists(st.tuples(NAMES, st.integers(0, 400)), min_size=0, max_size=30)


def session_events(spec) -> list:
    events, t = [], 0
    for name, gap in spec:
        t += gap
        events.append((name, {"n": len(events)}, "src", t))
    return events


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(spec=SESSIONS, wanted=st.sets(NAMES))
def test_property_the_replayer_answers_as_the_original(tmp_path_factory, spec, wanted) -> None:
    events = session_events(spec)
    keep = wanted.__contains__
    for kind in ("evlog", "legacy"):
        base = tmp_path_factory.mktemp(kind)
        r = EventReplayer(write(kind, base, events))
        assert r.get_event_summary() == original_summary(events)
        assert list(r.get_event_summary()) == list(original_summary(events))
        assert progress_calls(r, speed_multiplier=math.inf, event_filter=keep) == original_progress(events, keep)
        f = r.filter_events(keep)
        name, duration, kept = original_filtered(events, r.session_name, keep)
        assert (f.session_name, f.duration_ms, len(f.events)) == (name, duration, len(kept))
        assert list(f.get_event_summary().items()) == list(original_summary(kept).items())
        assert progress_calls(f, speed_multiplier=math.inf) == [(i, len(kept)) for i in range(1, len(kept) + 1)]
        r.close()
