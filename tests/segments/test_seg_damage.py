"""Damage: flipped and truncated bytes never come back as wrong data.

The reader returns exactly the right records or raises CorruptRecordingError naming the
segment; verify() reports the problem; salvage() returns every record of every intact block.
"""
from __future__ import annotations

import os
import shutil
import tempfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evlog.segments import (
    CorruptRecordingError, Log, NotARecordingError, SalvageReport, UnsupportedFormatError, reindex,
    salvage, verify,
)
from evlog.segments.index import parse_index
from evlog.segments.segment import index_filename, list_segments, segment_filename

from segtools import examples, assert_records


def _build(path: str):
    with Log.create(path, "damage", fsync="never", segment_max_bytes=4096, block_max_records=6,
                    metadata={"k": "v"}) as log:
        for i in range(300):
            log.append(f"N{i % 4}", {"i": i, "s": "abcdefgh" * (i % 9), "t": (i, str(i))}, f"s{i % 3}",
                       timestamp=1_000_000 + i, monotonic=i * 10)
    reader = Log.open(path)
    records = list(reader.read())
    reader.close()
    blocks = {}   # segment file -> [(position, frame_len, first_offset, count)]
    for base in list_segments(path):
        with open(os.path.join(path, index_filename(base)), "rb") as f:
            idx = parse_index(f.read(), "x")
        blocks[segment_filename(base)] = [(e.position, e.frame_len, e.first_offset, e.count) for e in idx.entries]
    return records, blocks


@pytest.fixture(scope="module")
def pristine():
    tmp = tempfile.mkdtemp()
    path = os.path.join(tmp, "rec")
    records, blocks = _build(path)
    assert len(blocks) >= 4     # middle segments exist
    yield Pristine((path, records, blocks))
    shutil.rmtree(tmp)


damages = st.lists(
    st.tuples(st.sampled_from(["flip", "truncate", "zero"]), st.integers(0, 10**6), st.floats(0, 1),
              st.integers(1, 255)),
    min_size=1, max_size=3,
)


def _apply(path: str, files: list[str], choice: int, kind: str, where: float, value: int):
    """Damage one file; return (file name, first damaged byte, end of damage or None for truncation)."""
    name = files[choice % len(files)]
    fp = os.path.join(path, name)
    size = os.path.getsize(fp)
    pos = min(int(where * size), max(size - 1, 0))
    if kind == "truncate" or size == 0:
        os.truncate(fp, pos)
        return name, pos, None
    with open(fp, "r+b") as f:
        f.seek(pos)
        old = f.read(1 if kind == "flip" else 40)
        f.seek(pos)
        if kind == "flip":
            f.write(bytes([old[0] ^ value]))
            return name, pos, pos + 1
        if old == bytes(len(old)):
            f.write(b"\xff" * len(old))
        else:
            f.write(bytes(len(old)))
        return name, pos, pos + len(old)


def _diff(src: str, path: str, files: list[str]) -> list[tuple[str, int, int | None]]:
    """What actually changed: (file, first changed byte, end of change or None if cut there)."""
    hurt = []
    for name in files:
        with open(os.path.join(src, name), "rb") as f:
            a = f.read()
        with open(os.path.join(path, name), "rb") as f:
            b = f.read()
        if a == b:
            continue
        changed = [i for i in range(min(len(a), len(b))) if a[i] != b[i]]
        if changed:
            hurt.append((name, changed[0], changed[-1] + 1))
        if len(b) < len(a):
            hurt.append((name, len(b), None))
    return hurt


class Pristine(tuple):
    def __repr__(self) -> str:
        return "<pristine recording>"


@settings(max_examples=examples(80), deadline=None, suppress_health_check=list(HealthCheck))
@given(damage=damages)
def test_damage_is_never_silent(pristine, damage):
    src, records, blocks = pristine
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "rec")
        shutil.copytree(src, path)
        files = sorted(os.listdir(path))
        files.remove(".lock")
        for kind, choice, where, value in damage:
            _apply(path, files, choice, kind, where, value)
        hurt = _diff(src, path, files)
        manifest_hurt = any(h[0] == "manifest.json" for h in hurt)
        segments_hurt = {h[0] for h in hurt if h[0].endswith(".seg")}

        # 1. the reader: exactly right, or a clear error naming the segment
        try:
            log = Log.open(path)
            got = list(log.read())
            log.close()
        except (NotARecordingError, UnsupportedFormatError):
            assert manifest_hurt
        except CorruptRecordingError as exc:
            assert segments_hurt, exc
            assert exc.segment is not None and str(exc)
        else:
            if segments_hurt and got != records:
                # only an unfinished last write is not damage: what is returned is a clean prefix
                last = max(blocks)
                assert segments_hurt == {last}, segments_hurt
                assert got == records[:len(got)]
            else:
                assert_records(got, records)

        if manifest_hurt:
            try:
                Log.open(path).close()
            except (NotARecordingError, UnsupportedFormatError) as exc:
                assert str(exc)
                return   # the recording is not recognised any more; verify/salvage need a manifest
            except CorruptRecordingError as exc:   # a damaged segment found on open: named
                assert segments_hurt and exc.segment is not None, exc
        # 2. verify reports every damage to a segment or an index
        report = verify(path)
        damaged_data = [h for h in hurt if h[0] != "manifest.json"]
        if damaged_data:
            assert not report.ok or report.torn_tail is not None, (hurt, report)
        # 3. salvage: every record of every intact block, nothing wrong
        srep = SalvageReport()
        salvaged = list(salvage(path, srep))
        by_offset = {r.offset: r for r in salvaged}
        assert len(by_offset) == len(salvaged)       # no offset twice
        for r in salvaged:
            assert r == records[r.offset]
        lost = False
        for seg, entries in blocks.items():
            size = os.path.getsize(os.path.join(path, seg))
            for pos, flen, first, count in entries:
                intact = pos + flen <= size and not any(
                    h[0] == seg and (h[2] is None and h[1] < pos + flen or
                                     h[2] is not None and h[1] < pos + flen and h[2] > pos) for h in hurt)
                if intact:
                    for off in range(first, first + count):
                        assert off in by_offset, (seg, pos, off, hurt)
                else:
                    lost = lost or any(off not in by_offset for off in range(first, first + count))
        if lost:
            assert srep.skipped, hurt
        for p in srep.skipped:
            assert str(p)


def test_deleted_index_reads_scan_and_reindex_fixes(pristine):
    src, records, blocks = pristine
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "rec")
        shutil.copytree(src, path)
        middle = sorted(blocks)[1]
        idx = middle.replace(".seg", ".idx")
        os.remove(os.path.join(path, idx))
        log = Log.open(path)
        assert_records(log.read(), records)
        assert_records(log.read(40, 50, reverse=True), records[40:50][::-1])
        assert log.summary().count == len(records)
        log.close()
        report = verify(path)
        assert not report.ok
        assert any(p.segment == idx and "missing" in p.message for p in report.problems)
        assert idx in reindex(path)
        assert verify(path).ok
        assert os.path.exists(os.path.join(path, idx))
        assert_records(Log.open(path).read(), records)


def test_deleted_index_rebuilt_on_append(pristine):
    src, records, blocks = pristine
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "rec")
        shutil.copytree(src, path)
        idx = sorted(blocks)[0].replace(".seg", ".idx")
        os.remove(os.path.join(path, idx))
        with Log.open(path, "a") as log:
            assert idx in log.recovery_report.rebuilt_indexes
            assert any("rebuilt" in line for line in log.recovery_report.lines())
        assert verify(path).ok
