"""A bounded cache of decoded blocks, one per reader (never process-wide).

Point reads (`read(key=...)`, `Log.read_at`) touch a few records in each of many blocks; a
block decoded for one of them is often wanted again by the next lookup (an aggregate's next
command, the next position of a book). The cache keeps the most recently used decoded
blocks up to a byte budget (their uncompressed payload plus the per-record columns), so memory
stays bounded whatever the recording's size. Sequential reads do not go through it: they keep
only the last block (reader.py).
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Any, Hashable

DEFAULT_CACHE_BYTES = 32 << 20
_PER_RECORD = 64   # bytes of decoded columns per record, besides the payload


def block_cost(block: Any) -> int:
    h = block.header
    return h.raw_len + _PER_RECORD * h.count


def raw_cost(block: Any) -> int:
    """What a block's raw records cost: its payload plus a tuple and its objects per record."""
    h = block.header
    return h.raw_len + _RAW_PER_RECORD * h.count


_RAW_PER_RECORD = 240


class BlockCache:
    """LRU of decoded blocks, bounded by `max_bytes` (0: no cache)."""

    __slots__ = ("max_bytes", "size", "_items", "hits", "misses")

    def __init__(self, max_bytes: int = DEFAULT_CACHE_BYTES) -> None:
        if max_bytes < 0:
            raise ValueError("block_cache_bytes must not be negative")
        self.max_bytes = max_bytes
        self.size = 0
        self._items: OrderedDict[Hashable, tuple[Any, int]] = OrderedDict()
        self.hits = self.misses = 0

    def get(self, key: Hashable) -> Any:
        item = self._items.get(key)
        if item is None:
            self.misses += 1
            return None
        self._items.move_to_end(key)
        self.hits += 1
        return item[0]

    def put(self, key: Hashable, block: Any, cost: int | None = None) -> None:
        """Keep `block` (or any value costing `cost` bytes: a block's raw records)."""
        cost = block_cost(block) if cost is None else cost
        if cost > self.max_bytes:
            return
        old = self._items.pop(key, None)
        if old is not None:
            self.size -= old[1]
        self._items[key] = (block, cost)
        self.size += cost
        while self.size > self.max_bytes:
            _, (_, c) = self._items.popitem(last=False)
            self.size -= c

    def pop(self, key: Hashable) -> Any:
        item = self._items.pop(key, None)
        if item is None:
            return None
        self.size -= item[1]
        return item[0]

    def clear(self) -> None:
        self._items.clear()
        self.size = 0

    def __len__(self) -> int:
        return len(self._items)
