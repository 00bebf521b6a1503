"""Reads by key: which blocks and records of a reader hold given values of a key path.

`LogReader.read(..., key=(path, values))` (or `key={path: values, ...}`: all must hold)
selects the records whose value for the path has one of the texts (`keyindex.key_text`:
numbers and other values given are turned into their text). When a path is one of the
recording's key paths, the key index gives the candidate records (the path with the fewest
candidates when several are given); each candidate is then checked against its value,
so hash collisions never show. A path without an index is a scan with the same check.
"""
from __future__ import annotations

from itertools import groupby
from typing import Any, Callable, Iterable, Iterator, Mapping

from .keyindex import Extractor, key_text, parse_key_path, text_hash
from .keyread import SegmentKeys


def normalize_key(key: Any) -> dict[str, frozenset[str]]:
    """{path: texts} of a `key=` argument: `(path, values)` or a mapping of them."""
    items = key.items() if isinstance(key, Mapping) else [key]
    out: dict[str, frozenset[str]] = {}
    for item in items:
        try:
            path, values = item
        except (TypeError, ValueError):
            raise ValueError("key= is (path, values) or {path: values}, e.g. ('data.order_id', ['o-1'])") from None
        parse_key_path(path)
        if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
            values = [values]
        texts = frozenset(t for t in map(key_text, values) if t is not None)
        out[path] = out[path] & texts if path in out else texts
    return out


def key_test(key: Any, raw: bool = False) -> Callable[[Any], bool]:
    """A test of a record (a RawRecord with `raw`): its values for the key paths are among
    the wanted texts."""
    wanted = normalize_key(key)
    extractor = Extractor(list(wanted))
    tests = [(i, texts) for i, texts in enumerate(wanted.values())]
    text_of = extractor.raw_text if raw else extractor.record_text

    def test(record: Any) -> bool:
        return all(text_of(i, record) in texts for i, texts in tests)
    return test


def _views_keys(reader: Any, extractor: Extractor) -> Iterator[SegmentKeys]:
    for view in reader.segments:
        if view.keys is None:
            view.keys = SegmentKeys(view, extractor.paths, extractor)
        yield view.keys


def key_positions(reader: Any, path: str, texts: Iterable[str]) -> list[tuple[Any, int, int]]:
    """(view, entry index, offset) of the indexed path's candidate records, in offset order."""
    extractor = reader.key_extractor()
    pi = extractor.paths.index(path)
    hashes = sorted({text_hash(t) for t in texts})
    out: list[tuple[Any, int, int]] = []
    if not hashes:
        return out
    for keys in _views_keys(reader, extractor):
        view = keys.view
        out += ((view, e, o) for o, e in keys.positions(pi, hashes))
    return out


def keyed_blocks(reader: Any, key: Any, reverse: bool, raw: bool
                 ) -> tuple[Iterator[tuple[Any, Any, list[int]]] | None, Callable[[Any], bool]]:
    """(view, entry, indices in the block or None for all) to read for `key`, in offset order
    (reversed with `reverse`; None when no path is indexed: then every block in the bounds),
    and the test every returned record must pass."""
    wanted = normalize_key(key)
    test = key_test(wanted, raw)
    indexed = [p for p in wanted if p in reader.key_paths()]
    if any(not texts for texts in wanted.values()):
        return iter(()), test
    if not indexed:
        return None, test   # a scan of the bounds' blocks, each record tested
    best = min((key_positions(reader, p, wanted[p]) for p in indexed), key=len)
    return _grouped(best, reverse), test


def _grouped(positions: list[tuple[Any, int, int]], reverse: bool) -> Iterator[tuple[Any, Any, list[int]]]:
    groups = []
    for (view, e), items in groupby(positions, key=lambda p: (p[0], p[1])):
        entry = view.entries[e]
        groups.append((view, entry, [o - entry.first_offset for _, _, o in items]))
    if reverse:
        groups.reverse()
    return iter(groups)


__all__ = ["normalize_key", "key_positions", "keyed_blocks", "key_test"]
