"""merge --by-sequence: shards of a JetStream stream (recorders sharing one consumer) give one
recording in stream order, each (stream, sequence) once, whichever way the sequence is stored
(`nats.seq` header, or the older `data.nats.seq` envelope)."""
from __future__ import annotations

import importlib
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evlog import ops
from evlog.ops import OpError
from evlog.segments import Log

merge_seq = importlib.import_module("evlog.ops.merge_seq")
START = 1_700_000_000_000_000_000


def _append(log: Log, seq: int, header_form: bool, stream: str = "S") -> None:
    body = {"n": seq, "pad": "x" * (seq % 7)}
    ts = START + seq * 1000
    if header_form:
        log.append("orders.new", body, "nats", timestamp=ts, monotonic=seq * 1000,
                   headers={"subject": "orders.new", "id": f"m{seq}", "nats.stream": stream, "nats.seq": str(seq),
                            "time": str(ts)})
    else:
        log.append("orders.new", {"nats": {"subject": "orders.new", "stream": stream, "seq": seq}, "data": body},
                   "nats", timestamp=ts, monotonic=seq * 1000)


def _shard(path: str, items: list[tuple], name: str = "shard") -> str:
    """items: (seq, header form) or ("marker", text)."""
    with Log.create(path, name, start_time_ns=START) as log:
        for item in items:
            if item[0] == "marker":
                log.append("evlog.capture.dropped", {"note": item[1]}, "evlog", timestamp=START, monotonic=0)
            else:
                _append(log, item[0], item[1])
    return path


def _messages(path: str) -> list[tuple[int, dict]]:
    out = []
    with Log.open(path) as log:
        for rec in log.read():
            if rec.source == "evlog":
                continue
            data = rec.data["data"] if "nats" in rec.data else rec.data
            seq = int(rec.headers["nats.seq"]) if rec.headers and "nats.seq" in rec.headers else rec.data["nats"]["seq"]
            out.append((seq, data))
    return out


@st.composite
def shards(draw):
    n = draw(st.integers(1, 120))
    k = draw(st.integers(1, 4))
    owner = draw(st.lists(st.integers(0, k - 1), min_size=n, max_size=n))
    parts: list[list[tuple]] = [[] for _ in range(k)]
    for seq in range(1, n + 1):
        parts[owner[seq - 1]].append((seq, draw(st.booleans())))
    # duplicates: a message recorded by a second recorder (redelivered after a crash)
    for seq in draw(st.lists(st.integers(1, n), max_size=n // 3 + 1)):
        parts[draw(st.integers(0, k - 1))].append((seq, draw(st.booleans())))
    # redeliveries come late: some records move further down their shard
    for part in parts:
        for _ in range(draw(st.integers(0, 3))):
            if len(part) > 1:
                i = draw(st.integers(0, len(part) - 2))
                j = draw(st.integers(i + 1, len(part) - 1))
                part.insert(j, part.pop(i))
    markers = draw(st.integers(0, 3))
    for m in range(markers):
        parts[m % k].insert(draw(st.integers(0, len(parts[m % k]))), ("marker", f"m{m}"))
    return n, parts, markers


@settings(max_examples=60)
@given(case=shards(), run_size=st.sampled_from([2, 5, 50_000]))
def test_shards_with_duplicates_give_one_ordered_sequence(tmp_path_factory, monkeypatch, case, run_size):
    n, parts, markers = case
    monkeypatch.setattr(merge_seq, "RUN_SIZE", run_size)   # small runs: the spilled sort is used
    d = tmp_path_factory.mktemp("seq")
    inputs = [_shard(str(d / f"r{i}"), part, f"rec{i}") for i, part in enumerate(parts)]
    result = ops.merge_by_sequence(inputs, str(d / "out"))
    got = _messages(str(d / "out"))
    assert [s for s, _ in got] == list(range(1, n + 1))
    assert all(body == {"n": s, "pad": "x" * (s % 7)} for s, body in got)
    total = sum(1 for part in parts for item in part if item[0] != "marker")
    assert result.duplicates == total - n
    assert result.events == n + markers
    assert (result.first_seq, result.last_seq, result.stream) == (1, n, "S")
    with Log.open(str(d / "out")) as log:
        assert len(log) == n + markers
        meta = log.manifest.metadata["merged_from"]
    assert sum(m["events"] for m in meta) == n + markers
    assert sum(m["duplicates"] for m in meta) == total - n
    assert all(m["events"] + m["duplicates"] == len(p) for m, p in zip(meta, parts))


def test_provenance_names_the_shard_of_each_event(tmp_path):
    a = _shard(str(tmp_path / "a"), [(1, True), (3, True)], "a")
    b = _shard(str(tmp_path / "b"), [(2, False), (3, False), (4, False)], "b")
    ops.merge_by_sequence([a, b], str(tmp_path / "out"))
    assert [s for s, _ in _messages(str(tmp_path / "out"))] == [1, 2, 3, 4]
    labels = [ops.origin_of(str(tmp_path / "out"), i)["label"] for i in range(4)]
    assert labels == ["a", "b", "a", "b"]   # seq 3 from a (the first input), b's copy dropped


def test_two_streams_are_refused_in_one_line(tmp_path):
    a = str(tmp_path / "a")
    with Log.create(a, "a") as log:
        _append(log, 1, True, "S")
        _append(log, 2, True, "T")
    with pytest.raises(OpError, match="holds streams S and T"):
        ops.merge_by_sequence([a], str(tmp_path / "out"))
    b = _shard(str(tmp_path / "b"), [(1, True)])
    c = str(tmp_path / "c")
    with Log.create(c, "c") as log:
        _append(log, 2, False, "T")
    with pytest.raises(OpError, match="the inputs hold streams S, T"):
        ops.merge_by_sequence([b, c], str(tmp_path / "out2"))
    assert not (tmp_path / "out2").exists()


def test_cli_merge_by_sequence(tmp_path):
    a = _shard(str(tmp_path / "a"), [(1, True), (4, True), (2, True)])
    b = _shard(str(tmp_path / "b"), [(2, False), (3, False)])
    proc = subprocess.run([sys.executable, "-m", "evlog", "merge", "--by-sequence", a, b, "-o",
                           str(tmp_path / "out"), "-q"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "merged 4 events from 2 recordings" in proc.stderr
    assert "stream S, sequences 1..4, 1 duplicates dropped" in proc.stderr
    assert [s for s, _ in _messages(str(tmp_path / "out"))] == [1, 2, 3, 4]
    missing = subprocess.run([sys.executable, "-m", "evlog", "merge", "--by-sequence", a, str(tmp_path / "nope"),
                              "-o", str(tmp_path / "out2")], capture_output=True, text=True)
    assert missing.returncode != 0 and len(missing.stderr.strip().splitlines()) == 1, missing.stderr
