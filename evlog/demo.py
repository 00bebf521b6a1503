"""A small simulated trading bot: the events of the demo recording and of the benchmarks.

`trading_session(n)` yields `(event_name, event, source, offset_ns)` for a bot that runs
monitoring cycles: fetch a price, compute indicators, sometimes buy or sell, sometimes
fail. Events are pydantic models of about 200 bytes of JSON. Deterministic for a seed.
`DemoTrader` is a bot that trades on those market events (the example of docs/testing.md).
"""
from __future__ import annotations

import datetime as _dt
import random
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from pydantic import BaseModel

PAIRS = ["BTC/USDT", "ETH/USDT", "SOL/USDT", "BNB/USDT"]


class BotMonitoringCycleStarted(BaseModel):
    cycle_number: int
    timestamp: _dt.datetime
    pairs: list[str]


class MarketPriceFetched(BaseModel):
    cycle_id: int
    pair: str
    current_price: Decimal
    bid: Decimal
    ask: Decimal
    volume_24h: float
    exchange: str
    timestamp: _dt.datetime


class IndicatorsCalculated(BaseModel):
    cycle_id: int
    pair: str
    rsi: float
    macd: float
    macd_signal: float
    ema_fast: float
    ema_slow: float
    signal: str


class PositionPurchased(BaseModel):
    position_id: UUID
    pair: str
    purchase_price: Decimal
    quantity: Decimal
    fee: Decimal
    reason: str
    timestamp: _dt.datetime


class PositionSold(BaseModel):
    position_id: UUID
    pair: str
    sell_price: Decimal
    quantity: Decimal
    profit: Decimal
    profit_pct: float
    timestamp: _dt.datetime


class OrderFailed(BaseModel):
    cycle_id: int
    pair: str
    error_code: str
    message: str
    retryable: bool


class PriceFetchFailed(BaseModel):
    cycle_id: int
    pair: str
    exchange: str
    error: str


class BotMonitoringCycleCompleted(BaseModel):
    cycle_number: int
    duration_ms: float
    positions_open: int


EVENT_TYPES: dict[str, type[BaseModel]] = {
    cls.__name__: cls for cls in (
        BotMonitoringCycleStarted, MarketPriceFetched, IndicatorsCalculated, PositionPurchased,
        PositionSold, OrderFailed, PriceFetchFailed, BotMonitoringCycleCompleted,
    )
}

SOURCES = {
    "BotMonitoringCycleStarted": "Orchestrator", "BotMonitoringCycleCompleted": "Orchestrator",
    "MarketPriceFetched": "MarketPriceFetcher", "PriceFetchFailed": "MarketPriceFetcher",
    "IndicatorsCalculated": "IndicatorEngine", "PositionPurchased": "OrderExecutor",
    "PositionSold": "OrderExecutor", "OrderFailed": "OrderExecutor",
}


def trading_session(n_events: int, seed: int = 42, start: _dt.datetime | None = None,
                    cycle_interval_ms: float = 1000.0) -> Iterator[tuple[str, BaseModel, str, int]]:
    """Yield `n_events` events `(name, model, source, offset_ns)` of a simulated bot."""
    rng = random.Random(seed)
    start = start or _dt.datetime(2025, 10, 12, 10, 0, tzinfo=_dt.timezone.utc)
    prices = {"BTC/USDT": 50000.0, "ETH/USDT": 3000.0, "SOL/USDT": 150.0, "BNB/USDT": 550.0}
    open_positions: dict[str, tuple[UUID, Decimal, Decimal]] = {}
    produced = 0
    cycle = 0
    t_ns = 0

    def emit(name: str, event: BaseModel) -> tuple[str, BaseModel, str, int]:
        return name, event, SOURCES[name], t_ns

    def now() -> _dt.datetime:
        return start + _dt.timedelta(microseconds=t_ns // 1000)

    while produced < n_events:
        cycle += 1
        cycle_start = t_ns
        events = [emit("BotMonitoringCycleStarted",
                       BotMonitoringCycleStarted(cycle_number=cycle, timestamp=now(), pairs=PAIRS))]
        for pair in PAIRS:
            t_ns += int(rng.uniform(2, 40) * 1e6)
            if rng.random() < 0.01:
                events.append(emit("PriceFetchFailed", PriceFetchFailed(
                    cycle_id=cycle, pair=pair, exchange="binance", error="timeout after 5000 ms")))
                continue
            prices[pair] *= 1 + rng.gauss(0, 0.002)
            px = Decimal(str(round(prices[pair], 2)))
            spread = Decimal(str(round(prices[pair] * 0.0001, 2)))
            events.append(emit("MarketPriceFetched", MarketPriceFetched(
                cycle_id=cycle, pair=pair, current_price=px, bid=px - spread, ask=px + spread,
                volume_24h=round(rng.uniform(1e5, 1e7), 3), exchange="binance", timestamp=now())))
            t_ns += int(rng.uniform(0.2, 3) * 1e6)
            rsi = rng.uniform(10, 90)
            signal = "buy" if rsi < 30 else "sell" if rsi > 70 else "hold"
            events.append(emit("IndicatorsCalculated", IndicatorsCalculated(
                cycle_id=cycle, pair=pair, rsi=round(rsi, 4), macd=round(rng.gauss(0, 20), 4),
                macd_signal=round(rng.gauss(0, 15), 4), ema_fast=round(prices[pair] * 1.001, 4),
                ema_slow=round(prices[pair] * 0.999, 4), signal=signal)))
            if signal == "buy" and pair not in open_positions and rng.random() < 0.5:
                t_ns += int(rng.uniform(5, 50) * 1e6)
                if rng.random() < 0.08:
                    events.append(emit("OrderFailed", OrderFailed(
                        cycle_id=cycle, pair=pair, error_code="INSUFFICIENT_BALANCE",
                        message="Account has insufficient balance for requested action.", retryable=False)))
                else:
                    qty = Decimal(str(round(1000 / prices[pair], 6)))
                    pid = UUID(int=rng.getrandbits(128), version=4)
                    open_positions[pair] = (pid, px, qty)
                    events.append(emit("PositionPurchased", PositionPurchased(
                        position_id=pid, pair=pair, purchase_price=px, quantity=qty,
                        fee=Decimal("0.001") * px * qty, reason=f"RSI {rsi:.1f} below 30", timestamp=now())))
            elif signal == "sell" and pair in open_positions:
                t_ns += int(rng.uniform(5, 50) * 1e6)
                pid, bought, qty = open_positions.pop(pair)
                profit = (px - bought) * qty
                events.append(emit("PositionSold", PositionSold(
                    position_id=pid, pair=pair, sell_price=px, quantity=qty, profit=profit,
                    profit_pct=float((px - bought) / bought * 100), timestamp=now())))
        events.append(emit("BotMonitoringCycleCompleted", BotMonitoringCycleCompleted(
            cycle_number=cycle, duration_ms=round((t_ns - cycle_start) / 1e6, 3),
            positions_open=len(open_positions))))
        for ev in events:
            if produced >= n_events:
                return
            produced += 1
            yield ev
        t_ns = cycle_start + int(cycle_interval_ms * 1e6)


def _field(event: Any, name: str) -> Any:
    """A field of an event published as a model (live) or replayed as a dict."""
    return event[name] if isinstance(event, dict) else getattr(event, name)


class DemoTrader:
    """A trading bot on a bus, to regression-test (docs/testing.md): it reads the demo's
    market events (`MarketPriceFetched`, `IndicatorsCalculated`) and publishes its decisions:
    `PositionPurchased` when the RSI is below `buy_below` and the pair has no open position,
    `PositionSold` when it is above `sell_above` and one is open. Deterministic: the same
    inputs give the same decisions (position ids derived from the pair and the cycle)."""

    def __init__(self, bus: Any, *, buy_below: float = 30.0, sell_above: float = 70.0,
                 budget: Decimal = Decimal("1000")) -> None:
        self.bus = bus
        self.buy_below, self.sell_above, self.budget = buy_below, sell_above, budget
        self.prices: dict[str, tuple[Decimal, Any]] = {}
        self.open: dict[str, tuple[UUID, Decimal, Decimal]] = {}
        bus.subscribe("MarketPriceFetched", self.on_price)
        bus.subscribe("IndicatorsCalculated", self.on_indicators)

    def on_price(self, name: str, event: Any, source: str) -> None:
        self.prices[_field(event, "pair")] = (Decimal(str(_field(event, "current_price"))), _field(event, "timestamp"))

    def on_indicators(self, name: str, event: Any, source: str) -> None:
        pair, rsi = _field(event, "pair"), float(_field(event, "rsi"))
        if pair not in self.prices:
            return
        px, when = self.prices[pair]
        if rsi < self.buy_below and pair not in self.open:
            qty = (self.budget / px).quantize(Decimal("0.000001"))
            pid = uuid5(NAMESPACE_URL, f"evlog-demo/{pair}/{_field(event, 'cycle_id')}")
            self.open[pair] = (pid, px, qty)
            self.bus.publish("PositionPurchased", PositionPurchased(
                position_id=pid, pair=pair, purchase_price=px, quantity=qty,
                fee=(Decimal("0.001") * px * qty).quantize(Decimal("0.00000001")),
                reason=f"RSI {rsi:.1f} below {self.buy_below:g}", timestamp=when), "OrderExecutor")
        elif rsi > self.sell_above and pair in self.open:
            pid, bought, qty = self.open.pop(pair)
            self.bus.publish("PositionSold", PositionSold(
                position_id=pid, pair=pair, sell_price=px, quantity=qty, profit=(px - bought) * qty,
                profit_pct=round(float((px - bought) / bought * 100), 6), timestamp=when), "OrderExecutor")


def run_demo(out_dir: str = "recordings", n_events: int = 2000, *, pace: float = 50.0, seed: int = 42,
             session_name: str = "demo", on_event: Callable[[int], None] | None = None) -> str:
    """Run the simulated bot on an in-process ServiceBus under an EventRecorder and return the
    recording's path. `pace`: how much faster than the bot's simulated clock (1.0: real
    time, one cycle a second; math.inf: no waiting). Events are published when due, so the
    recording holds the real timing of the run."""
    import math
    import time

    from .bus import ServiceBus
    from .recorder import EventRecorder

    bus = ServiceBus()
    recorder = EventRecorder(session_name, output_dir=out_dir, fsync="interval")
    recorder.start_recording(bus)
    try:
        t0 = time.monotonic()
        for i, (name, event, source, offset_ns) in enumerate(trading_session(n_events, seed=seed), 1):
            if not math.isinf(pace):
                wait = t0 + offset_ns / 1e9 / pace - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
            bus.publish(name, event, source)
            if on_event is not None:
                on_event(i)
    finally:
        recorder.stop_recording()
        path = recorder.save()
    return str(path)
