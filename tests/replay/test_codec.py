"""evlog.codec: Python values (models, dataclasses, NamedTuples, Enums, Structs, attrs classes,
plain objects, the type map's values) round trip through `encode` + the engine's `decode_data`."""
from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import math
import threading
import uuid
from decimal import Decimal
from typing import Any, NamedTuple, Optional
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from evlog import codec
from evlog.codec import EventEncodeError, encode, to_data
from evlog.segments.codec import FLAG_MODEL, FLAG_TYPED, decode_data

EXAMPLES = settings(max_examples=200, deadline=None)


# the classes values are made of ------------------------------------------------------------
class Side(enum.Enum):
    BUY = "buy"
    SELL = "sell"


class Level(enum.IntEnum):
    LOW = 1
    HIGH = 2


@dataclasses.dataclass
class Box:
    a: Any
    b: Any = None


@dataclasses.dataclass(frozen=True)
class Frozen:
    x: Any


class Pair(NamedTuple):
    left: Any
    right: Any


class Plain:
    def __init__(self, p: Any, q: Any) -> None:
        self.p = p
        self.q = q


class Slotted:
    __slots__ = ("s", "t")

    def __init__(self, s: Any) -> None:
        self.s = s   # t stays unset: not an attribute


class Fill(BaseModel):
    price: Decimal
    qty: Decimal
    at: dt.datetime


class Order(BaseModel):
    order_id: uuid.UUID
    pair: str
    side: Side
    fills: list[Fill]
    placed: dt.datetime
    note: Optional[str] = None
    tags: dict[str, int] = {}
    payload: bytes = b""


def expected(value: Any) -> Any:
    """What decode_data gives back for `value` (the codec's documented mapping)."""
    if isinstance(value, BaseModel):   # its JSON form (its Python form if that fails)
        try:
            return value.model_dump(mode="json")
        except Exception:  # noqa: BLE001
            return expected(value.model_dump())
    if isinstance(value, enum.Enum):
        return expected(value.value)
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        return {k: expected(v) for k, v in value._asdict().items()}
    if dataclasses.is_dataclass(value):
        return {f.name: expected(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Plain):
        return {"p": expected(value.p), "q": expected(value.q)}
    if isinstance(value, Slotted):
        return {"s": expected(value.s)}
    if isinstance(value, dict):
        return {k: expected(v) for k, v in value.items()}
    if isinstance(value, list):
        return [expected(v) for v in value]
    if isinstance(value, tuple):
        return tuple(expected(v) for v in value)
    return value


def same(a: Any, b: Any) -> bool:
    """Equality that checks types (1 != 1.0 != True), zones and Decimal digits too."""
    if type(a) is not type(b):
        return False
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    if isinstance(a, (dt.datetime, dt.time)):
        # fold is kept where it means something: with a zone (the type map's zdatetime)
        return a == b and a.utcoffset() == b.utcoffset() and str(a.tzinfo) == str(b.tzinfo) \
            and (not isinstance(a.tzinfo, ZoneInfo) or a.fold == b.fold)
    if isinstance(a, Decimal):
        return str(a) == str(b)
    return a == b


def round_trip(value: Any) -> Any:
    data, flags, types = encode(value)
    assert isinstance(data, bytes) and isinstance(types, bytes)
    assert bool(flags & FLAG_TYPED) == bool(types)
    return decode_data(data, flags, types)


# strategies ----------------------------------------------------------------------------
zones = st.sampled_from([None, dt.timezone.utc, dt.timezone(dt.timedelta(hours=5, minutes=30)),
                         ZoneInfo("Europe/Paris"), ZoneInfo("America/New_York"), ZoneInfo("Asia/Tokyo")])
# from 1950: pydantic's JSON writes UTC offsets in whole minutes (Paris was +00:09:21 in 1911);
# not at a DST change's repeated or skipped hour, where Python never finds a zoned time equal
# to one at a fixed offset (what a model's JSON gives back)
aware = st.datetimes(min_value=dt.datetime(1950, 1, 1),
                     timezones=st.sampled_from([dt.timezone.utc, ZoneInfo("Europe/Paris"),
                                                dt.timezone(-dt.timedelta(hours=3))])
                     ).filter(lambda t: t.utcoffset() == t.replace(fold=1 - t.fold).utcoffset())
decimals = st.decimals(allow_nan=False, allow_infinity=False, places=None)
scalars = (st.none() | st.booleans() | st.integers(-(1 << 70), 1 << 70)
           | st.floats(allow_nan=False) | st.text(max_size=12) | decimals
           | st.datetimes(timezones=zones) | st.dates() | st.times() | st.timedeltas()
           | st.uuids() | st.binary(max_size=16) | st.sampled_from(list(Side) + list(Level)))
fills = st.builds(Fill, price=decimals, qty=decimals, at=aware)
orders = st.builds(Order, order_id=st.uuids(), pair=st.text(max_size=10), side=st.sampled_from(Side),
                   fills=st.lists(fills, max_size=3), placed=aware, note=st.none() | st.text(max_size=8),
                   tags=st.dictionaries(st.text(max_size=5), st.integers(-100, 100), max_size=3),
                   payload=st.binary(max_size=8))


def containers(inner: st.SearchStrategy) -> st.SearchStrategy:
    return (st.lists(inner, max_size=4) | st.lists(inner, max_size=3).map(tuple)
            | st.dictionaries(st.text(max_size=6), inner, max_size=4)
            | st.builds(Box, inner, inner) | st.builds(Frozen, inner) | st.builds(Pair, inner, inner)
            | st.builds(Plain, inner, inner) | st.builds(Slotted, inner))


values = st.recursive(scalars | fills | orders, containers, max_leaves=14)


# properties ------------------------------------------------------------------------------
@EXAMPLES
@given(value=values)
def test_values_round_trip(value) -> None:
    got = round_trip(value)
    assert same(got, expected(value)), (got, expected(value))


@EXAMPLES
@given(order=orders)
def test_models_round_trip_through_model_validate(order) -> None:
    data, flags, types = encode(order)
    assert flags & FLAG_MODEL
    assert Order.model_validate(decode_data(data, flags, types)) == order


@EXAMPLES
@given(value=values)
def test_to_data_is_what_the_engine_encodes(value) -> None:
    """to_data() leaves only plain JSON and the type map's values; encoding it gives the same
    bytes as encoding the value (for all but a top-level model, which is its JSON dump)."""
    from evlog.segments.codec import encode_data
    if isinstance(value, BaseModel):
        return
    assert encode_data(to_data(value)) == encode(value)


def test_a_model_whose_json_dump_fails_is_its_model_dump_with_types() -> None:
    order = Order(order_id=uuid.uuid4(), pair="BTC/USDT", side=Side.BUY, placed=dt.datetime.now(dt.timezone.utc),
                  fills=[Fill(price=Decimal("1.5"), qty=Decimal("2"), at=dt.datetime.now(dt.timezone.utc))],
                  payload=b"\xff\xfe not utf-8")
    data, flags, types = encode(order)
    assert flags & FLAG_MODEL and flags & FLAG_TYPED
    back = decode_data(data, flags, types)
    assert back["payload"] == b"\xff\xfe not utf-8" and back["fills"][0]["price"] == Decimal("1.5")
    assert Order.model_validate(back) == order


def test_non_finite_floats_and_sets() -> None:
    got = round_trip({"n": math.nan, "i": math.inf, "s": {3, 1, 2}, "f": frozenset({"a"})})
    assert math.isnan(got["n"]) and got["i"] == math.inf and got["s"] == {1, 2, 3}


def test_zoned_datetimes_keep_their_zone_and_fold() -> None:
    t = dt.datetime(2025, 10, 26, 2, 30, fold=1, tzinfo=ZoneInfo("Europe/Paris"))
    got = round_trip(Box(t))["a"]
    assert got.tzinfo == ZoneInfo("Europe/Paris") and got.fold == 1 and got.utcoffset() == t.utcoffset()


def test_msgspec_structs_are_their_fields() -> None:
    msgspec = pytest.importorskip("msgspec")

    class Tick(msgspec.Struct):
        pair: str
        price: Decimal
        extra: Any = msgspec.UNSET

    assert round_trip(Tick("BTC", Decimal("1.25"))) == {"pair": "BTC", "price": Decimal("1.25")}
    assert round_trip([Tick("E", Decimal(2), extra=Box(1))]) == [{"pair": "E", "price": Decimal(2),
                                                                  "extra": {"a": 1, "b": None}}]


def test_attrs_classes_are_their_fields() -> None:
    attr = pytest.importorskip("attr")

    @attr.s(auto_attribs=True)
    class Quote:
        bid: Decimal
        at: dt.date
    assert round_trip(Quote(Decimal("3.5"), dt.date(2025, 1, 2))) == {"bid": Decimal("3.5"),
                                                                      "at": dt.date(2025, 1, 2)}


def test_unserializable_values_raise_a_one_line_error_naming_type_and_place() -> None:
    with pytest.raises(EventEncodeError, match=r"_thread\.lock \(at \['a'\]\[1\]\['b'\]\)"):
        encode({"a": [1, {"b": threading.Lock()}]})
    with pytest.raises(EventEncodeError, match=r"builtins\.function"):
        encode(lambda: 1)
    with pytest.raises(EventEncodeError, match="cycle"):
        loop: list = []
        loop.append(Box(loop))
        encode(loop)
    with pytest.raises(EventEncodeError, match="nested too deeply"):
        deep: Any = 1
        for _ in range(50_000):
            deep = Box(deep)
        encode(deep)

    class Broken(BaseModel):
        x: object
    with pytest.raises(EventEncodeError, match=r"builtins\.object \(at \[.x.\]\)"):
        encode(Broken(x=object()))
    for bad in ({"a": [1, {"b": threading.Lock()}]}, lambda: 1):
        with pytest.raises(EventEncodeError) as info:
            encode(bad)
        assert "\n" not in str(info.value)


def test_the_plan_cache_is_bounded() -> None:
    before = dict(codec._plans)
    try:
        for i in range(codec.PLAN_CACHE_MAX + 50):
            cls = type(f"Made{i}", (), {})
            obj = cls()
            obj.i = i
            assert round_trip(obj) == {"i": i}
            assert len(codec._plans) <= codec.PLAN_CACHE_MAX
    finally:
        codec._plans.clear()
        codec._plans.update(before)
