"""`EventRecorder`: the original tool's recorder API, streaming to an evlog recording.

    recorder = EventRecorder("ma_session")          # output_dir="recordings"
    recorder.start_recording(service_bus)           # intercepts service_bus.publish
    ...
    recorder.stop_recording()
    path = recorder.save()                          # recordings/ma_session_20251012_120000/

The recording (a directory) is created by `start_recording`, and events stream to it from
then on: a crash loses at most the flush interval. On the publishing thread the recorder
only stamps the event and queues it; pydantic models are encoded by the recorder's encoder
thread (so **an event must not be mutated after it is published**), other values are encoded
on the caller; compression and I/O run on the log's own I/O thread.

The recorder never breaks the system it observes: the original `publish` always runs and
returns its own value; an event that cannot be serialized is stored as a marker and counted;
a full disk or an I/O error stops the recording with a logged error.
"""
from __future__ import annotations

import datetime as _dt
import logging
import os
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any, Callable

from pydantic import BaseModel

from .segments import Log
from .segments.codec import encode_data, unserializable_marker
from .segments.errors import EvlogError, LogClosedError, LogWriteError, RecordingExistsError

__all__ = ["EventRecorder", "RecorderError"]

logger = logging.getLogger("evlog.recorder")


class RecorderError(EvlogError):
    """A recorder used out of order (e.g. `start_recording` twice), or a bus it cannot intercept."""


_ENCODE_ON_ENCODER = None  # marker in a queued item: the encoder thread encodes the event
_MODEL_TYPES: set[type] = set()
_PLAIN_TYPES = frozenset((dict, list, str, int, float, bool, type(None)))


def _is_model_type(t: type) -> bool:
    if isinstance(t, type) and issubclass(t, BaseModel):
        _MODEL_TYPES.add(t)
        return True
    return False


class EventRecorder:
    """Records the events published on a bus (or given to `record`) into an evlog recording.

    `flush_interval`: seconds after which buffered events are written (and fsynced with
    `fsync="always"`, the default): the most a crash can lose. `max_pending`: events queued
    for the encoder before publishers wait for it (back-pressure instead of unbounded memory).
    Other keyword arguments are `Log` writer options.
    """

    def __init__(self, session_name: str, output_dir: str | os.PathLike = "recordings", *,
                 flush_interval: float = 0.2, fsync: str = "always", max_pending: int = 100_000,
                 **log_options: Any) -> None:
        if not isinstance(session_name, str) or not session_name.strip():
            raise RecorderError("session_name must be a non-empty string")
        if os.sep in session_name or (os.altsep and os.altsep in session_name):
            raise RecorderError(f"session_name must not contain a path separator: {session_name!r}")
        if not flush_interval > 0:
            raise RecorderError("flush_interval must be positive")
        self.session_name = session_name
        self.output_dir = Path(output_dir)
        self._log_options = dict(log_options, fsync=fsync, block_max_age=flush_interval)
        self._max_pending = max(1, int(max_pending))
        self._wake_at = min(4096, self._max_pending)
        self._poll = min(0.01, flush_interval / 4)  # the encoder's polling period when idle
        self._log: Log | None = None
        self._path: Path | None = None
        self._queue: deque = deque()
        self._log_lock = threading.RLock()
        self._wake = threading.Event()
        self._idle = False
        self._thread: threading.Thread | None = None
        self._stop_thread = False
        self._recording = False
        self._started = False
        self._bus: Any = None
        self._bus_had_own_publish = False
        self._original_publish: Callable[..., Any] | None = None
        self._wrapper: Callable[..., Any] | None = None
        self._mono_base = 0
        self._count_lock = threading.Lock()
        self.recorded = 0          # events appended to the log
        self.unserializable = 0    # ...of which stored as a marker
        self.lost = 0              # events captured but not stored (after an I/O failure)
        self.error: str | None = None

    # state -----------------------------------------------------------------------------------
    @property
    def is_recording(self) -> bool:
        return self._recording

    @property
    def path(self) -> Path | None:
        """The recording's directory (None before `start_recording`)."""
        return self._path

    def info(self) -> dict:
        """Counters and state: events recorded, unserializable markers, events lost, error."""
        return {"session_name": self.session_name, "path": str(self._path) if self._path else None,
                "recording": self._recording, "events": self.recorded + len(self._queue),
                "unserializable": self.unserializable, "lost": self.lost, "error": self.error}

    # starting --------------------------------------------------------------------------------
    def _default_path(self) -> Path:
        stamp = _dt.datetime.now().strftime("%Y%m%d_%H%M%S")
        base = self.output_dir / f"{self.session_name}_{stamp}"
        path, n = base, 1
        while path.exists():
            n += 1
            path = Path(f"{base}_{n}")
        return path

    def _open_log(self) -> None:
        if self._log is not None:
            return
        if self._path is None:
            self.output_dir.mkdir(parents=True, exist_ok=True)
            path = self._default_path()
            start_ns = time.time_ns()
            self._mono_base = time.monotonic_ns()
            self._log = Log.create(path, self.session_name, start_time_ns=start_ns,
                                   metadata={"recorder": self._counters()}, **self._log_options)
            self._path = path
        else:  # reopened after save(): continue the same recording
            self._log = Log.open(self._path, "a", **self._log_options)
            elapsed = max(0, time.time_ns() - self._log.manifest.start_time_ns)
            self._mono_base = time.monotonic_ns() - elapsed

    def _start_encoder(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._stop_thread = False
            self._thread = threading.Thread(target=self._run, name=f"evlog-recorder:{self.session_name}",
                                            daemon=True)
            self._thread.start()

    def start_recording(self, service_bus: Any = None) -> None:
        """Start recording: create the recording and intercept `service_bus.publish` (any
        object with a publish method; None records only what `record()` is given)."""
        if self._recording:
            raise RecorderError("the recorder is already recording (call stop_recording first)")
        if service_bus is not None and not callable(getattr(service_bus, "publish", None)):
            raise RecorderError(f"{type(service_bus).__name__} has no publish method to record")
        self._open_log()
        self.error = None
        self._start_encoder()
        self._recording = True
        self._started = True
        if service_bus is not None:
            try:
                self._install(service_bus)
            except Exception:
                self._recording = False
                raise

    def _install(self, bus: Any) -> None:
        original = bus.publish
        capture = self._capture

        def publish(*args: Any, **kwargs: Any) -> Any:
            if self._recording:
                try:
                    if len(args) >= 2:
                        capture(args[0], args[1], args[2] if len(args) > 2 else kwargs.get("source", ""))
                    else:
                        capture(args[0] if args else kwargs.get("event_name", kwargs.get("name")),
                                kwargs.get("event", kwargs.get("data")), kwargs.get("source", ""))
                except Exception as exc:  # noqa: BLE001 - the bus must work whatever happens here
                    self._note_capture_error(exc)
            return original(*args, **kwargs)

        self._bus_had_own_publish = "publish" in getattr(bus, "__dict__", {})
        try:
            bus.publish = publish
        except (AttributeError, TypeError) as exc:
            raise RecorderError(f"cannot intercept {type(bus).__name__}.publish: {exc}") from None
        self._bus, self._original_publish, self._wrapper = bus, original, publish

    def _uninstall(self) -> None:
        bus, self._bus = self._bus, None
        if bus is None:
            return
        if getattr(bus, "publish", None) is self._wrapper:
            try:
                if self._bus_had_own_publish:
                    bus.publish = self._original_publish
                else:
                    del bus.publish
            except (AttributeError, TypeError):  # pragma: no cover - the wrapper stays, inactive
                pass
        # otherwise someone wrapped publish after us: our wrapper stays in their chain, inactive

    # capturing (the publishing thread) -------------------------------------------------------
    def record(self, event_name: str, event: Any = None, source: str = "") -> None:
        """Record one event without a bus (thread-safe; order = call order). Starts the
        recording if needed."""
        if not self._recording:
            if self._started:
                raise RecorderError("the recorder is stopped (call start_recording again to record)")
            self.start_recording(None)
        self._capture(event_name, event, source)

    def _capture(self, event_name: Any, event: Any, source: Any) -> None:
        ts = time.time_ns()
        mono = time.monotonic_ns() - self._mono_base
        name = event_name if type(event_name) is str else str(event_name)
        src = source if type(source) is str else ("" if source is None else str(source))
        t = type(event)
        if t in _MODEL_TYPES or (t not in _PLAIN_TYPES and _is_model_type(t)):
            encoded = _ENCODE_ON_ENCODER
        else:
            try:
                encoded = encode_data(event)
            except Exception as exc:  # noqa: BLE001
                encoded = unserializable_marker(event, exc)
        queue = self._queue
        queue.append((name, src, ts, mono, event if encoded is None else None, encoded))
        if len(queue) > self._wake_at:  # the encoder polls; it is woken only when much is waiting
            if self._idle:
                self._wake.set()
            if len(queue) > self._max_pending:
                self._back_pressure()

    def _back_pressure(self) -> None:
        while len(self._queue) > self._max_pending // 2 and self._thread is not None and self._thread.is_alive():
            self._wake.set()
            time.sleep(0.0005)

    def _note_capture_error(self, exc: BaseException) -> None:
        with self._count_lock:
            self.lost += 1
        logger.warning("evlog recorder %s: an event could not be captured: %s", self.session_name, exc)

    # the encoder thread ----------------------------------------------------------------------
    def _run(self) -> None:
        queue = self._queue
        while True:
            if queue:
                self._drain()
                continue
            if self._stop_thread:
                return
            self._idle = True
            if not queue and not self._stop_thread:
                self._wake.wait(self._poll)
                self._wake.clear()
            self._idle = False

    def _drain(self) -> None:
        """Append every queued event to the log, in order (the encoder thread, or save/stop)."""
        queue = self._queue
        with self._log_lock:
            log = self._log
            if log is None:
                return
            append = log.append_encoded
            while queue:
                name, source, ts, mono, event, encoded = queue.popleft()
                if encoded is None:
                    try:
                        encoded = encode_data(event)
                    except Exception as exc:  # noqa: BLE001
                        encoded = unserializable_marker(event, exc)
                data, flags, types = encoded
                try:
                    try:
                        append(name, source, flags, data, types, timestamp=ts, monotonic=mono, validate=False)
                    except (LogWriteError, LogClosedError):
                        raise
                    except EvlogError as exc:  # too large, bad name...: store a marker instead
                        data, flags, types = unserializable_marker(event if event is not None else data, exc)
                        append(name[:256], source[:256], flags, data, types, timestamp=ts, monotonic=mono, validate=False)
                except (OSError, EvlogError) as exc:
                    self._fail(exc, 1)
                    return
                if flags & 0x02:
                    self.unserializable += 1
                self.recorded += 1

    def _fail(self, exc: BaseException, pending: int) -> None:
        """The log cannot take more events: stop recording, keep what is on disk."""
        lost = pending + len(self._queue)
        self._queue.clear()
        with self._count_lock:
            self.lost += lost
        self.error = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        self._recording = False
        self._uninstall()
        logger.error("evlog recorder %s: recording stopped, %d event(s) not stored: %s",
                     self.session_name, lost, self.error)

    # stopping and saving ---------------------------------------------------------------------
    def _counters(self) -> dict:
        return {"events": self.recorded, "unserializable": self.unserializable, "lost": self.lost,
                "error": self.error}

    def stop_recording(self) -> None:
        """Stop intercepting and write every captured event (the recording stays open until
        `save`, which closes it; data already on disk is never lost)."""
        self._recording = False
        self._uninstall()
        self._drain()
        self._stop_thread = True
        self._wake.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()
        self._thread = None
        self._drain()
        if self._log is not None:
            try:
                self._log.flush()
            except EvlogError as exc:
                if self.error is None:
                    self._fail(exc, 0)

    def flush(self) -> int:
        """Write every event captured so far and make it durable; returns the events recorded."""
        with self._log_lock:
            self._drain()
            if self._log is not None:
                try:
                    self._log.flush()
                except (OSError, EvlogError) as exc:
                    if self.error is None:
                        self._fail(exc, 0)
        return self.recorded

    def save(self, filename: str | os.PathLike | None = None) -> Path:
        """Make the recording durable and return its directory. With `filename`, the recording
        is renamed to `output_dir/filename`. If still recording, recording goes on (into the
        same, possibly renamed, directory); otherwise the recording is closed."""
        with self._log_lock:
            if self._log is None and self._path is None:
                self._open_log()  # nothing recorded: an empty recording
            if self._recording:
                self._drain()
            target = self._path if filename is None else self.output_dir / Path(filename)
            assert self._path is not None
            if Path(os.path.abspath(target)) != Path(os.path.abspath(self._path)):
                if target.exists():
                    raise RecordingExistsError(f"cannot save to {target}: it already exists")
                target.parent.mkdir(parents=True, exist_ok=True)
                self._close_log()
                os.replace(self._path, target)
                self._path = target
                if self._recording:
                    self._open_log()
            elif not self._recording:
                self._close_log()
            else:
                self._write_counters()
            return self._path

    def _write_counters(self) -> None:
        log = self._log
        if log is None:
            return
        try:
            log.flush()
            log.set_metadata(recorder=self._counters())
        except (OSError, EvlogError) as exc:
            if self.error is None:
                self._fail(exc, 0)

    def _close_log(self) -> None:
        log, self._log = self._log, None
        if log is None:
            return
        self._log = log
        self._write_counters()
        self._log = None
        try:
            log.close()
        except (OSError, EvlogError) as exc:
            if self.error is None:
                self.error = str(exc).splitlines()[0]
                logger.error("evlog recorder %s: closing the recording failed: %s", self.session_name, exc)

    def close(self) -> None:
        """Stop recording (if needed) and close the recording."""
        if self._recording or self._thread is not None:
            self.stop_recording()
        with self._log_lock:
            self._close_log()

    def __enter__(self) -> "EventRecorder":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "recording" if self._recording else "stopped"
        return f"<EventRecorder {self.session_name!r} {state} {self._path}>"
