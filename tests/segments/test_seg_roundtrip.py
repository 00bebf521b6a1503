"""Round trip: whatever is appended reads back identical, by offset, time, filters, raw copy."""
from __future__ import annotations

import fnmatch
import math
import os
import tempfile

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from evlog.segments import EncodedRows, Log, decode_data, encode_data
from evlog.segments.codec import FLAG_TYPED

from segtools import examples, NAMES, SOURCES, Model, assert_records, event_data, events, same, summary_fields

SETTINGS = settings(max_examples=examples(30), deadline=None, suppress_health_check=list(HealthCheck))

writer_options = st.fixed_dictionaries({
    "segment_max_bytes": st.sampled_from([4096, 6000, 16384, 1 << 20]),
    "block_max_bytes": st.sampled_from([1, 200, 1000, 5000, 1 << 20]),
    "block_max_records": st.sampled_from([1, 2, 3, 7, 100, 65535]),
    "fsync": st.sampled_from(["never", "never", "interval", "always"]),
})

ops = st.lists(
    st.one_of(
        st.tuples(st.just("append"), events()),
        st.tuples(st.just("batch"), st.lists(events(), min_size=0, max_size=6), st.booleans()),
        st.tuples(st.just("flush"), st.booleans()),
        st.tuples(st.just("reopen")),
        st.tuples(st.just("roll")),
    ),
    max_size=40,
)


@st.composite
def name_filters(draw):
    kind = draw(st.sampled_from(["none", "exact", "glob", "list", "callable"]))
    if kind == "none":
        return None, lambda n: True
    if kind == "exact":
        n = draw(st.sampled_from(NAMES + ["absent"]))
        return n, lambda x: x == n
    if kind == "glob":
        g = draw(st.sampled_from(["Pos*", "P?s1", "[TxP]*", "*", "é*", "nothing*"]))
        return g, lambda x: fnmatch.fnmatchcase(x, g)
    if kind == "list":
        items = draw(st.lists(st.sampled_from(NAMES + ["Pos*"]), max_size=3))
        return items, lambda x: any(fnmatch.fnmatchcase(x, i) for i in items)
    return (lambda x: len(x) > 3), (lambda x: len(x) > 3)


@st.composite
def source_filters(draw):
    kind = draw(st.sampled_from(["none", "exact", "glob", "list"]))
    if kind == "none":
        return None, lambda s: True
    if kind == "exact":
        s = draw(st.sampled_from(SOURCES))
        return s, lambda x: x == s
    if kind == "glob":
        g = draw(st.sampled_from(["src*", "*", "?etcher"]))
        return g, lambda x: fnmatch.fnmatchcase(x, g)
    items = draw(st.lists(st.sampled_from(SOURCES), max_size=2))
    return items, lambda x: x in items


def run_ops(log: Log, path: str, model: Model, opts: dict, op_list) -> Log:
    for op in op_list:
        if op[0] == "append":
            model.append(log, op[1])
        elif op[0] == "batch":
            model.append_batch(log, op[1], atomic=op[2])
        elif op[0] == "flush":
            reached = log.flush(sync=op[1])
            assert reached == len(model.records)
            if op[1]:
                assert log.durable_offset == len(model.records)
        elif op[0] == "roll":
            log.roll()
        else:
            log.close()
            log = Log.open(path, "a", **opts)
            assert not log.recovery_report, log.recovery_report.lines()
            assert log.end_offset == len(model.records)
    return log


def check_queries(log, model: Model, data) -> None:
    recs = model.records
    n = len(recs)
    assert len(log) == n
    assert log.start_offset == 0 and log.end_offset == n
    assert_records(log.read(), recs)
    assert summary_fields(log.summary()) == model.summary_fields()
    for _ in range(4):
        start = data.draw(st.none() | st.integers(-2, n + 2), label="start")
        end = data.draw(st.none() | st.integers(-2, n + 2), label="end")
        reverse = data.draw(st.booleans(), label="reverse")
        nf, npred = data.draw(name_filters(), label="names")
        sf, spred = data.draw(source_filters(), label="sources")
        lo = 0 if start is None else start
        hi = n if end is None else end
        expect = [r for r in recs if lo <= r.offset < hi and npred(r.name) and spred(r.source)]
        if reverse:
            expect.reverse()
        assert_records(log.read(start, end, names=nf, sources=sf, reverse=reverse), expect)
        # by time: wall clock (not monotonic across events) and monotonic
        if recs:
            tss = sorted({r.timestamp for r in recs})
            a = data.draw(st.none() | st.sampled_from(tss) | st.integers(tss[0] - 5, tss[-1] + 5), label="t0")
            b = data.draw(st.none() | st.sampled_from(tss) | st.integers(tss[0] - 5, tss[-1] + 5), label="t1")
            expect = [r for r in recs if (a is None or r.timestamp >= a) and (b is None or r.timestamp <= b)
                      and npred(r.name)]
            got = list(log.read(start_time=a, end_time=b, names=nf))
            assert_records(got, expect)
            monos = sorted({r.monotonic for r in recs})
            ma = data.draw(st.none() | st.sampled_from(monos) | st.integers(-5, monos[-1] + 5), label="m0")
            mb = data.draw(st.none() | st.sampled_from(monos) | st.integers(-5, monos[-1] + 5), label="m1")
            expect = [r for r in recs if (ma is None or r.monotonic >= ma) and (mb is None or r.monotonic <= mb)
                      and lo <= r.offset < hi]
            if reverse:
                expect.reverse()
            got = list(log.read(start, end, start_mono=ma, end_mono=mb, reverse=reverse))
            assert_records(got, expect)
            # where= predicate on decoded records
            expect = [r for r in recs if r.source == "fetcher"]
            assert_records(log.read(where=lambda r: r.source == "fetcher"), expect)
            off = data.draw(st.integers(0, n - 1), label="get")
            assert_records([log.get(off)], [recs[off]])


def check_raw_copy(log, model: Model, dest: str) -> None:
    raws = list(log.read(raw=True))
    assert [r.offset for r in raws] == list(range(len(model.records)))
    with Log.create(dest, fsync="never", block_max_records=5, segment_max_bytes=4096) as copy:
        for r in raws:   # one row at a time, as a copy of a few records does
            copy.append_rows(EncodedRows.from_raw([r]), validate=False)
    reader = Log.open(dest)
    assert_records(reader.read(), model.records)
    assert_records(reader.read(raw=True), [r for r in raws])
    reader.close()


@SETTINGS
@given(opts=writer_options, op_list=ops, data=st.data())
def test_round_trip(opts, op_list, data):
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "rec")
        model = Model()
        log = Log.create(path, "s", **opts)
        try:
            log = run_ops(log, path, model, opts, op_list)
            check_queries(log, model, data)   # while the writer is open
        finally:
            log.close()
        reader = Log.open(path)
        try:
            check_queries(reader, model, data)  # through the indexes, read-only
            check_raw_copy(reader, model, os.path.join(tmp, "copy"))
        finally:
            reader.close()


@settings(max_examples=examples(150), deadline=None)
@given(value=event_data)
def test_codec_round_trip(value):
    raw, flags, types = encode_data(value)
    assert bool(flags & FLAG_TYPED) == bool(types)
    assert same(decode_data(raw, flags, types), value)


def test_nan_round_trips(rec_path):
    with Log.create(rec_path, fsync="never") as log:
        log.append("n", {"x": [float("nan"), 1.5]})
    rec = Log.open(rec_path).get(0)
    assert math.isnan(rec.data["x"][0]) and rec.data["x"][1] == 1.5


def test_default_times_are_stamped(rec_path):
    import time
    before = time.time_ns()
    with Log.create(rec_path, fsync="never", block_max_records=2) as log:
        for i in range(10):
            log.append("e", i)
    log = Log.open(rec_path, "a", block_max_records=3)
    for i in range(10, 15):
        log.append("e", i)
    log.close()
    after = time.time_ns()
    recs = list(Log.open(rec_path).read())
    assert [r.data for r in recs] == list(range(15))
    assert all(before <= r.timestamp <= after for r in recs)
    monos = [r.monotonic for r in recs]
    assert monos == sorted(monos) and monos[0] >= 0
    # monotonic never goes backwards even if the caller asks for it
    with Log.open(rec_path, "a") as log:
        log.append("late", None, monotonic=0)
    assert Log.open(rec_path).get(15).monotonic >= monos[-1]


def test_large_payloads_and_tiny_segments(rec_path):
    import random
    rnd = random.Random(7)
    big = "".join(rnd.choice("abcdéfg名h") for _ in range(700_000))  # ~0.9 MB, incompressible-ish
    model = Model()
    with Log.create(rec_path, fsync="never", segment_max_bytes=4096, block_max_bytes=1000) as log:
        for i in range(6):
            model.append(log, ("Big", {"i": i, "s": big[: 1000 * i]}, "s", 1, 1))
            model.append(log, ("Small", i, "s", 1, 1))
    log = Log.open(rec_path)
    assert len(log.segments()) >= 3
    assert_records(log.read(), model.records)
    assert_records(log.read(names="Small", reverse=True), [r for r in reversed(model.records) if r.name == "Small"])
    with Log.open(rec_path, "a") as log:
        model.append(log, ("Huge", big, "", 1, 1))
    assert_records(Log.open(rec_path).read(), model.records)


class LogMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.tmp = tempfile.TemporaryDirectory()
        self.path = os.path.join(self.tmp.name, "rec")
        self.opts = {"segment_max_bytes": 4096, "block_max_records": 4, "block_max_bytes": 600,
                     "fsync": "never"}
        self.log = Log.create(self.path, **self.opts)
        self.model = Model()

    @rule(ev=events())
    def append(self, ev):
        self.model.append(self.log, ev)

    @rule(evs=st.lists(events(), max_size=5), atomic=st.booleans())
    def batch(self, evs, atomic):
        self.model.append_batch(self.log, evs, atomic=atomic)

    @rule(sync=st.booleans())
    def flush(self, sync):
        assert self.log.flush(sync) == len(self.model.records)

    @rule()
    def reopen(self):
        self.log.close()
        self.log = Log.open(self.path, "a", **self.opts)
        assert not self.log.recovery_report

    @rule(data=st.data())
    def read_range(self, data):
        n = len(self.model.records)
        start = data.draw(st.integers(0, n))
        end = data.draw(st.integers(start, n))
        reverse = data.draw(st.booleans())
        expect = self.model.records[start:end]
        if reverse:
            expect = expect[::-1]
        assert_records(self.log.read(start, end, reverse=reverse), expect)

    @rule()
    def read_only_view(self):
        reader = Log.open(self.path)
        try:
            # a separate reader sees what was written to the OS: flush first
            self.log.flush(sync=False)
            reader._read()
            assert_records(reader.read(), self.model.records)
        finally:
            reader.close()

    @rule()
    def summary(self):
        assert summary_fields(self.log.summary()) == self.model.summary_fields()

    @invariant()
    def length(self):
        assert len(self.log) == len(self.model.records)

    def teardown(self):
        try:
            self.log.close()
            assert_records(Log.open(self.path).read(), self.model.records)
        finally:
            self.tmp.cleanup()


TestLogMachine = LogMachine.TestCase
TestLogMachine.settings = settings(max_examples=examples(15), stateful_step_count=25, deadline=None,
                                   suppress_health_check=list(HealthCheck))
