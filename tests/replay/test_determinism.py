"""Property tests: record through a bus, replay into a recording bus, get the same events back."""
from __future__ import annotations

import datetime as _dt
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from evlog.bus import CollectingBus, ServiceBus
from evlog.recorder import EventRecorder
from evlog.replay import VirtualClock
from evlog.replayer import EventReplayer

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(min_value=2**64, max_value=2**200),
    st.floats(allow_nan=False), st.text(), st.decimals(allow_nan=False, allow_infinity=False),
    st.datetimes(timezones=st.one_of(st.none(), st.timezones())),
    st.datetimes().map(lambda d: d.replace(tzinfo=_dt.timezone.utc)),
)
json_data = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=5), st.dictionaries(st.text(max_size=8), inner, max_size=5)), max_leaves=20)
payloads = st.one_of(json_data, st.just({}), st.just([]), st.just(""),
                     st.text(min_size=1, max_size=3).map(lambda s: {"big": s * 40_000}))
names = st.text(min_size=1, max_size=20)
sources = st.text(max_size=12)
event_lists = st.lists(st.tuples(names, payloads, sources), max_size=25)


def record_through_bus(tmp_path_factory, evs) -> str:
    bus = ServiceBus()
    bus.subscribe("*", lambda n, e, s: None)
    with EventRecorder("prop", tmp_path_factory.mktemp("rec"), fsync="never") as rec:
        rec.start_recording(bus)
        for name, data, source in evs:
            bus.publish(name, data, source)
        return rec.save()


@settings(max_examples=60)
@given(event_lists)
def test_record_then_replay_gives_the_same_events(tmp_path_factory, evs) -> None:
    path = record_through_bus(tmp_path_factory, evs)
    replayer = EventReplayer(path)
    first, second = CollectingBus(), CollectingBus()
    res = replayer.replay(first, speed_multiplier="max")
    replayer.replay(second, speed_multiplier="max")
    assert first.events == [(n, d, s) for n, d, s in evs]
    assert second.events == first.events
    assert res.published == len(evs) and res.failed == res.filtered_out == 0


@settings(max_examples=30)
@given(event_lists, st.sampled_from(["name-callable", "text", "event-callable"]), st.floats(0.1, 100.0))
def test_filtered_replayer_equals_filtered_replay(tmp_path_factory, evs, kind, speed) -> None:
    path = record_through_bus(tmp_path_factory, evs)
    wanted = evs[0][0] if evs else "x"
    pred = {"name-callable": lambda name: name <= wanted,
            "text": f"name == {wanted!r} or offset >= 3" if "'" not in wanted else "offset >= 3",
            "event-callable": lambda name, event: event["offset"] % 2 == 0}[kind]
    replayer = EventReplayer(path)
    a, b = CollectingBus(), CollectingBus()
    ca, cb = VirtualClock(), VirtualClock()
    replayer.filter_events(pred).replay(a, speed_multiplier=speed, clock=ca)
    replayer.replay(b, speed_multiplier=speed, event_filter=pred, clock=cb)
    assert a.events == b.events and ca.sleeps == cb.sleeps


class Trade(BaseModel):
    pair: str
    price: Decimal
    qty: float
    at: _dt.datetime
    tags: list[str]
    extra: dict[str, int]


trades = st.builds(Trade, pair=st.text(max_size=10), price=st.decimals(allow_nan=False, allow_infinity=False),
                   qty=st.floats(allow_nan=False, allow_infinity=False),
                   at=st.datetimes(timezones=st.just(_dt.timezone.utc)),
                   tags=st.lists(st.text(max_size=5), max_size=3),
                   extra=st.dictionaries(st.text(max_size=5), st.integers(-2**63, 2**63 - 1), max_size=3))


@settings(max_examples=40)
@given(st.lists(st.tuples(st.sampled_from(["Trade", "Other"]), trades, sources), max_size=15))
def test_pydantic_events_come_back_equal_with_a_registry(tmp_path_factory, evs) -> None:
    path = record_through_bus(tmp_path_factory, evs)
    out = CollectingBus()
    EventReplayer(path).replay(out, speed_multiplier="max", registry={"Trade": Trade})
    assert [e for e in out.events if e[0] == "Trade"] == [e for e in evs if e[0] == "Trade"]
    assert [e[1] for e in out.events if e[0] == "Other"] == [e[1].model_dump(mode="json") for e in evs
                                                              if e[0] == "Other"]
