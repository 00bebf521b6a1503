"""Filters on per-event headers (`headers.correlation_id == "c-1"`): semantics, errors, and a
property test that a header filter selects exactly what a plain-Python predicate selects,
on records and through every read path (pushdown, raw reads of ops, replay and export)."""
from __future__ import annotations

import io
import json
import math
from decimal import Decimal, InvalidOperation

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evlog import ops
from evlog.filters import FilterSyntaxError, parse_filter
from evlog.recording import open_recording
from evlog.replay.selection import Selection as ReplaySelection
from evlog.segments import Log, Record

HEADERS = {"correlation_id": "c-1", "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
           "seq": "42", "x-request-id": "r 7", "empty": ""}
REC = Record(3, 1_760_263_200_000_000_000, 1_000, "OrderPlaced", "Bot", {"correlation_id": "data-side"}, 0, HEADERS)
BARE = Record(4, 1_760_263_200_000_000_000, 2_000, "OrderPlaced", "Bot", {"x": 1})   # no headers (v1-like)


@pytest.mark.parametrize("text, with_headers, without", [
    ('headers.correlation_id == "c-1"', True, False),
    ("headers.correlation_id == c-1", True, False),
    ('headers.correlation_id != "c-2"', True, False),      # a missing header compares false, also with !=
    ('headers.correlation_id == "data-side"', False, False),   # headers, not the data
    ('data.correlation_id == "data-side"', True, False),
    ("exists(headers.traceparent)", True, False),
    ("exists(headers.nope)", False, False),
    ("not exists(headers.traceparent)", False, True),
    ("exists(headers)", True, False),                        # the event has headers at all
    ('headers contains "seq"', True, False),                 # a key of the headers
    ('headers.traceparent contains "4bf92f"', True, False),
    ("headers.seq > 41 and headers.seq <= 42", True, False),  # numeric strings compare as numbers
    ('headers.seq in ["41", "42"]', True, False),
    ("headers.seq in [41, 43]", False, False),
    ('headers["x-request-id"] == "r 7"', True, False),
    ('headers.empty == ""', True, False),
    ("headers.seq[0] == 4", False, False),                   # a header value is a string, not a list
    ("headers.seq.x == 1", False, False),
    ('OrderPlaced and source == Bot and headers.correlation_id == "c-1"', True, False),
    ('headers.correlation_id == "c-1" or data.x == 1', True, True),
])
def test_header_semantics(text: str, with_headers: bool, without: bool) -> None:
    f = parse_filter(text)
    assert f.matches(REC) is with_headers
    assert f.matches(BARE) is without
    assert str(f) == text


def test_objects_without_a_headers_field_have_no_headers() -> None:
    class Old:   # what a caller of filter.matches may pass: no .headers
        offset, timestamp, monotonic, name, source, data = 0, 0, 0, "A", "", {}
    assert parse_filter("exists(headers.id)").matches(Old()) is False
    assert parse_filter("not exists(headers)").matches(Old()) is True


@pytest.mark.parametrize("text, column", [
    ("headers.x ==", 13), ("headers. == 1", 9), ("exists(source)", 8), ('headers.x ~ "a"', 11),
])
def test_header_syntax_errors_name_the_column(text: str, column: int) -> None:
    with pytest.raises(FilterSyntaxError) as info:
        parse_filter(text)
    assert info.value.column == column, str(info.value)


def test_a_word_that_only_starts_with_headers_is_an_event_name() -> None:
    f = parse_filter("headers-received")
    assert f.matches(Record(0, 0, 0, "headers-received", "", None))
    assert f.read_kwargs().keys() == {"names"}


def test_header_tests_are_not_pushed_down_as_names() -> None:
    kw = parse_filter('A and headers.id == "x"').read_kwargs()
    assert set(kw) == {"names", "where", "key"} and kw["key"] == {"headers.id": frozenset({"x"})}
    assert set(parse_filter("exists(headers.id)").read_kwargs()) == {"where"}


# --- the property: a header filter selects what a plain-Python predicate selects ---------------------
KEYS = ["correlation_id", "traceparent", "seq", "x-id"]
VALUES = ["c-1", "c-2", "42", "7", "", "a b", 'q"t']
header_maps = st.dictionaries(st.sampled_from(KEYS), st.sampled_from(VALUES), max_size=4)


def _ref(key: str) -> str:
    return f'headers["{key}"]' if "-" in key else f"headers.{key}"


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _number(text: str) -> Decimal | None:
    if not text or len(text) >= 64:
        return None
    try:
        d = Decimal(text.strip())
    except InvalidOperation:
        return None
    return d if d.is_finite() else None


@st.composite
def header_atoms(draw):
    """(filter text, the same test in plain Python on (name, headers))."""
    key = draw(st.sampled_from(KEYS))
    value = draw(st.sampled_from(VALUES))
    kind = draw(st.sampled_from(["eq", "ne", "in", "contains", "exists", "any", "haskey", "gt"]))
    if kind == "eq":
        return f"{_ref(key)} == {_quote(value)}", lambda n, h: key in h and h[key] == value
    if kind == "ne":
        return f"{_ref(key)} != {_quote(value)}", lambda n, h: key in h and h[key] != value
    if kind == "in":
        other = draw(st.sampled_from(VALUES))
        return (f"{_ref(key)} in [{_quote(value)}, {_quote(other)}]",
                lambda n, h: key in h and h[key] in (value, other))
    if kind == "contains":
        part = draw(st.sampled_from(["c", "-", "4", " ", "z"]))
        return f"{_ref(key)} contains {_quote(part)}", lambda n, h: key in h and part in h[key]
    if kind == "exists":
        return f"exists({_ref(key)})", lambda n, h: key in h
    if kind == "any":
        return "exists(headers)", lambda n, h: bool(h)
    if kind == "haskey":
        return f"headers contains {_quote(key)}", lambda n, h: key in h
    bound = draw(st.integers(0, 50))
    return (f"{_ref(key)} > {bound}",
            lambda n, h: key in h and (x := _number(h[key])) is not None and x > bound)


@st.composite
def header_filters(draw, depth: int = 0):
    if depth > 2 or draw(st.booleans()):
        return draw(header_atoms())
    kind = draw(st.sampled_from(["and", "or", "not", "name"]))
    if kind == "not":
        text, pred = draw(header_filters(depth + 1))
        return f"not ({text})", lambda n, h: not pred(n, h)
    if kind == "name":   # mixed with a name test, which is pushed down
        text, pred = draw(header_filters(depth + 1))
        return f"B and ({text})", lambda n, h: n == "B" and pred(n, h)
    (ta, pa), (tb, pb) = draw(header_filters(depth + 1)), draw(header_filters(depth + 1))
    if kind == "and":
        return f"({ta}) and ({tb})", lambda n, h: pa(n, h) and pb(n, h)
    return f"({ta}) or ({tb})", lambda n, h: pa(n, h) or pb(n, h)


events = st.lists(st.tuples(st.sampled_from(["A", "B"]), header_maps), max_size=25)


@settings(max_examples=300)
@given(events, header_filters())
def test_header_filters_match_what_python_selects(evs, flt) -> None:
    text, pred = flt
    f = parse_filter(text)
    for i, (name, headers) in enumerate(evs):
        record = Record(i, 0, i, name, "", {"i": i}, 0, headers)
        assert f.matches(record) is pred(name, headers), (text, name, headers)


@settings(max_examples=40, deadline=None)
@given(events, header_filters())
def test_every_read_path_selects_what_python_selects(tmp_path_factory, evs, flt) -> None:
    text, pred = flt
    path = str(tmp_path_factory.mktemp("h") / "rec")
    with Log.create(path, "t", fsync="never", block_max_records=5) as log:
        log.append_batch([(name, {"i": i}, "src", None, None, headers) for i, (name, headers) in enumerate(evs)])
    want = [i for i, (name, headers) in enumerate(evs) if pred(name, headers)]
    f = parse_filter(text)
    with open_recording(path) as rec:
        assert [r.offset for r in rec.read() if f.matches(r)] == want                   # decoded records
        assert [r.offset for r in rec.read(**f.read_kwargs())] == want                  # pushdown
        assert [r.offset for r in ops.common.select(rec, ops.Selection(filter=text), raw=True)] == want
        kw = ReplaySelection.of(text).read_kwargs(raw=True)
        assert [r.offset for r in rec.read(raw=True, **kw)] == want                    # the replayer's raw path
    sent: list[int] = []

    class Collect:
        def send(self, r) -> None:
            sent.append(r.offset)

        def idle(self, wait_ns: int = 0) -> None:
            pass

        def close(self) -> None:
            pass
    ops.replay(path, Collect(), speed=math.inf, selection=ops.Selection(filter=text))
    assert sent == want                                                                 # evlog replay
    buf = io.BytesIO()
    ops.export(path, buf, format="jsonl", selection=ops.Selection(filter=text))
    assert [json.loads(line)["offset"] for line in buf.getvalue().splitlines()] == want  # export / cat
