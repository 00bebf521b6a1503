"""Regression testing against a baseline recording (what the pytest plugin runs).

A baseline is a small evlog recording of a reference run: the events that came *into* the
code under test (its inputs, selected by filter-language text such as
`"MarketPriceFetched or IndicatorsCalculated"`) and the events the code published in
response (its outputs: every other event, or those `outputs` selects). A check

1. replays the baseline's inputs into the bus, in lock-step on a virtual clock (the next
   input goes when the code has finished with the last one: its publish returned, or its
   `ack()` was called; the clock stands at each input's recorded time);
2. records this run into a new recording: each input copied as it is in the baseline, each
   output stamped with the replay clock's time (`OutputCapture`);
3. compares the outputs of both with `evlog diff` (`ignore_fields`, `time_tolerance`), or,
   when updating, puts this run's recording in the baseline's place.
"""
from __future__ import annotations

import io
import os
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from ..log import Log
from ..ops.diff import DiffSummary, iter_diff
from ..ops.diff_render import write_diff
from ..recording import open_recording
from ..replay.convert import model_resolver, raw_converter
from ..replay.harness import HarnessOptions
from ..replay.lockstep import Lockstep
from ..replay.facade import ReplayOptions, play
from ..replay.scheduler import ReplayResult
from ..replay.selection import Selection
from ..segments import EncodedRows, EvlogError
from ..segments.codec import decode_data
from ..timespec import parse_duration_ns
from .capture import OutputCapture

__all__ = ["BaselineError", "BaselineRun", "BaselineSpec"]


class BaselineError(EvlogError):
    """A baseline that cannot be used (missing, not an evlog recording, no inputs option)."""


@dataclass(frozen=True)
class BaselineSpec:
    path: Path                               # the baseline recording (a directory)
    inputs: str                              # filter text: the events replayed into the bus
    outputs: str | None = None               # filter text: the outputs compared (default: not inputs)
    ignore_fields: Sequence[str] = ()        # as `evlog diff --ignore-field`
    time_tolerance: str | None = None        # as `evlog diff --time-tolerance` (default: times not compared)
    registry: Mapping[str, type] | None = None   # {name: model}: inputs published as models
    upcasters: Any = None                    # {(name, version): step} applied to the inputs
    max_differences: int = 50                # differences shown in a failure (all are counted)

    @property
    def compared(self) -> str:
        return self.outputs if self.outputs is not None else f"not ({self.inputs})"


@dataclass
class BaselineRun:
    """One check of the code wired to `bus` against `spec`. `replay()` runs the inputs,
    then `compare()` or `update()`; `report` is the failure text (empty when it passed)."""

    spec: BaselineSpec
    bus: Any
    lockstep: Lockstep
    work_dir: Path                           # where this run's recording is written
    result: ReplayResult | None = None
    run_path: Path | None = None
    summary: DiffSummary | None = None
    report: str = ""
    outputs: int = 0                         # events the code under test published
    errors: list[str] = field(default_factory=list)

    def replay(self) -> ReplayResult:
        spec = self.spec
        if not spec.path.exists():
            raise BaselineError(
                f"baseline {spec.path} does not exist: make it from a recording of the inputs "
                f"(evlog slice RECORDING -o {spec.path} --filter '{spec.inputs}'), then run pytest --evlog-update")
        self.run_path = self.work_dir / "evlog-run"
        if self.run_path.exists():
            shutil.rmtree(self.run_path)
        with open_recording(spec.path) as base:
            if getattr(base, "format", "") != "evlog":
                raise BaselineError(f"baseline {spec.path} must be an evlog recording (evlog import it first)")
            resolve = model_resolver(spec.registry, None)
            convert = raw_converter(resolve) if resolve else (lambda r: decode_data(r.data, r.flags, r.types))
            with Log.create(self.run_path, base.session_name, start_time_ns=base.start_time_ns, fsync="never") as log:
                capture = OutputCapture(self.bus, log, self.lockstep.clock.now, base.start_time_ns)
                with capture as publish:
                    def deliver(rec: Any) -> None:
                        log.append_rows(EncodedRows.from_raw([rec]), validate=False)
                        publish(rec.name, convert(rec), rec.source)
                    options = ReplayOptions(speed="max", selection=Selection.of(spec.inputs), anchor="start",
                                            markers=False, raw=True,
                                            harness=HarnessOptions.of(lockstep=self.lockstep, upcasters=spec.upcasters))
                    self.result = play(base, SimpleNamespace(send=deliver), options)
                self.outputs = capture.captured
        self.errors = list(self.result.errors)
        return self.result

    def _errors_text(self) -> str:
        if not self.result or not self.result.failed:
            return ""
        lines = [f"the code under test raised on {self.result.failed} input events:"]
        lines += [f"  {e}" for e in self.errors]
        return "\n".join(lines) + "\n"

    def compare(self) -> bool:
        """Diff this run's outputs against the baseline's; sets `report` when they differ."""
        assert self.run_path is not None, "replay() first"
        spec = self.spec
        tolerance = None
        if spec.time_tolerance is not None:
            tolerance = parse_duration_ns(spec.time_tolerance)
            if tolerance is None:
                raise BaselineError(f"time_tolerance {spec.time_tolerance!r} is not a duration (e.g. 50ms)")
        out = io.StringIO()
        self.summary = write_diff(
            iter_diff(spec.path, self.run_path, ignore_fields=tuple(spec.ignore_fields), time_tolerance_ns=tolerance,
                      selection=Selection(filter=spec.compared)),
            out, "text", spec.max_differences)
        errors = self._errors_text()
        if self.summary.equal and not errors:
            return True
        head = f"evlog_baseline {spec.path}: "
        if not self.summary.equal:
            head += (f"this run's outputs differ from the baseline's (evlog diff {spec.path} {self.run_path} "
                     f"--filter '{spec.compared}'):\n")
            self.report = head + out.getvalue() + errors
            self.report += "run pytest --evlog-update to accept this run's outputs as the new baseline\n"
        else:
            self.report = head + errors
        return False

    def update(self) -> bool:
        """Put this run's recording in the baseline's place (inputs as they were, this run's
        outputs). Refused, with `report` set, when the code raised on some input."""
        assert self.run_path is not None, "replay() first"
        errors = self._errors_text()
        if errors:
            self.report = f"evlog_baseline {self.spec.path}: not updated: " + errors
            return False
        target = self.spec.path
        staged = target.with_name(f".{target.name}.evlog-new")
        old = target.with_name(f".{target.name}.evlog-old")
        for p in (staged, old):
            if p.exists():
                shutil.rmtree(p)
        shutil.copytree(self.run_path, staged)
        os.rename(target, old)
        os.rename(staged, target)
        shutil.rmtree(old)
        return True
