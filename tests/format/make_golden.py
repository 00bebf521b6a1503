"""Write the golden recordings of the current format version and their expected reads.

    python tests/format/make_golden.py            # writes tests/format/v<N>/ (N = the writer's version)
    python tests/format/make_golden.py --force    # replace them (never do this for a released version)

Each case is a tiny recording directory `v<N>/<case>/` and `v<N>/<case>.json`: what a reader
must return from it (records, summary, segments, salvage, errors). The expectations are
built from what the script wrote, not from reading it back, and the script checks that the
reader agrees before it saves anything. Once committed, the files of a version are frozen:
`test_golden.py` proves every later reader reads them the same way (like MCAP's conformance
data). Block boundaries are set by flushes and segment boundaries by rolls, with explicit
timestamps, so a case holds exactly the blocks its description says.
"""
from __future__ import annotations

import argparse
import datetime as dt
import inspect
import json
import math
import os
import shutil
import struct
import sys
import uuid
from decimal import Decimal
from typing import Any, Callable
from zoneinfo import ZoneInfo

import xxhash

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from goldenlib import read_doc, record_doc, summary_doc  # noqa: E402

from evlog.segments import Log, SalvageReport, salvage, to_json_mode, verify  # noqa: E402
from evlog.segments.codec import (  # noqa: E402
    FLAG_MODEL, decode_data, encode_data, unserializable_marker,
)
from evlog.segments.manifest import FORMAT_VERSION  # noqa: E402

T0 = 1_760_263_200_000_000_000   # 2025-10-12T10:00:00Z, every case's start time
MS = 1_000_000
OPTIONS = dict(fsync="never", block_max_age=3600.0, index_interval=None)
HAS_HEADERS = "headers" in inspect.signature(Log.append).parameters


class Event:
    """One event to write: its value or its encoded bytes, its explicit times."""

    def __init__(self, name: str, value: Any = None, source: str = "", *, encoded: tuple | None = None,
                 headers: dict[str, str] | None = None, ts_step: int = 0) -> None:
        self.name, self.value, self.source, self.headers = name, value, source, headers
        self.data, self.flags, self.types = encoded if encoded is not None else encode_data(value)
        self.decoded = decode_data(self.data, self.flags, self.types)   # what a reader returns
        self.ts_step = ts_step   # a wall-clock step (NTP) at this event, in ns
        self.offset = self.timestamp = self.monotonic = -1


class Case:
    """A recording being written: blocks (flush), segments (roll), then optional damage."""

    def __init__(self, root: str, name: str, description: str, **options: Any) -> None:
        self.name, self.description = name, description
        self.path = os.path.join(root, name)
        self.events: list[Event] = []
        self.blocks: list[list[Event]] = []
        self.lost: set[int] = set()          # offsets a full read must not return (torn tail)
        self.damaged: list[Event] | None = None  # the block a full read stops at
        self.read_error: str | None = None
        self.open_error: tuple[str, str] | None = None
        self.verify_ok = True
        self.log = Log.create(self.path, name, start_time_ns=T0, metadata={"golden": name},
                              **{**OPTIONS, **options})

    def block(self, *events: Event) -> None:
        """Append `events` as one block of their own."""
        for ev in events:
            i = len(self.events)
            ev.monotonic = i * MS + 17 * i
            ev.timestamp = T0 + ev.monotonic + ev.ts_step + 3 * i
            args: dict[str, Any] = {"timestamp": ev.timestamp, "monotonic": ev.monotonic}
            if ev.headers:
                args["headers"] = ev.headers
            if ev.headers or (HAS_HEADERS and ev.flags & FLAG_MODEL):
                ev.offset = _append_encoded(self.log, ev, args)
            else:
                ev.offset = self.log.append_encoded(ev.name, ev.source, ev.flags, ev.data, ev.types, **args)
            assert ev.offset == i, (ev.offset, i)
            self.events.append(ev)
        self.blocks.append(list(events))
        self.log.flush(sync=False)

    def roll(self) -> None:
        self.log.roll()

    def close(self) -> None:
        self.log.close()
        os.remove(os.path.join(self.path, ".lock"))

    # damage, after close ------------------------------------------------------------
    def frames(self) -> list[tuple[str, int, int]]:
        """(segment file, position, frame length) of every block, in order."""
        with Log.open(self.path) as log:
            return [(seg, e.position, e.frame_len) for seg, e in log.index_entries()]

    def patch(self, segment: str, position: int, data: bytes) -> None:
        with open(os.path.join(self.path, segment), "r+b") as f:
            f.seek(position)
            f.write(data)


def _append_encoded(log: Log, ev: Event, args: dict) -> int:
    """An event with headers (format v2 on): through the one entry for encoded rows."""
    from evlog.segments import EncodedRows, encode_headers
    rows = EncodedRows([ev.name], [ev.source], [ev.flags], [ev.data], [ev.types],
                       [encode_headers(ev.headers or {})], [args["timestamp"]], [args["monotonic"]])
    return log.append_rows(rows).start


class Opaque:
    """An object the codec cannot store (its repr is fixed, so the marker's bytes are too)."""

    __module__ = "golden"

    def __repr__(self) -> str:
        return "<Opaque>"


def _pydantic_events() -> list[Event]:
    from pydantic import BaseModel

    class Fill(BaseModel):
        order_id: uuid.UUID
        price: Decimal
        at: dt.datetime
        tags: list[str] = []

    class Blob(BaseModel):
        payload: bytes

    fill = Fill(order_id=uuid.UUID(int=7), price=Decimal("50000.10"),
                at=dt.datetime(2025, 10, 12, 10, 0, 1, tzinfo=dt.timezone.utc), tags=["a"])
    blob = Blob(payload=b"\xff\x00binary")
    # a model's JSON dump (flag MODEL), as the recorder stores it
    dumped = (fill.__pydantic_serializer__.to_json(fill), FLAG_MODEL, b"")
    # a model pydantic cannot dump as JSON (non-UTF-8 bytes): its model_dump(), typed
    raw, flags, types = encode_data(blob.model_dump())
    fallback = (raw, flags | FLAG_MODEL, types)
    marker = unserializable_marker(Opaque(), TypeError("cannot store an Opaque"))
    return [Event("OrderFilled", None, "Broker", encoded=dumped),
            Event("BlobSeen", None, "Broker", encoded=fallback),
            Event("Broken", None, "Recorder", encoded=marker)]


def typed_values() -> list[Any]:
    paris = ZoneInfo("Europe/Paris")
    return [
        {"price": Decimal("50000.10"), "qty": Decimal("1E+3"), "neg": Decimal("-0.000001")},
        {"at": dt.datetime(2025, 10, 12, 10, 0, tzinfo=dt.timezone.utc),
         "naive": dt.datetime(2025, 10, 12, 12, 30, 15, 123456),
         "offset": dt.datetime(2025, 3, 1, 8, 0, tzinfo=dt.timezone(dt.timedelta(hours=5, minutes=30))),
         "zoned": dt.datetime(2025, 10, 26, 2, 30, tzinfo=paris, fold=1)},
        {"day": dt.date(2024, 2, 29), "t": dt.time(23, 59, 59, 999999), "tz_t": dt.time(1, 2, tzinfo=dt.timezone.utc)},
        {"short": dt.timedelta(seconds=1.5), "long": dt.timedelta(days=60_000, microseconds=7),
         "negative": dt.timedelta(days=-1, seconds=3)},
        {"id": uuid.UUID("12345678-1234-5678-1234-567812345678"), "blob": b"\x00\x01\xfe\xff",
         "empty": b""},
        {"pair": (1, "a"), "tags": {3, 1, 2}, "nested": [(Decimal("1.5"), (2, 3))]},
        {"nan": math.nan, "inf": math.inf, "ninf": -math.inf, "big": 2 ** 100, "neg_big": -(3 ** 70)},
        Decimal("42.00"),
        (dt.date(2020, 1, 1), uuid.UUID(int=1)),
        {"plain": [1, 2.5, "x", None, True, {"k": []}], "unicode": "é名 ✓"},
    ]


def case_typed(root: str) -> Case:
    c = Case(root, "typed", "typed values (Decimal, datetimes, date, time, timedelta, UUID, bytes, tuple, set, "
                            "non-finite floats, big ints) and plain JSON, in two blocks; a wall-clock step back")
    values = typed_values()
    c.block(*(Event("Typed", v, "fetcher") for v in values[:5]))
    c.block(*(Event("é名" if i % 2 else "Typed", v, "ünï" if i % 3 else "", ts_step=-5 * MS if i == 2 else 0)
              for i, v in enumerate(values[5:])))
    c.block(Event("Plain", {"a": 1}), Event("Plain", [1, 2]), Event("Plain", "text"), Event("Plain", None),
            Event("Plain", 1.25), Event("Plain", {}))
    c.close()
    return c


def case_model(root: str) -> Case:
    c = Case(root, "model", "flagged records: a pydantic model's JSON dump (MODEL), a model stored by "
                            "model_dump with a type map (MODEL|TYPED), an unserializable marker")
    c.block(*_pydantic_events())
    c.close()
    return c


def case_multi_segment(root: str) -> Case:
    c = Case(root, "multi_segment", "three segments of two blocks each (base offsets 0, 8, 16)")
    n = 0
    for seg in range(3):
        for _ in range(2):
            c.block(*(Event(f"N{(n + k) % 3}", {"i": n + k, "seg": seg}, f"s{(n + k) % 2}") for k in range(4)))
            n += 4
        if seg < 2:
            c.roll()
    c.close()
    return c


def case_torn_tail(root: str) -> Case:
    c = Case(root, "torn_tail", "the last block cut in the middle (a crash during its write) and no index "
                                "for the active segment: a reader returns the blocks before it")
    c.block(*(Event("A", {"i": i}, "s") for i in range(5)))
    c.block(*(Event("B", {"i": i, "pad": "x" * 40}, "s") for i in range(5, 10)))
    c.block(*(Event("C", {"i": i}, "s") for i in range(10, 14)))
    c.close()
    seg, position, length = c.frames()[-1]
    with open(os.path.join(c.path, seg), "r+b") as f:
        f.truncate(position + length // 2)
    os.remove(os.path.join(c.path, seg.replace(".seg", ".idx")))
    c.lost = {ev.offset for ev in c.blocks[-1]}
    return c


def case_damaged_block(root: str) -> Case:
    c = Case(root, "damaged_block", "one byte of the middle block's payload flipped: a read stops there with "
                                    "CorruptBlockError, salvage keeps the two other blocks")
    for b in range(3):
        c.block(*(Event("D", {"i": 4 * b + k, "text": "abcdefgh" * 3}, "s") for k in range(4)))
    c.close()
    seg, position, length = c.frames()[1]
    with open(os.path.join(c.path, seg), "r+b") as f:
        f.seek(position + length - 3)
        byte = f.read(1)
        f.seek(position + length - 3)
        f.write(bytes([byte[0] ^ 0x10]))
    c.damaged = c.blocks[1]
    c.read_error = "CorruptBlockError"
    c.verify_ok = False
    return c


def case_newer_manifest(root: str) -> Case:
    c = Case(root, "newer_manifest", "a manifest of format version 99: opening raises UnsupportedFormatError")
    c.block(Event("A", {"i": 0}))
    c.close()
    path = os.path.join(c.path, "manifest.json")
    with open(path, encoding="utf-8") as f:
        doc = json.load(f)
    doc["format_version"] = 99
    with open(path, "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")
    c.open_error = ("UnsupportedFormatError", "version 99")
    c.verify_ok = False
    return c


def case_newer_block(root: str) -> Case:
    c = Case(root, "newer_block", "the middle block says block format version 99 (its checksum is valid): a "
                                  "read stops there with UnsupportedFormatError, salvage skips it")
    for b in range(3):
        c.block(*(Event("V", {"i": 3 * b + k}, "s") for k in range(3)))
    c.close()
    seg, position, length = c.frames()[1]
    with open(os.path.join(c.path, seg), "r+b") as f:
        f.seek(position)
        frame = bytearray(f.read(length))
        frame[4] = 99
        hasher = xxhash.xxh3_64(bytes(frame[:80]))
        hasher.update(bytes(frame[88:]))
        frame[80:88] = struct.pack("<Q", hasher.intdigest())
        f.seek(position)
        f.write(frame)
    c.damaged = c.blocks[1]
    c.read_error = "UnsupportedFormatError"
    c.verify_ok = False
    return c


CASES: list[Callable[[str], Case]] = [case_typed, case_model, case_multi_segment, case_torn_tail,
                                      case_damaged_block, case_newer_manifest, case_newer_block]


def expected(c: Case) -> dict:
    """The expected reads of a case, from what was written."""
    doc: dict[str, Any] = {"case": c.name, "description": c.description, "format_version": FORMAT_VERSION,
                           "open_error": None}
    if c.open_error:
        doc["open_error"] = {"class": c.open_error[0], "contains": c.open_error[1]}
        return doc
    readable = []
    for block in c.blocks:
        if block is c.damaged:
            break
        readable += [ev for ev in block if ev.offset not in c.lost]
    kept = [ev for ev in c.events if ev.offset not in c.lost]
    salvaged = [ev for ev in kept if c.damaged is None or ev not in c.damaged]
    docs = [record_doc(ev.offset, ev.timestamp, ev.monotonic, ev.name, ev.source, ev.flags, ev.decoded,
                       to_json_mode(ev.decoded), ev.data, ev.types, ev.headers) for ev in readable]
    segments = []
    with Log.open(c.path) as log:
        for seg, first, count in log.segments():
            segments.append([seg, first, count])
    doc.update({
        "session_name": c.name, "start_time_ns": T0, "metadata": {"golden": c.name},
        "start_offset": kept[0].offset if kept else 0, "end_offset": kept[-1].offset + 1 if kept else 0,
        "segments": segments,
        "summary": _summary_of(kept),
        "records": docs,
        "read_error": c.read_error,
        "salvage_offsets": [ev.offset for ev in salvaged],
        "verify_ok": c.verify_ok,
        "queries": [] if c.damaged else _queries(kept),
    })
    return doc


def _summary_of(events: list[Event]) -> dict:
    from collections import Counter
    ts = [ev.timestamp for ev in events]
    return {
        "count": len(events), "names": dict(Counter(ev.name for ev in events)),
        "sources": dict(Counter(ev.source for ev in events)),
        "flags": {str(k): v for k, v in Counter(ev.flags for ev in events if ev.flags).items()},
        "first_ts": ts[0], "last_ts": ts[-1], "min_ts": min(ts), "max_ts": max(ts),
        "first_mono": events[0].monotonic, "last_mono": events[-1].monotonic,
    }


def _queries(events: list[Event]) -> list[dict]:
    """A few bounded and filtered reads, with the offsets they must return."""
    names = sorted({ev.name for ev in events})
    mid = events[len(events) // 2]
    out = [
        {"args": {"names": names[-1]}, "offsets": [ev.offset for ev in events if ev.name == names[-1]]},
        {"args": {"start": 1, "end": max(2, len(events) - 1)},
         "offsets": [ev.offset for ev in events if 1 <= ev.offset < max(2, len(events) - 1)]},
        {"args": {"start_time": mid.timestamp},
         "offsets": [ev.offset for ev in events if ev.timestamp >= mid.timestamp]},
        {"args": {"start_mono": mid.monotonic, "reverse": True},
         "offsets": [ev.offset for ev in reversed(events) if ev.monotonic >= mid.monotonic]},
    ]
    if any(ev.headers for ev in events):
        out.append({"args": {"names": None, "where_header": "k"},
                    "offsets": [ev.offset for ev in events if ev.headers and "k" in ev.headers]})
    return out


def check(path: str, doc: dict) -> None:
    """Read the recording at `path` and compare with `doc`; raise AssertionError on any difference."""
    import evlog.segments as segs
    if doc["open_error"]:
        err = getattr(segs, doc["open_error"]["class"])
        try:
            Log.open(path).close()
        except err as exc:
            assert doc["open_error"]["contains"] in str(exc), str(exc)
        else:
            raise AssertionError(f"{path}: opening should raise {err.__name__}")
        try:
            verify(path)
        except err:
            pass
        else:
            raise AssertionError(f"{path}: verify should raise {err.__name__}")
        return
    with Log.open(path) as log:
        assert log.session_name == doc["session_name"]
        assert log.manifest.start_time_ns == doc["start_time_ns"]
        assert log.manifest.metadata == doc["metadata"]
        assert (log.start_offset, log.end_offset) == (doc["start_offset"], doc["end_offset"])
        assert [list(s) for s in log.segments()] == doc["segments"]
        assert summary_doc(log.summary()) == doc["summary"]
        got, got_raw, error = _read_all(log, {})
        got_raw = got_raw[:len(got)]
        assert read_doc(got, got_raw, to_json_mode) == doc["records"]
        assert (type(error).__name__ if error else None) == doc["read_error"], error
        if error is not None:
            assert isinstance(error, getattr(segs, doc["read_error"]))
        for query in doc["queries"]:
            args = dict(query["args"])
            key = args.pop("where_header", None)
            if key is not None:
                args.pop("names")
                args["where"] = lambda r, key=key: key in r.headers
            assert [r.offset for r in log.read(**args)] == query["offsets"], query
    report = SalvageReport()
    assert [r.offset for r in salvage(path, report)] == doc["salvage_offsets"]
    assert verify(path).ok is doc["verify_ok"]


def _read_all(log: Log, args: dict) -> tuple[list, list, Exception | None]:
    got: list = []
    raw: list = []
    error = None
    try:
        for r in log.read(**args):
            got.append(r)
    except Exception as exc:  # noqa: BLE001 - the expected error of a damaged case
        error = exc
    try:
        for r in log.read(raw=True, **args):
            raw.append(r)
    except Exception:  # noqa: BLE001 - the same error
        pass
    return got, raw, error


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--force", action="store_true", help="replace existing golden files of this version")
    parser.add_argument("--out", default=os.path.join(HERE, f"v{FORMAT_VERSION}"))
    args = parser.parse_args(argv)
    if os.path.exists(args.out) and os.listdir(args.out):
        if not args.force:
            print(f"{args.out} exists: golden files are frozen once committed (--force replaces them)")
            return 1
        shutil.rmtree(args.out)
    os.makedirs(args.out, exist_ok=True)
    for make in CASES + EXTRA_CASES:
        case = make(args.out)
        doc = expected(case)
        check(case.path, doc)   # the reader agrees with what was written
        with open(os.path.join(args.out, f"{case.name}.json"), "w", encoding="utf-8") as f:
            json.dump(doc, f, indent=1, ensure_ascii=False, sort_keys=True)
            f.write("\n")
        size = sum(os.path.getsize(os.path.join(case.path, n)) for n in os.listdir(case.path))
        print(f"{case.name}: {len(case.events)} events, {size} bytes")
    return 0


EXTRA_CASES: list[Callable[[str], Case]] = []   # cases of a later format version


if __name__ == "__main__":
    sys.exit(main())
