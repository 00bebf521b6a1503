"""Per-event headers (format v2) and the one entry for encoded rows (`append_rows`).

Headers go in through every append path, come back through every read path (decoded,
raw, columns), survive raw copies, cost nothing in a block where no event has any, and
bad ones are refused with a clear error before anything is appended. `append_rows`
checks its columns, keeps batches contiguous under threads, and clamps monotonic times.
"""
from __future__ import annotations

import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evlog.segments import (
    NO_HEADERS, CorruptBlockError, EncodedRows, EventEncodeError, EventTooLargeError, Log, decode_headers,
    encode_headers,
)
from evlog.segments import block as blk
from evlog.segments.headers import MAX_HEADER_BYTES

from segtools import examples

text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12)
header_maps = st.none() | st.dictionaries(text.filter(bool), text, max_size=4)


@settings(max_examples=examples(60), deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["A", "B", "é"]), st.integers(), header_maps,
                          st.sampled_from(["one", "batch", "rows", "atomic"])), min_size=1, max_size=40),
       st.integers(1, 9))
def test_headers_round_trip_through_every_path(tmp_path_factory, events, block_records):
    path = str(tmp_path_factory.mktemp("h") / "rec")
    expected = []
    with Log.create(path, fsync="never", block_max_records=block_records) as log:
        i = 0
        while i < len(events):
            name, value, headers, how = events[i]
            group = [e for e in events[i:i + 3]] if how != "one" else [events[i]]
            i += len(group)
            if how == "one":
                log.append(name, value, "s", headers=headers)
            elif how in ("batch", "atomic"):
                log.append_batch([(n, v, "s", None, None, h) for n, v, h, _ in group], atomic=how == "atomic")
            else:
                log.append_rows(EncodedRows([n for n, *_ in group], ["s"] * len(group), [0] * len(group),
                                            [b"%d" % v for _, v, _, _ in group], [b""] * len(group),
                                            [encode_headers(h) for _, _, h, _ in group]))
            expected += [(n, v, dict(h or {})) for n, v, h, _ in group]
    with Log.open(path) as log:
        got = list(log.read())
        raws = list(log.read(raw=True))
        cols = log.read_columns(0, len(expected))
        picked = [log.get(k) for k in range(0, len(expected), 3)]
    assert [(r.name, r.data, dict(r.headers)) for r in got] == expected
    assert [decode_headers(r.headers) for r in raws] == [h for _, _, h in expected]
    assert [decode_headers(h) for h in cols.headers] == [h for _, _, h in expected]
    assert [dict(r.headers) for r in picked] == [h for _, _, h in expected][::3]
    copy = str(tmp_path_factory.mktemp("h") / "copy")
    with Log.create(copy, fsync="never", block_max_records=5) as out:   # a raw copy keeps them
        out.append_rows(EncodedRows.from_raw(raws), validate=False)
    with Log.open(copy) as log:
        assert [(r.name, r.data, dict(r.headers)) for r in log.read()] == expected


def test_records_without_headers_share_one_empty_read_only_mapping(tmp_path):
    path = str(tmp_path / "rec")
    with Log.create(path, fsync="never") as log:
        log.append("A", 1)
        log.append("B", 2, headers={})
    with Log.open(path) as log:
        a, b = list(log.read())
    assert a.headers is NO_HEADERS and b.headers is NO_HEADERS and a.headers == {} and not a.headers
    with pytest.raises(TypeError):
        a.headers["x"] = "y"   # type: ignore[index]
    assert repr(a.headers) == "{}" and dict(a.headers) == {}


def test_a_block_without_headers_has_no_header_column(tmp_path):
    rows = [("a", "s", 0, 1000 + i, i, b"%d" % i, b"") for i in range(50)]
    plain = blk.encode_block(0, rows, None)
    empty = blk.encode_block(0, [r + (b"",) for r in rows], None)
    with_one = blk.encode_block(0, [r + (b'{"k":"v"}' if i == 7 else b"",) for i, r in enumerate(rows)], None)
    assert plain[1].raw_len == empty[1].raw_len and not plain[1].flags & blk.BLOCK_HEADERS
    assert with_one[1].flags & blk.BLOCK_HEADERS
    assert with_one[1].raw_len == plain[1].raw_len + 4 * 50 + len(b'{"k":"v"}')
    block = blk.decode_frame(with_one[0])
    assert [dict(r.headers) for r in block.records()] == [{"k": "v"} if i == 7 else {} for i in range(50)]
    with pytest.raises(ValueError, match="v1 blocks cannot hold"):
        blk.encode_block(0, [r + (b'{"k":"v"}',) for r in rows], None, version=1)


def test_damaged_header_bytes_are_corruption(tmp_path):
    rows = [("a", "s", 0, 1000 + i, i, b"%d" % i, b"", b'{"k":"%d"}' % i) for i in range(3)]
    frame, header, meta = blk.encode_block(0, rows, None)
    block = blk.decode_frame(frame)
    raw = bytearray(block._raw)
    raw[-1] = ord("]")                 # the end of the last event's header JSON
    bad = blk.DecodedBlock(header, meta, bytes(raw))
    assert dict(bad.headers(0)) == {"k": "0"}
    with pytest.raises(CorruptBlockError, match="bad event data"):
        bad.records()
    flags = bytearray(frame)           # a block flag this version does not know
    flags[6] |= 0x04
    with pytest.raises(CorruptBlockError, match="unknown block flags"):
        blk.DecodedBlock(blk.parse_header(bytes(flags)), meta, block._raw)


@pytest.mark.parametrize("headers, error, match", [
    ({"k": 1}, EventEncodeError, "must be str"),
    ({1: "v"}, EventEncodeError, "must be str"),
    ({"": "v"}, EventEncodeError, "not be empty"),
    (["k", "v"], EventEncodeError, "mapping"),
    ({"k": "\udc80"}, EventEncodeError, "cannot be stored"),
    ({"k": "x" * MAX_HEADER_BYTES}, EventTooLargeError, "exceed"),
])
def test_bad_headers_are_refused_before_anything_is_appended(tmp_path, headers, error, match):
    with Log.create(str(tmp_path / "rec"), fsync="never") as log:
        log.append("A", 0, "s")
        with pytest.raises(error, match=match):
            log.append("A", 1, "s", headers=headers)
        with pytest.raises(error, match=match):
            log.append_batch([("A", 2, "s"), ("A", 3, "s", None, None, headers)])
        assert log.append("A", 4, "s") == 1
    with Log.open(str(tmp_path / "rec")) as log:
        assert [r.data for r in log.read()] == [0, 4]


def test_encoded_headers_are_checked_when_asked(tmp_path):
    with Log.create(str(tmp_path / "rec"), fsync="never") as log:
        rows = EncodedRows(["A", "A"], ["", ""], [0, 0], [b"1", b"2"], [b"", b""], [b"", b'{"k":2}'])
        with pytest.raises(EventEncodeError, match="headers"):
            log.append_rows(rows)                       # validate=True by default
        with pytest.raises(EventEncodeError, match="headers must be bytes"):
            log.append_rows(rows._replace(headers=[b"", "text"]), validate=False)
        with pytest.raises(EventTooLargeError):
            log.append_rows(rows._replace(headers=[b"", b" " * (MAX_HEADER_BYTES + 1)]), validate=False)
        assert log.append_rows(rows._replace(headers=[b"", b'{"k":"2"}'])) == range(0, 2)
        assert log.end_offset == 2


def test_append_rows_checks_columns_and_appends_nothing_bad(tmp_path):
    with Log.create(str(tmp_path / "rec"), fsync="never") as log:
        good = EncodedRows(["A", "B"], ["s", "s"], [0, 0], [b"1", b"2"], [b"", b""])
        with pytest.raises(ValueError, match="one length"):
            log.append_rows(good._replace(sources=["s"]))
        for bad, match in ((good._replace(datas=[b"1", "2"]), "bytes"), (good._replace(flags=[0, 0x80]), "flags"),
                           (good._replace(names=["A", 5]), "strings"), (good._replace(names=["A", ["x"]]), "strings"),
                           (good._replace(timestamps=[1, 1.5]), "timestamp"),
                           (good._replace(monotonics=[1, 1 << 62]), "monotonic"),
                           (good._replace(monotonics=[1, None]), "monotonic"),
                           (good._replace(datas=[b"1", b"{"]), "not valid JSON")):
            with pytest.raises((EventEncodeError, EventTooLargeError), match=match):
                log.append_rows(bad)
        assert log.end_offset == 0
        assert log.append_rows(EncodedRows([], [], [], [], [])) == range(0, 0)
        assert log.append_rows(good) == range(0, 2)
        assert log.append_rows(good._replace(names=["C"], sources=["t"], flags=[1], datas=[b'"1.5"'],
                                             types=[b'[[[],"decimal"]]'])) == range(2, 3)   # one row
    with Log.open(str(tmp_path / "rec")) as log:
        assert [(r.name, r.data) for r in log.read()] == [("A", 1), ("B", 2), ("C", __import__("decimal").Decimal("1.5"))]


@settings(max_examples=examples(40), deadline=None)
@given(st.lists(st.integers(-5_000, 5_000), min_size=1, max_size=300), st.integers(0, 10_000),
       st.booleans())
def test_given_monotonic_times_are_clamped_never_decreasing(tmp_path_factory, steps, start, atomic):
    path = str(tmp_path_factory.mktemp("m") / "rec")
    monos, m = [], 10_000 + start
    for s in steps:
        m += s
        monos.append(max(m, 0))
    with Log.create(path, fsync="never", block_max_records=50) as log:
        log.append("first", 0, "s", monotonic=10_000)
        n = len(monos)
        log.append_rows(EncodedRows(["E"] * n, ["s"] * n, [0] * n, [b"%d" % i for i in range(n)], [b""] * n,
                                    None, None, monos), atomic=atomic and n <= 300)
        after = log.monotonic_now()
    with Log.open(path) as log:
        got = [r.monotonic for r in log.read()][1:]
    clamped, last = [], 10_000
    for v in monos:
        last = max(last, v)
        clamped.append(last)
    assert got == clamped
    assert after >= got[-1]


def test_batches_from_threads_get_contiguous_offsets(tmp_path):
    path = str(tmp_path / "rec")
    ranges: dict[int, list[range]] = {}
    with Log.create(path, fsync="never", block_max_records=97, block_max_bytes=4096) as log:
        def work(t: int) -> None:
            got = ranges.setdefault(t, [])
            for k in range(30):
                n = 50 + (t * 7 + k) % 90
                rows = EncodedRows([f"T{t}"] * n, ["s"] * n, [0] * n, [b'"%d-%d-%d"' % (t, k, i) for i in range(n)],
                                   [b""] * n, None, None, None)
                got.append(log.append_rows(rows, validate=False))
        threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
    with Log.open(path) as log:
        records = list(log.read())
    for t, batches in ranges.items():
        for k, r in enumerate(batches):
            assert [records[i].data for i in r] == [f"{t}-{k}-{i}" for i in range(len(r))]
    assert sorted(o for rs in ranges.values() for r in rs for o in r) == list(range(len(records)))


def test_monotonic_now_is_what_the_writer_would_stamp(tmp_path):
    with Log.create(str(tmp_path / "rec"), fsync="never") as log:
        before = log.monotonic_now()
        log.append("A", 1, "s", monotonic=before + 10**12)   # an event stamped ahead
        assert log.monotonic_now() >= before + 10**12        # never below the last event's time
        offset = log.append("B", 2, "s")
        assert log.get(offset).monotonic >= before + 10**12
    with pytest.raises(Exception, match="closed"):
        log.monotonic_now()


def test_the_encoder_hook_is_what_append_and_append_batch_encode_with(tmp_path):
    import pydantic

    import evlog
    from evlog.segments.codec import FLAG_MODEL, encode_data

    class Quote(pydantic.BaseModel):
        pair: str

    class Upper(Log):
        encoder = staticmethod(lambda value: encode_data(str(value).upper()))

    with Upper.create(str(tmp_path / "up"), fsync="never") as log:
        log.append("A", "abc")
        log.append_batch([("B", "def"), ("C", "ghi", "s", None, None, {"k": "v"})])
    with Log.open(str(tmp_path / "up")) as log:
        assert [(r.data, dict(r.headers)) for r in log.read()] == [("ABC", {}), ("DEF", {}), ("GHI", {"k": "v"})]
    with Log.create(str(tmp_path / "engine"), fsync="never") as log:   # the engine knows no pydantic
        with pytest.raises(EventEncodeError, match="Quote"):
            log.append("Q", Quote(pair="x"))
        assert log.end_offset == 0
    with evlog.Log.create(str(tmp_path / "top"), fsync="never") as log:   # evlog.Log's encoder does
        log.append("Q", Quote(pair="x"))
        log.append_batch([("Q", Quote(pair="y"), "s"), ("Q", {"nested": Quote(pair="z")}, "s")])
    with Log.open(str(tmp_path / "top")) as log:
        got = list(log.read())
    assert [r.data for r in got] == [{"pair": "x"}, {"pair": "y"}, {"nested": {"pair": "z"}}]
    assert [r.flags for r in got] == [FLAG_MODEL, FLAG_MODEL, 0]


def test_verify_decodes_headers_too(tmp_path):
    """Header bytes that are not a JSON object of strings (stored by a caller that skipped
    validation, checksum valid) are damage for verify and for a read."""
    from evlog.segments import verify
    path = str(tmp_path / "rec")
    with Log.create(path, fsync="never") as log:
        log.append("A", 1, "s", headers={"k": "v"})
        log.append_rows(EncodedRows(["A", "A"], ["s", "s"], [0, 0], [b"2", b"3"], [b"", b""], [b"", b'{"k":1}']),
                        validate=False)
    assert any("bad event data" in p.message for p in verify(path).problems)
    with Log.open(path) as log:
        assert log.get(0).headers == {"k": "v"}    # another block: readable
        with pytest.raises(CorruptBlockError):
            list(log.read(1))


def test_headers_codec_edges():
    from collections import OrderedDict
    from types import MappingProxyType

    from evlog.segments.headers import check_encoded_headers
    assert encode_headers(None) == b"" and encode_headers({}) == b""
    assert encode_headers(MappingProxyType({"a": "b"})) == encode_headers(OrderedDict(a="b")) == b'{"a":"b"}'
    assert decode_headers(b"") is NO_HEADERS and decode_headers(b'{"a":"b"}') == {"a": "b"}
    check_encoded_headers(b"")
    check_encoded_headers(b'{"a":"b"}')
    for bad, error in ((b'{"":"b"}', EventEncodeError), (b" " * (MAX_HEADER_BYTES + 1), EventTooLargeError),
                       ("text", EventEncodeError), (b"[1]", EventEncodeError)):
        with pytest.raises(error):
            check_encoded_headers(bad)
    assert EncodedRows.from_raw([]).names == () and EncodedRows.from_raw(iter([])).headers is None


def test_batch_events_of_every_shape(tmp_path):
    with Log.create(str(tmp_path / "rec"), fsync="never") as log:
        r = log.append_batch([("A",), ("B", 1), ("C", 2, None), ("D", 3, "s", 5, None),
                              {"name": "E", "data": 4, "headers": {"k": "v"}}, ("F", 5, "s", None, 77)])
        assert r == range(0, 6)
        assert log.append_batch(iter([("G", 6, None)])) == range(6, 7)   # a source of None is ""
        assert log.append_batch([]) == range(7, 7)
        with pytest.raises(ValueError, match="event tuple"):
            log.append_batch([("A", 1, "s", None, None, None, "extra")])
    with Log.open(str(tmp_path / "rec")) as log:
        got = list(log.read())
    assert [(r.name, r.data, r.source, dict(r.headers)) for r in got] == [
        ("A", None, "", {}), ("B", 1, "", {}), ("C", 2, "", {}), ("D", 3, "s", {}), ("E", 4, "", {"k": "v"}),
        ("F", 5, "s", {}), ("G", 6, "", {})]
    assert got[3].timestamp == 5 and got[5].monotonic >= 77
