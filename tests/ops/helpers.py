"""Small recordings for the ops and CLI tests."""
from __future__ import annotations

import datetime as _dt
from collections.abc import Iterable
from decimal import Decimal
from typing import Any
from uuid import UUID

from hypothesis import strategies as st

from evlog import Log   # appends the demo's pydantic models

START = 1_760_000_000_000_000_000   # 2025-10-09T08:53:20Z


def make_recording(path: str, events: Iterable[tuple], *, session: str = "test", start_ns: int = START,
                   **options: Any) -> str:
    """events: (name, data, source, mono_ns) or (name, data, source, mono_ns, headers) tuples;
    wall time = start + mono."""
    with Log.create(path, session, start_time_ns=start_ns, fsync="never", **options) as log:
        for name, data, source, mono, *headers in events:
            log.append(name, data, source, timestamp=start_ns + mono, monotonic=mono,
                       headers=headers[0] if headers else None)
    return path


def read_all(path: str) -> list[tuple]:
    from evlog.recording import open_recording
    with open_recording(path) as rec:
        return [(r.name, r.source, r.timestamp, r.monotonic, r.data, r.flags) for r in rec.read()]


def read_full(path: str) -> list[tuple]:
    """read_all's tuples with the headers (a plain dict) last."""
    from evlog.recording import open_recording
    with open_recording(path) as rec:
        return [(r.name, r.source, r.timestamp, r.monotonic, r.data, r.flags, dict(r.headers)) for r in rec.read()]


def trading(n: int, path: str, **kw: Any) -> str:
    from evlog.demo import trading_session
    return make_recording(path, ((name, ev, src, off) for name, ev, src, off in trading_session(n)), **kw)


NAMES = st.sampled_from(["A", "B", "PositionPurchased", "OrderFailed", "Cycle Started", "é"])
SOURCES = st.sampled_from(["", "src", "Orchestrator", "ünï"])
json_leaf = st.one_of(st.none(), st.booleans(), st.integers(-2**63, 2**63 - 1),
                      st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=12))
json_value = st.recursive(json_leaf, lambda c: st.one_of(st.lists(c, max_size=3),
                                                         st.dictionaries(st.text(max_size=6), c, max_size=3)),
                          max_leaves=8)
typed_value = st.one_of(
    st.decimals(allow_nan=False, allow_infinity=True, places=4),
    st.datetimes(timezones=st.sampled_from([None, _dt.timezone.utc, _dt.timezone(_dt.timedelta(hours=5))])),
    st.dates(), st.timedeltas(),
    st.uuids().map(lambda u: UUID(str(u))),
    st.binary(max_size=8),
    st.integers(-(1 << 200), 1 << 200),
    st.sampled_from([float("inf"), float("-inf")]),
    st.lists(st.integers(-5, 5), max_size=3).map(tuple),
    st.frozensets(st.integers(-5, 5), max_size=3).map(set),
)
event_data = st.one_of(json_value, st.dictionaries(st.sampled_from(["price", "when", "id", "raw", "n"]),
                                                   st.one_of(typed_value, json_leaf), max_size=4))


HEADER_KEYS = st.sampled_from(["id", "subject", "correlation_id", "traceparent", "nats.seq", "X-Request-Id", "ünï",
                               "time", "type", "evlogx"])
header_maps = st.one_of(st.just({}), st.dictionaries(HEADER_KEYS, st.text(max_size=8), max_size=4))


@st.composite
def event_lists(draw: Any, min_size: int = 0, max_size: int = 30, typed: bool = True,
                headers: bool = False) -> list[tuple]:
    """(name, data, source, mono) with non-decreasing mono; with `headers`, (name, data, source,
    mono, headers) where headers is often empty."""
    n = draw(st.integers(min_size, max_size))
    mono = 0
    out = []
    for _ in range(n):
        mono += draw(st.integers(0, 5_000_000_000))
        data = draw(event_data if typed else json_value)
        event = (draw(NAMES), data, draw(SOURCES), mono)
        out.append(event + (draw(header_maps),) if headers else event)
    return out


def as_decimal(x: str) -> Decimal:
    return Decimal(x)
