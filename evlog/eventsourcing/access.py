"""Opening an evlog eventsourcing store by path, for the tools (capture, replay, time travel)."""
from __future__ import annotations

import os
from typing import Any, Iterator
from uuid import UUID

from eventsourcing.persistence import StoredEvent

from ..segments import RawRecord, is_recording
from ..segments.manifest import read_manifest
from . import envelope
from .errors import EvlogNotAStoreError
from .store import META_KEY, EvlogStore, acquire, release


def events_path(path: str) -> str:
    """The events log of a store given its directory (or the events log itself)."""
    path = os.fspath(path)
    if is_recording(os.path.join(path, "events")):
        return os.path.join(path, "events")
    if is_recording(path):
        return path
    raise EvlogNotAStoreError(f"{path} is not an evlog eventsourcing store (no events log)")


def tracking_path(events: str) -> str:
    return os.path.join(os.path.dirname(os.path.abspath(events)), "tracking")


def open_store(path: str, *, readonly: bool = True, fsync: str = "always", create: bool = False) -> EvlogStore:
    """A (shared) store for `path`: a store directory or its events log. Release it with
    `evlog.eventsourcing.store.release`."""
    if create and not readonly and not (is_recording(path) or is_recording(os.path.join(path, "events"))):
        events = os.path.join(os.fspath(path), "events")
    else:
        events = events_path(path)
        if not _is_events_log(read_manifest(events).metadata):   # before indexing records of another kind
            raise EvlogNotAStoreError(f"{path} was not written by evlog's eventsourcing recorders")
    store = acquire(events, kind="events", tracking_path=tracking_path(events), readonly=readonly,
                    create=create, fsync=fsync)
    if not _is_events_log(store.log.manifest.metadata):
        release(store)
        raise EvlogNotAStoreError(f"{path} was not written by evlog's eventsourcing recorders")
    return store


def _is_events_log(metadata: dict) -> bool:
    meta = metadata.get(META_KEY)
    return isinstance(meta, dict) and meta.get("kind") == "events"


def to_stored_event(rec: RawRecord) -> StoredEvent:
    env = envelope.decode(rec.data)
    return StoredEvent(originator_id=envelope.originator_id(rec.source, env),
                       originator_version=env.v, topic=rec.name, state=envelope.state_of(env))


def end_offset(store: EvlogStore, offset: int | None = None, time_ns: int | None = None) -> int:
    """One past the last offset "as of" `offset` (inclusive) or `time_ns` (wall clock, inclusive)."""
    end = store.end
    if offset is not None:
        end = min(end, offset + 1)
    if time_ns is not None:
        for rec in store.read(0, end, start_time=time_ns + 1):
            return rec.offset
    return end


def iter_stored_events(store: EvlogStore, start: int = 0, end: int | None = None
                       ) -> Iterator[tuple[int, StoredEvent]]:
    """(offset, stored event) in log order, streamed."""
    for rec in store.read(start, end):
        yield rec.offset, to_stored_event(rec)


def json_state(state: bytes) -> Any:
    """A stored state for display: the decoded JSON, or None when it is not JSON."""
    if envelope.is_json_state(state):
        import msgspec
        return msgspec.json.decode(state)
    return None


def originator_key(originator_id: UUID | str) -> str:
    return str(originator_id)
