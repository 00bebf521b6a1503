"""`play(recording, target, options)`: the one way to run a replay, over the scheduler.

Every replay entry point goes through it with its options spelled out: `EventReplayer.replay`
(the API; the NATS replay runs through it), `evlog replay` (`evlog.ops.replay`: stdout, HTTP),
the dashboard's replays (`evlog.web.replays`) and the pytest plugin's baselines. What differs
between them is only the `ReplayOptions` each one gives, never a default hidden in a caller:

- `speed`: `parse_speed` (a positive multiplier; inf, "inf" or "max": as fast as possible; 0
  and negative speeds are refused everywhere).
- `anchor`: "start" (the pass's first event waits for its recording time from the start bound:
  the API's and the dashboard's, so a seek keeps the timeline) or "first" (it goes at once:
  the CLI's, so a replay starts without an idle gap).
- `markers`: deliver the markers of unserializable events (the CLI's JSON Lines and HTTP keep
  them, so the output says what the recorder could not keep) or skip them (buses and pages).
- `selection`: an `evlog.selection.Selection` (its ranges are the replay's bounds).
- the target: a bus or a `publish(name, event, source)` callable (events are rebuilt as models
  by `resolve`), or a record sink (`send(record)`, and optionally `idle(wait_ns)`, called before
  each wait so it can flush); `raw` hands it `RawRecord`s (the event's JSON bytes).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from ..selection import Selection
from .clock import Clock
from .control import ReplayControl
from .harness import HarnessOptions
from .options import ReplayError, parse_speed
from .scheduler import ReplayResult, run_replay
from .sinks import as_publish

__all__ = ["ANCHORS", "ReplayOptions", "play"]

ANCHORS = ("start", "first")


@dataclass(frozen=True)
class ReplayOptions:
    """How a replay runs (see the module's docstring for each option)."""

    speed: float = 1.0
    selection: Selection = field(default_factory=Selection)
    anchor: str = "start"
    markers: bool = False
    raw: bool = False
    loop: bool | int = False
    stop_on_error: bool = False
    clock: Clock | None = None
    harness: HarnessOptions | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "speed", parse_speed(self.speed))   # one parser, checked at once
        if self.anchor not in ANCHORS:
            raise ReplayError(f"anchor must be one of {', '.join(map(repr, ANCHORS))}, not {self.anchor!r}")
        if not isinstance(self.selection, Selection):
            object.__setattr__(self, "selection", Selection.of(self.selection))


def _is_record_sink(target: Any) -> bool:
    return callable(getattr(target, "send", None)) and not callable(getattr(target, "publish", None))


def play(recording: Any, target: Any, options: ReplayOptions | None = None, *,
         control: ReplayControl | None = None, resolve: Callable[[str], Any] | None = None,
         progress: Callable[[int, int], Any] | None = None,
         position: Callable[[int], tuple[int, int]] | None = None) -> ReplayResult:
    """Replay the open `recording` (`evlog.recording.open_recording`) into `target` (a bus, a
    publish callable, or a record sink with `send`) as `options` say. `control` steers it from
    another thread (pause, step, seek, speed, stop); `progress(current, total)` after each
    event (`position(offset)` gives `(current, total)` instead: the replayer's position in the
    whole recording); `resolve(name)` gives the model class a bus receives."""
    o = options or ReplayOptions()
    if _is_record_sink(target):
        if resolve is not None:
            raise ReplayError("a record sink receives records: models are rebuilt only for a bus")
        idle = getattr(target, "idle", None)
        return run_replay(recording, None, o.selection, on_record=target.send,
                          on_idle=idle if callable(idle) else None, raw=o.raw, markers=o.markers,
                          anchor=o.anchor, speed=o.speed, clock=o.clock, control=control, loop=o.loop,
                          progress=progress, position=position, stop_on_error=o.stop_on_error,
                          harness=o.harness)
    return run_replay(recording, as_publish(target), o.selection, markers=o.markers, anchor=o.anchor,
                      speed=o.speed, clock=o.clock, control=control, loop=o.loop, resolve=resolve,
                      progress=progress, position=position, stop_on_error=o.stop_on_error, harness=o.harness)
