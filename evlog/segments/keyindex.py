"""Key indexes: for a few configured key paths, every value -> the positions of its events.

A recording created with `Log.create(..., keys=["data.position_id", "headers.correlation_id"])`
lists its key paths in the manifest (`"keys"`). Each segment then has a key file
(`<base>.keys`, docs/format.md) beside its `.idx`: for every path, the sorted 64-bit hashes
(xxh3) of the values' texts, and per hash the offsets and block numbers of its events. The
writer keeps the active segment's map in memory (built in its I/O thread, block by block)
and writes the file whenever it writes the segment's index (roll, close, the periodic
index); a reader loads the key files (read-only mmap) and rebuilds what lies beyond them
(the tail of the segment being written) by decoding those blocks once.

A key's value is matched by its text, as the filter language compares a field with a
string literal (`key_text`): a string as it is, a number as `str()`, a Decimal or UUID as
`str()`, a date or time in ISO form; other values (objects, lists, booleans, null) are not
indexed. The index is a superset (hashes may collide): every candidate record is checked
against its value before it is returned, so a lookup never returns a wrong record.

Key paths: `data.<field>[.<field>...]` (in the event's data, objects only), `headers.<name>`,
`source` and `name`.
"""
from __future__ import annotations

import datetime as _dt
import mmap
import os
import re
import struct
import uuid
from array import array
from bisect import bisect_left
from decimal import Decimal
from itertools import accumulate, chain, repeat
from operator import attrgetter
from typing import Any, Iterable, NamedTuple, Sequence

import msgspec
import xxhash

from .codec import FLAG_TYPED, decode_data
from .errors import CorruptIndexError
from .headers import decode_headers

KEYS_SUFFIX = ".keys"
KEYS_MAGIC = b"EVLOGKEY"
KEYS_VERSION = 1
_HEAD = struct.Struct("<8sB7xQQII")   # magic, version, base, covered bytes, blocks covered, json length
_FIELD = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]*\Z")
_MISSING = object()
_xxh = xxhash.xxh3_64_intdigest


class KeyPath(NamedTuple):
    """A parsed key path: root (data | headers | source | name) and the fields below it."""

    text: str
    root: str
    fields: tuple[str, ...]


def parse_key_path(spec: str) -> KeyPath:
    """`data.a.b`, `headers.x`, `source` or `name`; ValueError naming what is wrong."""
    if not isinstance(spec, str):
        raise ValueError(f"a key path is a string such as 'data.order_id', not {spec!r}")
    root, _, rest = spec.partition(".")
    fields = tuple(rest.split(".")) if rest else ()
    if root in ("source", "name") and not fields:
        return KeyPath(spec, root, ())
    if root not in ("data", "headers") or not fields or not all(_FIELD.match(f) for f in fields):
        raise ValueError(f"bad key path {spec!r}: expected data.<field>[.<field>...], headers.<name>, "
                         f"source or name")
    if root == "headers" and len(fields) != 1:
        raise ValueError(f"bad key path {spec!r}: a header key path is headers.<name>")
    return KeyPath(spec, root, fields)


def check_key_paths(specs: Iterable[str]) -> list[str]:
    """The key paths, checked, without duplicates, in the order given."""
    out: list[str] = []
    for spec in specs if not isinstance(specs, str) else [specs]:
        parse_key_path(spec)
        if spec not in out:
            out.append(spec)
    return out


def key_text(value: Any) -> str | None:
    """The text a value is indexed by: what it compares as against a string literal in the
    filter language (evlog/filters.py compares by this very function); None: not indexed."""
    if isinstance(value, str):
        return value
    if isinstance(value, (_dt.datetime, _dt.date, _dt.time)):
        return value.isoformat()
    if isinstance(value, (Decimal, uuid.UUID)):
        return str(value)
    if isinstance(value, bool) or value is None or isinstance(value, (dict, list, tuple)):
        return None
    if isinstance(value, (int, float)):
        return str(value)
    return None


def text_hash(text: str) -> int:
    return _xxh(text.encode("utf-8", "surrogatepass"))


def _resolve(value: Any, fields: tuple[str, ...]) -> Any:
    for f in fields:
        if not isinstance(value, dict):
            return _MISSING
        value = value.get(f, _MISSING)
        if value is _MISSING:
            return _MISSING
    return value


def _struct_type(fields: tuple[str, ...]) -> Any:
    """A msgspec Struct type holding only `fields` (nested), every other field skipped."""
    inner: Any = Any
    for depth, name in enumerate(reversed(fields)):
        inner = msgspec.defstruct(f"_Key{len(fields) - depth}", [(name, inner, _UNSET)], rename={name: name})
    return inner


_UNSET = msgspec.UNSET


def _walk(value: Any, fields: tuple[str, ...]) -> Any:
    for name in fields:
        value = getattr(value, name, _UNSET)
        if value is _UNSET:
            return _MISSING
    return value


class Extractor:
    """Reads the configured key paths out of encoded rows (name, source, flags, data bytes,
    type map, header bytes). Rows whose bytes do not contain a path's first field name are
    skipped without decoding (an absent key costs one substring test per row); the others
    are decoded together, one C-level decoding of a JSON array that skips every other field."""

    def __init__(self, paths: Sequence[str]) -> None:
        self.paths = list(paths)
        self._parsed = [parse_key_path(p) for p in self.paths]
        self._needles = [msgspec.json.encode(k.fields[0]) if k.fields else b"" for k in self._parsed]
        self._decoders = [msgspec.json.Decoder(list[_struct_type(k.fields)]) if k.root == "data" else None
                          for k in self._parsed]

    def texts(self, names: Sequence[str], sources: Sequence[str], flags: Sequence[int], datas: Sequence[bytes],
              types: Sequence[bytes], headers: Sequence[bytes]) -> list[tuple[Sequence[int], Sequence[str]]]:
        """Per path, (row indices, texts) of the rows that have a value for it."""
        out: list[tuple[Sequence[int], Sequence[str]]] = []
        for key, needle, decoder in zip(self._parsed, self._needles, self._decoders):
            if key.root == "source" or key.root == "name":
                out.append((range(len(sources)), sources if key.root == "source" else names))
                continue
            column = headers if key.root == "headers" else datas
            joined = b"[" + b",".join(column) + b"]"
            if needle not in joined and b"\\u" not in joined:   # no row has the key: nothing decoded
                out.append(((), ()))
                continue
            rows: Sequence[int] = range(len(column))
            if key.root == "headers":
                rows = [i for i, raw in enumerate(column) if raw]
                values = [decode_headers(column[i]).get(key.fields[0], _MISSING) for i in rows]
            elif any(f & FLAG_TYPED for f in set(flags)):
                values = [_resolve(decode_data(raw, f, t), key.fields) for raw, f, t in zip(datas, flags, types)]
            else:
                try:
                    structs = decoder.decode(joined)
                    try:
                        values = list(map(attrgetter(".".join(key.fields)), structs))
                    except AttributeError:   # an outer level missing in some row
                        values = [_walk(v, key.fields) for v in structs]
                except msgspec.ValidationError:   # some row's data (or a level of the path) is not an object
                    values = [_resolve(msgspec.json.decode(raw), key.fields) for raw in datas]
            texts = values if set(map(type, values)) == {str} else list(map(key_text, values))
            if None in texts:
                keep = [j for j, t in enumerate(texts) if t is not None]
                rows = [rows[j] for j in keep]
                texts = [texts[j] for j in keep]
            elif rows.__class__ is not range:
                rows = list(rows)
            out.append((rows, texts))
        return out

    def record_text(self, path_index: int, record: Any) -> str | None:
        """The text of a decoded record's value for the path (a `Record`)."""
        key = self._parsed[path_index]
        if key.root == "source":
            return record.source
        if key.root == "name":
            return record.name
        if key.root == "headers":
            return (record.headers or {}).get(key.fields[0])
        return key_text(_resolve(record.data, key.fields))

    def raw_text(self, path_index: int, raw: Any) -> str | None:
        """The text of a raw record's value for the path (a `RawRecord`)."""
        key = self._parsed[path_index]
        if key.root == "headers":
            return decode_headers(raw.headers).get(key.fields[0]) if raw.headers else None
        if key.root == "data":
            return key_text(_resolve(decode_data(raw.data, raw.flags, raw.types), key.fields))
        return self.record_text(path_index, raw)   # a source or a name: the same on both


class KeyMap:
    """Per path, value hash -> offsets relative to `base` (ascending): the writer's map of its
    active segment, and a reader's map of a segment's tail (base: the segment's)."""

    __slots__ = ("paths", "maps", "blocks", "postings", "base")

    def __init__(self, paths: Sequence[str], base: int = 0) -> None:
        self.base = base
        self.paths = list(paths)
        self.maps: list[dict[int, list[int]]] = [{} for _ in self.paths]
        self.blocks = 0     # blocks added
        self.postings = 0   # (value, offset) pairs held

    def add_block(self, extractor: Extractor, first_offset: int, names: Sequence[str], sources: Sequence[str],
                  flags: Sequence[int], datas: Sequence[bytes], types: Sequence[bytes],
                  headers: Sequence[bytes]) -> None:
        for m, (rows, texts) in zip(self.maps, extractor.texts(names, sources, flags, datas, types, headers)):
            try:
                hashes = list(map(_xxh, map(str.encode, texts)))
            except UnicodeEncodeError:   # a lone surrogate
                hashes = list(map(text_hash, texts))
            get = m.get
            self.postings += len(hashes)
            for h, o in zip(hashes, map((first_offset - self.base).__add__, rows)):
                offsets = get(h)
                if offsets is None:
                    m[h] = [o]
                else:
                    offsets.append(o)
        self.blocks += 1

    def offsets(self, path_index: int, hashes: Iterable[int]) -> list[int]:
        """Absolute offsets of the values with these hashes."""
        m = self.maps[path_index]
        out: list[int] = []
        for h in hashes:
            out += m.get(h, ())
        return list(map(self.base.__add__, out))


def keys_filename(base_offset: int) -> str:
    return f"{base_offset:020d}{KEYS_SUFFIX}"


def encode_keys(base: int, covered: int, counts_of_blocks: Sequence[int], keymap: KeyMap) -> bytes:
    """The key file of a segment (base offset `base`, its blocks holding `counts_of_blocks`
    records each, ending at byte `covered`) from its key map (relative to `base`): per path,
    sorted hashes, posting starts, relative offsets, block numbers."""
    if keymap.base != base:
        raise ValueError("the key map is not of this segment")
    sections: list[bytes] = []
    counts = []
    block_of = array("I", chain.from_iterable(map(repeat, range(len(counts_of_blocks)), counts_of_blocks)))
    for m in keymap.maps:
        hashes = sorted(m)
        lists = list(map(m.__getitem__, hashes))
        starts = array("I", accumulate(map(len, lists), initial=0))
        offsets = array("I", chain.from_iterable(lists))
        blocks = array("I", map(block_of.__getitem__, offsets))
        parts = [array("Q", hashes), starts, offsets, blocks]
        if struct.pack("=I", 1) != struct.pack("<I", 1):   # pragma: no cover - big-endian hosts
            for p in parts:
                p.byteswap()
        section = b"".join(p.tobytes() for p in parts)
        sections.append(section + bytes(-len(section) % 8))
        counts.append([len(hashes), len(offsets)])
    doc = msgspec.json.encode({"paths": keymap.paths, "counts": counts})
    doc += b" " * (-(len(doc) + _HEAD.size) % 8)
    body = b"".join([_HEAD.pack(KEYS_MAGIC, KEYS_VERSION, base, covered, len(counts_of_blocks), len(doc)), doc,
                     *sections])
    return body + struct.pack("<Q", _xxh(body))


class KeyFile:
    """A segment's key file, mapped read-only; sections are read in place."""

    def __init__(self, path: str, where: str) -> None:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size < _HEAD.size + 8:
                raise CorruptIndexError("key file is truncated", where, 0)
            self._mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        self._views: list[memoryview] = []
        self._sections: list[tuple[memoryview, memoryview, memoryview, memoryview]] = []
        try:
            self._parse(where, size)
        except BaseException:
            self.close()
            raise

    def _parse(self, where: str, size: int) -> None:
        mm = self._mm
        magic, version, base, covered, blocks, doc_len = _HEAD.unpack_from(mm, 0)
        if magic != KEYS_MAGIC:
            raise CorruptIndexError("not an evlog key file (bad magic)", where, 0)
        if version != KEYS_VERSION:
            raise CorruptIndexError(f"key file version {version}; this evlog reads version {KEYS_VERSION}", where, 0)
        (checksum,) = struct.unpack_from("<Q", mm, size - 8)
        whole = memoryview(mm)
        self._views.append(whole)
        if _xxh(whole[:size - 8]) != checksum:
            raise CorruptIndexError("key file checksum mismatch", where, 0)
        try:
            doc = msgspec.json.decode(mm[_HEAD.size:_HEAD.size + doc_len])
            paths = [str(p) for p in doc["paths"]]
            counts = [(int(a), int(b)) for a, b in doc["counts"]]
        except (msgspec.DecodeError, KeyError, TypeError, ValueError) as exc:
            raise CorruptIndexError(f"bad key file header: {exc}", where, 0) from None
        if len(paths) != len(counts):
            raise CorruptIndexError("key file header lists paths and counts of different lengths", where, 0)
        self.base, self.covered, self.blocks, self.paths = base, covered, blocks, paths
        pos = _HEAD.size + doc_len
        mv = whole
        for n, m in counts:
            sizes = (8 * n, 4 * (n + 1), 4 * m, 4 * m)
            if pos + sum(sizes) > size - 8:
                raise CorruptIndexError("key file sections extend past its end", where, pos)
            views = []
            for width, code in zip(sizes, "QIII"):
                views.append(mv[pos:pos + width].cast(code))
                self._views.append(views[-1])
                pos += width
            pos += -pos % 8
            self._sections.append(tuple(views))  # type: ignore[arg-type]
        if pos != size - 8:
            raise CorruptIndexError("key file has bytes past its sections", where, pos)

    def positions(self, path_index: int, hashes: Iterable[int]) -> list[tuple[int, int]]:
        """(offset, block number) of the events whose value hashes are among `hashes`."""
        keyhashes, starts, offsets, blocks = self._sections[path_index]
        base = self.base
        out: list[tuple[int, int]] = []
        n = len(keyhashes)
        for h in hashes:
            i = bisect_left(keyhashes, h)
            if i < n and keyhashes[i] == h:
                a, b = starts[i], starts[i + 1]
                if not 0 <= a <= b <= len(offsets):
                    raise CorruptIndexError("key file postings out of range", None, None)
                out += zip(map(base.__add__, offsets[a:b]), blocks[a:b])
        return out

    def close(self) -> None:
        for view in reversed(self._views):
            view.release()
        self._views = []
        self._sections = []
        try:
            self._mm.close()
        except BufferError:   # pragma: no cover - a caller still holds a slice: the GC closes it
            pass


__all__ = ["KeyPath", "parse_key_path", "check_key_paths", "key_text", "text_hash", "Extractor", "KeyMap",
           "KeyFile", "encode_keys", "keys_filename", "KEYS_SUFFIX"]
