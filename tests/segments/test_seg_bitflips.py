"""1,000 single bit flips: never a wrong record, always a clear error, damage always reported.

Each flip (seeded) lands on a fresh copy of a small recording of several segments, in one
of: a segment header, a block header, a block's meta, a block's payload, an index file, the
manifest. Then:

* every read (all, bounded, filtered by name, reversed, raw, the summary) either raises an
  EvlogError subclass or returns only records equal to the original at their offsets;
* verify reports the damage (and advises reindex for an index file, recover for the rest);
* salvage keeps every record of every block the flip did not touch (ops.recover, every 25th).

The manifest has no checksum: a flip that leaves it valid JSON (a letter of the session
name, a digit of the start time) goes unnoticed; reads still return only correct records.
"""
from __future__ import annotations

import os
import random
import shutil

import pytest

from evlog import ops
from evlog.segments import EvlogError, Log, SalvageReport, salvage, verify
from evlog.segments.block import HEADER_SIZE
from evlog.segments.recovery import RECOVER, REINDEX
from evlog.segments.segment import SEGMENT_HEADER_SIZE, index_filename

from segtools import same

FLIPS = 1000
REGIONS = ("segment header", "block header", "meta", "payload", "index", "manifest")


def build(path: str) -> None:
    with Log.create(path, "bitflips", fsync="never", segment_max_bytes=4096, block_max_records=12) as log:
        for i in range(240):
            log.append(f"N{i % 4}", {"i": i, "v": [i, str(i)], "p": random.Random(i).randbytes(6).hex()},
                       f"s{i % 3}")


class Pristine:
    def __init__(self, path: str) -> None:
        self.path = path
        with Log.open(path) as log:
            self.records = list(log.read())
            self.raw = list(log.read(raw=True))
            self.summary = log.summary().to_dict()
            entries = log.index_entries()
            self.segments = [name for name, _, _ in log.segments()]
        assert len(self.segments) >= 3
        # (region, file, start, end, offsets of the records in it)
        self.areas: list[tuple[str, str, int, int, range]] = []
        for name in self.segments:
            self.areas.append(("segment header", name, 0, SEGMENT_HEADER_SIZE, range(0)))
            self.areas.append(("index", index_filename(int(name[:20])), 0,
                               os.path.getsize(os.path.join(path, index_filename(int(name[:20])))), range(0)))
        for name, e in entries:
            with open(os.path.join(path, name), "rb") as f:
                f.seek(e.position + 8)
                meta_len = int.from_bytes(f.read(4), "little")
            offsets = range(e.first_offset, e.end_offset)
            self.areas.append(("block header", name, e.position, e.position + HEADER_SIZE, offsets))
            self.areas.append(("meta", name, e.position + HEADER_SIZE, e.position + HEADER_SIZE + meta_len, offsets))
            self.areas.append(("payload", name, e.position + HEADER_SIZE + meta_len, e.position + e.frame_len, offsets))
        self.areas.append(("manifest", "manifest.json", 0, os.path.getsize(os.path.join(path, "manifest.json")),
                           range(0)))
        assert {a[0] for a in self.areas} == set(REGIONS)


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("bitflips") / "rec")
    build(path)
    return Pristine(path)


def flip(path: str, name: str, byte: int, bit: int) -> None:
    with open(os.path.join(path, name), "r+b") as f:
        f.seek(byte)
        b = f.read(1)[0]
        f.seek(byte)
        f.write(bytes([b ^ (1 << bit)]))


def check_records(got, originals, what: str) -> list[int]:
    """Each record equals the original at its offset; returns the offsets seen."""
    seen = []
    for r in got:
        o = originals[r.offset]
        # the whole record (raw: the encoded bytes); the data's types too (1 == 1.0 == True)
        assert r == o and (isinstance(o.data, bytes) or same(r.data, o.data)), (what, r, o)
        seen.append(r.offset)
    return seen


def reads(p: Pristine, path: str, where: str) -> None:
    """Every read raises an EvlogError or returns only correct records."""
    n = len(p.records)
    queries = [
        ("all", {}), ("bounded", {"start": n // 3, "end": 2 * n // 3}), ("names", {"names": "N1"}),
        ("reversed", {"reverse": True}), ("raw", {"raw": True}),
    ]
    for what, args in queries:
        got = []
        try:
            with Log.open(path) as log:
                for r in log.read(**args):
                    got.append(r)
        except EvlogError:
            pass
        originals = p.raw if args.get("raw") else p.records
        seen = check_records(got, originals, f"{where}: {what}")
        if what == "all":
            assert seen == list(range(len(seen))), where   # a prefix, gapless
    try:
        with Log.open(path) as log:
            summary = log.summary().to_dict()
            length = len(log)
    except EvlogError:
        return
    assert summary == p.summary and length == n, where


@pytest.mark.slow   # ~30-35 s: run once by `make test` (its second, pure-Python pass skips slow tests)
def test_bit_flips(pristine, tmp_path):
    rnd = random.Random(11)
    hits = {region: 0 for region in REGIONS}
    for k in range(FLIPS):
        region = REGIONS[k % len(REGIONS)]
        areas = [a for a in pristine.areas if a[0] == region and a[3] > a[2]]
        _, name, start, end, offsets = rnd.choice(areas)
        byte, bit = rnd.randrange(start, end), rnd.randrange(8)
        where = f"flip {k}: {region} of {name}, byte {byte} bit {bit}"
        copy = str(tmp_path / f"f{k}")
        shutil.copytree(pristine.path, copy)
        flip(copy, name, byte, bit)
        reads(pristine, copy, where)
        try:
            report = verify(copy)
        except EvlogError:   # the manifest no longer reads: a clear error is all there is to say
            assert region == "manifest", where
            shutil.rmtree(copy)
            continue
        if region != "manifest":
            assert not report.ok, where
            assert report.repair == (REINDEX if region == "index" else RECOVER), (where, report.problems)
        hits[region] += 1
        salvaged = SalvageReport()
        kept = check_records(salvage(copy, salvaged), pristine.records, f"{where}: salvage")
        assert kept == [i for i in range(len(pristine.records)) if i not in offsets], where
        assert bool(salvaged.skipped) == bool(offsets) or region == "segment header", where
        if k % 25 == 0:
            result = ops.recover(copy, copy + ".recovered")
            with Log.open(result.path) as log:
                assert len(log) == len(kept)
            assert verify(result.path).ok
            shutil.rmtree(result.path)
        shutil.rmtree(copy)
    assert all(hits[r] > 0 for r in REGIONS if r != "manifest"), hits
