"""The filter language: parsing, semantics, errors and pushdown into Log.read."""
from __future__ import annotations

import datetime as _dt
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evlog.filters import Filter, FilterSyntaxError, parse_filter
from evlog.segments import Log, Record
from evlog.segments.errors import EvlogError

REC = Record(5, 1_760_263_200_000_000_000, 2_000_000_000, "MarketPriceFetched", "MarketPriceFetcher",
             {"pair": "BTC/USDT", "current_price": "50123.45", "items": [{"qty": 2}], "tags": ["a", "b"],
              "big": 10**30, "ratio": 0.1, "dec": Decimal("1.50"), "ok": True, "none": None,
              "when": _dt.datetime(2025, 10, 12, tzinfo=_dt.timezone.utc), "héllo wörld": "ünï"})


@pytest.mark.parametrize("text, expected", [
    ("Market*", True), ("Position*", False), ('"MarketPriceFetched"', True), ("MarketPriceFetched", True),
    ("name == MarketPriceFetched", True), ('name == "Market*"', False), ("name != X", True),
    ('name in ["A", "MarketPriceFetched"]', True), ("source=MarketPriceFetcher", True),
    ('source == "Orchestrator"', False), ('data.pair == "BTC/USDT"', True),
    ("data.current_price > 50000", True), ("data.current_price < 50000", False),
    ("data.current_price == 50123.45", True), ('data.current_price == "50123.45"', True),
    ("data.items[0].qty >= 1", True), ("data.items[1].qty >= 1", False), ("data.items[-1].qty == 2", True),
    ("data.big > 999999999999999999999999999", True), ("data.ratio == 0.1", True),
    ("data.dec == 1.5", True), ("data.ok == true", True), ("data.ok == 1", False), ("data.none == null", True),
    ("data.none != null", False), ("data.missing == null", False), ("data.missing != 1", False),
    ("not data.missing == 1", True), ("data.missing < 3", False), ("data.pair > 3", False),
    ('data.tags contains "a"', True), ('data.tags contains "z"', False), ('data.pair contains "USD"', True),
    ("exists(data.pair)", True), ("exists(data.nope)", False), ("exists(data.items[0].qty)", True),
    ('data["héllo wörld"] == "ünï"', True), ("offset >= 5", True), ("offset > 5", False),
    ("offset in [1, 5]", True), ("time >= 1s and time < 2.5s", True), ("time > 2s", False),
    ("timestamp >= 2025-10-12T10:00:00+00:00", True), ('timestamp < "2025-10-12T10:00:00Z"', False),
    ('data.when == "2025-10-12T00:00:00+00:00"', True),
    ('(Position* or Market*) and data.pair in ["BTC/USDT", "ETH/USDT"]', True),
    ("not Market*", False), ("! Market* || source = MarketPriceFetcher", True),
    ("Market* and not source == MarketPriceFetcher", False), ("A or B or Market*", True),
])
def test_semantics(text: str, expected: bool) -> None:
    f = parse_filter(text)
    assert f.matches(REC) is expected
    assert str(f) == text


@pytest.mark.parametrize("text, column", [
    ("", 1), ("data.x ==", 10), ("a and (b", 9), ("data.x ~ 3", 8), ("name in [a", 11),
    ('"open', 1), ("time > 5", 8), ("and", 1), ("data. == 1", 6), ("data.x < true", 8),
    ("exists(name)", 8), ("a b", 3), ("data.x[zz] == 1", 8),
])
def test_syntax_errors_are_one_line_with_column(text: str, column: int) -> None:
    with pytest.raises(FilterSyntaxError) as info:
        parse_filter(text)
    err = info.value
    assert isinstance(err, EvlogError) and isinstance(err, ValueError)
    assert "\n" not in str(err)
    assert err.column == column, str(err)
    assert f"column {column}" in str(err)


def test_missing_fields_never_raise() -> None:
    weird = Record(0, 0, 0, "X", "", None)
    for text in ("data.a.b > 1", "data[0] == 1", "data contains 'x'", "exists(data.a)", "data.a in [1]"):
        assert parse_filter(text).matches(weird) is False
    scalar = Record(0, 0, 0, "X", "", 7)
    assert parse_filter("data == 7").matches(scalar)
    assert parse_filter("data.x == 7").matches(scalar) is False
    nan = Record(0, 0, 0, "X", "", {"x": float("nan"), "s": "NaN"})
    assert parse_filter("data.x > 1 or data.x < 1 or data.x == 1 or data.s < 1").matches(nan) is False


def test_pushdown_shapes() -> None:
    assert set(parse_filter("Position*").read_kwargs()) == {"names"}
    assert set(parse_filter("Position* and source=Bot").read_kwargs()) == {"names", "sources"}
    assert set(parse_filter("A or source=Bot").read_kwargs()) == {"where"}
    assert set(parse_filter("A and data.x == 1").read_kwargs()) == {"names", "where"}
    assert set(parse_filter("not A").read_kwargs()) == {"names"}
    kw = parse_filter("(A or B) and data.x > 1").read_kwargs()
    assert kw["names"]("A") and kw["names"]("B") and not kw["names"]("C")


NAMES = ["Alpha", "Beta", "PositionSold", "PositionPurchased", "Order Failed"]
SOURCES = ["Orchestrator", "Bot", ""]
atoms = st.sampled_from([
    "Alpha", "Position*", '"Order Failed"', "name == Beta", "name != Alpha", 'name in ["Beta", "Alpha"]',
    "source == Bot", "source=Orchestrator", "source != Bot", "data.x > 3", "data.x == 2",
    'data.s contains "a"', "exists(data.y)", "offset >= 7", "offset < 3", "data.l[0] <= 1",
])


@st.composite
def expressions(draw, depth: int = 0) -> str:
    if depth > 2 or draw(st.booleans()):
        return draw(atoms)
    kind = draw(st.sampled_from(["and", "or", "not", "paren"]))
    if kind == "not":
        return f"not {draw(expressions(depth + 1))}"
    if kind == "paren":
        return f"({draw(expressions(depth + 1))})"
    return f"({draw(expressions(depth + 1))}) {kind} ({draw(expressions(depth + 1))})"


events = st.lists(st.tuples(
    st.sampled_from(NAMES),
    st.fixed_dictionaries({}, optional={"x": st.one_of(st.integers(-5, 10), st.decimals(-5, 10, places=2),
                                                       st.text(max_size=3)),
                                        "y": st.none(), "s": st.text("ab", max_size=3),
                                        "l": st.lists(st.integers(0, 3), max_size=2)}),
    st.sampled_from(SOURCES)), max_size=40)


@settings(max_examples=60)
@given(events, expressions())
def test_pushdown_selects_what_matches_selects(tmp_path_factory, evs, text) -> None:
    path = tmp_path_factory.mktemp("f") / "rec"
    with Log.create(path, "t", fsync="never", block_max_records=7) as log:
        log.append_batch(evs)
    f = parse_filter(text)
    with Log.open(path) as log:
        everything = [r.offset for r in log.read() if f.matches(r)]
        pushed = [r.offset for r in log.read(**f.read_kwargs())]
    assert pushed == everything


def test_parse_filter_accepts_a_filter_and_rejects_non_strings() -> None:
    f = parse_filter("A")
    assert parse_filter(f) is f and isinstance(f, Filter)
    with pytest.raises(FilterSyntaxError):
        parse_filter(3)  # type: ignore[arg-type]
