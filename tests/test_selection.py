"""evlog.selection: one frozen Selection for every layer, and its one conversion to a Query."""
from __future__ import annotations

import dataclasses
import datetime as _dt

import pytest

from evlog import ops, replay
from evlog.filters import Filter, FilterSyntaxError
from evlog.segments.query import Query
from evlog.selection import Selection, SelectionError

START = 1_760_000_000_000_000_000


def test_ops_and_replay_use_the_one_selection():
    assert ops.Selection is replay.Selection is Selection


def test_a_selection_is_frozen_and_parses_its_filter_once():
    sel = Selection(filter="Alpha or Beta")
    assert isinstance(sel.filter, Filter) and str(sel.filter) == "Alpha or Beta"
    with pytest.raises(dataclasses.FrozenInstanceError):
        sel.start = "1s"  # type: ignore[misc]
    with pytest.raises(FilterSyntaxError):
        Selection(filter="data.x >")


@pytest.mark.parametrize("sel, expected", [
    (Selection(), {}),
    (Selection(offsets=(2, 5)), {"start": 2, "end": 5}),
    (Selection(offsets=(None, 4)), {"end": 4}),
    (Selection(start="3ms"), {"start_mono": 3_000_000}),
    (Selection(end="2ms"), {"end_mono": 2_000_000}),
    (Selection(end=_dt.datetime.fromtimestamp(START / 1e9 - 5, _dt.timezone.utc)), {"end": 0}),  # before it
    (Selection(start=3, end=7), {"start": 3, "end": 7}),                  # offsets given as ints
    (Selection(start="1ms", offsets=(4, 6)), {"start_mono": 1_000_000, "start": 4, "end": 6}),
])
def test_query_places_ranges(sel, expected):
    kwargs = sel.query(START).kwargs()
    assert {k: v for k, v in kwargs.items() if k not in ("names", "sources", "where")} == expected


def test_query_pushes_names_and_sources_down_and_tests_the_rest():
    q = Selection(filter='Alpha and source == "left"').query()
    assert q.names("Alpha") and not q.names("Beta") and q.sources("left") and q.where is None
    q = Selection(filter="Alpha and data.i > 2").query()
    assert q.names("Alpha") and not q.names("Beta") and q.where is not None
    raw = Selection(filter="data.i > 2").query(raw=True)
    assert raw.raw and raw.where is not None and raw.where.on_record is not None


def test_a_time_range_needs_the_start_time():
    with pytest.raises(SelectionError):
        Selection(start="1s").query()


def test_of_takes_the_original_event_filters():
    by_name = Selection.of(lambda name: "Failed" in name)
    assert by_name.name_only and by_name.name_ok("OrderFailed") and not by_name.name_ok("Ok")

    def whole(name, event):
        return event["event_data"]["i"] > 1
    assert not Selection.of(whole).name_only
    assert Selection.of(None).empty and Selection.of("Alpha").filter == Selection(filter="Alpha").filter
    with pytest.raises(SelectionError):
        Selection.of(42)


def test_and_combines_filters_tests_and_offsets():
    sel = Selection(filter="Alpha or Beta", offsets=(2, None)) & Selection(filter="source == left", offsets=(None, 8))
    assert str(sel.filter) == "(Alpha or Beta) and (source == left)" and sel.offsets == (2, 8)
    both = Selection.of(lambda n: n.startswith("A")) & Selection.of(lambda n: n.endswith("a"))
    assert both.name_ok("Alpha") and not both.name_ok("Ab") and len(both.texts) == 2
    with pytest.raises(SelectionError):
        Selection(start="1s") & Selection(start="2s")


def test_replay_bounds():
    assert Selection(offsets=(3, 9)).replay_bounds(START) == (3, 9)
    assert Selection(start="1s", end="2s").replay_bounds(START) == ("1s", "2s")
    assert Selection(end="1970-01-01T00:00:00Z").replay_bounds(START)[1] == 0
    with pytest.raises(SelectionError):
        Selection(start="1s", offsets=(2, None)).replay_bounds(START)
    assert Selection(filter="A", offsets=(1, 2)).unbounded() == Selection(filter="A")


def test_query_is_the_engines_read_arguments():
    q = Query(start=1, names="A", reverse=True)
    assert q.kwargs() == {"start": 1, "names": "A", "reverse": True} and q.but(start=2).start == 2
    assert Query().kwargs() == {} and not Query().bounded and Query(end_mono=1).bounded
