"""evlog.recording: one `Recording` interface that both formats implement in full.

The same events, recorded by evlog and exported to the original JSON format, read the same
through every method of the interface (decoded and raw reads under any query, counts, the last
events, blocks, offsets, metadata); what differs between the formats is only what is cheap
(`capabilities`). No caller above the engine asks which format it holds.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evlog import ops
from evlog.recording import (
    FOLLOW,
    INDEX,
    RAW,
    EvlogRecording,
    LegacyRecording,
    Query,
    Recording,
    decode_raw,
    open_recording,
    raw_where,
)
from evlog.segments import EvlogError, Log


def make_recording(path: str, events: list, session: str = "t") -> str:
    with Log.create(path, session, start_time_ns=1_760_000_000_000_000_000, fsync="never",
                    block_max_records=4) as log:
        for name, data, source, mono, *headers in events:
            log.append(name, data, source, timestamp=1_760_000_000_000_000_000 + mono, monotonic=mono,
                       headers=headers[0] if headers else None)
    return path

EVENTS = [("Alpha", {"i": i}, "left" if i % 2 else "right", i * 1_000_000) for i in range(6)] + \
         [("Beta", {"i": i, "s": "x" * i}, "left", (6 + i) * 1_000_000, {"k": str(i)}) for i in range(4)]


def _pair(tmp: Path, events: list) -> tuple[str, str]:
    evlog_path = make_recording(str(tmp / "rec"), events, session="s")
    legacy_path = str(tmp / "rec.json")
    ops.export(evlog_path, legacy_path, format="json")
    return evlog_path, legacy_path


@pytest.fixture
def both(tmp_path):
    a, b = _pair(tmp_path, EVENTS)
    with open_recording(a) as ra, open_recording(b) as rb:
        yield ra, rb


def _decoded(records) -> list[tuple]:
    return [(r.offset, r.monotonic, r.name, r.source, r.data, dict(r.headers)) for r in records]


def _raw(records) -> list[tuple]:
    return [(r.offset, r.monotonic, r.name, r.source, json.loads(r.data), r.headers) for r in records]


QUERIES = [
    Query(), Query(start=3), Query(end=4), Query(start=2, end=8), Query(start_mono=3_000_000),
    Query(end_mono=5_000_000), Query(names="Beta"), Query(names={"Alpha"}, sources="left"),
    Query(sources="right"), Query(where=lambda r: r.offset % 3 == 0), Query(reverse=True),
    Query(names="Al*", reverse=True, start=1, end=5),
]


def test_the_two_classes_are_recordings_and_the_base_is_abstract(both):
    ra, rb = both
    assert isinstance(ra, EvlogRecording) and isinstance(rb, LegacyRecording)
    assert isinstance(ra, Recording) and isinstance(rb, Recording)
    with pytest.raises(TypeError):
        Recording()  # type: ignore[abstract]


def _query_id(q: Query) -> str:
    """A test id that is the same in every process (a `where` is named, not its address)."""
    return ",".join(f"{k}={'where' if k == 'where' else v!r}" for k, v in q.kwargs().items()) or "all"


@pytest.mark.parametrize("query", QUERIES, ids=_query_id)
def test_both_formats_read_the_same_events_decoded_and_raw(both, query):
    ra, rb = both
    expected = _decoded(ra.read(query))
    assert expected == _decoded(rb.read(query))
    if query.where is None:
        assert _raw(ra.read(query, raw=True)) == _raw(rb.read(query, raw=True))
        assert _raw(rb.raw(query)) == _raw(ra.read(query, raw=True))
    assert ra.count(query.but(reverse=False)) == rb.count(query.but(reverse=False)) == len(expected)


def test_a_raw_where_tests_raw_records_on_both_formats(both):
    ra, rb = both
    query = Query(where=raw_where(lambda r: r.data["i"] >= 2), raw=True)
    got = [_raw(r.read(query)) for r in both]
    assert got[0] == got[1] and [e[4]["i"] for e in got[0]] == [2, 3, 4, 5, 2, 3]
    assert [decode_raw(r).data for r in rb.read(query)] == [e[4] for e in got[0]]


def test_read_takes_a_query_or_its_arguments(both):
    ra, _ = both
    assert _decoded(ra.read(2, 4)) == _decoded(ra.read(Query(start=2, end=4))) == \
        _decoded(ra.read(Query(start=2), 4)) == _decoded(ra.read(start=2, end=4))
    assert Query(start=2, names="A").kwargs() == {"start": 2, "names": "A"}


def test_summary_offsets_metadata_and_blocks_agree(both):
    ra, rb = both
    sa, sb = ra.summary(), rb.summary()
    assert (sa.count, sa.names, sa.sources, sa.first_mono, sa.last_mono) == \
        (sb.count, sb.names, sb.sources, sb.first_mono, sb.last_mono)
    assert len(ra) == len(rb) == 10
    assert (ra.start_offset, ra.end_offset) == (rb.start_offset, rb.end_offset) == (0, 10)
    assert ra.session_name == rb.session_name == "s" and ra.start_time_ns == rb.start_time_ns
    assert isinstance(ra.metadata, dict) and isinstance(rb.metadata, dict)
    for rec in both:
        blocks = list(rec.blocks())
        assert sum(b.count for b in blocks) == 10
        assert blocks[0].first_offset == 0 and blocks[-1].last_mono == 9_000_000
    assert ra.any_headers() and rb.any_headers()


def test_last_and_counts(both):
    ra, rb = both
    for q in (None, Query(names="Alpha"), Query(where=lambda r: r.data["i"] % 2 == 0)):
        assert _decoded(ra.last(3, q)) == _decoded(rb.last(3, q))
    assert ra.last(0) == rb.last(0) == []
    # what is cheap differs, never the answer
    assert ra.indexed_count(Query(names="Beta")) == 4 and rb.indexed_count(Query(names="Beta")) is None
    assert ra.indexed_count(Query(where=lambda r: True)) is None
    assert ra.count(Query(names="Beta")) == rb.count(Query(names="Beta")) == 4


def test_capabilities_say_what_is_cheap_and_follow_is_refused_clearly(both):
    ra, rb = both
    assert {INDEX, RAW, FOLLOW} <= ra.capabilities and not rb.capabilities
    with pytest.raises(EvlogError, match="cannot be followed"):
        rb.follow()
    assert list(ra.follow(stop=lambda: True)) == []


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(events=st.lists(st.tuples(st.sampled_from(["A", "B", "Cé"]), st.integers(0, 9), st.sampled_from(["", "s"]),
                                 st.integers(0, 3)), max_size=30),
       lo=st.none() | st.integers(0, 30), hi=st.none() | st.integers(0, 30),
       names=st.none() | st.sampled_from(["A", "B*", "Cé"]), reverse=st.booleans())
def test_property_both_formats_agree(tmp_path_factory, events, lo, hi, names, reverse):
    mono, rows = 0, []
    for name, i, source, step in events:
        mono += step * 1_000_000
        rows.append((name, {"i": i}, source, mono))
    a, b = _pair(tmp_path_factory.mktemp("p"), rows)
    q = Query(start=lo, end=hi, names=names, reverse=reverse)
    with open_recording(a) as ra, open_recording(b) as rb:
        assert _decoded(ra.read(q)) == _decoded(rb.read(q))
        assert _raw(ra.read(q, raw=True)) == _raw(rb.read(q, raw=True))
        assert ra.count(q) == rb.count(q)


LAYERS = ("ops", "web", "cli", "replay")
BRANCH = re.compile(r"LegacyRecording|EvlogRecording|\.format\s*[!=]=|rec(ording)?\.log\b")


def test_no_caller_above_the_engine_branches_on_the_format():
    root = Path(__file__).resolve().parent.parent / "evlog"
    files = [p for layer in LAYERS for p in (root / layer).rglob("*.py")] + [root / "replayer.py"]
    found = [f"{p.relative_to(root)}:{n}: {line.strip()}" for p in files
             for n, line in enumerate(p.read_text().splitlines(), 1) if BRANCH.search(line)]
    assert found == []
