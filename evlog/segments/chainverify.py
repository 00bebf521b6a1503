"""Reading a recording's hash chain back: the link the next block chains from (a writer
reopening a recording) and `verify_chain`, which walks every block and says what does not
hold. The hashing itself, the anchor and the manifest's chain record are in chain.py."""
from __future__ import annotations

import hmac
import os
from dataclasses import dataclass, field
from typing import Any

from .block import HEADER_SIZE, decode_meta_link
from .chain import HASH_SIZE, LINK_SIZE, HEADER_CHECKED, anchor, block_hash, check_key, record_mac_ok, recorded_head
from .manifest import read_manifest
from .reader import LogReader
from .segment import (
    SEGMENT_HEADER_SIZE, ScanResult, list_segments, scan_settled, segment_filename,
)


def frame_parts(frame: bytes | memoryview, meta_len: int) -> tuple[memoryview, bytes, bytes, memoryview, memoryview]:
    """(header bytes 0-79, prev, hash, tables, payload) of a v2 frame."""
    mv = memoryview(frame)
    link = mv[HEADER_SIZE:HEADER_SIZE + LINK_SIZE]
    return (mv[:HEADER_CHECKED], bytes(link[:HASH_SIZE]), bytes(link[HASH_SIZE:]),
            mv[HEADER_SIZE + LINK_SIZE:HEADER_SIZE + meta_len], mv[HEADER_SIZE + meta_len:])



def last_link(directory: str, manifest: Any) -> tuple[int, bytes]:
    """(end offset, hash) of the recording's last block: what the next block chains from.
    With no block (a new recording, or retention kept only an empty segment): the
    manifest's head, else the anchor."""
    reader = LogReader(directory)
    try:
        for view in reversed(reader.segments):
            if view.entries:
                entry = view.entries[-1]
                assert view.fd is not None
                frame = os.pread(view.fd, entry.frame_len, entry.position)
                if frame[4] >= 2:
                    return entry.end_offset, decode_meta_link(frame)[1]
                break
    finally:
        reader.close()
    head = recorded_head(manifest)
    if head is not None:
        return head
    return 0, anchor(manifest.session_name, manifest.start_time_ns, None)


# verification ---------------------------------------------------------------------------
@dataclass
class ChainReport:
    """What `verify_chain` proved. `ok`: no block altered, removed or reordered up to the head."""

    blocks: int = 0
    first_offset: int | None = None     # where the verified chain starts (retention may have cut before)
    end_offset: int | None = None       # one past the last chained block
    head_offset: int | None = None      # what the manifest's head covers
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_chain(directory: str, key: bytes | None = None) -> ChainReport:
    """Walk every block of the recording and check its chain link, from the manifest's anchor
    (or the first kept block after retention) to the manifest's head."""
    key = check_key(key)
    manifest = read_manifest(directory)
    report = ChainReport()
    record = manifest.chain
    if manifest.format_version < 2 or record is None:
        report.problems.append(f"format version {manifest.format_version} recordings have no hash chain")
        return report
    keyed = bool(record.get("keyed"))
    if keyed and key is None:
        report.problems.append("the chain is keyed: give its key to verify it")
        return report
    if not keyed and key is not None:
        report.problems.append("the chain is not keyed: anyone can rebuild it, a key proves nothing")
        return report
    if key is not None and not record_mac_ok(record, key):
        report.problems.append("wrong key, or the manifest's chain record was altered (its MAC does not match)")
        return report
    try:
        start = bytes.fromhex(record["anchor"])
        anchor_offset = int(record["anchor_offset"])
        head = bytes.fromhex(record["head"])
        head_offset = int(record["head_offset"])
    except (KeyError, TypeError, ValueError):
        report.problems.append("the manifest's chain record is incomplete")
        return report
    report.head_offset = head_offset
    if start != anchor(manifest.session_name, manifest.start_time_ns, key):
        report.problems.append("the manifest's chain anchor does not belong to this recording")
    prev: bytes | None = None
    head_seen = head_offset == anchor_offset and head == start
    bases = list_segments(directory)
    for i, base in enumerate(bases):
        name = segment_filename(base)
        fd = os.open(os.path.join(directory, name), os.O_RDONLY)
        try:
            size = os.fstat(fd).st_size
            result = ScanResult()
            for header, entry, _meta, frame in scan_settled(fd, SEGMENT_HEADER_SIZE, size, name, result,
                                                            i == len(bases) - 1):
                where = f"{name}, offsets {entry.first_offset}..{entry.end_offset - 1}"
                if header.version < 2:
                    report.problems.append(f"{where}: a format v1 block has no chain link")
                    prev = None
                    continue
                parts = frame_parts(frame, header.meta_len)
                link_prev, link_hash = decode_meta_link(frame)
                if prev is None and report.first_offset is None:
                    report.first_offset = entry.first_offset
                    if entry.first_offset == anchor_offset:
                        if link_prev != start:
                            report.problems.append(f"{where}: the first block does not chain from the anchor")
                    elif entry.first_offset > anchor_offset:
                        report.notes.append(f"the chain is verified from offset {entry.first_offset}: the "
                                            f"segments before it were removed (retention)")
                    else:
                        report.problems.append(f"{where}: a block before the chain's anchor")
                elif prev is not None and link_prev != prev:
                    report.problems.append(f"{where}: does not chain from the block before it (a block was "
                                           f"removed, inserted or reordered)")
                if block_hash(link_prev, parts[0], parts[3], parts[4], key) != link_hash:
                    report.problems.append(f"{where}: altered (its hash does not match its content)")
                prev = link_hash
                report.blocks += 1
                report.end_offset = entry.end_offset
                if entry.end_offset == head_offset:
                    head_seen = hmac.compare_digest(link_hash, head)
                    if not head_seen:
                        report.problems.append(f"{where}: the manifest's head does not match this block")
                        head_seen = True   # reported once
            if result.reason is not None:
                if result.torn:
                    report.notes.append(f"{name}: the chain ends at an unfinished last write (byte "
                                        f"{result.stop_position})")
                else:
                    report.problems.append(f"{name}, byte {result.stop_position}: a damaged block breaks the "
                                           f"chain ({result.reason})")
                    prev = None
        finally:
            os.close(fd)
    end = report.end_offset if report.end_offset is not None else anchor_offset
    if not head_seen:
        if head_offset > end:
            report.problems.append(f"events {end}..{head_offset - 1} are missing: the manifest's head covers up to "
                                   f"offset {head_offset} but the recording ends at {end}")
        elif report.first_offset is None or head_offset >= report.first_offset:
            report.problems.append(f"the manifest's head (offset {head_offset}) matches no block boundary")
    if end > head_offset:
        report.notes.append(f"events {max(head_offset, report.first_offset or 0)}..{end - 1} come after the "
                            f"recorded head (written since it was last updated: the recording is open or was "
                            f"not closed); they are chained but their end is not proven")
    return report


__all__ = ["ChainReport", "frame_parts", "last_link", "verify_chain"]
