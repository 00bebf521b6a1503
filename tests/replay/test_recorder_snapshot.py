"""Snapshot at publish: an event is recorded as it was when `publish` was called, even when
the program mutates the same object in place and publishes it again right after."""
from __future__ import annotations

import copy
import dataclasses
import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from evlog.bus import ServiceBus
from evlog.demo import MarketPriceFetched
from evlog.recorder import EventRecorder
from evlog.recording import open_recording

N = 20_000
T0 = dt.datetime(2025, 10, 12, 10, 0, tzinfo=dt.timezone.utc)


@dataclasses.dataclass
class Position:
    pair: str
    qty: Decimal
    opened: dt.datetime
    fills: list


def mutate_model(m: MarketPriceFetched, i: int) -> None:
    m.cycle_id = i
    m.current_price = Decimal(50_000) + Decimal(i) / 100
    m.bid = m.current_price - Decimal("0.5")
    m.timestamp = T0 + dt.timedelta(microseconds=i)


def mutate_dict(d: dict, i: int) -> None:
    d["i"] = i
    d["price"] = Decimal(i) / 8
    d["at"] = (T0 + dt.timedelta(seconds=i)).astimezone(ZoneInfo("Europe/Paris"))
    d["levels"][0][0] = i
    d["levels"][1].append(i)
    if len(d["levels"][1]) > 5:
        del d["levels"][1][0]


def mutate_list(x: list, i: int) -> None:
    x[0] = i
    x[1][0].append(str(i))
    if len(x[1][0]) > 4:
        x[1][0].pop(0)
    x[1][1] = {"n": i, "d": Decimal(i)}


def mutate_dataclass(p: Position, i: int) -> None:
    p.qty = Decimal(i) / 1000
    p.opened = T0 + dt.timedelta(milliseconds=i)
    p.fills.append(i)
    if len(p.fills) > 3:
        p.fills.pop(0)


CASES = {
    "model": (lambda: MarketPriceFetched(cycle_id=0, pair="BTC/USDT", current_price=Decimal(1), bid=Decimal(1),
                                         ask=Decimal(2), volume_24h=1.5, exchange="binance", timestamp=T0),
              mutate_model, lambda m: m.model_copy(deep=True),
              lambda data, want: MarketPriceFetched.model_validate(data) == want),
    "dict": (lambda: {"i": 0, "price": Decimal(0), "at": T0, "levels": [[0], []]}, mutate_dict, copy.deepcopy,
             lambda data, want: data == want),
    "nested list": (lambda: [0, [[], {}]], mutate_list, copy.deepcopy,
                    lambda data, want: data == want),
    "dataclass": (lambda: Position("ETH/USDT", Decimal(0), T0, []), mutate_dataclass,
                  lambda p: dataclasses.asdict(p), lambda data, want: data == want),
}


@pytest.mark.parametrize("kind", list(CASES))
def test_mutation_after_publish_0_wrong(tmp_path, kind) -> None:
    make, mutate, snapshot, equal = CASES[kind]
    bus = ServiceBus()
    seen = []
    bus.subscribe("*", lambda name, event, source: seen.append(1))
    event = make()
    wanted = []
    with EventRecorder("mut", tmp_path) as rec:
        rec.start_recording(bus)
        for i in range(N):
            mutate(event, i)
            wanted.append(snapshot(event))
            bus.publish("Tick", event, "bot")   # the same object, mutated in place, again
        path = rec.save()
    assert len(seen) == N and rec.recorded == N
    with open_recording(path) as recording:
        got = [r.data for r in recording.read()]
    assert len(got) == N
    wrong = sum(1 for data, want in zip(got, wanted) if not equal(data, want))
    assert wrong == 0, f"{wrong} of {N} events recorded with a later state"
