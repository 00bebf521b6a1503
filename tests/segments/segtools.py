"""Helpers shared by the storage-engine tests: data strategies and a plain-list model."""
from __future__ import annotations

import datetime as dt
import os
import uuid
from collections import Counter
from decimal import Decimal

from hypothesis import strategies as st

from evlog.segments import Log, Record, encode_data

SCALE = int(os.environ.get("EVLOG_TEST_SCALE", "1"))   # more hypothesis examples for a soak run


def examples(n: int) -> int:
    return n * SCALE


NAMES = ["Pos1", "Pos2", "PositionOpened", "Trade", "é名", "x"]
SOURCES = ["", "fetcher", "src-2", "ünï"]
T0 = 1_700_000_000_000_000_000

json_scalars = (
    st.none() | st.booleans()
    | st.integers(min_value=-(1 << 200), max_value=1 << 200)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner, max_size=5),
    max_leaves=15,
)

_tz = st.sampled_from([None, dt.timezone.utc, dt.timezone(dt.timedelta(hours=5, minutes=30)),
                       dt.timezone(-dt.timedelta(hours=8))])
typed_scalars = (
    st.decimals(allow_nan=False, allow_infinity=True)
    | st.datetimes(timezones=_tz)
    | st.dates()
    | st.times(timezones=_tz)
    | st.uuids()
    | st.binary(max_size=40)
    | st.sampled_from([float("inf"), float("-inf")])
    | st.timedeltas()
    | st.frozensets(st.integers(-5, 5), max_size=4).map(set)
)
typed_values = st.recursive(
    json_scalars | typed_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.lists(inner, max_size=4).map(tuple)
    | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=12,
)
event_data = st.one_of(
    json_values, typed_values,
    st.just({}), st.just([]), st.just(""),
    st.text(min_size=2000, max_size=6000),   # large payloads (several small blocks' worth)
)


any_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=10)
any_names = st.sampled_from(NAMES) | any_text
any_sources = st.sampled_from(SOURCES) | any_text


@st.composite
def events(draw, names=any_names, sources=any_sources):
    """(name, data, source, dts, dmono): time steps are relative to the previous event."""
    return (draw(names), draw(event_data), draw(sources),
            draw(st.integers(-2_000, 50_000)), draw(st.integers(0, 50_000)))


class Model:
    """The records a log should hold: a plain list."""

    def __init__(self) -> None:
        self.records: list[Record] = []
        self.ts = T0
        self.mono = 0

    def next_times(self, dts: int, dmono: int) -> tuple[int, int]:
        self.ts += dts
        self.mono += dmono
        return self.ts, self.mono

    def add(self, offset: int, ts: int, mono: int, name: str, source: str, data) -> None:
        assert offset == len(self.records), (offset, len(self.records))
        flags = encode_data(data)[1]
        self.records.append(Record(offset, ts, mono, name, source, data, flags))

    def append(self, log: Log, ev) -> int:
        name, data, source, dts, dmono = ev
        ts, mono = self.next_times(dts, dmono)
        off = log.append(name, data, source, timestamp=ts, monotonic=mono)
        self.add(off, ts, mono, name, source, data)
        return off

    def append_batch(self, log: Log, evs, atomic: bool = False) -> range:
        rows = []
        stamped = []
        for name, data, source, dts, dmono in evs:
            ts, mono = self.next_times(dts, dmono)
            rows.append((name, data, source, ts, mono))
            stamped.append((ts, mono, name, source, data))
        offsets = log.append_batch(rows, atomic=atomic)
        assert len(offsets) == len(rows)
        for off, (ts, mono, name, source, data) in zip(offsets, stamped):
            self.add(off, ts, mono, name, source, data)
        return offsets

    def summary_fields(self) -> dict:
        recs = self.records
        if not recs:
            return {"count": 0}
        return {
            "count": len(recs),
            "names": Counter(r.name for r in recs),
            "sources": Counter(r.source for r in recs),
            "flags": Counter(r.flags for r in recs if r.flags),
            "first_ts": recs[0].timestamp, "last_ts": recs[-1].timestamp,
            "min_ts": min(r.timestamp for r in recs), "max_ts": max(r.timestamp for r in recs),
            "first_mono": recs[0].monotonic, "last_mono": recs[-1].monotonic,
        }


def summary_fields(summary) -> dict:
    if summary.count == 0:
        return {"count": 0}
    return {k: getattr(summary, k) for k in (
        "count", "names", "sources", "flags", "first_ts", "last_ts", "min_ts", "max_ts",
        "first_mono", "last_mono")}


def same(a, b) -> bool:
    """Equality that also checks types inside data (1 == 1.0 == True must not pass)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, set):
        return a == b
    if isinstance(a, float) and a != a:
        return b != b
    if isinstance(a, (dt.datetime, dt.time)):
        return a == b and a.utcoffset() == b.utcoffset()
    if isinstance(a, Decimal):
        return a == b and str(a) == str(b)
    return a == b


def assert_records(got, expected) -> None:
    got = list(got)
    assert len(got) == len(expected), (len(got), len(expected))
    for g, e in zip(got, expected):
        assert tuple(g)[:5] == tuple(e)[:5], (g, e)
        assert g.flags == e.flags, (g, e)
        assert same(g.data, e.data), (g.data, e.data)


def make_uuid(i: int) -> uuid.UUID:
    return uuid.UUID(int=i)
