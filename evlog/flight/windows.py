"""Trigger windows of the flight recorder, and the thread that writes them.

A trigger at time t asks for the events of [t - keep, t + after] (the ring's monotonic
clock, both ends included). A trigger whose window meets the latest window's (t - keep <=
its end) extends that window to t + after instead of starting another: one recording, each
event once. The recorder's thread calls `Windows.step` after each batch it adds to the
ring; `step` hands the window's sealed blocks to the `WindowWriter` as the ring fills, and
ends the window once the ring holds an event past its end (or the clock is past it and the
ring is held above it: a late event gets a later time, see `Ring.hold_time`). Because
times in the ring never go back, "the events of a span of time" is exact: the writer keeps
a block's events by their times, and each event lands in one window once.

`request` (any thread, under the lock; no I/O, nothing proportional to the ring) is what a
trigger costs the thread that pulls it. The writer thread decodes the ring's blocks
(as columns) and appends them through the engine's raw path (`Log.append_rows` of
`EncodedRows`, validate=False: bytes of verified blocks), fsync="always"; at the end of
the window it fsyncs, writes the metadata (trigger reason and time, window bounds) and
closes the recording. A recording extended after it was closed is reopened for appending.
"""
from __future__ import annotations

import datetime as _dt
import logging
import queue
import threading
import time
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from itertools import repeat
from operator import sub as _sub
from pathlib import Path
from typing import Callable

from ..segments import EncodedRows, Log
from ..segments.block import decode_frame
from ..segments.errors import EvlogError
from .ring import Ring, RingBlock

logger = logging.getLogger("evlog.flight")

MAX_LISTED_TRIGGERS = 100   # triggers listed in a recording's metadata (all are counted)
MAX_KEPT_WINDOWS = 1000     # windows a recorder remembers (`recordings`); the written ones go first


def iso(wall_ns: int) -> str:
    return _dt.datetime.fromtimestamp(wall_ns / 1e9, tz=_dt.timezone.utc).isoformat()


@dataclass
class Window:
    """One recording being made: [start, end] on the ring's clock (ns)."""

    path: Path
    start: int
    end: int
    trigger_list: list[tuple] = field(default_factory=list)   # (reason, t, wall, after_ns), formatted later
    trigger_count: int = 0
    collecting: bool = True     # the recorder's thread still hands it events
    next_seq: int = 0           # the ring's blocks before this are handed (or not wanted)
    done_mono: int | None = None   # events up to this time are handed
    truncated: bool = False     # events of the window left the ring (keep_bytes) before being handed
    ended: str = ""             # why collecting ended: "after elapsed", "stopped", "end of input"...
    events: int = 0             # written (the writer thread's count)
    counted: int = 0            # of those, counted in the recorder's `recorded`
    first_seq: int | None = None
    last_seq: int | None = None
    error: str | None = None
    created: bool = False       # the recording exists (an extension reopens it)
    written: threading.Event = field(default_factory=threading.Event)

    def add_trigger(self, reason: str, t: int, wall: int, after_ns: int) -> None:
        self.trigger_count += 1
        if len(self.trigger_list) < MAX_LISTED_TRIGGERS:
            self.trigger_list.append((reason, t, wall, after_ns))
        if t + after_ns > self.end:
            self.end = t + after_ns

    @property
    def triggers(self) -> list[dict]:
        """The triggers listed (the first MAX_LISTED_TRIGGERS), as the metadata has them."""
        return [{"reason": reason, "time": iso(wall), "time_ns": wall, "after_s": after_ns / 1e9,
                 "offset_ns": t - self.start} for reason, t, wall, after_ns in self.trigger_list]


class Windows:
    """The windows of one flight recorder (see the module's docstring)."""

    def __init__(self, ring: Ring, keep_ns: int, wall0: int, writer: "WindowWriter", *,
                 grace_ns: int = 50_000_000, clock: Callable[[], int] | None = None) -> None:
        self.ring = ring
        self.clock = clock or (lambda: ring.last_mono)   # ns on the ring's clock
        self.keep_ns = keep_ns
        self.wall0 = wall0              # wall clock ns at the ring's time 0
        self.writer = writer
        self.grace_ns = grace_ns        # past a window's end with no later event: wait this long
        self.lock = threading.Lock()
        self.latest: Window | None = None
        self.collecting: list[Window] = []
        self.all: list[Window] = []
        self.trigger_count = 0

    # any thread ----------------------------------------------------------------------
    def request(self, t: int | None, reason: str, after_ns: int, new_path: Callable[[int], Path]) -> Window:
        """A trigger at ring time `t` (None: now, read under the lock): extend the latest
        window if they meet, else open one. O(1), no I/O."""
        with self.lock:
            if t is None:
                t = self.clock()
            wall = self.wall0 + t
            self.trigger_count += 1
            w = self.latest
            if w is not None and t - self.keep_ns <= w.end and w.error is None:
                w.add_trigger(reason, t, wall, after_ns)
                if not w.collecting:          # ended already: it takes events again
                    w.collecting = True
                    w.ended = ""
                    w.written.clear()
                    self.collecting.append(w)
                return w
            w = Window(new_path(wall), t - self.keep_ns, t)
            w.add_trigger(reason, t, wall, after_ns)
            self.latest = w
            self.collecting.append(w)
            if len(self.all) >= MAX_KEPT_WINDOWS:   # bounded: forget old written windows
                self.all = [x for x in self.all[:-MAX_KEPT_WINDOWS // 10] if not x.written.is_set()] \
                    + self.all[-MAX_KEPT_WINDOWS // 10:]
            self.all.append(w)
            return w

    # the recorder's thread -----------------------------------------------------------
    def active(self) -> bool:
        return bool(self.collecting)

    def step(self, now: int | None = None, end_all: str | None = None) -> None:
        """Hand the collecting windows what the ring holds for them, end those past their
        end (all of them, now, with `end_all` = the reason), then evict by age. The ring's
        open block must be sealed first when a window is collecting (the caller does).

        The lock is held twice, briefly (a snapshot of the windows' ends; then ending those
        whose end did not move meanwhile): a trigger never waits for the handing. `now`
        (None: the clock, read under the lock) bounds the age eviction: a window opened
        later starts at or after now - keep, so nothing it wants is evicted."""
        ring = self.ring
        with self.lock:
            if now is None:
                now = self.clock()
            todo = [(w, w.end) for w in self.collecting]
        ended = []
        for w, end in todo:
            if end_all is None and ring.last_mono <= end:
                if now <= end + self.grace_ns:
                    self._hand(w, end, partial=False)
                    continue
                ring.hold_time(end)         # quiet past the end: nothing later may fall in it
            elif end_all is not None:
                end = min(end, max(now, ring.last_mono))
                ring.hold_time(end)
            self._hand(w, end, partial=True)
            ended.append((w, end))
        finishing = []
        with self.lock:
            for w, end in ended:
                if end_all is not None:
                    w.end = end             # cut short, whatever came meanwhile
                if w.end == end:            # (a trigger that extended it meanwhile: it goes on)
                    w.collecting = False
                    w.ended = end_all or "after elapsed"
                    self.collecting.remove(w)
                    finishing.append((w, self.metadata(w)))
            floor = min((w.next_seq for w in self.collecting), default=None)
        for w, meta in finishing:
            self.writer.finish(w, meta)
        ring.evict(now, floor)

    def _hand(self, w: Window, end: int, partial: bool) -> None:
        """Give the writer the blocks of w up to `end` (`partial`: the last may go past it)."""
        ring = self.ring
        if ring.first_seq > w.next_seq:   # blocks it never got have left the ring
            lost = ring.evicted_last_mono
            if lost is not None and lost >= max(w.start, (w.done_mono if w.done_mono is not None else w.start - 1) + 1):
                w.truncated = True
            w.next_seq = ring.first_seq
        low = w.start if w.done_mono is None else max(w.start, w.done_mono + 1)
        handed: list[RingBlock] = []
        for block in ring.blocks_from(w.next_seq):
            if block.last_mono < low:     # before the window (or handed): skipped for good
                w.next_seq = block.end_seq
                continue
            if block.first_mono > end:
                break
            if block.last_mono > end and not partial:
                break
            handed.append(block)
        if not handed:
            if partial:
                w.done_mono = end
            return
        last = handed[-1]
        self.writer.rows(w, handed, w.next_seq, low, end)
        if last.last_mono <= end:
            w.next_seq = last.end_seq
            w.done_mono = last.last_mono
            ring.hold_time(last.last_mono)   # a later event cannot share the time of one handed
        else:
            w.next_seq = last.first_seq
            w.done_mono = end
        if partial:
            w.done_mono = end

    def metadata(self, w: Window) -> dict:
        """The recording's metadata (top-level keys trigger_reason, trigger_time, window_start,
        window_end; the rest under "flight")."""
        triggers = w.triggers
        first = triggers[0]
        return {
            "trigger_reason": first["reason"], "trigger_time": first["time"],
            "window_start": iso(self.wall0 + w.start), "window_end": iso(self.wall0 + w.end),
            "flight": {"keep_s": self.keep_ns / 1e9, "window_start_ns": self.wall0 + w.start,
                       "window_end_ns": self.wall0 + w.end, "triggers": triggers,
                       "trigger_count": w.trigger_count, "ended": w.ended, "truncated": w.truncated},
        }


class WindowWriter:
    """The thread that writes windows into recordings (jobs in order, one thread)."""

    def __init__(self, session_name: str, wall0: int, on_written: Callable[[Window, int], None] | None = None,
                 *, fsync: str = "always", extra_metadata: Callable[[], dict] | None = None) -> None:
        self.session_name = session_name
        self.wall0 = wall0
        self.fsync = fsync
        self.on_written = on_written
        self.extra_metadata = extra_metadata
        self._jobs: queue.Queue = queue.Queue()
        self._logs: dict[int, Log] = {}
        self._thread = threading.Thread(target=self._run, name=f"evlog-flight-writer:{session_name}", daemon=True)
        self._thread.start()

    # the recorder's thread -----------------------------------------------------------
    def rows(self, w: Window, blocks: list[RingBlock], from_seq: int, low: int, high: int) -> None:
        self._jobs.put(("rows", w, blocks, from_seq, low, high))

    def finish(self, w: Window, metadata: dict) -> None:
        self._jobs.put(("finish", w, metadata))

    def wait(self) -> None:
        """Until every job given so far is done."""
        self._jobs.join()

    def close(self) -> None:
        self._jobs.put(None)
        self._thread.join()

    @property
    def pending(self) -> int:
        return self._jobs.unfinished_tasks

    # the writer thread ---------------------------------------------------------------
    def _run(self) -> None:
        while True:
            job = self._jobs.get()
            try:
                if job is None:
                    return
                w = job[1]
                if w.error is None:
                    try:
                        self._rows(*job[1:]) if job[0] == "rows" else self._finish(w, job[2])
                    except (OSError, EvlogError) as exc:
                        self._fail(w, exc)
            finally:
                self._jobs.task_done()

    def _log(self, w: Window) -> Log:
        log = self._logs.get(id(w))
        if log is None:
            if not w.created:
                meta = {"flight": {"writing": True}}
                if self.extra_metadata is not None:
                    meta.update(self.extra_metadata())
                if w.path.exists():   # made by someone else since the trigger named it
                    taken, n = w.path, 2
                    while w.path.exists():
                        w.path = taken.with_name(f"{taken.name}_{n}")
                        n += 1
                    logger.warning("evlog flight recorder %s: %s exists, writing %s instead", self.session_name,
                                   taken, w.path)
                log = Log.create(w.path, self.session_name, start_time_ns=self.wall0 + w.start, metadata=meta,
                                 fsync=self.fsync)
                w.created = True
            else:   # extended after it was closed
                log = Log.open(w.path, "a", fsync=self.fsync)
            self._logs[id(w)] = log
        return log

    def _rows(self, w: Window, blocks: list[RingBlock], from_seq: int, low: int, high: int) -> None:
        """Append the events of `blocks` from sequence `from_seq` with times in [low, high]:
        the span is found by bisection on the block's times (they never decrease) and taken as
        columns by C-level maps (`DecodedBlock.extend_columns`), no Python object per event."""
        log = self._log(w)
        base = w.start
        for block in blocks:
            if block.end_seq <= from_seq:
                continue
            decoded = decode_frame(block.frame)
            monos = decoded.monotonics
            a = max(from_seq - block.first_seq, bisect_left(monos, low), 0)
            b = bisect_right(monos, high)
            if a >= b:
                continue
            names: list[str] = []
            sources: list[str] = []
            datas: list[bytes] = []
            types: list[bytes] = []
            headers: list[bytes] = []
            flags = bytearray()
            decoded.extend_columns(a, b, names, sources, datas, flags, types, headers)
            n = b - a
            rows = EncodedRows(names, sources, list(flags), datas, types, None if headers.count(b"") == n else headers,
                               decoded.timestamps[a:b], list(map(_sub, monos[a:b], repeat(base, n))))
            log.append_rows(rows, validate=False)
            time.sleep(0)   # give up the GIL between blocks: a publishing thread waits ~a block, not 5 ms
            if w.first_seq is None:
                w.first_seq = block.first_seq + a
            w.last_seq = block.first_seq + b - 1
            w.events += n

    def _finish(self, w: Window, metadata: dict) -> None:
        log = self._log(w)
        log.flush()
        flight = dict(metadata.get("flight", {}))
        flight.update(events=w.events, first_seq=w.first_seq, last_seq=w.last_seq, writing=False)
        log.set_metadata(**{**metadata, "flight": flight})
        log.close()
        del self._logs[id(w)]
        if self.on_written is not None:
            self.on_written(w, w.events)
        logger.info("evlog flight recorder %s: wrote %d events to %s (%s)", self.session_name, w.events, w.path,
                    metadata.get("trigger_reason"))
        w.written.set()

    def _fail(self, w: Window, exc: BaseException) -> None:
        w.error = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        logger.error("evlog flight recorder %s: writing %s failed: %s", self.session_name, w.path, w.error)
        log = self._logs.pop(id(w), None)
        if log is not None:
            try:
                log.close()
            except (OSError, EvlogError):
                pass
        w.written.set()
