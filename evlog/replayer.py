"""`EventReplayer`: the original tool's replayer API over evlog recordings and the original
JSON files (both formats, through `evlog.recording.open_recording`).

    replayer = EventReplayer("recordings/ma_session_20251012_120000")
    replayer.replay(service_bus, speed_multiplier=10.0, event_filter=lambda name: "Failed" in name)
    replayer.get_event_summary(); replayer.print_timeline(max_events=50)
    only_failures = replayer.filter_events(lambda name: "Failed" in name)   # "<session>_filtered"

Where the original's behaviour is observable it is kept: a missing events module is a warning
and dicts are replayed; progress is `(position in the recording, its total)`; a filtered
replayer is named `<session>_filtered` and lasts until its last event; the summary is most
frequent first, ties in order of first appearance.

See docs/replay.md.
"""
from __future__ import annotations

import datetime as _dt
import os
import sys
import threading
from pathlib import Path
from typing import Any, Callable, Mapping, TextIO

from .closing import Closing
from .recording import RAW, open_recording
from .replay.clock import Clock
from .replay.control import ReplayControl
from .replay.convert import model_resolver
from .replay.events import EventSequence
from .replay.harness import HarnessOptions
from .replay.lockstep import Lockstep
from .replay.upcast import Upcasters, as_upcasters
from .replay.facade import ReplayOptions, play
from .replay.scheduler import ReplayError, ReplayResult
from .replay.selection import Selection, offset_ms
from .replay.sinks import as_publish

__all__ = ["EventReplayer", "ReplayHandle"]

PROGRESS_FORMS = ("recording", "selected")


class ReplayHandle:
    """A replay running in a background thread (`EventReplayer.start_replay`)."""

    def __init__(self, target: Callable[[], ReplayResult], control: ReplayControl) -> None:
        self.control = control
        self._result: ReplayResult | None = None
        self._error: BaseException | None = None

        def run() -> None:
            try:
                self._result = target()
            except BaseException as exc:  # noqa: BLE001 - handed to join()
                self._error = exc
        self.thread = threading.Thread(target=run, name="evlog-replay", daemon=True)
        self.thread.start()

    def join(self, timeout: float | None = None) -> ReplayResult | None:
        """Wait for the end; returns the result (None on timeout). Re-raises the replay's error."""
        self.thread.join(timeout)
        if self.thread.is_alive():
            return None
        if self._error is not None:
            raise self._error
        return self._result

    @property
    def done(self) -> bool:
        return not self.thread.is_alive()


class EventReplayer(Closing):
    """Reads a recording (an evlog directory or an original JSON file) and replays it.

    `registry`: `{event name: pydantic model}` used by every `replay` to rebuild models
    (`events_module_name` does the same from a module's classes). `clock`: an injected clock
    (tests use `evlog.replay.VirtualClock`). `upcasters`: `{(event name, version): step}` (or
    an `Upcasters`) bringing old versions of events to the current one in `events` and in
    every `replay` (see docs/replay.md, schema evolution). `filter_events` makes the filtered
    replayers (the private `_selection` and `_session_name`).
    """

    def __init__(self, path: str | os.PathLike, *, registry: Mapping[str, type] | None = None,
                 clock: Clock | None = None, upcasters: Upcasters | Mapping | None = None,
                 _selection: Selection | None = None, _session_name: str | None = None) -> None:
        self.path = Path(path)
        self.upcasters = as_upcasters(upcasters)
        self.recording = open_recording(path)
        self.registry = registry
        self.clock = clock
        self._selection = _selection or Selection()
        self._count_cache: int | None = None
        self._duration_cache: int | float | None = None
        self.session_name: str = self.recording.session_name if _session_name is None else _session_name
        self.events = EventSequence(self.recording, self._selection, self._count,
                                    self.upcasters.upcast_record if self.upcasters is not None else None)

    # the original's attributes ---------------------------------------------------------------
    @property
    def format(self) -> str:
        """"evlog" or "legacy-json"."""
        return self.recording.format

    @property
    def start_time(self) -> _dt.datetime:
        return self.recording.start_time

    @property
    def start_time_ns(self) -> int:
        return self.recording.start_time_ns

    @property
    def duration_ms(self) -> int | float:
        """The original's `duration_ms`: an original JSON file's own `duration_ms`, else the
        offset of the last event (ms; an int when whole). For a filtered replayer, the offset of
        its last event (0 without events), as the original's `filter_events` wrote it."""
        if self._duration_cache is None:
            if self._selection.empty:
                header = getattr(self.recording, "header_duration_ms", None)
                summary = self.recording.summary()
                self._duration_cache = (header if header is not None else
                                        offset_ms(summary.last_mono or 0) if summary.count else 0)
            else:
                last = self.events.last()
                self._duration_cache = last["timestamp_offset_ms"] if last is not None else 0
        return self._duration_cache

    @property
    def metadata(self) -> dict:
        return dict(getattr(self.recording, "metadata", {}) or {})

    def _count(self) -> int:
        if self._count_cache is None:
            sel = self._selection
            if sel.empty:
                self._count_cache = len(self.recording)
            elif sel.name_only and not sel.sources:
                self._count_cache = sum(n for name, n in self.recording.summary().names.items()
                                        if sel.name_ok(name))
            else:
                self._count_cache = self.recording.count(sel.query())
        return self._count_cache

    def __len__(self) -> int:
        return self._count()

    # replaying -------------------------------------------------------------------------------
    def replay(self, service_bus: Any, speed_multiplier: float | str = 1.0,
               events_module_name: str | None = None, event_filter: Any = None,
               progress_callback: Callable[[int, int], Any] | None = None, *,
               registry: Mapping[str, type] | None = None, start: Any = None, end: Any = None,
               loop: bool | int = False, control: ReplayControl | None = None,
               stop_on_error: bool = False, clock: Clock | None = None,
               progress: str = "recording", lockstep: Any = False, faults: Any = None,
               seed: int | None = None, upcasters: Upcasters | Mapping | None = None) -> ReplayResult:
        """Publish the events into `service_bus` (an object with `publish(name, event, source)`
        or a callable) with their recorded timing divided by `speed_multiplier`
        (`float("inf")` or "max": as fast as possible).

        `event_filter`: a callable on the event name (the original's), a callable taking the
        whole event (two arguments `(name, event)`, or one annotated non-str argument: the
        event dict), or filter-language text (docs/filters.md). `start`/`end`: an offset (int,
        `end` exclusive) or a time ("90s", an ISO timestamp; `end` inclusive). `loop`: True to
        repeat until stopped, or a number of passes. `control`: a ReplayControl to pause,
        step, seek and change speed from another thread. A publish that raises is counted in
        the result and the replay goes on (`stop_on_error=True` stops it).

        An `events_module_name` that cannot be imported is a logged warning (also in
        `result.warnings`) and the events are replayed as dicts, as the original did.
        `progress_callback(current, total)` is called after each event the replay publishes (or
        fails to): with `progress="recording"` (the original's) `current` is the event's 1-based
        position in `self.events` and `total` is `len(self.events)`; with `progress="selected"`
        they count the events this replay selects (`(k, selected)`).

        Test harness options (docs/replay.md): `lockstep=True` delivers the next event only when
        the publish of the last one returned (`"ack"` or a `Lockstep(ack=True)`: when the
        consumer called its `ack()`), on a virtual clock standing at each event's recorded time;
        `faults="drop=0.01,dup=0.005,delay=50ms@0.02,reorder=3@0.01"` with `seed=42` injects
        reproducible faults, listed in `result.faults`; `upcasters` (default: the replayer's)
        bring old event versions to the current one before they are published.
        """
        if progress not in PROGRESS_FORMS:
            raise ReplayError(f"progress must be one of {', '.join(map(repr, PROGRESS_FORMS))}, not {progress!r}")
        selection = self._selection & Selection.of(event_filter) & Selection(start=start, end=end)
        reg = registry if registry is not None else self.registry
        warnings: list[str] = []
        resolve = model_resolver(reg, events_module_name, warnings)
        run_clock = clock or self.clock
        harness = HarnessOptions.of(lockstep=lockstep, faults=faults, seed=seed,
                                    clock=clock if isinstance(lockstep, Lockstep) else run_clock,
                                    upcasters=upcasters if upcasters is not None else self.upcasters)
        position = self.events.positions() if progress_callback is not None and progress == "recording" else None
        options = ReplayOptions(speed=speed_multiplier, selection=selection, anchor="start", markers=False,
                                loop=loop, stop_on_error=stop_on_error, harness=harness,
                                clock=harness.lockstep.clock if harness.lockstep else run_clock)
        result = play(self.recording, as_publish(service_bus), options, control=control, resolve=resolve,
                      progress=progress_callback, position=position)
        result.warnings[:0] = warnings
        return result

    def start_replay(self, service_bus: Any, speed_multiplier: float | str = 1.0, *,
                     control: ReplayControl | None = None, **options: Any) -> ReplayHandle:
        """Run `replay` in a background thread; returns a handle with `.control` and `.join()`."""
        control = control or ReplayControl()
        as_publish(service_bus)  # a wrong target fails here, not in the thread
        return ReplayHandle(lambda: self.replay(service_bus, speed_multiplier, control=control, **options),
                            control)

    # analysis --------------------------------------------------------------------------------
    def get_event_summary(self) -> dict[str, int]:
        """Counts by event name, most frequent first and equal counts in order of first
        appearance (the original's `dict(Counter(...).most_common())`). Counts come from the
        index when only names decide; ordering a tie reads the tied names' first events."""
        sel = self._selection
        if sel.name_only and not sel.sources:
            counts = {name: n for name, n in self.recording.summary().names.items() if n and sel.name_ok(name)}
            first = self._first_appearance(counts)
        else:
            counts = {}
            for r in self.recording.read(**sel.read_kwargs()):
                counts[r.name] = counts.get(r.name, 0) + 1
            first = {name: i for i, name in enumerate(counts)}
        return dict(sorted(counts.items(), key=lambda item: (-item[1], first.get(item[0], 0))))

    def _first_appearance(self, counts: dict[str, int]) -> dict[str, int]:
        """The offset of the first event of each name whose count another name shares (the
        index has counts, not order); read with the names pushed down, stopping when all are seen."""
        seen_counts: dict[int, int] = {}
        for n in counts.values():
            seen_counts[n] = seen_counts.get(n, 0) + 1
        tied = {name for name, n in counts.items() if seen_counts[n] > 1}
        first: dict[str, int] = {}
        if tied:
            for r in self.recording.read(names=tied.__contains__, raw=RAW in self.recording.capabilities):
                first.setdefault(r.name, r.offset)
                if len(first) == len(tied):
                    break
        return first

    def filter_events(self, predicate: Any) -> "EventReplayer":
        """A new replayer over the events `predicate` selects (same forms as `event_filter`),
        named `<session_name>_filtered`, whose `duration_ms` is its last event's offset (the
        original's). Nothing is copied: the new replayer reads the same recording through the filter."""
        return EventReplayer(self.path, registry=self.registry, clock=self.clock, upcasters=self.upcasters,
                             _selection=self._selection & Selection.of(predicate),
                             _session_name=f"{self.session_name}_filtered")

    def print_timeline(self, max_events: int = 50, file: TextIO | None = None) -> None:
        """Print the first `max_events` events: time offset, name, source."""
        out = file or sys.stdout
        total = len(self)
        print(f"Timeline of {self.session_name} ({total} events, {self.duration_ms / 1000:.2f}s)", file=out)
        shown = 0
        if max_events > 0:
            for record in self.recording.read(**self._selection.read_kwargs()):
                source = f" [{record.source}]" if record.source else ""
                print(f"  {record.monotonic / 1e6:>12.3f} ms  #{record.offset:<8} {record.name}{source}", file=out)
                shown += 1
                if shown >= max_events:
                    break
        if total > shown:
            print(f"  ... and {total - shown} more events", file=out)

    # closing ---------------------------------------------------------------------------------
    def close(self) -> None:
        self.recording.close()

    def __repr__(self) -> str:
        return f"<EventReplayer {str(self.path)!r} {self.format} {len(self)} events>"
