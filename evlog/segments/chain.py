"""Tamper evidence (format v2): the recording's blocks in one BLAKE2b hash chain.

Every v2 block carries, at the start of its meta section, the hash it chains from (`prev`,
the previous block's hash) and its own hash

    hash = BLAKE2b-256(prev || header bytes 0-79 || name/source/flag tables || stored payload)

so the hash covers the whole stored frame (but its checksum, which is derived, and the link
itself). The chain runs across segments, from an anchor derived from the recording's
identity (session name and start time), to the head written in the manifest when the
writer closes (and at each roll and active-index write: the blocks fsynced by then). With a
key (`Log.create(..., chain_key=...)`) every hash is a keyed BLAKE2b, a MAC: nobody without
the key can build a consistent chain for altered blocks, and the manifest's chain record
carries a MAC too, so the head cannot be moved back over removed blocks either.

Each block holding its `prev` means a chain can be checked from any block: after retention
deleted old segments, from the first kept block (whose `prev` is the last deleted block's
hash). `verify_chain` walks every block of a recording and says what does not hold.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import os
from dataclasses import dataclass, field
from typing import Any

from .errors import EvlogError

HASH_SIZE = 32                 # bytes of a BLAKE2b-256 digest
LINK_SIZE = 2 * HASH_SIZE      # prev + hash, at the start of a v2 block's meta
ALGORITHM = "blake2b-256"
MAX_KEY_SIZE = 64              # BLAKE2b's key limit
_HEADER_CHECKED = 80           # header bytes covered (the checksum at 80-87 is derived)


class ChainError(EvlogError, ValueError):
    """The chain key does not fit the recording (missing, extra or wrong)."""


def check_key(key: Any) -> bytes | None:
    """A chain key as bytes (1 to 64 of them), or None for an unkeyed chain."""
    if key is None:
        return None
    if isinstance(key, str):
        key = key.encode("utf-8")
    if not isinstance(key, (bytes, bytearray, memoryview)):
        raise TypeError(f"a chain key is bytes, not {type(key).__name__}")
    key = bytes(key)
    if not 1 <= len(key) <= MAX_KEY_SIZE:
        raise ValueError(f"a chain key has 1 to {MAX_KEY_SIZE} bytes, not {len(key)}")
    return key


def _hasher(key: bytes | None, person: bytes) -> Any:
    return hashlib.blake2b(digest_size=HASH_SIZE, key=key or b"", person=person)


def anchor(session_name: str, start_time_ns: int, key: bytes | None) -> bytes:
    """The hash the recording's first block chains from: bound to the recording's identity,
    so blocks chained in another recording (with the same key) do not fit this one."""
    h = _hasher(key, b"evlog-anchor")
    h.update(session_name.encode("utf-8"))
    h.update(b"\0")
    h.update(str(start_time_ns).encode("ascii"))
    return h.digest()


def block_hash(prev: bytes, header: bytes | memoryview, tables: bytes | memoryview,
               payload: bytes | memoryview, key: bytes | None) -> bytes:
    h = _hasher(key, b"evlog-block")
    h.update(prev)
    h.update(header)
    h.update(tables)
    h.update(payload)
    return h.digest()


class Chain:
    """The writer's running chain: `head` is the hash of the last block encoded."""

    __slots__ = ("key", "head")

    def __init__(self, head: bytes, key: bytes | None = None) -> None:
        self.head, self.key = head, key

    def link(self, header: bytes, tables: bytes, payload: bytes | memoryview) -> bytes:
        """The 64-byte link (prev, hash) of the next block; the chain advances to it."""
        prev = self.head
        self.head = block_hash(prev, header, tables, payload, self.key)
        return prev + self.head


def frame_parts(frame: bytes | memoryview, meta_len: int) -> tuple[memoryview, bytes, bytes, memoryview, memoryview]:
    """(header bytes 0-79, prev, hash, tables, payload) of a v2 frame."""
    from .block import HEADER_SIZE
    mv = memoryview(frame)
    link = mv[HEADER_SIZE:HEADER_SIZE + LINK_SIZE]
    return (mv[:_HEADER_CHECKED], bytes(link[:HASH_SIZE]), bytes(link[HASH_SIZE:]),
            mv[HEADER_SIZE + LINK_SIZE:HEADER_SIZE + meta_len], mv[HEADER_SIZE + meta_len:])


# the manifest's chain record -------------------------------------------------------------
def new_record(session_name: str, start_time_ns: int, key: bytes | None) -> dict:
    """The manifest's `chain` record of a new recording (head = anchor: no block yet)."""
    start = anchor(session_name, start_time_ns, key).hex()
    return seal_record({"algorithm": ALGORITHM, "keyed": key is not None, "anchor_offset": 0, "anchor": start,
                        "head_offset": 0, "head": start}, key)


def seal_record(record: dict, key: bytes | None) -> dict:
    """`record` with its MAC (keyed chains only): the head cannot be moved without the key."""
    out = {k: v for k, v in record.items() if k != "mac"}
    if key is not None:
        out["mac"] = _record_mac(out, key)
    return out


def _record_mac(record: dict, key: bytes) -> str:
    body = json.dumps({k: v for k, v in record.items() if k != "mac"}, sort_keys=True, separators=(",", ":"))
    h = _hasher(key, b"evlog-manifest")
    h.update(body.encode("utf-8"))
    return h.hexdigest()


def record_mac_ok(record: dict, key: bytes) -> bool:
    mac = record.get("mac")
    return isinstance(mac, str) and hmac.compare_digest(mac, _record_mac(record, key))


def check_record_key(record: dict | None, key: bytes | None, where: str) -> None:
    """Raise ChainError unless `key` is the key of the recording's chain (None: unkeyed)."""
    if record is None:
        return
    if record.get("keyed") and key is None:
        raise ChainError(f"{where} has a keyed hash chain: give its key (chain_key) to append to it")
    if not record.get("keyed") and key is not None:
        raise ChainError(f"{where} has an unkeyed hash chain: a key cannot be added to it")
    if key is not None and not record_mac_ok(record, key):
        raise ChainError(f"{where}: wrong chain key (the manifest's chain record does not match it)")


def recorded_head(manifest: Any) -> tuple[int, bytes] | None:
    """(offset, hash) of the head the manifest records, or None."""
    record = manifest.chain
    try:
        return int(record["head_offset"]), bytes.fromhex(record["head"])
    except (TypeError, KeyError, ValueError):
        return None


def last_link(directory: str, manifest: Any) -> tuple[int, bytes]:
    """(end offset, hash) of the recording's last block: what the next block chains from.
    With no block (a new recording, or retention kept only an empty segment): the
    manifest's head, else the anchor."""
    from .block import decode_meta_link
    from .reader import LogReader
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
    from .block import decode_meta_link
    from .manifest import read_manifest
    from .segment import SEGMENT_HEADER_SIZE, ScanResult, is_torn_tail, list_segments, scan_frames, segment_filename

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
            for header, entry, _meta, frame in scan_frames(fd, SEGMENT_HEADER_SIZE, size, name, result):
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
                if i == len(bases) - 1 and is_torn_tail(fd, result, name):
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


__all__ = ["Chain", "ChainReport", "ChainError", "HASH_SIZE", "LINK_SIZE", "ALGORITHM", "anchor", "block_hash",
           "check_key", "new_record", "seal_record", "record_mac_ok", "check_record_key", "verify_chain"]
