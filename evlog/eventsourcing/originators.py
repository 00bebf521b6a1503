"""The originator index of an `EvlogStore`: for each originator (str(originator_id)) its
events' versions and log offsets, sorted by version (16 bytes per event).

Loaded from the side file (`sideindex`), the index keeps the file's flat arrays and makes an
originator's own arrays only when that originator is first read or written: opening a store
of a million aggregates builds one dict of ints, not a million objects (which the garbage
collector would then traverse again and again while they are built).
"""
from __future__ import annotations

import sys
from array import array
from bisect import bisect_right
from collections.abc import Iterator
from itertools import accumulate


class VersionedOffsets:
    """Versions and log offsets of one originator, sorted by version."""

    __slots__ = ("versions", "offsets")

    def __init__(self, versions: array | None = None, offsets: array | None = None) -> None:
        self.versions = array("q") if versions is None else versions
        self.offsets = array("q") if offsets is None else offsets

    def add(self, version: int, offset: int) -> None:
        if not self.versions or version > self.versions[-1]:
            self.versions.append(version)
            self.offsets.append(offset)
            return
        i = bisect_right(self.versions, version)
        self.versions.insert(i, version)
        self.offsets.insert(i, offset)

    def has(self, version: int) -> bool:
        return self.offset_of(version) is not None

    def offset_of(self, version: int) -> int | None:
        i = bisect_right(self.versions, version)
        return self.offsets[i - 1] if i > 0 and self.versions[i - 1] == version else None


class OriginatorIndex:
    """originator key -> VersionedOffsets (made on first use for the entries loaded from columns)."""

    def __init__(self) -> None:
        self._entries: dict[str, VersionedOffsets | int] = {}   # an int: position in the loaded columns
        self._counts = array("q")
        self._starts = array("q", [0])
        self._versions = array("q")
        self._offsets = array("q")

    @classmethod
    def from_columns(cls, keys: list[str], counts: array, versions: array, offsets: array) -> OriginatorIndex:
        """The index of the side file's columns: `counts[i]` events of `keys[i]`, their
        versions and offsets key after key."""
        index = cls()
        index._entries = dict(zip(keys, range(len(keys))))
        index._counts, index._versions, index._offsets = counts, versions, offsets
        index._starts = array("q", accumulate(counts, initial=0))
        return index

    def get(self, key: str) -> VersionedOffsets | None:
        entry = self._entries.get(key)
        if entry is None or entry.__class__ is VersionedOffsets:
            return entry   # type: ignore[return-value]
        return self._make(key, entry)   # type: ignore[arg-type]

    def sequence(self, key: str) -> VersionedOffsets:
        """The entry of `key`, made (empty) if the originator is new."""
        seq = self.get(key)
        if seq is None:
            seq = self._entries[key] = VersionedOffsets()
        return seq

    def _make(self, key: str, i: int) -> VersionedOffsets:
        a, b = self._starts[i], self._starts[i + 1]
        seq = self._entries[key] = VersionedOffsets(self._versions[a:b], self._offsets[a:b])
        return seq

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def columns(self) -> tuple[list[str], array, array, array]:
        """(keys, counts, versions, offsets) of the whole index, for the side file: entries
        still in the loaded columns are copied by runs, not one by one."""
        keys = list(self._entries)
        counts, versions, offsets = array("q"), array("q"), array("q")
        run: list[int] = []   # [first, end) positions of loaded entries that follow each other

        def flush() -> None:
            if run:
                a, b = run
                counts.extend(self._counts[a:b])
                versions.extend(self._versions[self._starts[a]:self._starts[b]])
                offsets.extend(self._offsets[self._starts[a]:self._starts[b]])
                run.clear()
        for entry in self._entries.values():
            if entry.__class__ is VersionedOffsets:
                flush()
                counts.append(len(entry.versions))   # type: ignore[union-attr]
                versions.extend(entry.versions)      # type: ignore[union-attr]
                offsets.extend(entry.offsets)        # type: ignore[union-attr]
            elif run and run[1] == entry:
                run[1] += 1
            else:
                flush()
                run[:] = [entry, entry + 1]   # type: ignore[list-item,operator]
        flush()
        return keys, counts, versions, offsets

    def memory(self) -> int:
        """Approximate bytes held by the index."""
        total = sys.getsizeof(self._entries) + sum(
            sys.getsizeof(a) for a in (self._counts, self._starts, self._versions, self._offsets))
        for key, entry in self._entries.items():
            total += sys.getsizeof(key) + sys.getsizeof(entry)
            if entry.__class__ is VersionedOffsets:
                total += sys.getsizeof(entry.versions) + sys.getsizeof(entry.offsets)   # type: ignore[union-attr]
        return total
