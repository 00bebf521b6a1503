"""Replay a recording into a fresh application (and its process applications following)."""
from __future__ import annotations

from typing import Any, Sequence

from ..chunks import chunked
from .access import end_offset, iter_stored_events, open_store
from .store import release


def replay(path: str, app: Any, *, followers: Sequence[Any] = (), offset: int | None = None,
           time_ns: int | None = None, batch: int = 500) -> int:
    """Insert the recording's stored events (up to `offset` or `time_ns`, inclusive) into
    `app`'s recorder in log order, then let each follower (in the order given, e.g. a
    system's processing order) pull and process what its leaders wrote. Returns the number
    of events replayed.

    The stored state bytes go in as they were recorded, so `app` must use the same
    transcoder, cipher and compressor settings as the application that wrote them.
    """
    store = open_store(path)
    count = 0
    try:
        end = end_offset(store, offset, time_ns)
        events = (se for _, se in iter_stored_events(store, 0, end))
        for chunk in chunked(events, batch):
            app.recorder.insert_events(chunk)
            count += len(chunk)
            _prompt(followers)
    finally:
        release(store)
    _prompt(followers)
    return count


def _prompt(followers: Sequence[Any]) -> None:
    for follower in followers:
        for leader_name in list(follower.readers):
            follower.pull_and_process(leader_name)


def replay_into_runner(path: str, runner: Any, leader_cls: type, **kwargs: Any) -> int:
    """Replay into the `leader_cls` application of a started eventsourcing runner; the
    system's followers process in the system's order."""
    system = runner.system
    followers = [runner.get(system.follower_cls(name)) for name in system.followers]
    order = {name: i for i, name in enumerate(system.nodes)}
    followers.sort(key=lambda f: order.get(f.name, 0))
    return replay(path, runner.get(leader_cls), followers=followers, **kwargs)
