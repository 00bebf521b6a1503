"""Key indexes of whole segments: what a reader, the writer (reopening its active segment),
recovery and reindex know of a segment's keys (the file format is in keyindex.py).

`SegmentKeys` answers lookups for one segment: from its key file when it is valid (it
names the recording's key paths and ends at a block boundary the segment still has), plus
a `KeyMap` of the blocks beyond it, built by decoding each of those blocks once (the tail of
the segment being written, or all of it when the file is missing or unusable).
"""
from __future__ import annotations

import os
from bisect import bisect_right
from typing import Any, Iterable, Sequence

from .errors import CorruptIndexError
from .keyindex import Extractor, KeyFile, KeyMap, encode_keys, keys_filename
from .segment import SEGMENT_HEADER_SIZE, BlockEntry


def load_key_file(directory: str, base: int, entries: Sequence[BlockEntry], paths: Sequence[str]) -> KeyFile | None:
    """The segment's key file if it can be used for `paths` with these block entries, else None."""
    try:
        kf = KeyFile(os.path.join(directory, keys_filename(base)), keys_filename(base))
    except (FileNotFoundError, CorruptIndexError):
        return None
    n = kf.blocks
    end = entries[n - 1].position + entries[n - 1].frame_len if 0 < n <= len(entries) else SEGMENT_HEADER_SIZE
    if kf.base != base or list(kf.paths) != list(paths) or n > len(entries) or kf.covered != end:
        kf.close()
        return None
    return kf


def add_blocks(keymap: KeyMap, extractor: Extractor, view: Any, entries: Iterable[BlockEntry]) -> None:
    """Decode `entries` of the segment open in `view` and add their keys to `keymap`."""
    for entry in entries:
        block = view.read_block(entry)
        cols: tuple = ([], [], [], bytearray(), [], [])
        names, sources, datas, flags, types, headers = cols
        block.extend_columns(0, entry.count, names, sources, datas, flags, types, headers)
        keymap.add_block(extractor, entry.first_offset, names, sources, flags, datas, types, headers)


class SegmentKeys:
    """The key positions of one segment (a reader's `SegmentView`), kept up to date with it."""

    def __init__(self, view: Any, paths: Sequence[str], extractor: Extractor) -> None:
        self.view = view
        self.extractor = extractor
        self.file = load_key_file(os.path.dirname(view.path), view.base, view.entries, paths)
        self.tail = KeyMap(paths, view.base)
        self.done = self.file.blocks if self.file is not None else 0   # entries covered so far

    def _catch_up(self) -> None:
        entries = self.view.entries
        if self.done < len(entries):
            add_blocks(self.tail, self.extractor, self.view, entries[self.done:])
            self.done = len(entries)

    def positions(self, path_index: int, hashes: Sequence[int]) -> list[tuple[int, int]]:
        """(offset, entry index) of the segment's events with these value hashes, in offset order."""
        self._catch_up()
        out = self.file.positions(path_index, hashes) if self.file is not None else []
        tail = self.tail.offsets(path_index, hashes)
        if tail:
            firsts = self.view.first_offsets()
            out += ((o, bisect_right(firsts, o) - 1) for o in tail)
        out.sort()
        return out

    def close(self) -> None:
        if self.file is not None:
            self.file.close()
            self.file = None


def segment_keymap(view: Any, paths: Sequence[str]) -> KeyMap:
    """The whole key map of a segment (its key file's postings, then its other blocks decoded):
    what a writer reopening the segment goes on from."""
    extractor = Extractor(paths)
    keymap = KeyMap(paths, view.base)
    kf = load_key_file(os.path.dirname(view.path), view.base, view.entries, paths)
    done = 0
    if kf is not None:
        try:
            for i, m in enumerate(keymap.maps):
                keyhashes, starts, offsets, _blocks = kf._sections[i]
                for j, h in enumerate(keyhashes):
                    m[h] = offsets[starts[j]:starts[j + 1]].tolist()
            done = kf.blocks
        finally:
            kf.close()
    add_blocks(keymap, extractor, view, view.entries[done:])
    keymap.blocks = len(view.entries)
    return keymap


def key_file_bytes(view: Any, paths: Sequence[str], size: int) -> bytes:
    """A fresh key file of the segment open in `view`, covering its blocks up to byte `size`."""
    keymap = KeyMap(paths, view.base)
    add_blocks(keymap, Extractor(paths), view, view.entries)
    return encode_keys(view.base, size, [e.count for e in view.entries], keymap)





class ActiveKeys:
    """The writer's key map of its active segment, added to block by block in its I/O thread
    (the rows of a sealed block: flat, ROW_FIELDS per row, ids into the block's table)."""

    def __init__(self, paths: Sequence[str], keymap: KeyMap | None = None) -> None:
        self.paths = list(paths)
        self.extractor = Extractor(self.paths)
        self.map = keymap if keymap is not None else KeyMap(self.paths)

    def add(self, first_offset: int, rows: list, table: Sequence[str]) -> None:
        get = table.__getitem__
        self.map.add_block(self.extractor, first_offset, list(map(get, rows[0::8])), list(map(get, rows[1::8])),
                           rows[2::8], rows[5::8], rows[6::8], rows[7::8])

    def reset(self, base: int) -> None:
        """A new active segment, whose first offset is `base`."""
        self.map = KeyMap(self.paths, base)
        self.written = 0

    written = 0   # postings the last key file of the segment held

    def due(self) -> bool:
        """Whether the periodic index should rewrite the key file too: once the map has doubled
        since the last one (a rewrite costs the whole map, so the periodic ones cost at most
        twice the segment in all; the blocks past the file, at most half of it, are decoded by
        a reader's first lookup). Roll and close always write it."""
        return self.map.postings >= 2 * max(self.written, 4096)

    def encode(self, base: int, size: int, entries: Sequence[BlockEntry]) -> bytes:
        self.written = self.map.postings
        return encode_keys(base, size, [e.count for e in entries], self.map)


__all__ = ["SegmentKeys", "ActiveKeys", "load_key_file", "segment_keymap", "key_file_bytes", "add_blocks"]
