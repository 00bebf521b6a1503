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
hash). `chainverify.verify_chain` walks every block of a recording and says what does not hold.
"""
from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from .errors import EvlogError

HASH_SIZE = 32                 # bytes of a BLAKE2b-256 digest
LINK_SIZE = 2 * HASH_SIZE      # prev + hash, at the start of a v2 block's meta
ALGORITHM = "blake2b-256"
MAX_KEY_SIZE = 64              # BLAKE2b's key limit
HEADER_CHECKED = 80           # header bytes covered (the checksum at 80-87 is derived)


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


# hashlib releases the GIL while it hashes an input of 2,048 bytes or more. The writer's I/O
# thread hashes each block's tables and compressed payload (tens of KiB: ~0.1 ms); giving up the GIL
# for that and taking it back costs a busy publishing thread a forced switch, several times
# the hash itself on a loaded 2-core machine (bench_recorder (b): record -> durable ~7 %
# slower). So they go in pieces below that size: the same digest, the GIL kept.
_GIL_KEPT = 2047


def block_hash(prev: bytes, header: bytes | memoryview, tables: bytes | memoryview,
               payload: bytes | memoryview, key: bytes | None) -> bytes:
    h = _hasher(key, b"evlog-block")
    update = h.update
    update(prev)
    for part in (header, tables, payload):
        if len(part) <= _GIL_KEPT:
            update(part)
            continue
        with memoryview(part) as view:
            for start in range(0, len(view), _GIL_KEPT):
                update(view[start:start + _GIL_KEPT])
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


__all__ = ["Chain", "ChainError", "HASH_SIZE", "LINK_SIZE", "ALGORITHM", "anchor", "block_hash",
           "check_key", "new_record", "seal_record", "record_mac_ok", "check_record_key"]
