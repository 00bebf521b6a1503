"""`FlightRecorder`: keep the last minutes of events in memory; write them when something
goes wrong, with what follows.

    flight = FlightRecorder("trader", keep="60s", after="10s", output_dir="incidents",
                            trigger_on="OrderFailed or data.drawdown > 0.05")
    flight.start_recording(bus)          # as EventRecorder: intercepts bus.publish
    ...
    path = flight.trigger("manual")      # incidents/trader_flight_20251012_120000/, written in the background

It is an `EventRecorder` whose events go to a ring of compressed blocks (`ring.Ring`)
instead of a recording: the same bus interception and the same capture on the publishing
thread (stamped and encoded at publish, by the recorder's own closure: one codec path), the
same queue and thread; the thread adds each batch to the ring, tests the `trigger_on`
predicate, and hands the trigger windows to the writer thread (`windows.py`). A trigger
costs the thread that pulls it a lock and a few clock reads (no I/O): it returns the path
the recording will have, and the recording is complete (fsynced, metadata written) `after`
seconds later (`wait()`).

Triggers: `trigger()`; `trigger_on` (the filter language, evlog/filters.py); SIGUSR1
(`install_signal_handler()` or `handle_signals=True`); an uncaught exception
(`install_excepthook()`: sys.excepthook and threading.excepthook, chaining the hooks found);
the process's exit (`install_exit_hook()`). None of these hooks is installed by default.
"""
from __future__ import annotations

import atexit
import datetime as _dt
import inspect
import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any, Iterator

from ..filters import Filter, parse_filter
from ..recorder import ROW, EventRecorder, RecorderError, storable_rows
from ..segments.block import RawRecord, Record
from ..segments.codec import decode_data
from ..segments.errors import EvlogError
from ..segments.headers import decode_headers
from ..segments.retention import parse_size
from ..segments.rows import EncodedRows
from ..timespec import parse_duration_ns
from .ring import Ring
from .windows import Window, Windows, WindowWriter

__all__ = ["FlightRecorder", "parse_seconds_ns"]

logger = logging.getLogger("evlog.flight")

SEAL_AGE = 1.0        # seconds: the open block is sealed (compressed) at least this often
EXIT_WAIT = 30.0      # seconds the exit and exception hooks wait for the recording to be written


def parse_seconds_ns(value: Any, what: str) -> int:
    """ns of "60s", "1m30s", "500ms" or a number of seconds (>= 0)."""
    if isinstance(value, bool):
        raise RecorderError(f"{what} must be a duration such as 60s, not {value!r}")
    if isinstance(value, (int, float)):
        ns = int(value * 1e9)
    else:
        ns = parse_duration_ns(value) if isinstance(value, str) else None
        if ns is None:
            raise RecorderError(f"{what} must be a duration such as 60s, 1m30s or 500ms, not {value!r}")
    if ns < 0:
        raise RecorderError(f"{what} must not be negative")
    return ns


def _parse_bytes(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    try:
        return parse_size(value)
    except (ValueError, AttributeError):
        raise RecorderError(f"keep_bytes must be a size such as 256MiB, not {value!r}") from None


class FlightRecorder(EventRecorder):
    """Records the events published on a bus into a bounded ring in memory (see the module).

    `keep`: how far back a trigger reaches (the ring's age bound); `keep_bytes`: the ring's
    memory bound (oldest blocks dropped first: a window may then start later than t - keep,
    and its metadata says `truncated`); `after`: how long a window goes on after its trigger
    (each `trigger` may give its own). `trigger_on`: a filter expression; an event matching it
    triggers at its own time. `redact`: a redaction policy applied at capture, before an
    event's bytes reach the ring (as EventRecorder's). `handle_signals`, `handle_exceptions`,
    `trigger_at_exit`: install the SIGUSR1, uncaught-exception and exit hooks at
    `start_recording`.
    """

    def __init__(self, session_name: str, keep: Any = "60s", keep_bytes: Any = "256MiB", after: Any = "10s",
                 output_dir: str | os.PathLike = "recordings", *, trigger_on: str | Filter | None = None,
                 redact: Any = None, handle_signals: bool = False, handle_exceptions: bool = False,
                 trigger_at_exit: bool = False, flush_interval: float = 0.04, max_pending: int = 100_000,
                 compression_level: int = 1) -> None:
        options: dict[str, Any] = {}
        if redact is not None:
            if "redact" not in inspect.signature(EventRecorder.__init__).parameters:
                raise RecorderError("redact= needs the recorder's redaction (evlog.redact), not in this evlog")
            options["redact"] = redact
        super().__init__(session_name, output_dir, flush_interval=flush_interval, max_pending=max_pending,
                         **options)
        self.redact = redact
        self.keep_ns = parse_seconds_ns(keep, "keep")
        if self.keep_ns == 0:
            raise RecorderError("keep must be a positive duration")
        self.after_ns = parse_seconds_ns(after, "after")
        self.keep_bytes = _parse_bytes(keep_bytes)
        try:
            self.trigger_filter = parse_filter(trigger_on) if trigger_on is not None else None
        except EvlogError as exc:
            raise RecorderError(f"trigger_on: {exc}") from None
        self._compression_level = compression_level
        self._hooks = {"signal": handle_signals, "exception": handle_exceptions, "exit": trigger_at_exit}
        self._ring: Ring | None = None
        self._windows: Windows | None = None
        self._writer: WindowWriter | None = None
        self._wall0 = 0
        self._pending_signals: list[tuple[str, int]] = []   # appended by signal handlers (no lock)
        self._reserved: set[str] = set()
        self._events_written = 0
        self._signal_state: tuple[int, Any] | None = None
        self._excepthooks: tuple[Any, Any, Any, Any] | None = None
        self._exit_hook: Any = None
        self._closed = False
        try:
            Ring(self.keep_bytes, self.keep_ns, 0)   # checks the bounds now, not at start
        except ValueError as exc:
            raise RecorderError(str(exc)) from None

    # state -----------------------------------------------------------------------------------
    @property
    def path(self) -> Path | None:
        """The latest trigger's recording (None before any trigger)."""
        w = self._windows.latest if self._windows is not None else None
        return w.path if w is not None else None

    @property
    def recorded(self) -> int:
        """Events written to trigger recordings (durable once `wait()` returns)."""
        return self._events_written

    @property
    def recordings(self) -> list[Path]:
        """The recordings of the triggers so far, oldest first."""
        return [w.path for w in self._windows.all] if self._windows is not None else []

    @property
    def windows(self) -> list[Window]:
        """The trigger windows so far, oldest first (`start`, `end`: ns on the ring's clock)."""
        return list(self._windows.all) if self._windows is not None else []

    @property
    def clock_origin_ns(self) -> int:
        """time.monotonic_ns() at the ring's time 0 (events' and windows' times are ns since)."""
        return self._mono_base

    def describe(self, window: Window) -> dict:
        """The metadata the window's recording gets (trigger_reason, trigger_time, window_start,
        window_end, and the rest under "flight"), as of now."""
        assert self._windows is not None
        with self._windows.lock:
            return self._windows.metadata(window)

    @property
    def ring_bytes(self) -> int:
        return self._ring.bytes if self._ring is not None else 0

    def info(self) -> dict:
        """Counters and state: `captured` = events seen; `in_ring` and `ring_bytes` what the
        ring holds now (<= keep_bytes); `evicted` events dropped by the bounds; `triggers`,
        `recordings`, `written` (events written to recordings), `writing` (recordings
        not yet complete), `lost` (events that could not be captured)."""
        ring, windows = self._ring, self._windows
        with self._count_lock:
            captured = self._taken + self._queued() + self._dropped
            lost = self._lost
        return {"session_name": self.session_name, "recording": self._recording, "captured": captured,
                "in_ring": len(ring) if ring else 0, "ring_bytes": ring.bytes if ring else 0,
                "ring_blocks": len(ring.blocks) if ring else 0, "keep_bytes": self.keep_bytes,
                "keep_s": self.keep_ns / 1e9, "after_s": self.after_ns / 1e9,
                "evicted": ring.evicted_events if ring else 0,
                "triggers": windows.trigger_count if windows else 0,
                "recordings": [str(p) for p in self.recordings],
                "writing": [str(w.path) for w in windows.all if not w.written.is_set()] if windows else [],
                "written": self._events_written, "lost": lost, "error": self.error}

    # starting --------------------------------------------------------------------------------
    def _open_log(self) -> None:
        """The ring in place of a recording: its clock starts at the first start_recording."""
        if self._closed:
            raise RecorderError("the flight recorder is closed")
        if self._ring is None:
            self._mono_base = time.monotonic_ns()
            self._wall0 = time.time_ns()
            self._ring = Ring(self.keep_bytes, self.keep_ns, self._mono_base,
                              compression_level=self._compression_level)
            self._writer = WindowWriter(self.session_name, self._wall0, self._on_written,
                                        extra_metadata=self._redaction_metadata)
            base = self._mono_base
            self._windows = Windows(self._ring, self.keep_ns, self._wall0, self._writer,
                                    clock=lambda: time.monotonic_ns() - base)
        self._capture = self._make_capture()

    def start_recording(self, service_bus: Any = None) -> None:
        super().start_recording(service_bus)
        if self._hooks["signal"]:
            self.install_signal_handler()
        if self._hooks["exception"]:
            self.install_excepthook()
        if self._hooks["exit"]:
            self.install_exit_hook()

    def _redaction_metadata(self) -> dict:
        """What a trigger recording says of the redaction policy its events went through (the
        recorder's redactor, evlog.redact, when it has one)."""
        redactor = getattr(self, "_redactor", None)
        if redactor is not None and callable(getattr(redactor, "metadata", None)):
            return {"redaction": redactor.metadata()}
        return {} if self.redact is None else {"redaction": {"policy": repr(self.redact)}}

    # raw events (the CLI's NATS source, the dashboard) -----------------------------------
    def record_encoded(self, name: str, source: str, flags: int, data: bytes, types: bytes = b"",
                       headers: bytes = b"") -> None:
        """Record an event already encoded (JSON bytes from evlog.codec, a NATS payload with its headers),
        stamped now. With a redaction policy, the recorder's redactor takes the bytes first (or,
        without one, the event is decoded and captured as `record` captures it)."""
        if self.redact is not None:
            redactor = getattr(self, "_redactor", None)
            if redactor is None:
                self.record(name, decode_data(data, flags, types), source,
                            decode_headers(headers) if headers else None)
                return
            data, flags, types, headers = redactor.row(data, flags, types, headers)
        if not self._recording:
            if self._started:
                raise RecorderError("the recorder is stopped (call start_recording again to record)")
            self.start_recording(None)
        self._queue.extend((name, source, flags, data, types, headers, time.monotonic_ns() - self._mono_base))
        if len(self._queue) > self._wake_at * ROW:
            self._crowded()

    # triggering ------------------------------------------------------------------------------
    def trigger(self, reason: str = "trigger", after: Any = None) -> Path:
        """Write the last `keep` and the next `after` seconds (default: the recorder's) to a
        new recording, or extend the window of the latest one if they meet; returns its path.
        The writing happens on the writer thread: `wait()` for it. On a stopped recorder the
        window ends at once (nothing follows)."""
        if self._windows is None:
            raise RecorderError("the flight recorder has not started (call start_recording first)")
        if self._closed:
            raise RecorderError("the flight recorder is closed")
        after_ns = self.after_ns if after is None else parse_seconds_ns(after, "after")
        path = self._windows.request(None, str(reason), after_ns, self._new_path).path
        if not self._recording:   # stopped: nothing follows, the ring is written as it is
            self.end_windows("stopped")
        return path

    def _new_path(self, wall_ns: int) -> Path:
        """The next recording's path, named by the trigger's time to the millisecond; no
        system call (a trigger must not give up the GIL): the writer thread picks another
        name if this one exists on disk by then (logged, and `recordings` tells)."""
        stamp = _dt.datetime.fromtimestamp(wall_ns / 1e9).strftime("%Y%m%d_%H%M%S_%f")[:-3]
        base = f"{self.session_name}_flight_{stamp}"
        name, n = base, 1
        while name in self._reserved:
            n += 1
            name = f"{base}_{n}"
        self._reserved.add(name)
        if len(self._reserved) > 10_000:   # bounded: older names are on disk by now
            self._reserved = {name}
        return self.output_dir / name

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until every triggered window has ended and is written (fsynced, metadata,
        closed); False if `timeout` seconds passed first."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            windows = self._windows
            if windows is None:
                return True
            pending = [w for w in windows.all if not w.written.is_set()]
            if not pending:
                return True
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return False
            pending[0].written.wait(0.05 if left is None else min(0.05, left))

    def end_windows(self, reason: str = "stopped") -> None:
        """End the windows being collected now (their `after` cut short), and write them."""
        with self._log_lock:
            self._drain()
            if self._windows is not None and self._ring is not None:
                self._ring.seal()
                self._windows.step(end_all=reason)

    # the recorder's thread -------------------------------------------------------------------
    _drain_when_idle = True   # the windows are stepped at every poll, events or not

    def _drain(self) -> None:
        """Add every queued row to the ring, test the predicate, step the windows."""
        queue = self._queue
        ring, windows = self._ring, self._windows
        if ring is None or windows is None:
            return
        with self._log_lock:
            while queue:
                with self._count_lock:
                    rows, n = self._take_queued()
                monos = rows.monotonics
                if self.trigger_filter is not None:   # the times the ring gives them (the predicate's)
                    rows = rows._replace(monotonics=ring.clamp(monos))
                try:
                    seqs = ring.add(rows)
                except EvlogError:   # a row the engine cannot store: markers instead
                    rows = storable_rows(rows)
                    seqs = ring.add(rows)
                if self.trigger_filter is not None:
                    self._test_predicate(rows, seqs)
            while self._pending_signals:
                reason, t = self._pending_signals.pop(0)
                w = windows.request(t, reason, self.after_ns, self._new_path)
                logger.warning("evlog flight recorder %s: %s: writing %s", self.session_name, reason, w.path)
            if windows.active() or (ring.open_started and time.monotonic() - ring.open_started > SEAL_AGE):
                ring.seal()
            windows.step()

    def _test_predicate(self, rows: EncodedRows, seqs: range) -> None:
        f = self.trigger_filter
        assert f is not None
        by_name = f.name_predicate
        wall0 = self._wall0
        for i, name in enumerate(rows.names):
            if by_name is not None and not by_name(name):
                continue
            mono = rows.monotonics[i]   # type: ignore[index]
            if f.needs_data:
                try:
                    data = decode_data(rows.datas[i], rows.flags[i], rows.types[i])
                    head = rows.headers[i] if rows.headers is not None else b""
                    record = Record(seqs[i], wall0 + mono, mono, name, rows.sources[i], data, rows.flags[i],
                                    decode_headers(head) if head else {})
                    if not f.matches(record):
                        continue
                except Exception:  # noqa: BLE001 - a predicate that cannot be tested is no trigger
                    continue
            self._windows.request(mono, f"trigger_on {f}: {name} (event {seqs[i]})", self.after_ns,  # type: ignore[union-attr]
                                  self._new_path)

    def _on_written(self, w: Window, events: int) -> None:
        with self._count_lock:
            self._events_written += events - w.counted
        w.counted = events

    def ring_records(self) -> Iterator[RawRecord]:
        """The events the ring holds now, oldest first (offset = sequence number): for tests
        and inspection (decodes every block; the open block is sealed first)."""
        with self._log_lock:
            ring = self._ring
            if ring is None:
                return iter(())
            ring.seal()
            blocks = list(ring.blocks)
        return (r for block in blocks for r in block.raw_records())

    # stopping --------------------------------------------------------------------------------
    def _sync(self) -> None:
        """Add what is queued to the ring and hand the windows what is theirs."""
        self._drain()

    def flush(self) -> int:
        """Add every event captured so far to the ring and wait until what the windows hold
        so far is written; returns the events written to recordings."""
        self._drain()
        if self._writer is not None:
            self._writer.wait()
        return self.recorded

    def stop_recording(self) -> None:
        """Stop intercepting; the windows being collected end now (and are written). The
        ring is kept: `start_recording` again goes on with it."""
        super().stop_recording()
        self.end_windows("stopped")
        if self._writer is not None:
            self._writer.wait()

    def save(self, filename: str | os.PathLike | None = None) -> Path:
        """Write the ring now (a trigger with no `after`) and wait for it; returns the path."""
        if self._windows is None:
            self.start_recording(None)
        path = self.trigger("save", after=0)
        self.wait(EXIT_WAIT)
        if filename is not None:
            target = self.output_dir / Path(filename)
            os.replace(path, target)
            return target
        return path

    def close(self) -> None:
        """Stop recording, end and write the windows, stop the writer, remove the hooks."""
        if self._recording or self._thread is not None:
            self.stop_recording()
        self.remove_hooks()
        if self._writer is not None and not self._closed:
            self.wait(EXIT_WAIT)
            self._writer.close()
        self._closed = True

    def __enter__(self) -> "FlightRecorder":
        return self

    def __repr__(self) -> str:
        state = "recording" if self._recording else "stopped"
        return f"<FlightRecorder {self.session_name!r} {state} keep={self.keep_ns / 1e9:g}s>"

    # hooks (opt-in) --------------------------------------------------------------------------
    def install_signal_handler(self, signum: int = signal.SIGUSR1) -> None:
        """Trigger on `signum` (SIGUSR1), chaining the handler found. Main thread only."""
        if self._signal_state is not None:
            return
        if threading.current_thread() is not threading.main_thread():
            raise RecorderError("a signal handler can only be installed from the main thread")
        previous = signal.getsignal(signum)
        name = signal.Signals(signum).name

        def handler(sig: int, frame: Any) -> None:
            # a signal handler takes no lock: the recorder's thread turns this into a trigger
            self._pending_signals.append((name, time.monotonic_ns() - self._mono_base))
            self._wake.set()
            if callable(previous) and previous not in (signal.SIG_IGN, signal.SIG_DFL):
                previous(sig, frame)

        signal.signal(signum, handler)
        self._signal_state = (signum, previous)

    def install_excepthook(self) -> None:
        """Trigger on an uncaught exception: in the main thread (sys.excepthook) the window
        ends at once and is written before the hook returns (the process is ending); in
        another thread (threading.excepthook) it goes on for `after`. The hooks found are
        called after. KeyboardInterrupt triggers nothing."""
        if self._excepthooks is not None:
            return
        prev_sys, prev_thread = sys.excepthook, threading.excepthook

        def sys_hook(exc_type: type, exc: BaseException, tb: Any) -> None:
            if not issubclass(exc_type, KeyboardInterrupt):
                self._trigger_quietly(f"uncaught {exc_type.__name__}: {exc}"[:300], ending=True)
            prev_sys(exc_type, exc, tb)

        def thread_hook(args: Any) -> None:
            if not issubclass(args.exc_type, KeyboardInterrupt):
                where = args.thread.name if args.thread is not None else "a thread"
                self._trigger_quietly(f"uncaught {args.exc_type.__name__} in {where}: {args.exc_value}"[:300],
                                      ending=False)
            prev_thread(args)

        sys.excepthook, threading.excepthook = sys_hook, thread_hook
        self._excepthooks = (sys_hook, thread_hook, prev_sys, prev_thread)

    def install_exit_hook(self) -> None:
        """Trigger when the interpreter exits (atexit): the ring is written, and the windows
        being collected end, before the process goes."""
        if self._exit_hook is not None:
            return

        def at_exit() -> None:
            if self._windows is not None and not self._closed:
                self._trigger_quietly("process exit", ending=True)
                self.close()

        atexit.register(at_exit)
        self._exit_hook = at_exit

    def _trigger_quietly(self, reason: str, ending: bool) -> None:
        """A hook's trigger: never raises; `ending`, the window ends now and is written."""
        try:
            if self._windows is None:
                return
            self.trigger(reason, after=0 if ending else None)
            if ending:
                self.end_windows(reason)
                self.wait(EXIT_WAIT)
        except Exception as exc:  # noqa: BLE001 - a hook must not hide the error it reports
            logger.error("evlog flight recorder %s: trigger %r failed: %s", self.session_name, reason, exc)

    def remove_hooks(self) -> None:
        """Put back the signal handler, the exception hooks and the exit hook found."""
        if self._signal_state is not None:
            signum, previous = self._signal_state
            try:
                signal.signal(signum, previous if previous is not None else signal.SIG_DFL)
            except ValueError:   # not the main thread: leave it
                pass
            self._signal_state = None
        if self._excepthooks is not None:
            sys_hook, thread_hook, prev_sys, prev_thread = self._excepthooks
            if sys.excepthook is sys_hook:
                sys.excepthook = prev_sys
            if threading.excepthook is thread_hook:
                threading.excepthook = prev_thread
            self._excepthooks = None
        if self._exit_hook is not None:
            atexit.unregister(self._exit_hook)
            self._exit_hook = None

