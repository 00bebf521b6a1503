"""`EvlogStore`: one evlog log holding an application's stored events, with the in-memory
originator index, the uniqueness checks and the tracking positions the recorders need.

Layout of a store directory (see docs/eventsourcing.md):

    <dir>/events/     the stored events (an ordinary evlog recording; notification id = offset + 1)
    <dir>/tracking/   tracking records inserted without events (name "tracking", source = app)
    <dir>/snapshots/  the snapshots (its own store, without a tracking log)
    <dir>/events.index, <dir>/snapshots.index   the persisted originator index (sideindex.py):
                      loaded at open, then only the log's tail is read

Writers are serialized by a lock and check integrity before appending, so nothing is
written on IntegrityError; each insert is one atomic block. Within a process, recorders of
the same directory share one store (the log's single-writer lock is per process).
"""
from __future__ import annotations

import os
import threading
import time
from bisect import bisect_right
from itertools import chain, repeat
from operator import attrgetter, is_, lt
from typing import Any, Callable, Iterator, Sequence
from uuid import UUID

import msgspec
from msgspec import UNSET, UnsetType

from ..segments import EventTooLargeError, Log, RawColumns, RawRecord, is_recording
from ..segments.blockcache import DEFAULT_CACHE_BYTES
from . import envelope, sideindex
from .originators import OriginatorIndex
from .errors import (
    EvlogBatchTooLargeError, EvlogIntegrityError, EvlogReadOnlyError, EvlogStoreMissingError,
)

TRACKING_NAME = "tracking"
BLOCK_BYTES = 64 << 10  # small blocks: reading one aggregate decodes little besides its events
META_KEY = "eventsourcing"
KEYS = ("source",)
BLOCK_CACHE_BYTES = 128 << 20   # decoded blocks kept for select_events (interleaved aggregates' blocks)
INDEX_SAVE_EVENTS = 1_000_000  # the side index is saved after this many new events,
INDEX_SAVE_SECONDS = 300.0     # or on the first insert this long after the last save, and at close


class _Head(msgspec.Struct):
    """The envelope fields the index needs (the state is skipped, not decoded)."""

    v: int
    t: tuple[str, int] | UnsetType = UNSET


_decode_head = msgspec.json.Decoder(_Head).decode
_decode_tracking = msgspec.json.Decoder(dict[str, int]).decode
_event_fields = attrgetter("originator_id", "originator_version", "topic", "state")
_NO_ID = object()


class PageCache:
    """The last page of notifications read by select_notifications (a visible notification
    never changes, so the page stays valid)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.start = 0
        self.items: list[Any] = []


class EvlogStore:
    """The stored events of one application (or its snapshots) in one evlog log."""

    def __init__(self, path: str, *, kind: str = "events", tracking_path: str | None = None,
                 readonly: bool = False, create: bool = True, fsync: str = "always",
                 fsync_interval: float = 1.0, application: str = "",
                 block_bytes: int = BLOCK_BYTES, index_save_events: int = INDEX_SAVE_EVENTS,
                 index_save_seconds: float = INDEX_SAVE_SECONDS, block_cache_bytes: int = BLOCK_CACHE_BYTES) -> None:
        self.path = os.path.abspath(path)
        self.kind = kind
        self.readonly = readonly
        self.fsync = fsync
        self._wlock = threading.Lock()       # serializes inserts
        self._state_lock = threading.Lock()  # guards the index and the visible end
        self._rlock = threading.RLock()      # the log's reader is not thread-safe
        self._listeners: set[threading.Event] = set()
        self._index = OriginatorIndex()
        self._tracking: dict[str, int] = {}
        self._end = 0            # offsets below this are indexed and visible to readers
        self._tracking_end = 0
        self.refs = 0
        self.page_cache = PageCache()
        opts: dict[str, Any] = {"fsync": fsync, "fsync_interval": fsync_interval,
                                "block_max_bytes": block_bytes}
        meta = {META_KEY: {"kind": kind, "application": application, "format": 1}}
        # the engine's key index on the originator id (source): tools find an aggregate by it
        self._log = _open_log(self.path, readonly, create, dict(opts, block_cache_bytes=block_cache_bytes), meta,
                              KEYS)
        self._tlog: Log | None = None
        if tracking_path is not None and (not readonly or is_recording(tracking_path)):
            tmeta = {META_KEY: {"kind": "tracking", "application": application, "format": 1}}
            try:
                self._tlog = _open_log(os.path.abspath(tracking_path), readonly, create, opts, tmeta)
            except BaseException:
                self._log.close()
                raise
        self.index_path = sideindex.side_path(self.path)
        self.index_save_events = index_save_events
        self.index_save_seconds = index_save_seconds
        self.open_stats: dict[str, Any] = {}   # how the index was obtained at open (tests, bench)
        self._saved = (-1, -1)   # (end, tracking end) the side file covers
        self._saved_at = time.monotonic()
        self._open_index()

    # index ---------------------------------------------------------------------------
    def _open_index(self) -> None:
        """Load the side index and read the log's tail from the offset it covers; rebuild
        from the whole log when the side file cannot be used."""
        t = time.perf_counter()
        try:
            self._load_index()
            source = "side file"
        except sideindex.SideIndexError as exc:
            self._index, self._tracking = OriginatorIndex(), {}
            self._end, self._tracking_end = self._log.start_offset, 0
            source = f"rebuilt ({exc})"
        read = self._catch_up()
        self.open_stats = {"index": source, "records_read": read, "seconds": time.perf_counter() - t}

    def _load_index(self) -> None:
        side = sideindex.load(self.index_path, self._log.manifest.start_time_ns)
        tlog_end = self._tlog.end_offset if self._tlog is not None else side.tracking_end
        if side.start != self._log.start_offset or side.end > self._log.end_offset or \
                side.tracking_end > tlog_end:
            raise sideindex.SideIndexError("stale: it covers more than the log")
        index = OriginatorIndex.from_columns(side.keys, side.counts, side.versions, side.offsets)
        if side.end > side.start:   # the last covered record must be where the index says
            last = next(iter(self._log.read(side.end - 1, side.end, raw=True)), None)
            seq = index.get(last.source) if last is not None else None
            if seq is None or seq.offset_of(_decode_head(last.data).v) != side.end - 1:
                raise sideindex.SideIndexError("it does not match the log")
        self._index, self._tracking = index, side.tracking
        self._end, self._tracking_end = side.end, side.tracking_end
        self._saved = (side.end, side.tracking_end)

    def save_index(self) -> None:
        """Write the side index (a writable store; the caller holds the write lock or no
        insert runs). The log is flushed first so that the side file never covers offsets
        the log's files do not hold."""
        tracking_end = self._tlog.end_offset if self._tlog is not None else self._tracking_end
        if (self._end, tracking_end) == self._saved:
            return
        self._log.flush(sync=self.fsync != "never")
        if self._tlog is not None:
            self._tlog.flush(sync=self.fsync != "never")
        with self._state_lock:
            keys, counts, versions, offsets = self._index.columns()
            tracking = dict(self._tracking)
            end = self._end
        sideindex.save(self.index_path, self._log.manifest.start_time_ns, self._log.start_offset,
                       end, tracking_end, keys, counts, versions, offsets, tracking)
        self._saved = (end, tracking_end)
        self._saved_at = time.monotonic()

    def _maybe_save_index(self) -> None:
        if self._end - max(self._saved[0], 0) >= self.index_save_events or \
                time.monotonic() - self._saved_at >= self.index_save_seconds:
            self.save_index()

    def _catch_up(self) -> int:
        """Index records written since the last look; returns how many were read."""
        read = 0
        with self._rlock:
            for rec in self._log.read(self._end, raw=True):
                read += 1
                head = _decode_head(rec.data)
                with self._state_lock:
                    self._index.sequence(rec.source).add(head.v, rec.offset)
                    if head.t is not UNSET:
                        self._set_tracking(*head.t)  # type: ignore[misc]
                    self._end = rec.offset + 1
            if self._tlog is not None:
                for rec in self._tlog.read(self._tracking_end, raw=True):
                    n = _decode_tracking(rec.data)["n"]
                    with self._state_lock:
                        self._set_tracking(rec.source, n)
                        self._tracking_end = rec.offset + 1
        return read

    def _set_tracking(self, app: str, nid: int) -> None:
        if nid > self._tracking.get(app, 0):
            self._tracking[app] = nid

    def _refresh(self) -> None:
        if self.readonly:
            self._catch_up()

    # writing --------------------------------------------------------------------------
    def insert(self, stored_events: Sequence[Any], tracking: Any = None) -> list[int]:
        """Insert stored events (and a tracking record) atomically; returns notification ids."""
        if self.readonly:
            raise EvlogReadOnlyError(f"the evlog store {self.path} is open read-only")
        n = len(stored_events)
        with self._wlock:
            if n == 0:
                self._check_tracking(tracking)
                if tracking is not None:
                    self._insert_tracking(tracking.application_name, tracking.notification_id)
                return []
            first = self._insert_one(stored_events[0], tracking) if n == 1 else \
                self._insert_many(stored_events, tracking)
            self._maybe_save_index()
        if self.fsync == "always":
            self._log.flush(sync=True)
        if self._listeners:
            self._notify()
        return list(range(first + 1, first + 1 + n))

    def _insert_one(self, s: Any, tracking: Any) -> int:
        """One stored event: one record, atomic by itself. It joins the writer's current
        block (many single-event inserts share a block, written when it fills, ages past
        block_max_age, or a reader or fsync=always flushes). The data bytes come from
        `envelope.encode` (a JSON object around a state checked by `is_json_state`, or
        base64), so the engine does not decode them again (validate=False)."""
        oid = s.originator_id
        version = s.originator_version
        key = str(oid)
        with self._state_lock:
            seq = self._index.get(key)
            if seq is not None and seq.has(version):
                raise EvlogIntegrityError(f"stored event already recorded: originator {key} version {version}")
            self._check_tracking_locked(tracking)
        t = None if tracking is None else (tracking.application_name, tracking.notification_id)
        data = envelope.encode(version, isinstance(oid, UUID), s.state, t)
        try:
            first = self._log.append_encoded(s.topic, key, 0, data, b"", None, None, validate=False)
        except EventTooLargeError as exc:
            raise EvlogBatchTooLargeError(f"the insert does not fit one atomic block: {exc}") from None
        with self._state_lock:
            if seq is None:
                seq = self._index.sequence(key)
            seq.add(version, first)
            if t is not None:
                self._set_tracking(*t)
            self._end = first + 1
        return first

    def _insert_many(self, stored_events: Sequence[Any], tracking: Any) -> int:
        """Several stored events: one atomic block. The fields are taken apart, checked,
        encoded and indexed per batch or per run of events of one originator, not per event."""
        n = len(stored_events)
        oids, versions, topics, states = zip(*map(_event_fields, stored_events))
        # the originator ids as keys: one str() per run of one id object
        runs: list[tuple[str, int, int]] = []
        if all(map(is_, oids, repeat(oids[0], n))):
            key = str(oids[0])
            keys: Sequence[str] = [key] * n
            uuids: Sequence[bool] = [isinstance(oids[0], UUID)] * n
            runs.append((key, 0, n))
        else:
            keys, uuids = [], []
            last, start, key, u = _NO_ID, 0, "", False
            for i, oid in enumerate(oids):
                if oid is not last:
                    if i:
                        runs.append((key, start, i))
                    last, start, key, u = oid, i, str(oid), isinstance(oid, UUID)
                keys.append(key)
                uuids.append(u)
            runs.append((key, start, n))
        with self._state_lock:
            self._check_many(runs, versions)
            self._check_tracking_locked(tracking)
        t = None if tracking is None else (tracking.application_name, tracking.notification_id)
        datas = envelope.encode_many(versions, uuids, states, t)
        rows = list(zip(topics, keys, repeat(0, n), datas, repeat(b"", n), repeat(None, n), repeat(None, n)))
        try:
            first = self._log.append_batch_encoded(rows, atomic=True, validate=False).start
        except EventTooLargeError as exc:
            raise EvlogBatchTooLargeError(f"the insert does not fit one atomic block: {exc}") from None
        with self._state_lock:
            index = self._index
            for key, a, b in runs:
                seq = index.sequence(key)
                vs = versions[a:b]
                if (not seq.versions or vs[0] > seq.versions[-1]) and all(map(lt, vs, vs[1:])):
                    seq.versions.extend(vs)
                    seq.offsets.extend(range(first + a, first + b))
                else:
                    for i in range(a, b):
                        seq.add(versions[i], first + i)
            if t is not None:
                self._set_tracking(*t)
            self._end = first + n
        return first

    def _check_many(self, runs: list[tuple[str, int, int]], versions: Sequence[int]) -> None:
        """IntegrityError if a (originator, version) is twice in the batch or already stored."""
        index = self._index
        if len(runs) == 1:
            key, a, b = runs[0]
            unique = len(set(versions)) == b - a
        else:
            unique = len(set(zip(chain.from_iterable(repeat(k, b - a) for k, a, b in runs), versions))) == len(versions)
        for key, a, b in runs:
            vs = versions[a:b]
            seq = index.get(key)
            if seq is not None and seq.versions and min(vs) <= seq.versions[-1]:
                for v in vs:
                    if seq.has(v):
                        raise EvlogIntegrityError(f"stored event already recorded: originator {key} version {v}")
        if not unique:
            seen = set()
            for key, a, b in runs:
                for v in versions[a:b]:
                    if (key, v) in seen:
                        raise EvlogIntegrityError(
                            f"stored event already recorded: originator {key} version {v} (twice in the insert)")
                    seen.add((key, v))

    def _check_tracking(self, tracking: Any) -> None:
        with self._state_lock:
            self._check_tracking_locked(tracking)

    def _check_tracking_locked(self, tracking: Any) -> None:
        if tracking is not None:
            current = self._tracking.get(tracking.application_name)
            if current is not None and tracking.notification_id <= current:
                raise EvlogIntegrityError(
                    f"tracking notification id {tracking.notification_id} of "
                    f"{tracking.application_name!r} is not above the recorded {current}")

    def _insert_tracking(self, app: str, nid: int) -> None:
        if self._tlog is None:
            raise EvlogReadOnlyError(f"the evlog store {self.path} has no tracking log")
        self._tlog.append(TRACKING_NAME, {"n": nid}, app)
        with self._state_lock:
            self._set_tracking(app, nid)
        if self.fsync == "always":
            self._tlog.flush(sync=True)

    def insert_tracking(self, tracking: Any) -> None:
        if self.readonly:
            raise EvlogReadOnlyError(f"the evlog store {self.path} is open read-only")
        with self._wlock:
            self._check_tracking(tracking)
            self._insert_tracking(tracking.application_name, tracking.notification_id)
            self._maybe_save_index()

    # reading --------------------------------------------------------------------------
    def max_tracking_id(self, application_name: str) -> int | None:
        self._refresh()
        with self._state_lock:
            return self._tracking.get(application_name)

    @property
    def end(self) -> int:
        """One past the last visible offset (= the max notification id)."""
        self._refresh()
        with self._state_lock:
            return self._end

    def positions(self, originator_id: UUID | str, gt: int | None = None, lte: int | None = None,
                  desc: bool = False, limit: int | None = None, end: int | None = None) -> list[int]:
        """Log offsets of an originator's events in version order (the index, no scan).

        `end`: only events at offsets below it (time travel)."""
        self._refresh()
        with self._state_lock:
            seq = self._index.get(str(originator_id))
            if seq is None:
                return []
            lo = 0 if gt is None else bisect_right(seq.versions, gt)
            hi = len(seq.versions) if lte is None else bisect_right(seq.versions, lte)
            offsets = list(seq.offsets[lo:hi])
        if end is not None:
            offsets = [o for o in offsets if o < end]
        if desc:
            offsets.reverse()
        if limit is not None:
            offsets = offsets[:limit]
        return offsets

    def read_offsets(self, offsets: Sequence[int]) -> list[RawRecord]:
        """The raw records at `offsets` (in that order): point reads (`Log.read_at`), each block
        decoded once and kept in the log's bounded cache of decoded blocks, so an aggregate
        whose events lie in many blocks is read without decoding them again."""
        if not offsets:
            return []
        with self._rlock:
            records = self._log.read_at(offsets, raw=True)
        if len(records) == len(offsets) and list(offsets) == [r.offset for r in records]:
            return records   # ascending, as read: the common case
        found = {rec.offset: rec for rec in records}
        return [found[o] for o in offsets]

    def read(self, start: int, end: int | None = None, names: Callable[[str], bool] | None = None,
             **bounds: Any) -> Iterator[RawRecord]:
        """Stream raw records of visible offsets in [start, end)."""
        self._refresh()
        with self._state_lock:
            visible = self._end
        end = visible if end is None else min(end, visible)
        if start >= end:
            return
        with self._rlock:
            yield from self._log.read(start, end, names=names, raw=True, **bounds)

    def read_columns(self, start: int, end: int | None = None) -> RawColumns:
        """The visible offsets in [start, end) as columns (`Log.read_columns`): the pages of
        select_notifications, without an object per record."""
        self._refresh()
        with self._state_lock:
            visible = self._end
        end = visible if end is None else min(end, visible)
        with self._rlock:
            return self._log.read_columns(start, max(start, end))

    def originators(self) -> list[str]:
        self._refresh()
        with self._state_lock:
            return list(self._index)

    def index_memory(self) -> int:
        """Approximate bytes held by the originator index."""
        with self._state_lock:
            return self._index.memory()

    @property
    def log(self) -> Log:
        return self._log

    # notification ---------------------------------------------------------------------
    def listen(self, event: threading.Event) -> None:
        self._listeners.add(event)

    def unlisten(self, event: threading.Event) -> None:
        self._listeners.discard(event)

    def _notify(self) -> None:
        for event in list(self._listeners):
            event.set()

    def close(self) -> None:
        try:
            if not self.readonly:
                with self._wlock:
                    self.save_index()
        finally:
            self._close_logs()

    def _close_logs(self) -> None:
        try:
            self._log.close()
        finally:
            if self._tlog is not None:
                self._tlog.close()


def _open_log(path: str, readonly: bool, create: bool, opts: dict, metadata: dict, keys: Sequence[str] = ()) -> Log:
    if is_recording(path):
        if readonly:
            return Log.open(path, block_cache_bytes=opts.get("block_cache_bytes", DEFAULT_CACHE_BYTES))
        return Log.open(path, "a", **opts)
    if readonly or not create:
        raise EvlogStoreMissingError(f"no evlog store at {path}")
    return Log.create(path, os.path.basename(os.path.dirname(path)) or "eventsourcing",
                      metadata=metadata, keys=keys, **opts)


# sharing within a process ---------------------------------------------------------------
_registry: dict[tuple[str, bool], EvlogStore] = {}
_registry_lock = threading.Lock()


def acquire(path: str, **kwargs: Any) -> EvlogStore:
    """The process's store for `path` (opened on first use); release() it when done."""
    key = (os.path.realpath(path), bool(kwargs.get("readonly")))
    with _registry_lock:
        store = _registry.get(key)
        if store is None:
            store = _registry[key] = EvlogStore(path, **kwargs)
        store.refs += 1
        return store


def release(store: EvlogStore) -> None:
    key = (os.path.realpath(store.path), store.readonly)
    with _registry_lock:
        store.refs -= 1
        if store.refs > 0:
            return
        if _registry.get(key) is store:
            del _registry[key]
    store.close()

