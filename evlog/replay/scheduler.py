"""The replay loop: each event is due at `start + (monotonic - anchor) / speed` on the clock.

Due times are computed from one anchor, never from the previous event, so error does not
accumulate; a late replay catches up without sleeping. Pause, seek and speed changes move the
anchor (see `ReplayControl`). Lateness (publish time minus due time) goes into a histogram.

Two ways to deliver: `publish(name, event, source)` (a bus; `publish(name, event, source,
headers=...)` for an event with headers when the bus's publish takes a `headers` keyword), or
`on_record(record)` (the record-level mode: the whole `Record`, or with `raw=True` the stored
`RawRecord` whose data is the event's JSON bytes). `on_idle(wait_ns)` is called before each wait, so a sink can flush.
"""
from __future__ import annotations

import math
import time
from collections import deque
from itertools import islice, repeat
from dataclasses import dataclass, field
from typing import Any, Callable

from ..recording import RAW
from ..segments import decode_headers
from ..segments.codec import FLAG_MODEL, FLAG_UNSERIALIZABLE
from .clock import Clock, RealClock
from .control import ReplayControl
from .convert import raw_converter, record_converter
from .harness import HarnessOptions
from .lockstep import LockstepError
from .options import ReplayError, parse_speed
from .selection import Selection, resolve_bound
from .sinks import accepts_headers
from .stats import LatencyHistogram

__all__ = ["ReplayResult", "ReplayError", "parse_speed", "run_replay"]

MAX_ERRORS_KEPT = 20


@dataclass
class ReplayResult:
    """What a replay did. Lateness figures are for timed replays (not at max speed)."""

    published: int = 0
    filtered_out: int = 0
    failed: int = 0
    unserializable: int = 0          # markers of events the recorder could not serialize (skipped)
    errors: list[str] = field(default_factory=list)   # the first failures, one line each
    warnings: list[str] = field(default_factory=list)  # e.g. an events module not found: dicts replayed
    passes: int = 0
    stopped: bool = False            # ended early: stop() or stop_on_error
    speed: float = 1.0
    elapsed_s: float = 0.0
    span_ns: int = 0                 # clock time from the first to the last publish
    ideal_span_ns: int = 0           # recording time between them, divided by the speed
    lateness_p50_ms: float = 0.0
    lateness_p99_ms: float = 0.0
    lateness_max_ms: float = 0.0
    last_offset: int | None = None
    faults: list = field(default_factory=list)   # every fault injected (`faults=`): Fault(offset, kind, params)
    fault_seed: int | None = None    # the seed the faults were drawn with (the one given, or a random one)

    @property
    def events_per_second(self) -> float:
        return (self.published + self.failed) / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def __str__(self) -> str:
        text = (f"published {self.published}, filtered out {self.filtered_out}, failed {self.failed}"
                f" in {self.elapsed_s:.3f}s")
        if self.lateness_max_ms:
            text += (f"; lateness p50 {self.lateness_p50_ms:.3f} ms, p99 {self.lateness_p99_ms:.3f} ms,"
                     f" max {self.lateness_max_ms:.3f} ms")
        if self.faults:
            text += f"; {len(self.faults)} faults injected"
        for warning in self.warnings:
            text += f"; warning: {warning}"
        return text


MAX_SPEED_PAGE = 4096           # records per page of a max-speed replay (`_max_speed_pass`), and the
                                # fewest records a pass must cover to be read by pages
LOOKAHEAD = 256                 # records decoded ahead while waiting...
LOOKAHEAD_SLACK_NS = 2_000_000  # ...when the next event is due in more than this


class _Lookahead:
    """An iterator with a buffer the scheduler fills while it has time to spare, so that
    decoding a new block happens in a gap rather than when an event is due."""

    __slots__ = ("_it", "_buf")

    def __init__(self, it: Any) -> None:
        self._it = iter(it)
        self._buf: deque = deque()

    def __iter__(self) -> "_Lookahead":
        return self

    def __next__(self) -> Any:
        if self._buf:
            return self._buf.popleft()
        return next(self._it)

    def fill(self, n: int) -> None:
        if len(self._buf) <= n // 4:
            self._buf.extend(islice(self._it, n - len(self._buf)))


class _Replay:
    def __init__(self, recording: Any, publish: Callable[[str, Any, str], Any] | None, selection: Selection, *,
                 speed: float, clock: Clock | None, control: ReplayControl | None, start: Any, end: Any,
                 loop: bool | int, resolve: Callable[[str], Any] | None,
                 progress: Callable[[int, int], Any] | None, stop_on_error: bool,
                 position: Callable[[int], tuple[int, int]] | None = None,
                 on_record: Callable[[Any], Any] | None = None, on_idle: Callable[[int], Any] | None = None,
                 raw: bool = False, markers: bool = False, anchor: str = "start",
                 harness: HarnessOptions | None = None) -> None:
        if not isinstance(loop, (bool, int)) or (not isinstance(loop, bool) and loop < 0):
            raise ReplayError(f"loop must be True, False or a number of passes, not {loop!r}")
        if (publish is None) == (on_record is None):
            raise ReplayError("give either publish or on_record")
        if on_record is not None and resolve is not None:
            raise ReplayError("on_record receives records: models are rebuilt only for publish")
        if anchor not in ("start", "first"):
            raise ReplayError(f"anchor must be 'start' or 'first', not {anchor!r}")
        self.rec = recording
        self.publish = publish
        self.publish_headers = publish is not None and accepts_headers(publish)
        self.on_record = on_record
        self.on_idle = on_idle
        self.markers = markers
        self.anchor_first = anchor == "first"
        self.selection = selection
        self.speed = parse_speed(speed)
        harness = harness or HarnessOptions()
        self.lockstep = harness.lockstep
        if self.lockstep is not None:
            if clock is not None and clock is not self.lockstep.clock:
                raise LockstepError("a lock-step replay runs on its Lockstep's clock: give the clock to the Lockstep")
            clock = self.lockstep.clock
        self.clock = clock or RealClock()
        self.upcasters = harness.upcasters
        self.injector = harness.injector()
        self.control = control
        self.start = resolve_bound(start, recording.start_time_ns, "start")
        self.end = resolve_bound(end, recording.start_time_ns, "end")
        self.loop = loop
        self.progress = progress
        self.position = position
        self.stop_on_error = stop_on_error
        # record-level: raw as asked (a format without stored bytes encodes them); publish: raw
        # only where it is the stored bytes and models are rebuilt from them
        self.raw = raw if on_record is not None else (
            RAW in recording.capabilities and resolve is not None and not selection.wheres
            and self.upcasters is None)
        self.upcast = None if self.upcasters is None else (
            self.upcasters.upcast_raw if self.raw else self.upcasters.upcast_record)
        self.read_kwargs = selection.read_kwargs(raw=self.raw)
        self.convert = (raw_converter(resolve) if self.raw else record_converter(resolve)) if resolve else None
        self.end_kwargs: dict = {}
        if self.end is not None:
            self.end_kwargs = {"end": self.end[1]} if self.end[0] == "offset" else {"end_mono": self.end[1]}
        self.result = ReplayResult(speed=self.speed)
        # at max speed, dicts into a bus with nothing to filter, watch or transform: the
        # records are read as pages of columns (no object per record) and published in a
        # tight loop (`_max_speed_pass`); every other replay takes the general loop
        self.read_columns = getattr(recording, "read_columns", None)
        self.max_speed_pages = (math.isinf(self.speed) and self.read_columns is not None and publish is not None
                                and resolve is None and selection.empty and control is None and progress is None
                                and position is None and self.upcasters is None and self.injector is None
                                and self.lockstep is None and (self.end is None or self.end[0] == "offset"))
        if self.injector is not None:
            self.result.faults = self.injector.faults
            self.result.fault_seed = self.injector.seed
        if self.lockstep is not None:
            self.speed = 1.0   # the virtual clock stands at each event's recorded time
        self.hist = LatencyHistogram()
        self.anchor_clock = 0
        self.anchor_mono: int | None = None

    # bounds ------------------------------------------------------------------------------------
    def _first_offset(self, **bounds: Any) -> int | None:
        for r in self.rec.read(**bounds, raw=RAW in self.rec.capabilities):
            return r.offset
        return None

    def _end_offset(self) -> int:
        return self.rec.end_offset   # one look at the recording (an evlog one lists its directory)

    def _pass_lo(self, pos: tuple[str, int] | None) -> int:
        if pos is None:
            return self.rec.start_offset
        if pos[0] == "offset":
            return max(pos[1], self.rec.start_offset)
        found = self._first_offset(start_mono=pos[1])
        return self._end_offset() if found is None else found

    def _pass_hi(self, read_to: int | None = None) -> int:
        """Where a pass ends: its end bound, or the recording's end before it. `read_to`: the
        offset after the last record the pass read; when it reached an offset end bound, the
        pass ends there without a look at the recording."""
        if read_to is not None and self.end is not None and self.end[0] == "offset" and read_to >= self.end[1]:
            return self.end[1]
        end = self._end_offset()
        if self.end is None:
            return end
        if self.end[0] == "offset":
            return min(self.end[1], end)
        found = self._first_offset(start_mono=self.end[1] + 1)
        return end if found is None else found

    def _count(self, pos: tuple[str, int] | None) -> int:
        """Events a pass from `pos` publishes (for progress), from the index when possible."""
        sel = self.selection
        if pos is None and self.end is None and not sel.wheres and not sel.sources:
            return sum(n for name, n in self.rec.summary().names.items() if sel.name_ok(name))
        return self.rec.count(sel.query().but(**self._start_kwargs(pos), **self.end_kwargs))

    @staticmethod
    def _start_kwargs(pos: tuple[str, int] | None) -> dict:
        if pos is None:
            return {}
        return {"start": pos[1]} if pos[0] == "offset" else {"start_mono": pos[1]}

    # control -----------------------------------------------------------------------------------
    def _position(self, cap: int) -> int:
        """Where the replay is, in recording time (ns), capped at the event it waits for."""
        if self.anchor_mono is None or math.isinf(self.speed):
            return cap
        pos = self.anchor_mono + int((self.clock.now() - self.anchor_clock) * self.speed)
        return min(pos, cap)

    def _reanchor(self, mono: int) -> None:
        self.anchor_clock = self.clock.now()
        self.anchor_mono = mono

    def _handle_control(self, mono: int) -> Any:
        """Apply pending requests before the event at `mono`. Returns None (go on), "step"
        (publish now), "stop", or ("seek", target)."""
        ctl = self.control
        assert ctl is not None
        while True:
            speed, seek, stop = ctl.take()
            if stop:
                return "stop"
            if speed is not None and self.lockstep is None:
                position = self._position(mono)
                self.speed = speed
                self._reanchor(position)
            if seek is not None:
                kind, target = seek
                if kind == "offset":
                    return ("seek", ("offset", target))
                if isinstance(target, int) and not isinstance(target, bool):
                    return ("seek", ("mono", max(0, target)))
                return ("seek", resolve_bound(target, self.rec.start_time_ns, "seek time"))
            if not ctl.paused:
                return None
            position = self._position(mono)
            outcome = ctl.wait_while_paused()
            if outcome == "changed":
                self._reanchor(position)
                continue
            if outcome == "step":
                self._reanchor(mono)
                return "step"
            self._reanchor(position)
            return None

    # the loop ----------------------------------------------------------------------------------
    def _max_speed_pass(self, lo: int, hi: int) -> tuple[int, bool, int | None]:
        """Publish offsets [lo, hi) at max speed, read `MAX_SPEED_PAGE` records at a time as
        columns of decoded values (`read_columns(decoded=True)`: a chunk of a block per
        decoder call, type maps applied). Returns (records read, stopped by stop_on_error,
        the offset the pass covered up to if it stopped)."""
        res = self.result
        publish = self.publish
        with_headers, skip_markers = self.publish_headers, not self.markers
        seen = 0
        for a in range(lo, hi, MAX_SPEED_PAGE):
            offsets, names, sources, values, flags, _, headers = self.read_columns(
                a, min(hi, a + MAX_SPEED_PAGE), decoded=True)
            if flags.count(0) + flags.count(FLAG_MODEL) == len(flags) and (not with_headers or not any(headers)):
                # the common page: no marker, no headers to pass on; failures are counted
                # by `_failed_publish`, the published events once for the page
                failed = res.failed
                for offset, name, event, source in zip(offsets, names, values, sources):
                    try:
                        publish(name, event, source)
                    except Exception as exc:  # noqa: BLE001 - a failing handler is counted and reported
                        if self._failed_publish(offset, name, exc):
                            done = offset - offsets.start + 1
                            res.published += done - (res.failed - failed)
                            return seen + done, True, offset + 1
                res.published += len(names) - (res.failed - failed)
                seen += len(names)
                res.last_offset = offsets[-1] if len(offsets) else res.last_offset
                continue
            for offset, name, event, source, flag, head in zip(offsets, names, values, sources, flags,
                                                              headers or repeat(b"")):
                seen += 1
                res.last_offset = offset
                if flag & FLAG_UNSERIALIZABLE and skip_markers:
                    res.unserializable += 1
                    continue
                try:
                    if with_headers and head:
                        publish(name, event, source, headers=decode_headers(head))
                    else:
                        publish(name, event, source)
                    res.published += 1
                except Exception as exc:  # noqa: BLE001
                    if self._failed_publish(offset, name, exc):
                        return seen, True, offset + 1
        return seen, False, None

    def _failed_publish(self, offset: int, name: str, exc: Exception) -> bool:
        """Count a publish that raised (and keep its line); True when the replay stops on it."""
        res = self.result
        res.failed += 1
        res.last_offset = offset
        if len(res.errors) < MAX_ERRORS_KEPT:
            res.errors.append(f"offset {offset} {name}: {type(exc).__name__}: "
                              f"{str(exc).splitlines()[0] if str(exc) else ''}".rstrip(": "))
        if self.stop_on_error:
            res.stopped = True
            return True
        return False

    def run(self) -> ReplayResult:
        res = self.result
        wall0 = time.perf_counter()
        pos = self.start
        publish, convert, clock, ctl = self.publish, self.convert, self.clock, self.control
        with_headers = self.publish_headers
        on_record, on_idle, skip_markers = self.on_record, self.on_idle, not self.markers
        upcast, injector, lockstep = self.upcast, self.injector, self.lockstep
        hist_add = self.hist.add
        progress, position = self.progress, self.position
        errors = res.errors
        first_pub: int | None = None
        last_pub = 0
        first_mono: int | None = None
        last_mono = 0
        stop = False
        seeked = False
        while True:
            # read by pages only when the bounds leave room for a page (a seek to a few events:
            # no look at the recording's ends for the choice)
            by_pages = self.max_speed_pages and (pos is None or (pos[0] == "offset" and (
                self.end is None or self.end[1] - pos[1] >= MAX_SPEED_PAGE)))
            # a pass from a time or an offset with nothing filtered out starts at its first
            # record read (known when it comes: no look at the recording, no block read twice);
            # else (and for the paged path) it is looked up
            pass_lo: int | None = None
            if pos is None or by_pages or not self.selection.empty or injector is not None:
                pass_lo = self._pass_lo(pos)
            total = self._count(pos) if progress is not None and position is None else 0
            if self.anchor_first and not seeked:
                self.anchor_mono = None   # the pass's first event is due at once
            else:
                self.anchor_mono = pos[1] if pos is not None and pos[0] == "mono" else (0 if pos is None else None)
            seen = 0
            covered_hi: int | None = None
            next_pos = None
            ahead = None
            records: Any = ()
            rec: Any = None
            pass_hi = self._pass_hi() if by_pages else None
            if pass_hi is not None and pass_lo is not None and pass_hi - pass_lo >= MAX_SPEED_PAGE:
                # (a shorter pass, such as a seek, decodes less by the general loop: a page
                # reads its blocks' positions whole)
                seen, stop, covered_hi = self._max_speed_pass(pass_lo, pass_hi)
            else:
                kwargs = dict(self._start_kwargs(pos), **self.end_kwargs, **self.read_kwargs)
                records = self.rec.read(**kwargs, raw=self.raw)
                if injector is not None:
                    records = injector.apply(records)
                if self.speed != math.inf:
                    # decode the first block before the clock starts, and later blocks in idle time
                    records = ahead = _Lookahead(records)
                    ahead.fill(64)
            self.anchor_clock = clock.now()
            for rec in records:
                mono = rec.monotonic
                stepping = False
                if ctl is not None and ctl.pending:
                    action = self._handle_control(mono)
                    if action == "stop":
                        stop, res.stopped, covered_hi = True, True, rec.offset
                        break
                    if isinstance(action, tuple):
                        next_pos, covered_hi = action[1], rec.offset
                        break
                    stepping = action == "step"
                seen += 1
                if pass_lo is None:
                    pass_lo = rec.offset
                if not stepping and self.speed != math.inf:
                    if self.anchor_mono is None:
                        self.anchor_mono = mono
                    while True:
                        due = self.anchor_clock + int((mono - self.anchor_mono) / self.speed)
                        now = clock.now()
                        if due <= now:
                            break
                        if on_idle is not None:
                            on_idle(due - now)
                            now = clock.now()
                            if due <= now:
                                break
                        if ahead is not None and due - now > LOOKAHEAD_SLACK_NS:
                            ahead.fill(LOOKAHEAD)
                        if ctl is None:
                            clock.sleep_until(due)
                            break
                        if clock.sleep_until(due, ctl.wake):
                            break
                        action = self._handle_control(mono)  # woken by a request
                        if action is None:
                            continue
                        if action == "step":
                            break
                        if action == "stop":
                            stop, res.stopped = True, True
                        else:
                            next_pos = action[1]
                        break
                    if stop or next_pos is not None:
                        seen -= 1
                        covered_hi = rec.offset
                        break
                    now = clock.now()
                    hist_add(now - due)
                    if first_pub is None:
                        first_pub, first_mono = now, mono
                    last_pub, last_mono = now, mono
                if rec.flags & FLAG_UNSERIALIZABLE and skip_markers:
                    res.unserializable += 1
                else:
                    try:
                        if upcast is not None:
                            rec = upcast(rec)
                        if on_record is None:
                            event = rec.data if convert is None else convert(rec)
                            if with_headers and rec.headers:
                                publish(rec.name, event, rec.source, headers=_headers(rec.headers))
                            else:
                                publish(rec.name, event, rec.source)
                        else:
                            on_record(rec)
                        res.published += 1
                        if lockstep is not None:
                            lockstep.delivered(rec.offset)
                    except LockstepError:
                        raise
                    except Exception as exc:  # noqa: BLE001 - a failing handler is counted and reported
                        res.failed += 1
                        if len(errors) < MAX_ERRORS_KEPT:
                            errors.append(f"offset {rec.offset} {rec.name}: {type(exc).__name__}: "
                                          f"{str(exc).splitlines()[0] if str(exc) else ''}".rstrip(": "))
                        if self.stop_on_error:
                            stop, res.stopped, covered_hi = True, True, rec.offset + 1
                            res.last_offset = rec.offset
                            break
                res.last_offset = rec.offset
                if ctl is not None:
                    ctl.position = rec.offset
                if progress is not None:
                    if position is None:
                        progress(seen, total)
                    else:
                        progress(*position(rec.offset))
            if covered_hi is None:
                covered_hi = self._pass_hi(None if rec is None else rec.offset + 1)
            if pass_lo is None:   # a pass that read nothing (and filters nothing)
                pass_lo = covered_hi
            taken = seen - injector.extra if injector is not None else seen   # events read, not deliveries
            res.filtered_out += max(0, covered_hi - pass_lo - taken)
            if next_pos is not None:
                pos, seeked = next_pos, True
                continue
            res.passes += 1
            if stop or (seen == 0 and not seeked):   # an empty pass: looping would spin
                break
            seeked = False
            if self.loop is True or (not isinstance(self.loop, bool) and res.passes < self.loop):
                pos = self.start
                continue
            break
        res.elapsed_s = time.perf_counter() - wall0
        if first_pub is not None:
            res.span_ns = last_pub - first_pub
            res.ideal_span_ns = int((last_mono - (first_mono or 0)) / self.speed) if self.speed != math.inf else 0
        h = self.hist
        res.lateness_p50_ms = h.quantile(0.50) / 1e6
        res.lateness_p99_ms = h.quantile(0.99) / 1e6
        res.lateness_max_ms = h.max_ns / 1e6
        if ctl is not None:
            ctl.speed = self.speed
        return res


def _headers(headers: Any) -> Any:
    """A record's headers as a dict (a raw record's are still encoded)."""
    return decode_headers(headers) if headers.__class__ is bytes else headers


def run_replay(recording: Any, publish: Callable[[str, Any, str], Any] | None = None,
               selection: Selection | None = None, *,
               speed: Any = 1.0, clock: Clock | None = None, control: ReplayControl | None = None,
               start: Any = None, end: Any = None, loop: bool | int = False,
               resolve: Callable[[str], Any] | None = None, progress: Callable[[int, int], Any] | None = None,
               position: Callable[[int], tuple[int, int]] | None = None,
               stop_on_error: bool = False, on_record: Callable[[Any], Any] | None = None,
               on_idle: Callable[[int], Any] | None = None, raw: bool = False, markers: bool = False,
               anchor: str = "start", harness: HarnessOptions | None = None) -> ReplayResult:
    """Replay `recording` (an open_recording object) into `publish(name, event, source)`, or
    hand each whole record to `on_record(record)` (give one of the two).

    `progress(current, total)` is called after each selected event (published, failed, or a
    skipped marker): by default `current` is its rank in the pass and `total` the events the
    pass selects; with `position`, `(current, total)` is `position(offset)` instead (the
    replayer's "position in the whole recording").

    Record-level options: `raw=True` hands `RawRecord`s (data: the event's JSON bytes, with
    `flags` and `types`: an evlog recording's as stored, the original format's encoded); `markers=True` also
    delivers the markers of unserializable events (their flags say so) instead of skipping them.
    `on_idle(wait_ns)`: called before the replay waits for an event due in `wait_ns`.
    `anchor="first"`: each pass's first event is due at once (default "start": at the recording
    time of the pass's start bound, 0 without one). An exception from `on_idle` ends the replay.

    `harness` (`HarnessOptions`): lock-step delivery on a virtual clock, seeded faults (listed
    in `result.faults`), upcasting of old event versions (see evlog/replay/harness.py)."""
    selection = selection or Selection()
    if selection.bounded:   # the selection's ranges are the replay's bounds
        if start is not None or end is not None:
            raise ReplayError("give the bounds as start/end or in the selection, not both")
        start, end = selection.replay_bounds(recording.start_time_ns)
        selection = selection.unbounded()
    return _Replay(recording, publish, selection, speed=speed, clock=clock, control=control,
                   start=start, end=end, loop=loop, resolve=resolve, progress=progress, position=position,
                   stop_on_error=stop_on_error, on_record=on_record, on_idle=on_idle, raw=raw,
                   markers=markers, anchor=anchor, harness=harness).run()
