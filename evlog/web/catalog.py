"""The recordings folder: listing with metadata cached per recording (invalidated when its files
change), opening by safe name, paging events and histograms from the index."""
from __future__ import annotations

import datetime as _dt
import json
import os
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

from ..recording import INDEX, BlockInfo, Recording, open_recording
from ..segments import Record, SegmentSummary, to_json_mode
from ..segments.manifest import is_recording
from .security import NAME_RE, resolve
from .timetravel import events_log

PLAYERS_FILE = ".evlog-players.json"
CATALOG_FILE = ".evlog-catalog.json"   # the listing's metadata, kept across restarts of the app
CATALOG_VERSION = 1   # bumped whenever the shape of a listing entry changes: older files are then ignored
Signature = tuple


def save_json(path: str, doc: Any, *, indent: int | None = 1) -> None:
    """Write a JSON file of the app's atomically (a temporary file renamed over it). The
    catalog passes `indent=None`: one-shot compact `json.dumps` runs the C encoder, where
    `json.dump` with an indent runs the pure-Python one (a quarter of a first listing)."""
    text = json.dumps(doc, indent=indent, separators=None if indent is not None else (",", ":"))
    fd, tmp = tempfile.mkstemp(prefix=os.path.basename(path) + ".", suffix=".tmp", dir=os.path.dirname(path))
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def iso(ns: int | None) -> str | None:
    if ns is None:
        return None
    return _dt.datetime.fromtimestamp(ns / 1e9, tz=_dt.timezone.utc).isoformat()


_listing: dict[str, tuple[int, list[str]]] = {}
_listing_lock = threading.Lock()


def signature(path: str) -> Signature:
    """What changes when a recording changes, cheaply: for a directory, its mtime (files added,
    removed or renamed, e.g. a manifest rewrite or a segment roll) and the size and mtime of its
    last segment (appends); for a file, its size and mtime."""
    try:
        st = os.stat(path)
        if not os.path.isdir(path):
            return (st.st_size, st.st_mtime_ns)
        with _listing_lock:
            hit = _listing.get(path)
        if hit is None or hit[0] != st.st_mtime_ns:
            with os.scandir(path) as it:
                names = sorted(e.name for e in it if not e.name.startswith("."))
            with _listing_lock:
                _listing[path] = (st.st_mtime_ns, names)
        else:
            names = hit[1]
        segs = [n for n in names if n.endswith(".seg")] or names
        last = os.stat(os.path.join(path, segs[-1])) if segs else st
        return (st.st_mtime_ns, len(names), segs[-1] if segs else "", last.st_size, last.st_mtime_ns)
    except FileNotFoundError:
        return ()


def dir_size(path: str) -> int:
    total = 0
    with os.scandir(path) as it:
        for e in it:
            if e.is_file(follow_symlinks=False):
                total += e.stat().st_size
    return total


def event_json(r: Record, *, with_data: bool = True) -> dict:
    """One event as the API shows it (the original's keys plus offset and absolute time, and
    `headers` when the record has any: format v2's per-event headers)."""
    d: dict[str, Any] = {
        "offset": r.offset, "event_name": r.name, "source": r.source,
        "timestamp_offset_ms": r.monotonic / 1e6, "monotonic_ns": r.monotonic,
        "timestamp": iso(r.timestamp), "timestamp_ns": r.timestamp,
    }
    headers = getattr(r, "headers", None)
    if headers:
        d["headers"] = dict(headers)   # str -> str
    if with_data:
        d["event_data"] = to_json_mode(r.data)
    return d


def original_duration(ms: float) -> str:
    """The original tool's duration text: 12.3s, or 4m 5s from a minute on."""
    s = ms / 1000
    if s < 60:
        return f"{s:.1f}s"
    return f"{int(s // 60)}m {int(s % 60)}s"


def relative_message(text: str, root: str) -> str:
    """An error message without the server's paths: the recordings folder's prefix removed."""
    return text.replace(root + os.sep, "").replace(root, ".")


class Catalog:
    """The recordings of one folder, for the web app (thread-safe)."""

    def __init__(self, root: str, redactor: Any = None) -> None:
        self.root = os.path.realpath(root)
        self.redactor = redactor   # evlog.redact: every recording opened here is read through it
        os.makedirs(self.root, exist_ok=True)
        self._lock = threading.Lock()
        self._info: dict[str, tuple[Signature, dict]] = {}
        self._legacy: dict[str, tuple[Signature, SegmentSummary, list[BlockInfo]]] = {}   # unindexed: scanned
        self._memo: dict[tuple[str, str], tuple[Signature, Any]] = {}
        self._saved_path = os.path.join(self.root, CATALOG_FILE)
        self._dirty = False
        self._load_saved()

    def _load_saved(self) -> None:
        """The listing metadata a previous run of the app kept (each entry is used only while its
        recording's signature is unchanged, like the in-memory cache)."""
        try:
            with open(self._saved_path, encoding="utf-8") as f:
                doc = json.load(f)
            if doc.get("version") != CATALOG_VERSION:
                return
            for name, entry in doc["recordings"].items():
                if isinstance(entry, dict) and isinstance(entry.get("info"), dict):
                    self._info[name] = (tuple(entry["sig"]), entry["info"])
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            self._info.clear()   # no file, or one we don't understand: rebuilt by the next listing

    def _save(self) -> None:
        """Keep the listing's metadata for the next run (best effort: a read-only folder is fine)."""
        with self._lock:
            if not self._dirty:
                return
            doc = {"version": CATALOG_VERSION,
                   "recordings": {n: {"sig": list(sig), "info": info} for n, (sig, info) in self._info.items()}}
            self._dirty = False
        try:
            save_json(self._saved_path, doc, indent=None)
        except OSError:
            pass

    def memo(self, path: str, key: str, compute: Callable[[], Any]) -> Any:
        """`compute()` for the recording at `path`, kept until its files change (one value per
        recording and key: bounded by the folder)."""
        sig = signature(path)
        with self._lock:
            hit = self._memo.get((path, key))
        if hit is not None and hit[0] == sig:
            return hit[1]
        value = compute()
        with self._lock:
            self._memo[(path, key)] = (sig, value)
        return value

    # listing --------------------------------------------------------------------
    def names(self) -> list[str]:
        out = []
        with os.scandir(self.root) as it:
            for e in it:
                if e.name.startswith(".") or not NAME_RE.match(e.name) or e.is_symlink():
                    continue
                if e.is_dir(follow_symlinks=False):
                    if is_recording(events_log(e.path)):
                        out.append(e.name)
                elif e.is_file(follow_symlinks=False) and e.name.endswith(".json"):
                    out.append(e.name)
        return sorted(out)

    def path(self, name: str, *, must_exist: bool = True) -> str:
        """The recording's path; for an eventsourcing store directory, its events log."""
        return events_log(self.entry(name, must_exist=must_exist))

    def entry(self, name: str, *, must_exist: bool = True) -> str:
        """What `name` is in the folder (a store directory as a whole)."""
        return resolve(self.root, name, must_exist=must_exist)

    def info(self, name: str) -> dict | None:
        """Metadata of one recording, from its index (cached until its files change)."""
        path = events_log(os.path.join(self.root, name))
        sig = signature(path)
        with self._lock:
            hit = self._info.get(name)
        if hit is not None and hit[0] == sig:
            return hit[1]
        try:
            with self.open_path(path) as rec:
                s = self.summary(rec)
                duration = (s.last_mono or 0) / 1e6 if s.count else 0.0
                info = {
                    "name": name, "filename": name, "format": rec.format,
                    "session_name": rec.session_name,
                    "start_time": iso(rec.start_time_ns), "start_time_ns": rec.start_time_ns,
                    "duration_ms": duration, "total_events": s.count, "event_types": len(s.names),
                    "size_bytes": _size(path, sig), "error": None,
                    # the original tool's keys of GET /api/recordings
                    "created_at": _dt.datetime.fromtimestamp(rec.start_time_ns / 1e9, tz=_dt.timezone.utc)
                    .strftime("%Y-%m-%d %H:%M:%S"),
                    "duration": original_duration(duration), "event_count": s.count,
                    "unique_events": len(s.names),
                }
        except Exception as exc:  # noqa: BLE001 - a damaged recording is listed, with its error
            message = relative_message((str(exc).splitlines() or [type(exc).__name__])[0], self.root)
            info = {"name": name, "filename": name, "format": "unknown", "session_name": name,
                    "start_time": None, "start_time_ns": None, "duration_ms": 0.0, "total_events": 0,
                    "event_types": 0, "size_bytes": _size(path, sig), "error": message,
                    "created_at": None, "duration": "0s", "event_count": 0, "unique_events": 0}
        with self._lock:
            self._info[name] = (sig, info)
            self._dirty = True
        return info

    def list(self) -> list[dict]:
        names = self.names()
        infos = [i for i in (self.info(n) for n in names) if i is not None]
        with self._lock:
            for gone in set(self._info) - set(names):
                del self._info[gone]
                self._dirty = True
            paths = {os.path.join(self.root, n) for n in names}
            for key in [k for k in self._memo if os.path.dirname(k[0]) == self.root and k[0] not in paths]:
                del self._memo[key]
        self._save()
        return infos

    # opening ----------------------------------------------------------------------
    def open_path(self, path: str) -> Recording:
        """The recording at `path`, read through the app's redaction policy if it has one."""
        rec = open_recording(path)
        return self.redactor.recording(rec) if self.redactor is not None else rec

    def open(self, name: str) -> Recording:
        return self.open_path(self.path(name))

    def _scanned(self, rec: Recording) -> tuple[SegmentSummary, list[BlockInfo]]:
        """The summary and blocks of a recording without an index (a JSON file): one scan
        each, cached until the file changes."""
        sig = signature(rec.path)
        with self._lock:
            hit = self._legacy.get(rec.path)
        if hit is not None and hit[0] == sig:
            return hit[1], hit[2]
        s = rec.summary()
        blocks = list(rec.blocks())
        with self._lock:
            self._legacy[rec.path] = (sig, s, blocks)
        return s, blocks

    def summary(self, rec: Recording) -> SegmentSummary:
        if INDEX not in rec.capabilities:
            return self._scanned(rec)[0]
        return rec.summary()

    # histogram ----------------------------------------------------------------------
    def blocks(self, rec: Recording) -> Iterator[BlockInfo]:
        """(first offset, count, first mono, last mono) per block, from the index alone."""
        if INDEX not in rec.capabilities:
            return iter(self._scanned(rec)[1])
        return rec.blocks()

    def histogram(self, rec: Recording, bins: int) -> dict:
        """Events over time in `bins` equal slices of the recording, spread per block."""
        s = self.summary(rec)
        lo, hi = s.first_mono or 0, s.last_mono or 0
        counts = [0.0] * bins
        firsts: list[int | None] = [None] * bins
        span = max(hi - lo, 1)
        width = span / bins
        for first, count, a, b in self.blocks(rec):
            i = min(int((a - lo) / width), bins - 1)
            j = min(int((b - lo) / width), bins - 1)
            if firsts[i] is None:
                firsts[i] = first
            if i == j:
                counts[i] += count
                continue
            per_ns = count / max(b - a, 1)
            for k in range(i, j + 1):
                x0 = max(a, lo + k * width)
                x1 = min(b, lo + (k + 1) * width)
                counts[k] += per_ns * max(x1 - x0, 0)
                if firsts[k] is None:
                    firsts[k] = first + int(per_ns * (x0 - a))
        return {
            "first_mono_ns": lo, "last_mono_ns": hi, "bin_ns": width, "total": s.count,
            "bins": [{"start_ms": (lo + k * width) / 1e6, "end_ms": (lo + (k + 1) * width) / 1e6,
                      "count": round(c), "first_offset": firsts[k]} for k, c in enumerate(counts)],
        }


class _Stop(Exception):
    pass


class BudgetedWhere:
    """A `where` for `read` that ends the read once `deadline` (time.monotonic) has passed,
    without losing events: a reader tests a whole chunk of records before it yields them, so
    the offsets accepted but not consumed yet are remembered, and `resume()` is where a next
    read must start (the first of them, else the record that was not tested). It always moves
    on: it stops only after testing a record and, if some were accepted, after one was consumed."""

    def __init__(self, where: Callable[[Record], bool] | None, deadline: float) -> None:
        self.where = where
        self.deadline = deadline
        self.pending: deque[int] = deque()
        self.stop_at: int | None = None
        self.tested = 0
        self.took = 0

    def __call__(self, r: Record) -> bool:
        if self.tested and (self.took or not self.pending) and time.monotonic() > self.deadline:
            self.stop_at = r.offset
            raise _Stop
        self.tested += 1
        ok = self.where is None or self.where(r)
        if ok:
            self.pending.append(r.offset)
        return ok

    def consumed(self, r: Record) -> None:
        self.took += 1
        if self.pending and self.pending[0] == r.offset:
            self.pending.popleft()

    def resume(self) -> int:
        return self.pending[0] if self.pending else self.stop_at  # type: ignore[return-value]


def page(rec: Recording, offset: int, limit: int, read_kwargs: dict | None,
         budget_s: float = 2.0, from_mono: int | None = None) -> dict:
    """A page of events from `offset` (or the first at `from_mono` ns): at most `limit` events.

    With a filter the page stops early if scanning takes longer than `budget_s`; `next_offset`
    then says where to go on (`complete` false).
    """
    kwargs = dict(read_kwargs or {})
    where: Callable[[Record], bool] | None = kwargs.pop("where", None)
    deadline = time.monotonic() + budget_s
    check = BudgetedWhere(where, deadline) if where is not None else None
    stopped = False
    events: list[dict] = []
    more = False
    next_offset = offset
    end = None if (kwargs or where or from_mono is not None) else offset + limit + 1
    it = rec.read(offset, end, start_mono=from_mono, where=check, **kwargs)
    try:
        for r in it:
            if len(events) == limit:
                more = True
                break
            if check is not None:
                check.consumed(r)
            events.append(event_json(r))
            next_offset = r.offset + 1
            if kwargs and time.monotonic() > deadline and len(events) < limit:
                stopped = more = True
                break
    except _Stop:
        stopped = more = True
        next_offset = check.resume() if check is not None else next_offset
    finally:
        close = getattr(it, "close", None)
        if close:
            close()
    return {"offset": events[0]["offset"] if events else offset, "limit": limit, "events": events,
            "next_offset": next_offset if more else None, "complete": not stopped}


def page_before(rec: Recording, before: int, limit: int, read_kwargs: dict | None,
                budget_s: float = 2.0) -> dict:
    """The page of at most `limit` events just before offset `before` (read backwards), in
    ascending order; `prev_offset` is where an earlier page would end (None at the start)."""
    kwargs = dict(read_kwargs or {})
    where: Callable[[Record], bool] | None = kwargs.pop("where", None)
    deadline = time.monotonic() + budget_s
    events: list[dict] = []
    stopped = False
    lowest = before
    it = rec.read(None, before, reverse=True, **kwargs)
    more = False
    try:
        for r in it:
            lowest = r.offset
            if where is not None and not where(r):
                if time.monotonic() > deadline:
                    stopped = more = True
                    break
                continue
            if len(events) == limit:
                more = True
                break
            events.append(event_json(r))
            if (kwargs or where) and time.monotonic() > deadline and len(events) < limit:
                stopped = more = True
                break
    finally:
        close = getattr(it, "close", None)
        if close:
            close()
    events.reverse()
    prev = (events[0]["offset"] if events else lowest) if not stopped else lowest
    return {"offset": events[0]["offset"] if events else before, "limit": limit, "events": events,
            "prev_offset": prev if more else None, "next_offset": before, "complete": not stopped}


def count_matches(rec: Recording, summary: SegmentSummary, read_kwargs: dict,
                  start: int, budget_s: float = 2.0) -> dict:
    """How many events match a filter: from the index when the filter is on names only or on
    sources only (exact, at once), else by scanning from `start` for at most `budget_s`
    (`next_offset` says where to go on; None once the scan reached the end)."""
    from ..segments.reader import name_predicate
    kwargs = dict(read_kwargs)
    if "where" not in kwargs and len(kwargs) == 1:
        field, counts = ("names", summary.names) if "names" in kwargs else ("sources", summary.sources)
        ok = name_predicate(kwargs[field])
        return {"count": sum(c for k, c in counts.items() if ok(k)), "scanned_from": start,
                "next_offset": None, "complete": True, "from_index": True}
    check = BudgetedWhere(kwargs.pop("where", None), time.monotonic() + budget_s)
    n = 0
    stopped = False
    it = rec.read(start, where=check, **kwargs)
    try:
        for r in it:
            check.consumed(r)
            n += 1
    except _Stop:
        stopped = True
    finally:
        close = getattr(it, "close", None)
        if close:
            close()
    return {"count": n, "scanned_from": start, "next_offset": check.resume() if stopped else None,
            "complete": not stopped, "from_index": False}


def _size(path: str, sig: Signature) -> int:
    if os.path.isdir(path):
        return dir_size(path)
    return sig[0] if sig else 0
