from __future__ import annotations

import json
from pathlib import Path

import pytest

from evlog.segments import Log

EVENTS = [  # (name, data, source, offset_ms)
    ("BotMonitoringCycleStarted", {"cycle_number": 1, "timestamp": "2025-10-12T10:00:00+00:00"}, "Orchestrator", 0),
    ("MarketPriceFetched", {"cycle_id": 1, "pair": "BTC/USDT", "current_price": "50000.0"}, "MarketPriceFetcher", 523),
    ("PriceFetchFailed", {"cycle_id": 1, "pair": "ETH/USDT", "error": "timeout"}, "MarketPriceFetcher", 600),
    ("PositionPurchased", {"pair": "BTC/USDT", "purchase_price": "50010.5"}, "OrderExecutor", 1000),
    ("MarketPriceFetched", {"cycle_id": 2, "pair": "BTC/USDT", "current_price": "50123.45"}, "MarketPriceFetcher", 1500),
    ("OrderFailed", {"pair": "SOL/USDT", "error_code": "X"}, "OrderExecutor", 1700),
    ("PositionSold", {"pair": "BTC/USDT", "profit": "-3.2"}, "OrderExecutor", 2500),
    ("BotMonitoringCycleCompleted", {"cycle_number": 1}, "Orchestrator", 3000),
]
START = "2025-10-12T10:00:00+00:00"
START_NS = 1_760_263_200 * 10**9


def write_legacy(path: Path, events=EVENTS) -> Path:
    doc = {"session_name": "bull_run_scenario", "start_time": START, "duration_ms": events[-1][3] if events else 0,
           "total_events": len(events),
           "events": [{"timestamp_offset_ms": ms, "event_name": n, "event_data": d, "source": s}
                      for n, d, s, ms in events]}
    path.write_text(json.dumps(doc))
    return path


def write_evlog(path: Path, events=EVENTS, **opts) -> Path:
    with Log.create(path, "bull_run_scenario", start_time_ns=START_NS, fsync="never", **opts) as log:
        for n, d, s, ms in events:
            mono = round(ms * 10**6)   # ms may be fractional (523.5)
            log.append(n, d, s, timestamp=START_NS + mono, monotonic=mono)
    return path


@pytest.fixture(params=["evlog", "legacy"])
def recording(request, tmp_path) -> Path:
    """The same small session in both formats."""
    if request.param == "evlog":
        return write_evlog(tmp_path / "session", block_max_records=3)
    return write_legacy(tmp_path / "session.json")
