"""Schema changes between two recordings, for `diff`.

An event type whose fields differ between the baseline and the new recording, or whose
`type_version` header does, is reported once as a schema change,

    schema: PositionSold v1 -> v2 (added: fee; removed: profit_pct; renamed: profit -> pnl)

and its events are then compared in the new schema's terms (renamed fields under their new
name, added and removed fields left out), so the diff lists the values that changed, not
every field of every event.

What counts as a schema: the top-level fields of an event's data (an object). A type has a
schema change when, on each side, all its events have the same set of fields and the same
version (the `type_version` header, or none), and the two sides differ. The first event of
each name on each side is read to find candidates (name pushdown: one block per name), and
only a candidate's events are read in full to check that its fields are the same in every
event; a type whose events do not all share their fields (free-form dicts) is compared field
by field as usual. A removed field and an added one are a rename when the first event of each
side holds the same value in them.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import msgspec

from ..segments import decode_headers, encode_headers
from ..segments.reader import name_predicate
from .common import Selection, named_input, supports_raw

__all__ = ["SchemaChange", "detect_schema_changes", "normalize", "selected_names"]

VERSION_HEADER = "type_version"   # evlog.replay.upcast's header (ops does not import the replay layer)

_decode = msgspec.json.decode
_sorted = msgspec.json.Encoder(order="sorted").encode


@dataclass(frozen=True)
class SchemaChange:
    name: str
    old_version: str | None          # the type_version header on each side (None: none)
    new_version: str | None
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    renamed: tuple[tuple[str, str], ...] = ()   # (old name, new name)

    def describe(self) -> str:
        """The one line `evlog diff` prints."""
        head = f"schema: {self.name}"
        if self.old_version is not None or self.new_version is not None:
            head += f" v{self.old_version or 1} -> v{self.new_version or 1}"
        parts = []
        if self.added:
            parts.append("added: " + ", ".join(self.added))
        if self.removed:
            parts.append("removed: " + ", ".join(self.removed))
        if self.renamed:
            parts.append("renamed: " + ", ".join(f"{a} -> {b}" for a, b in self.renamed))
        return f"{head} ({'; '.join(parts) or 'same fields'})"

    def to_dict(self) -> dict:
        return {"event_name": self.name, "old_version": self.old_version, "new_version": self.new_version,
                "added": list(self.added), "removed": list(self.removed),
                "renamed": [{"old": a, "new": b} for a, b in self.renamed]}


def _headers(r: Any) -> Mapping[str, str]:
    h = getattr(r, "headers", None)
    if isinstance(h, (bytes, memoryview)):
        return decode_headers(h)
    return h or {}


def _data(r: Any) -> Any:
    """The data of a record read raw (JSON bytes) or decoded (the original format)."""
    return _decode(r.data) if isinstance(r.data, (bytes, memoryview)) else r.data


def _read(rec: Any, name: str) -> Iterator[Any]:
    """The events of `name`; a read error names the recording (`rec.path`)."""
    records = rec.read(names=name.__eq__, raw=supports_raw(rec))   # decoded where raw would encode
    return named_input(rec.path, records)


def _first(rec: Any, name: str) -> tuple[Any, str | None] | None:
    for r in _read(rec, name):
        return _data(r), _headers(r).get(VERSION_HEADER)
    return None


def _uniform(rec: Any, name: str) -> bool:
    """Every event of `name` has the same fields and version as the first one."""
    shape = None
    for r in _read(rec, name):
        data = _data(r)
        if not isinstance(data, dict):
            return False
        this = (data.keys(), _headers(r).get(VERSION_HEADER))
        if shape is None:
            shape = this
        elif this != shape:
            return False
    return True


def selected_names(rec: Any, selection: Selection | None) -> set[str]:
    """The event names of an open recording (from its summary) that `selection`'s name filter keeps."""
    summary = next(named_input(rec.path, (rec.summary() for _ in (0,))))   # an error names the recording
    names = {n for n, count in summary.names.items() if count}
    if selection is not None and selection.filter is not None:
        wanted = selection.read_kwargs(rec.start_time_ns).get("names")
        if wanted is not None:
            ok = name_predicate(wanted)
            names = {n for n in names if ok(n)}
    return names


def detect_schema_changes(baseline: Any, new: Any, selection: Selection | None = None) -> list[SchemaChange]:
    """The schema changes between two open recordings (see the module docstring)."""
    changes = []
    for name in sorted(selected_names(baseline, selection) & selected_names(new, selection)):
        fa, fb = _first(baseline, name), _first(new, name)
        if fa is None or fb is None or not isinstance(fa[0], dict) or not isinstance(fb[0], dict):
            continue
        (da, va), (db, vb) = fa, fb
        if da.keys() == db.keys() and va == vb:
            continue
        if not (_uniform(baseline, name) and _uniform(new, name)):
            continue
        removed = [k for k in da if k not in db]
        added = [k for k in db if k not in da]
        renamed = []
        for old in list(removed):
            for cand in added:
                if type(da[old]) is type(db[cand]) and da[old] == db[cand]:
                    renamed.append((old, cand))
                    removed.remove(old)
                    added.remove(cand)
                    break
        changes.append(SchemaChange(name, va, vb, tuple(added), tuple(removed), tuple(renamed)))
    return changes


def normalize(records: Iterator[Any], changes: list[SchemaChange], side: str) -> Iterator[Any]:
    """`records` (data as JSON bytes) with the events of changed types in the new schema's
    terms: on the "baseline" side renamed fields take their new name and removed ones go; on
    the "new" side added fields go; their `type_version` header goes on both sides."""
    if not changes:
        return records
    table: dict[str, Callable[[dict], dict]] = {}
    for c in changes:
        if side == "baseline":
            renames, drop = dict(c.renamed), set(c.removed)
            table[c.name] = lambda d, r=renames, x=drop: {r.get(k, k): v for k, v in d.items() if k not in x}
        else:
            drop = set(c.added)
            table[c.name] = lambda d, x=drop: {k: v for k, v in d.items() if k not in x}
    return _normalized(records, table)


def _normalized(records: Iterator[Any], table: dict[str, Callable[[dict], dict]]) -> Iterator[Any]:
    for r in records:
        fix = table.get(r.name)
        if fix is not None:
            data = _decode(r.data)
            if isinstance(data, dict):
                headers = {k: v for k, v in _headers(r).items() if k != VERSION_HEADER}
                r = r._replace(data=_sorted(fix(data)),
                               headers=encode_headers(headers) if isinstance(r.headers, bytes) else headers)
        yield r
