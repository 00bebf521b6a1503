"""Recovery, verification and salvage.

* `prepare_for_append` runs when a writer opens a recording: it removes leftover
  temporary files, rebuilds missing or stale indexes of sealed segments, and truncates the
  torn tail of the last segment to its last whole block, saying what it dropped.
* `verify` checks every checksum, every block's content and every index (and with
  `chain=True` the blocks' hash chain, chain.py).
* `salvage` reads every intact block, skipping damage, and reports what it skipped.
* `reindex` rewrites every index from its segment.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Iterator, Sequence

from .block import RawRecord, Record, decode_frame
from .chainverify import ChainReport, verify_chain
from .errors import CorruptBlockError, CorruptRecordingError, EvlogError, UnsupportedFormatError
from .fsio import FileSystem
from .index import SegmentIndex, SegmentSummary, encode_index, parse_index
from .lock import acquire_lock, release_lock
from .keyindex import KeyMap, check_key_paths, keys_filename
from .keyread import ActiveKeys, key_file_bytes, load_key_file, segment_keymap
from .manifest import read_manifest, write_manifest
from .reader import SegmentView
from .segment import (
    SEGMENT_HEADER_SIZE, BlockEntry, ResyncBudget, ScanResult, encode_segment_header, find_next_frame,
    index_filename, list_segments, parse_segment_header, scan_frames, scan_settled, segment_filename,
)


@dataclass
class RecoveryReport:
    """What opening a recording for writing changed."""

    truncated: list[tuple[str, int, int]] = field(default_factory=list)  # (segment, position, bytes dropped)
    rebuilt_indexes: list[str] = field(default_factory=list)
    removed_files: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.truncated or self.rebuilt_indexes or self.removed_files)

    def lines(self) -> list[str]:
        out = [f"truncated {seg} at byte {pos}: dropped {n} bytes of an unfinished block"
               for seg, pos, n in self.truncated]
        out += [f"rebuilt index {name}" for name in self.rebuilt_indexes]
        out += [f"removed leftover file {name}" for name in self.removed_files]
        return out


@dataclass
class AppendState:
    next_offset: int
    segment_base: int | None
    segment_size: int
    entries: list[BlockEntry]
    summary: SegmentSummary
    last_ts: int | None
    last_mono: int | None


def _scan_segment(directory: str, base: int, is_last: bool, fs: FileSystem | None,
                  report: RecoveryReport | None, use_index: bool = True,
                  ) -> tuple[list[BlockEntry], SegmentSummary, int, str]:
    """Entries, summary and valid size of a segment, from its index (with `use_index`) and a
    scan beyond it. With `report`/`fs`, a torn tail of the last segment is truncated (and
    reported). Returns the index state: ok | missing | stale | corrupt | none (not read).
    """
    view = SegmentView(directory, base)
    try:
        view.open(is_last, use_index)
        size = os.fstat(view.fd).st_size  # type: ignore[arg-type]
    finally:
        view.close()
    valid = view.torn_at if view.torn_at is not None else view.scanned_to
    if fs is not None and report is not None and view.torn_at is not None:
        path = view.path
        if view.torn_at < SEGMENT_HEADER_SIZE:
            fs.truncate(path, 0)
            fd = fs.open_append(path)
            try:
                fs.write(fd, encode_segment_header(base))
                fs.fdatasync(fd)
            finally:
                fs.close(fd)
            valid = SEGMENT_HEADER_SIZE
        else:
            fs.truncate(path, view.torn_at)
        report.truncated.append((view.name, view.torn_at, size - view.torn_at))
    elif fs is not None and report is not None and size > valid:
        fs.truncate(view.path, valid)   # zeros its writer reserved ahead and never wrote: no data
    state = view.index_state
    if state == "ok" and view.scanned_to != valid:
        state = "stale"
    return view.entries, view.summary, valid, state


def prepare_for_append(directory: str, fs: FileSystem) -> tuple[RecoveryReport, AppendState]:
    report = RecoveryReport()
    key_paths = read_manifest(directory).keys
    for name in os.listdir(directory):
        if name.endswith(".tmp"):
            fs.remove(os.path.join(directory, name))
            report.removed_files.append(name)
    bases = list_segments(directory)
    prev_end: int | None = None
    state = AppendState(0, None, 0, [], SegmentSummary(), None, None)
    for i, base in enumerate(bases):
        is_last = i == len(bases) - 1
        entries, summary, size, index_state = _scan_segment(directory, base, is_last, fs, report)
        if prev_end is not None and base != prev_end:
            lo, hi = sorted((prev_end, base))
            raise CorruptRecordingError(f"events missing before segment {segment_filename(base)}; run `evlog recover`",
                                        segment_filename(base), 0, (lo, hi - 1))
        if not is_last and index_state != "ok":
            _sync_file(fs, os.path.join(directory, segment_filename(base)))   # the index covers only durable bytes
            index = SegmentIndex(base, size, entries, summary)
            fs.write_atomic(os.path.join(directory, index_filename(base)), encode_index(index))
            report.rebuilt_indexes.append(index_filename(base))
        if key_paths:
            _check_key_file(fs, directory, base, entries, size, key_paths, is_last, report)
        if is_last and index_state in ("stale", "corrupt"):
            # the writer rewrites it on roll/close; a stale one must not mislead readers meanwhile
            fs.remove(os.path.join(directory, index_filename(base)))
        end = entries[-1].end_offset if entries else base
        prev_end = end
        state = AppendState(end, base if is_last else None, size, entries if is_last else [],
                            summary if is_last else SegmentSummary(),
                            entries[-1].last_ts if entries else state.last_ts,
                            entries[-1].last_mono if entries else state.last_mono)
    if bases:
        state.segment_base = bases[-1]
        # the last writer may have died before its fsync: what it wrote is in the page cache
        # only. The new writer reports it durable, so put it on stable storage first; and make
        # the removals and truncations above durable before anything new is written
        _sync_file(fs, os.path.join(directory, segment_filename(bases[-1])))
    fs.fsync_dir(directory)
    return report, state


def _check_key_file(fs: FileSystem, directory: str, base: int, entries: list[BlockEntry], size: int,
                    paths: list[str], is_last: bool, report: RecoveryReport) -> None:
    """A sealed segment gets its key file rebuilt when it is missing or unusable; the last
    one's unusable file is removed (its writer rewrites it; readers rebuild its tail)."""
    kf = load_key_file(directory, base, entries, paths)
    if kf is not None:
        kf.close()
        if not is_last and kf.covered != size:
            kf = None
    if kf is not None:
        return
    path = os.path.join(directory, keys_filename(base))
    if is_last:
        if os.path.exists(path):
            fs.remove(path)
        return
    view = _segment_view(directory, base, entries)
    try:
        data = key_file_bytes(view, paths, size)
    finally:
        view.close()
    fs.write_atomic(path, data)
    report.rebuilt_indexes.append(keys_filename(base))


def _segment_view(directory: str, base: int, entries: list[BlockEntry]) -> SegmentView:
    """A segment opened for reading blocks whose entries are already known (no scan)."""
    view = SegmentView(directory, base)
    view.fd = os.open(view.path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    view.entries = list(entries)
    return view


def active_keys(directory: str, paths: list[str], base: int | None, entries: list[BlockEntry]) -> ActiveKeys | None:
    """The writer's key map (None without key paths): of the active segment it reopens
    (`base`, its blocks `entries`: its key file's postings, its other blocks decoded), or empty."""
    if not paths:
        return None
    if base is None or not entries:
        return ActiveKeys(paths, KeyMap(paths, base or 0))
    view = _segment_view(directory, base, entries)
    try:
        return ActiveKeys(paths, segment_keymap(view, paths))
    finally:
        view.close()


def _sync_file(fs: FileSystem, path: str) -> None:
    fd = fs.open_append(path)
    try:
        fs.fdatasync(fd)
    finally:
        fs.close(fd)


def reindex(directory: str, fs: FileSystem | None = None, keys: Sequence[str] = ()) -> list[str]:
    """Rewrite every segment's index (and key file) from the segment itself. Returns the
    rewritten names. `keys`: key paths to index from now on, beside the recording's (the
    manifest lists them once every key file is written).

    Every segment is scanned first: if one is damaged (a bad block, a bad header, a cut-off
    sealed segment, events missing between segments), nothing is changed and the
    CorruptRecordingError says to run `evlog recover`. Then each index is written beside the
    old one and replaces it atomically. A torn tail of the last segment is left in place
    (the index covers the blocks before it; opening for append cuts it off).
    """
    fs = fs or FileSystem()
    manifest = read_manifest(directory)
    paths = manifest.keys + [k for k in check_key_paths(keys) if k not in manifest.keys]
    lock = acquire_lock(directory)
    try:
        bases = list_segments(directory)
        for _ in _fresh_indexes(directory, bases):   # check first: a damaged recording stays as it was
            pass
        rewritten = []
        for index in _fresh_indexes(directory, bases):
            name = index_filename(index.base_offset)
            fs.write_atomic(os.path.join(directory, name), encode_index(index))
            rewritten.append(name)
            if paths:
                view = _segment_view(directory, index.base_offset, index.entries)
                try:
                    data = key_file_bytes(view, paths, index.covered_bytes)
                finally:
                    view.close()
                fs.write_atomic(os.path.join(directory, keys_filename(index.base_offset)), data)
                rewritten.append(keys_filename(index.base_offset))
        if paths != manifest.keys:
            manifest.keys = paths
            write_manifest(fs, directory, manifest)
        return rewritten
    finally:
        release_lock(lock)


def _check_not_sealed(directory: str, base: int, valid: int) -> None:
    """Raise if the old index of the last segment shows whole blocks past `valid` (where a
    scan found a torn tail): those were damaged, not left unfinished."""
    try:
        index = _index_file(directory, base)
    except (OSError, CorruptRecordingError, UnsupportedFormatError):
        return
    path = os.path.join(directory, segment_filename(base))
    if _sealed_size(index, base, os.path.getsize(path)) > valid:
        raise CorruptBlockError("damaged block (its index shows it was whole)", segment_filename(base), valid)


def _fresh_indexes(directory: str, bases: list[int]) -> Iterator[SegmentIndex]:
    """The index of each segment, from a scan of the whole file (its index file unread);
    raises CorruptRecordingError, advising `evlog recover`, at the first damage."""
    expect: int | None = None
    for i, base in enumerate(bases):
        is_last = i == len(bases) - 1
        try:
            if expect is not None and base != expect:
                lo, hi = sorted((expect, base))
                raise CorruptRecordingError("events missing before this segment", segment_filename(base), 0,
                                            (lo, hi - 1))
            entries, summary, size, _ = _scan_segment(directory, base, is_last, None, None, use_index=False)
            if is_last:
                _check_not_sealed(directory, base, size)
        except CorruptRecordingError as exc:
            error = CorruptRecordingError(f"cannot reindex: {exc}; nothing was changed: run `evlog recover` "
                                          f"to copy every intact block into a new recording")
            error.segment, error.position, error.offsets = exc.segment, exc.position, exc.offsets
            raise error from None
        expect = entries[-1].end_offset if entries else base
        if size >= SEGMENT_HEADER_SIZE:   # else a last segment created but never written: nothing to index
            yield SegmentIndex(base, size, entries, summary)


REINDEX = "reindex"   # a missing, stale or damaged index file: `evlog reindex` rewrites it from its segment
RECOVER = "recover"   # damaged blocks or segments: `evlog recover` copies every intact block


@dataclass
class Problem:
    segment: str | None
    position: int | None
    offsets: tuple[int, int] | None
    message: str
    repair: str = RECOVER   # the command that repairs it: REINDEX or RECOVER

    def __str__(self) -> str:
        where = []
        if self.segment:
            where.append(self.segment)
        if self.position is not None:
            where.append(f"byte {self.position}")
        if self.offsets:
            where.append(f"offsets {self.offsets[0]}..{self.offsets[1]}")
        return f"{': '.join([', '.join(where)] if where else [])}{': ' if where else ''}{self.message}"


@dataclass
class VerifyReport:
    events: int = 0
    blocks: int = 0
    segments: int = 0
    problems: list[Problem] = field(default_factory=list)
    torn_tail: tuple[str, int] | None = None
    chain: ChainReport | None = None   # with verify(..., chain=True): what the hash chain proved

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def repair(self) -> str | None:
        """The command that repairs every problem found: RECOVER when any block or segment is
        damaged (reindex cannot repair those), else REINDEX for index files, else None."""
        if any(p.repair == RECOVER for p in self.problems):
            return RECOVER
        return REINDEX if self.problems else None

    @property
    def advice(self) -> str | None:
        """What to do, in one line (None for an intact recording without a torn tail)."""
        if self.repair == RECOVER:
            return ("run `evlog recover` to copy every intact block into a new recording "
                    "(`evlog reindex` cannot repair damaged blocks)")
        if self.repair == REINDEX:
            return "run `evlog reindex` to rewrite the index files from the segments (no event is affected)"
        if self.torn_tail:
            return ("nothing to repair: readers ignore the unfinished write, and opening the recording for "
                    "append (a writer resuming) cuts it off")
        return None


def _problem(exc: CorruptRecordingError) -> Problem:
    return Problem(exc.segment, exc.position, exc.offsets, exc.reason)


def verify(directory: str, decode: bool = True, chain: bool = False, key: bytes | None = None) -> VerifyReport:
    """Check every block (checksum, content, JSON) and every index of a recording. With
    `chain` (or a `key`), also walk its hash chain (format v2): a block altered, removed or
    reordered, or a keyed chain checked with another key, is a problem (`report.chain`)."""
    key_paths = read_manifest(directory).keys
    report = VerifyReport()
    if chain or key is not None:
        report.chain = verify_chain(directory, key)
        report.problems += [Problem(None, None, None, f"chain: {p}") for p in report.chain.problems]
    bases = list_segments(directory)
    expect: int | None = bases[0] if bases else 0   # None: unknown, after a damaged segment
    for i, base in enumerate(bases):
        is_last = i == len(bases) - 1
        name = segment_filename(base)
        report.segments += 1
        if expect is not None and base != expect:
            lo, hi = sorted((expect, base))
            report.problems.append(Problem(name, 0, (lo, hi - 1), "events missing before this segment"))
        path = os.path.join(directory, name)
        fd = os.open(path, os.O_RDONLY)
        try:
            size = os.fstat(fd).st_size
            try:
                parse_segment_header(os.pread(fd, SEGMENT_HEADER_SIZE, 0), name)
            except CorruptRecordingError as exc:
                if not (is_last and size < SEGMENT_HEADER_SIZE) or \
                        os.path.exists(os.path.join(directory, index_filename(base))):
                    report.problems.append(_problem(exc))
                expect = None
                continue
            entries = []
            summary = SegmentSummary()
            result = ScanResult()
            for header, entry, meta, frame in scan_settled(fd, SEGMENT_HEADER_SIZE, size, name, result, is_last,
                                                           expect_offset=base):
                if decode:
                    try:
                        block = decode_frame(frame, name, entry.position)
                        block.all_data()
                        block.check_headers()
                        if [block.meta.name_counts[j] for j in range(len(block.meta.names))] != \
                                [sum(1 for x in block.name_ids if x == j) for j in range(len(block.meta.names))]:
                            raise CorruptRecordingError("block name counts disagree with its records", name,
                                                        entry.position, (entry.first_offset, entry.end_offset - 1))
                    except CorruptRecordingError as exc:
                        report.problems.append(_problem(exc))
                entries.append(entry)
                summary.add_block(entry, meta, header.raw_len)
                report.blocks += 1
                report.events += entry.count
            expect = entries[-1].end_offset if entries else base
            idx_name = index_filename(base)
            idx: SegmentIndex | None = None
            try:
                idx = _index_file(directory, base)
            except FileNotFoundError:
                if not is_last:
                    report.problems.append(Problem(idx_name, None, None, "index is missing", REINDEX))
            except (CorruptRecordingError, UnsupportedFormatError) as exc:
                report.problems.append(Problem(idx_name, None, None, str(exc), REINDEX))
            damaged = False
            if result.reason is not None:
                if is_last and result.stop_position >= _sealed_size(idx, base, size) and result.torn:
                    report.torn_tail = (name, result.stop_position)
                else:   # damage; or a block the index shows was once whole: damage too
                    assert result.error is not None
                    report.problems.append(_problem(result.error))
                    damaged = True
                    # where its events end: as its index says, else unknown (no gap reported after it)
                    expect = idx.entries[-1].end_offset if idx is not None and idx.base_offset == base \
                        and idx.entries else None
            valid = result.stop_position
            if idx is not None:
                n = min(len(idx.entries), len(entries))
                if idx.base_offset != base or idx.entries[:n] != entries[:n] or \
                        (not damaged and idx.covered_bytes > valid):
                    report.problems.append(Problem(idx_name, None, None, "index is stale", REINDEX))
                elif not is_last and not damaged and idx.covered_bytes != valid:
                    report.problems.append(Problem(idx_name, None, None,
                                                   "index does not cover the whole segment", REINDEX))
            if key_paths and not damaged:
                problem = _key_file_problem(directory, base, entries, key_paths, is_last, valid)
                if problem is not None:
                    report.problems.append(problem)
        finally:
            os.close(fd)
    return report


def _key_file_problem(directory: str, base: int, entries: list[BlockEntry], paths: list[str], is_last: bool,
                      valid: int) -> Problem | None:
    """A sealed segment's key file must exist and cover it whole; the active one's, when there
    is one, must be usable (readers decode what it does not cover)."""
    name = keys_filename(base)
    exists = os.path.exists(os.path.join(directory, name))
    if is_last and not exists:
        return None
    kf = load_key_file(directory, base, entries, paths)
    if kf is None:
        return Problem(name, None, None, "key file is missing, damaged or stale" if exists else "key file is missing",
                       REINDEX)
    kf.close()
    if not is_last and kf.covered != valid:
        return Problem(name, None, None, "key file does not cover the whole segment", REINDEX)
    return None


def _index_file(directory: str, base: int) -> SegmentIndex:
    """The index file of a segment, parsed (FileNotFoundError, CorruptIndexError, UnsupportedFormatError)."""
    with open(os.path.join(directory, index_filename(base)), "rb") as f:
        return parse_index(f.read(), index_filename(base))


def _sealed_size(index: SegmentIndex | None, base: int, size: int) -> int:
    """The bytes of a segment its index shows were whole blocks once (0 without a valid one):
    invalid bytes there are damage, never a torn tail, however near the end of the file."""
    if index is None or index.base_offset != base or index.covered_bytes > size:
        return 0
    return index.covered_bytes


@dataclass
class SalvageReport:
    skipped: list[Problem] = field(default_factory=list)   # damaged byte ranges and lost offsets
    events: int = 0
    blocks: int = 0


def salvage(directory: str, report: SalvageReport, raw: bool = False) -> Iterator[Record | RawRecord]:
    """Yield every record of every intact block, in order; fill `report` with what was skipped."""
    read_manifest(directory)
    expect: int | None = None   # the offset the next intact block should start at
    previous = None
    for base in list_segments(directory):
        name = segment_filename(base)
        if expect is not None and base > expect:   # e.g. the tail of a middle segment cut off
            report.skipped.append(Problem(previous, None, (expect, base - 1), "events lost at the end of the segment"))
            expect = base
        previous = name
        fd = os.open(os.path.join(directory, name), os.O_RDONLY)
        try:
            size = os.fstat(fd).st_size
            try:
                parse_segment_header(os.pread(fd, SEGMENT_HEADER_SIZE, 0), name)
            except (CorruptRecordingError, UnsupportedFormatError) as exc:
                report.skipped.append(Problem(name, 0, None, f"{exc}; segment header ignored"))
            pos = SEGMENT_HEADER_SIZE
            budget = ResyncBudget(size - pos)   # one for the whole file: linear however often it is damaged
            while pos < size:
                result = ScanResult()
                for _header, entry, _meta, frame in scan_frames(fd, pos, size, name, result):
                    try:
                        block = decode_frame(frame, name, entry.position)
                        records = block.raw_records() if raw else block.records()
                    except CorruptRecordingError as exc:
                        report.skipped.append(_problem(exc))
                        continue
                    if expect is not None and entry.first_offset > expect:
                        report.skipped.append(Problem(name, entry.position, (expect, entry.first_offset - 1),
                                                      "events lost"))
                    expect = entry.end_offset
                    report.blocks += 1
                    report.events += len(records)
                    yield from records
                if result.reason is None:
                    break
                nxt = find_next_frame(fd, result.stop_position + 1, size, name, budget)
                end = size if nxt is None else nxt
                report.skipped.append(Problem(name, result.stop_position, None,
                                              f"{result.reason}: skipped {end - result.stop_position} bytes"))
                if nxt is None:
                    break
                pos = nxt
        finally:
            os.close(fd)


__all__ = ["RecoveryReport", "VerifyReport", "SalvageReport", "Problem", "prepare_for_append",
           "verify", "salvage", "reindex", "EvlogError", "REINDEX", "RECOVER"]
