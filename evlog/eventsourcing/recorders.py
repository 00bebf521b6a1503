"""The eventsourcing recorders backed by an `EvlogStore`."""
from __future__ import annotations

import gc
from itertools import islice, repeat
from typing import Any, Sequence
from uuid import UUID

from eventsourcing.persistence import (
    AggregateRecorder, ApplicationRecorder, ListenNotifySubscription, Notification,
    ProcessRecorder, StoredEvent, Subscription, Tracking, TrackingRecorder,
)

from ..segments import RawRecord
from . import envelope
from .store import EvlogStore, PageCache, release

POLL_INTERVAL = 0.1  # seconds: subscriptions also poll (a writer in another process)
PAGE = 1024          # notifications read ahead by select_notifications


_new = object.__new__
_set_dict = object.__setattr__


def _build(cls: type, dicts: list[dict]) -> list[Any]:
    """Instances of the frozen dataclass `cls` without its __init__ (one
    object.__setattr__ per field): each gets its instance dict whole, by C-level maps.
    They are equal to instances built the usual way."""
    objs = list(map(_new, repeat(cls, len(dicts))))
    any(map(_set_dict, objs, repeat("__dict__"), dicts))
    return objs


def _columns(records: Sequence[RawRecord]) -> tuple[Sequence[int], Sequence[str], list[int], list[Any], list[bytes]]:
    """(offsets, topics, versions, originator ids, states) of raw records."""
    offsets, _, _, topics, sources, datas, _, _, _ = zip(*records)
    versions, oids, states = envelope.decode_many(datas, sources)
    return offsets, topics, versions, oids, states


def _notifications(records: Sequence[RawRecord]) -> list[Notification]:
    """Notifications of raw records (see `_notifications_of_columns`)."""
    if not records:
        return []
    return _notifications_of_columns(*_columns(records))


def _notifications_of_columns(offsets: Sequence[int], topics: Sequence[str], versions: list[int],
                              oids: list[Any], states: list[bytes]) -> list[Notification]:
    """Notifications of columns: the envelopes decoded in bulk (`envelope.decode_many`),
    then the objects built without a call per record, the garbage collector paused (two
    acyclic objects per record: its passes over a page's new objects would cost more than
    building them)."""
    if not offsets:
        return []
    ids = range(offsets[0] + 1, offsets[-1] + 2) if offsets[-1] - offsets[0] == len(offsets) - 1 \
        else [o + 1 for o in offsets]
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _build(Notification, [
            {"id": i, "originator_id": o, "originator_version": v, "topic": t, "state": s}
            for i, o, v, t, s in zip(ids, oids, versions, topics, states)])
    finally:
        if collecting:
            gc.enable()


def _stored_events(records: Sequence[RawRecord]) -> list[StoredEvent]:
    if not records:
        return []
    _, topics, versions, oids, states = _columns(records)
    return _build(StoredEvent, [
        {"originator_id": o, "originator_version": v, "topic": t, "state": s}
        for o, v, t, s in zip(oids, versions, topics, states)])


class EvlogRecorder:
    """Holds a reference to a (shared) store; `close()` releases it."""

    def __init__(self, store: EvlogStore) -> None:
        self.store = store
        self._closed = False

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            release(self.store)


class EvlogAggregateRecorder(EvlogRecorder, AggregateRecorder):
    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        self.store.insert(stored_events, kwargs.get("tracking"))
        return None

    def select_events(self, originator_id: UUID | str, *, gt: int | None = None, lte: int | None = None,
                      desc: bool = False, limit: int | None = None) -> Sequence[StoredEvent]:
        offsets = self.store.positions(originator_id, gt=gt, lte=lte, desc=desc, limit=limit)
        return _stored_events(self.store.read_offsets(offsets))


class EvlogApplicationRecorder(EvlogAggregateRecorder, ApplicationRecorder):
    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        return self.store.insert(stored_events, kwargs.get("tracking"))

    def select_notifications(self, start: int | None, limit: int, stop: int | None = None,
                             topics: Sequence[str] = (), *, inclusive_of_start: bool = True
                             ) -> Sequence[Notification]:
        if start is None:
            start, inclusive_of_start = 1, True
        first = max(start if inclusive_of_start else start + 1, 1)
        if limit <= 0:
            return []
        if topics:
            return self._select_topics(first, limit, stop, frozenset(topics))
        out: list[Notification] = []
        offset = first - 1
        while len(out) < limit:
            chunk = self._chunk(offset, stop, limit - len(out))
            if not chunk:
                break
            out.extend(chunk)
            offset += len(chunk)
        return out

    def _chunk(self, offset: int, stop: int | None, want: int) -> list[Notification]:
        """Notifications from `offset` on: served from the store's page cache, or read in
        pages of at least PAGE (a block is decoded once for many sequential small reads)."""
        store = self.store
        end = store.end
        if stop is not None:
            end = min(stop, end)
        if offset >= end:
            return []
        cache: PageCache = store.page_cache
        with cache.lock:
            i = offset - cache.start
            if 0 <= i < len(cache.items):
                return cache.items[i:min(i + want, end - cache.start)]
        cols = store.read_columns(offset, min(end, offset + max(want, PAGE)))
        versions, oids, states = envelope.decode_many(cols.data, cols.sources)
        page = _notifications_of_columns(cols.offsets, cols.names, versions, oids, states)
        with cache.lock:
            cache.start, cache.items = offset, page
        return page[:want]

    def _select_topics(self, first: int, limit: int, stop: int | None, topics: frozenset) -> list[Notification]:
        records = self.store.read(first - 1, stop, names=topics.__contains__)
        try:
            return _notifications(list(islice(records, limit)))
        finally:
            records.close()

    def max_notification_id(self) -> int | None:
        return self.store.end or None

    def subscribe(self, gt: int | None = None, topics: Sequence[str] = ()) -> Subscription[ApplicationRecorder]:
        return EvlogSubscription(self, gt=gt, topics=topics)


class EvlogSubscription(ListenNotifySubscription[EvlogApplicationRecorder]):
    """Blocks once caught up; woken by inserts in this process, and polls for others."""

    def __init__(self, recorder: EvlogApplicationRecorder, gt: int | None = None,
                 topics: Sequence[str] = ()) -> None:
        super().__init__(recorder=recorder, gt=gt, topics=topics)
        self._recorder.store.listen(self._has_been_notified)

    def _loop_on_pull(self) -> None:
        try:
            self._pull()
            while not self._has_been_stopped:
                self._has_been_notified.wait(POLL_INTERVAL)
                self._pull()
        except BaseException as e:  # noqa: BLE001 - handed to the iterating thread
            if self._thread_error is None:
                self._thread_error = e
            self.stop()

    def stop(self) -> None:
        super().stop()
        self._recorder.store.unlisten(self._has_been_notified)


class EvlogTrackingRecorder(EvlogRecorder, TrackingRecorder):
    def insert_tracking(self, tracking: Tracking) -> None:
        self.store.insert_tracking(tracking)

    def max_tracking_id(self, application_name: str) -> int | None:
        return self.store.max_tracking_id(application_name)


class EvlogProcessRecorder(EvlogTrackingRecorder, EvlogApplicationRecorder, ProcessRecorder):
    pass
