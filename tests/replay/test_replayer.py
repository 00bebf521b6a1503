"""EventReplayer: the seed README's examples on both formats, and the additions."""
from __future__ import annotations

import io
from decimal import Decimal

import pytest
from pydantic import BaseModel

from evlog.bus import CollectingBus, ServiceBus
from evlog.filters import parse_filter
from evlog.replay import ReplayError, VirtualClock
from evlog.replayer import EventReplayer
from evlog.segments.errors import EvlogError, NotARecordingError, RecordingNotFoundError

from .conftest import EVENTS


def replay_names(replayer, **kw) -> list[str]:
    bus = CollectingBus()
    replayer.replay(bus, clock=VirtualClock(), **kw)
    return [n for n, _, _ in bus.events]


def test_readme_replay_examples(recording) -> None:
    service_bus = ServiceBus()
    seen: list = []
    service_bus.subscribe("*", lambda n, e, s: seen.append(n))
    replayer = EventReplayer(recording, clock=VirtualClock())
    replayer.replay(service_bus, speed_multiplier=1.0)
    replayer.replay(service_bus, speed_multiplier=10.0)
    assert seen == [e[0] for e in EVENTS] * 2
    # Exemple 2
    assert replay_names(replayer, speed_multiplier=10.0, event_filter=lambda name: "Failed" in name) == \
        ["PriceFetchFailed", "OrderFailed"]
    assert replay_names(replayer, event_filter=lambda name: name in ["PositionPurchased", "PositionSold"]) == \
        ["PositionPurchased", "PositionSold"]


def test_readme_analysis_examples(recording, capsys) -> None:
    replayer = EventReplayer(recording)
    summary = replayer.get_event_summary()
    assert list(summary.items())[0] == ("MarketPriceFetched", 2)
    assert sum(summary.values()) == len(EVENTS)
    for event_name, count in summary.items():
        print(f"{event_name}: {count}x")
    replayer.print_timeline(max_events=50)
    out = capsys.readouterr().out
    assert "MarketPriceFetched: 2x" in out and "PositionSold" in out and "1500.000 ms" in out
    # Statistiques
    assert replayer.session_name == "bull_run_scenario"
    assert replayer.duration_ms == 3000
    assert len(replayer.events) == len(EVENTS) == len(replayer)
    assert replayer.start_time.isoformat() == "2025-10-12T10:00:00+00:00"
    # Inspecter les données
    purchases = []
    for event_data in replayer.events:
        if event_data["event_name"] == "PositionPurchased":
            purchases.append((event_data["timestamp_offset_ms"], event_data["event_data"]["purchase_price"],
                              event_data["event_data"]["pair"]))
    assert purchases == [(1000, "50010.5", "BTC/USDT")]
    # Analyser un échec
    failed_count = sum(count for event, count in summary.items() if "Failed" in event)
    assert failed_count == 2
    replayer_filtered = replayer.filter_events(lambda name: "Failed" in name)
    replayer_filtered.print_timeline()
    out = capsys.readouterr().out
    assert "PriceFetchFailed" in out and "PositionSold" not in out


def test_events_is_a_lazy_sequence(recording) -> None:
    r = EventReplayer(recording)
    ev = r.events
    assert not isinstance(ev, list)
    assert ev[0] == {"timestamp_offset_ms": 0, "event_name": EVENTS[0][0], "event_data": EVENTS[0][1],
                     "source": "Orchestrator", "offset": 0}
    assert ev[-1]["event_name"] == "BotMonitoringCycleCompleted"
    assert [e["event_name"] for e in ev[1:3]] == [EVENTS[1][0], EVENTS[2][0]]
    assert [e["event_name"] for e in ev[::3]] == [EVENTS[i][0] for i in range(0, 8, 3)]
    assert [e["event_name"] for e in ev[-2:]] == [EVENTS[6][0], EVENTS[7][0]]
    assert ev[5:2] == []
    with pytest.raises(IndexError):
        ev[8]
    with pytest.raises(TypeError):
        ev["x"]
    f = r.filter_events("MarketPriceFetched")
    assert len(f.events) == 2 and f.events[1]["event_data"]["current_price"] == "50123.45"
    assert f.events[-1]["offset"] == 4


def test_filter_events_forms_and_chaining(recording, tmp_path) -> None:
    r = EventReplayer(recording)
    before = set(p.name for p in tmp_path.iterdir())
    by_event = r.filter_events(lambda name, event: event["source"] == "OrderExecutor")
    assert [e["event_name"] for e in by_event.events] == ["PositionPurchased", "OrderFailed", "PositionSold"]

    def annotated(event: dict) -> bool:
        return event["timestamp_offset_ms"] >= 1500
    assert len(r.filter_events(annotated)) == 4
    text = r.filter_events('data.current_price > 50000')
    assert [e["offset"] for e in text.events] == [4]
    chained = r.filter_events(lambda name: "Position" in name).filter_events("source == OrderExecutor and "
                                                                               "data.profit < 0")
    assert chained.get_event_summary() == {"PositionSold": 1}
    assert set(p.name for p in tmp_path.iterdir()) == before  # no temporary files
    assert len(r.filter_events(parse_filter("Position*"))) == 2


def test_a_filtered_replayer_replays_like_a_filtered_replay(recording) -> None:
    r = EventReplayer(recording)
    for pred in (lambda name: "Market" in name, "source=OrderExecutor", "data.pair == 'BTC/USDT'"):
        a, b = CollectingBus(), CollectingBus()
        clock_a, clock_b = VirtualClock(), VirtualClock()
        r.filter_events(pred).replay(a, speed_multiplier=3, clock=clock_a)
        r.replay(b, speed_multiplier=3, event_filter=pred, clock=clock_b)
        assert a.events == b.events and clock_a.sleeps == clock_b.sleeps and a.events


def test_start_end_by_offset_and_time(recording) -> None:
    r = EventReplayer(recording)
    assert replay_names(r, start=2, end=4) == [EVENTS[2][0], EVENTS[3][0]]
    assert replay_names(r, start="1s", end="2.5s") == [e[0] for e in EVENTS if 1000 <= e[3] <= 2500]
    assert replay_names(r, start="2025-10-12T10:00:01.500+00:00") == [e[0] for e in EVENTS if e[3] >= 1500]
    res = r.replay(CollectingBus(), speed_multiplier="max", start=1, end="1s", event_filter="Market*")
    assert (res.published, res.filtered_out) == (1, 2)
    with pytest.raises(EvlogError):
        r.replay(CollectingBus(), start="yesterday")
    with pytest.raises(EvlogError):
        r.replay(CollectingBus(), start=-1)


def test_loop_and_result_counts(recording) -> None:
    r = EventReplayer(recording)
    bus = CollectingBus()
    res = r.replay(bus, speed_multiplier="max", loop=3, event_filter=lambda n: n != "OrderFailed")
    assert res.passes == 3 and res.published == 21 and res.filtered_out == 3 and res.failed == 0
    assert [n for n, _, _ in bus.events] == [e[0] for e in EVENTS if e[0] != "OrderFailed"] * 3


def test_publish_failures_are_counted_and_replay_goes_on(recording) -> None:
    bus = ServiceBus()
    got: list = []

    def handler(name, event, source):
        if "Failed" in name:
            raise RuntimeError(f"boom on {name}\nsecond line")
        got.append(name)
    bus.subscribe("*", handler)
    r = EventReplayer(recording)
    res = r.replay(bus, speed_multiplier="max")
    assert (res.published, res.failed) == (6, 2) and len(got) == 6
    assert res.errors[0] == "offset 2 PriceFetchFailed: RuntimeError: boom on PriceFetchFailed"
    got.clear()
    res = r.replay(bus, speed_multiplier="max", stop_on_error=True)
    assert res.stopped and (res.published, res.failed) == (2, 1) and got == [EVENTS[0][0], EVENTS[1][0]]


class MarketPriceFetched(BaseModel):
    cycle_id: int
    pair: str
    current_price: Decimal


def test_registry_and_events_module_rebuild_models(recording) -> None:
    r = EventReplayer(recording)
    bus = CollectingBus()
    r.replay(bus, speed_multiplier="max", registry={"MarketPriceFetched": MarketPriceFetched},
             event_filter="MarketPriceFetched")
    assert bus.events[1][1] == MarketPriceFetched(cycle_id=2, pair="BTC/USDT", current_price=Decimal("50123.45"))
    bus = CollectingBus()
    r.replay(bus, speed_multiplier="max", events_module_name=__name__)
    assert isinstance(bus.events[1][1], MarketPriceFetched) and isinstance(bus.events[0][1], dict)
    bus = CollectingBus()
    res = r.replay(bus, speed_multiplier="max", events_module_name="no_such_module_xyz")   # the original: a warning
    assert res.published == len(EVENTS) and all(isinstance(e, dict) for _, e, _ in bus.events)
    assert "could not import events module 'no_such_module_xyz'" in res.warnings[0]


def test_model_validation_failure_counts_as_failed(recording) -> None:
    class Strict(BaseModel):
        missing_field: int
    res = EventReplayer(recording).replay(CollectingBus(), speed_multiplier="max", registry={"OrderFailed": Strict})
    assert res.failed == 1 and res.published == 7 and "ValidationError" in res.errors[0]


def test_progress_callback(recording) -> None:
    calls: list = []
    EventReplayer(recording).replay(CollectingBus(), speed_multiplier=10.0, clock=VirtualClock(),
                                    progress_callback=lambda current, total: calls.append((current, total)))
    assert calls == [(i, 8) for i in range(1, 9)]
    calls.clear()
    EventReplayer(recording).replay(CollectingBus(), speed_multiplier="max", event_filter="data.pair == 'BTC/USDT'",
                                    progress_callback=lambda c, t: calls.append((c, t)))
    assert calls == [(2, 8), (4, 8), (5, 8), (7, 8)]   # positions in the recording (the original's)
    calls.clear()
    EventReplayer(recording).replay(CollectingBus(), speed_multiplier="max", event_filter="data.pair == 'BTC/USDT'",
                                    progress_callback=lambda c, t: calls.append((c, t)), progress="selected")
    assert calls == [(1, 4), (2, 4), (3, 4), (4, 4)]


def test_user_mistakes_are_evlog_errors(tmp_path, recording) -> None:
    with pytest.raises(RecordingNotFoundError):
        EventReplayer(tmp_path / "nope")
    (tmp_path / "text.txt").write_text("hello")
    with pytest.raises(NotARecordingError):
        EventReplayer(tmp_path / "text.txt")
    r = EventReplayer(recording)
    for bad in (0, -1, "fast", float("nan")):
        with pytest.raises(ReplayError):
            r.replay(CollectingBus(), speed_multiplier=bad)
    with pytest.raises(EvlogError):
        r.replay(42)
    with pytest.raises(EvlogError):
        r.replay(CollectingBus(), event_filter="data.x ==")
    with pytest.raises(EvlogError):
        r.replay(CollectingBus(), event_filter=3)
    with pytest.raises(EvlogError):
        r.replay(CollectingBus(), loop=-2)


def test_replay_into_a_callable_and_print_timeline_truncates(recording) -> None:
    got: list = []
    EventReplayer(recording).replay(lambda n, e, s: got.append(n), speed_multiplier="max")
    assert len(got) == 8
    out = io.StringIO()
    EventReplayer(recording).print_timeline(max_events=3, file=out)
    text = out.getvalue()
    assert text.count(" ms  #") == 3 and "... and 5 more events" in text
