"""`EventRecorder`: the original tool's recorder API, streaming to an evlog recording.

    recorder = EventRecorder("ma_session")          # output_dir="recordings"
    recorder.start_recording(service_bus)           # intercepts service_bus.publish
    ...
    recorder.stop_recording()
    path = recorder.save()                          # recordings/ma_session_20251012_120000/

The recording (a directory) is created by `start_recording`, and events stream to it from
then on: a crash loses at most the flush interval.

**Snapshot at publish.** On the publishing thread the recorder stamps the event with the
log's monotonic clock and encodes it to bytes (`evlog.codec.encode`: a pydantic model by
pydantic-core's JSON serializer), so what is recorded is the event as it was when `publish`
was called, whatever the program does with the object afterwards. The encoded row is queued;
the recorder's thread hands the queued rows to the log in batches (one engine call per
batch); compression and I/O run on the log's own I/O thread.

**Counters tell the truth.** `captured` events were seen; `recorded` are on stable storage;
`pending` are queued or written but not yet durable; `lost` were captured but will never be
stored (after an I/O failure). `recorded + lost + pending == captured` at all times, and
`flush()` returns `recorded`.

**Redaction.** With `redact=` (an `evlog.redact` policy or Redactor) each event's encoded
snapshot is redacted on the publishing thread, before it is queued: no byte of a secret
the policy removes leaves that thread. The policy's id, version and fingerprint are in the
recording's metadata (`redaction`).

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
from typing import Any, Callable, Mapping

from .codec import MODEL_PLAN, encode, plan_cache, unserializable_marker
from .segments import EncodedRows, Log, encode_headers
from .segments.block import MAX_NAME_BYTES
from .segments.codec import FLAG_MODEL, FLAG_UNSERIALIZABLE
from .segments.errors import EvlogError, LogClosedError, LogWriteError, RecordingExistsError
from .segments.rows import check_row
from .snapshot import snapshot_model

__all__ = ["EventRecorder", "RecorderError"]

logger = logging.getLogger("evlog.recorder")


class RecorderError(EvlogError):
    """A recorder used out of order (e.g. `start_recording` twice), or a bus it cannot intercept."""


_BATCH = 32768         # rows per engine call (at most; a drain takes what waits)
ROW = 7                # fields of a queued row: name, source, flags, data, types, headers, monotonic
_ABSENT = object()     # an argument the publisher did not pass



def queued_rows(queue: list, n: int) -> EncodedRows:
    """The first `n` rows laid flat in `queue` (ROW fields each, as publishers queue them) as
    columns, sliced out of it directly (publishers only add at its end meanwhile)."""
    k = n * ROW
    headers = queue[5:k:ROW]
    return EncodedRows(queue[0:k:ROW], queue[1:k:ROW], queue[2:k:ROW], queue[3:k:ROW], queue[4:k:ROW],
                       None if headers.count(b"") == n else headers, None, queue[6:k:ROW])

class EventRecorder:
    """Records the events published on a bus (or given to `record`) into an evlog recording.

    `flush_interval`: seconds after which buffered events are written (and fsynced with
    `fsync="always"`, the default): the most a crash can lose. `max_pending`: events queued
    for the recorder's thread before publishers wait for it (back-pressure instead of
    unbounded memory). Other keyword arguments are `Log` options (writer options, `fs`).
    """

    def __init__(self, session_name: str, output_dir: str | os.PathLike = "recordings", *,
                 flush_interval: float = 0.2, fsync: str = "always", max_pending: int = 100_000,
                 redact: Any = None, **log_options: Any) -> None:
        if not isinstance(session_name, str) or not session_name.strip():
            raise RecorderError("session_name must be a non-empty string")
        if os.sep in session_name or (os.altsep and os.altsep in session_name):
            raise RecorderError(f"session_name must not contain a path separator: {session_name!r}")
        if not flush_interval > 0:
            raise RecorderError("flush_interval must be positive")
        self.session_name = session_name
        self.output_dir = Path(output_dir)
        self._redactor = None
        if redact is not None:   # evlog.redact: applied to each event's snapshot (docs/redaction.md)
            from .redact import as_redactor
            self._redactor = as_redactor(redact)
        self._log_options = dict(log_options, fsync=fsync, block_max_age=flush_interval)
        self._max_pending = max(1, int(max_pending))
        # queued rows that wake the thread before its poll: fewer, larger hand-offs while
        # publishers are busy (4 % less time to a durable file than at 4,096 in paired runs)
        self._wake_at = min(16384, self._max_pending)
        self._pressure_at = self._max_pending * ROW   # queue length (flat) past which publishers wait
        self._poll = min(0.01, flush_interval / 4)  # the thread's polling period when idle
        self._log: Log | None = None
        self._path: Path | None = None
        self._queue: list = []   # encoded rows laid flat (ROW fields each), in publish order
        self._log_lock = threading.RLock()   # the one consumer of the queue at a time
        self._wake = threading.Event()
        self._idle = False
        self._thread: threading.Thread | None = None
        self._stop_thread = False
        self._recording = False
        self._started = False
        self._failed = False           # stopped by an I/O failure: later events count as lost
        self._bus: Any = None
        self._bus_had_own_publish = False
        self._original_publish: Callable[..., Any] | None = None
        self._wrapper: Callable[..., Any] | None = None
        self._mono_base = 0            # time.monotonic_ns() - this = the log's monotonic clock
        # counters, changed together under _count_lock (see info())
        self._count_lock = threading.Lock()
        self._taken = 0       # rows removed from the queue
        self._dropped = 0     # events seen but never queued (capture errors, after a failure)
        self._in_hand = 0     # rows taken, not yet handed to the log
        self._lost = 0
        self._stored = 0      # durable events of the logs already closed
        self._base = 0        # the open log's end offset when it was opened
        self._handed = 0      # rows handed to the open log
        self._markers: deque[int] = deque()   # offsets of markers handed, not yet durable
        self._markers_stored = 0
        self.error: str | None = None
        self._capture = self._make_capture()

    # state -----------------------------------------------------------------------------------
    @property
    def is_recording(self) -> bool:
        return self._recording

    @property
    def path(self) -> Path | None:
        """The recording's directory (None before `start_recording`)."""
        return self._path

    @property
    def recorded(self) -> int:
        """Events on stable storage."""
        with self._count_lock:
            return self._durable_locked()

    @property
    def lost(self) -> int:
        """Events captured that will never be stored (after an I/O failure)."""
        return self._lost

    @property
    def unserializable(self) -> int:
        """Events stored as a marker (durable), because they could not be encoded."""
        with self._count_lock:
            self._durable_locked()
            return self._markers_stored

    def _durable_locked(self) -> int:
        """Durable events (and markers among them); called with _count_lock held."""
        log = self._log
        durable = 0
        if log is not None and self._handed:
            durable = min(self._handed, max(0, log.durable_offset - self._base))
            markers = self._markers
            end = self._base + durable
            while markers and markers[0] < end:
                markers.popleft()
                self._markers_stored += 1
        return self._stored + durable

    def info(self) -> dict:
        """Counters and state, taken together: `captured` = `recorded` (durable) + `lost` +
        `pending` (queued, or written but not yet durable); `unserializable` markers among
        the recorded; the error that stopped the recording, if any."""
        with self._count_lock:
            queued = len(self._queue) // ROW
            recorded = self._durable_locked()
            captured = self._taken + queued + self._dropped
            pending = queued + self._in_hand + (self._stored + self._handed - recorded)
            lost, markers = self._lost, self._markers_stored
        return {"session_name": self.session_name, "path": str(self._path) if self._path else None,
                "recording": self._recording, "captured": captured, "recorded": recorded,
                "pending": pending, "lost": lost, "unserializable": markers, "events": recorded,
                "error": self.error}

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
            metadata = {"recorder": self._counters()}
            if self._redactor is not None:
                metadata["redaction"] = self._redactor.metadata()
            log = Log.create(path, self.session_name, metadata=metadata, **self._log_options)
            self._path = path
        else:  # reopened after save(): continue the same recording
            log = Log.open(self._path, "a", **self._log_options)
        self._mono_base = time.monotonic_ns() - log.monotonic_now()   # the log's clock
        self._capture = self._make_capture()
        with self._count_lock:
            self._base = log.end_offset
            self._handed = 0
            self._log = log

    def _start_thread(self) -> None:
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
        if self._failed:   # the failed log takes no more events: close it, reopen the recording
            with self._log_lock:
                self._close_log()
        self._open_log()
        self.error = None
        self._failed = False
        self._start_thread()
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
        recorder = self
        queue = self._queue
        wake_at, pressure_at = self._wake_at * ROW, self._pressure_at
        # a redacted event takes `_capture`, which redacts it
        fast = snapshot_model if self._redactor is None else None

        def publish(event_name: Any = _ABSENT, event: Any = _ABSENT, source: Any = _ABSENT, /,
                    *args: Any, **kwargs: Any) -> Any:
            if source is not _ABSENT and not args and not kwargs:
                # publish(event_name, event, source): the common call; a model event is
                # snapshot and queued in one step (`evlog.snapshot`), anything else by `_capture`
                if recorder._recording:
                    try:
                        n = -1 if fast is None else fast(queue, plan_cache, MODEL_PLAN, FLAG_MODEL,
                                                         recorder._mono_base, event_name, event, source)
                        if n < 0:
                            recorder._capture(event_name, event, source)
                        elif n > wake_at and (recorder._idle or n > pressure_at):
                            recorder._crowded()   # the thread polls; woken when much waits
                    except Exception as exc:  # noqa: BLE001 - the bus must work whatever happens here
                        recorder._note_capture_error(exc)
                elif recorder._failed:
                    recorder._count_dropped()
                return original(event_name, event, source)
            args = tuple(a for a in (event_name, event, source) if a is not _ABSENT) + args
            if recorder._recording:
                try:
                    if len(args) >= 2:
                        recorder._capture(args[0], args[1], args[2] if len(args) > 2 else kwargs.get("source", ""),
                                          kwargs.get("headers"))
                    else:
                        recorder._capture(args[0] if args else kwargs.get("event_name", kwargs.get("name")),
                                          kwargs.get("event", kwargs.get("data")), kwargs.get("source", ""),
                                          kwargs.get("headers"))
                except Exception as exc:  # noqa: BLE001
                    recorder._note_capture_error(exc)
            elif recorder._failed:
                recorder._count_dropped()
            return original(*args, **kwargs)

        # the wrapper takes what the bus's publish takes: a replay into a recorded bus passes
        # headers only if that publish accepts them (replay.sinks.accepts_headers reads this)
        publish.__wrapped__ = original  # type: ignore[attr-defined]
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
    def record(self, event_name: str, event: Any = None, source: str = "",
               headers: Mapping[str, str] | None = None) -> None:
        """Record one event without a bus (thread-safe; order = call order), with optional
        per-event `headers` (str -> str: a correlation id, a trace context...). Starts the
        recording if needed. After an I/O failure stopped the recording, the event is
        counted as lost."""
        if not self._recording:
            if self._failed:
                self._count_dropped()
                return
            if self._started:
                raise RecorderError("the recorder is stopped (call start_recording again to record)")
            self.start_recording(None)
        self._capture(event_name, event, source, headers)

    def _make_capture(self) -> Callable[..., None]:
        """The publishing thread's step, as a closure over what it needs (made when the log
        opens): stamp the event on the log's clock, encode it (and its headers) now, so what
        is queued is its value at publish, and queue the encoded row. Rows the log cannot
        store (a name too long...) are found by the log's own checks in the recorder's thread."""
        queue = self._queue
        extend = queue.extend
        mono_base = self._mono_base
        monotonic_ns = time.monotonic_ns
        wake_at, pressure_at = self._wake_at * ROW, self._pressure_at
        crowded = self._crowded
        recorder = self
        redact = self._redactor.row if self._redactor is not None else None

        def capture(event_name: Any, event: Any, source: Any, headers: Any = None) -> None:
            mono = monotonic_ns() - mono_base
            name = event_name if event_name.__class__ is str else str(event_name)
            src = source if source.__class__ is str else ("" if source is None else str(source))
            try:
                data, flags, types = encode(event)
            except Exception as exc:  # noqa: BLE001 - stored as a marker, counted
                data, flags, types = unserializable_marker(event, exc)
            if headers:
                head, problem = _headers_bytes(headers)
                if problem is not None:
                    data, flags, types = unserializable_marker(event, problem)
            else:
                head = b""
            if redact is not None:   # before the bytes leave this thread (a failure drops the event)
                data, flags, types, head = redact(data, flags, types, head)
            extend((name, src, flags, data, types, head, mono))   # one C call: atomic under the GIL
            if len(queue) > wake_at and (recorder._idle or len(queue) > pressure_at):
                crowded()   # the thread polls; it is woken only when much is waiting
        return capture

    def _queued(self) -> int:
        """Rows waiting for the recorder's thread."""
        return len(self._queue) // ROW

    def _crowded(self) -> None:
        """Many rows wait: wake the thread if it is idle (once: `Event.set` takes a lock, and
        until the thread gets the GIL every publish sees the queue crowded), and hold the
        publisher back past `max_pending`."""
        if self._idle:
            self._idle = False
            self._wake.set()
        if len(self._queue) > self._pressure_at:
            self._back_pressure()

    def _back_pressure(self) -> None:
        while self._queued() > self._max_pending // 2 and self._thread is not None and self._thread.is_alive():
            self._wake.set()
            time.sleep(0.0005)

    def _note_capture_error(self, exc: BaseException) -> None:
        self._count_dropped()
        logger.warning("evlog recorder %s: an event could not be captured: %s", self.session_name, exc)

    def _count_dropped(self) -> None:
        """An event seen but never queued: captured and lost."""
        with self._count_lock:
            self._dropped += 1
            self._lost += 1

    # the recorder's thread -------------------------------------------------------------------
    _drain_when_idle = False   # a subclass whose `_drain` has work at every poll sets it

    def _run(self) -> None:
        """Drain the queue every poll period, or as soon as `_wake_at` rows wait: batches of
        thousands of rows while publishers are busy (the engine call's fixed cost shared by
        them all), not a call per handful of rows."""
        queue = self._queue
        while True:
            if self._stop_thread and not queue:
                return
            if len(queue) < self._wake_at * ROW and not self._stop_thread:
                self._idle = True
                self._wake.wait(self._poll)
                self._wake.clear()
                self._idle = False
            if queue or self._drain_when_idle:
                self._drain()

    def _drain(self) -> None:
        """Hand every queued row to the log, in order, a batch per call (the recorder's
        thread, or flush/save/stop). The queue is taken with one slice and one `del` (the
        publishers' `extend`s only add at its end, meanwhile or after); the columns are
        sliced out of it."""
        queue = self._queue
        with self._log_lock:
            while queue:
                with self._count_lock:
                    if self._failed or self._log is None:
                        return self._discard_queue_locked()
                    rows, n = self._take_queued()
                    self._in_hand += n
                    log = self._log
                try:
                    try:
                        first = self._append_rows(log, rows)
                    except (OSError, LogWriteError, LogClosedError):
                        raise
                    except EvlogError:   # a row the log cannot store: markers instead, then again
                        rows = storable_rows(rows)
                        first = self._append_rows(log, rows)
                except (OSError, EvlogError) as exc:
                    self._fail(exc)
                    return None
                with self._count_lock:
                    self._in_hand -= n
                    self._handed += n
                    if FLAG_UNSERIALIZABLE in rows.flags:
                        self._markers.extend(first + i for i, f in enumerate(rows.flags) if f == FLAG_UNSERIALIZABLE)
        return None

    def _take_queued(self) -> tuple[EncodedRows, int]:
        """The next batch (at most _BATCH rows) taken off the queue as columns (a slice each)
        and one `del`, and its row count; the caller holds `_count_lock`."""
        queue = self._queue
        n = min(len(queue) // ROW, _BATCH)
        rows = queued_rows(queue, n)
        del queue[:n * ROW]
        self._taken += n
        return rows, n

    @staticmethod
    def _append_rows(log: Log, rows: EncodedRows) -> int:
        """THE one call that hands encoded rows to the log: returns the first offset."""
        return log.append_rows(rows, validate=False).start

    def _discard_queue_locked(self) -> None:
        n = self._queued()
        self._queue.clear()
        self._taken += n
        self._lost += n

    def _fail(self, exc: BaseException) -> None:
        """The log cannot take more events: stop recording, keep what is durable; what was
        handed to the log but is not durable, and what is queued, is lost."""
        with self._count_lock:
            if self._failed:
                return
            durable = self._durable_locked() - self._stored
            lost = self._in_hand + (self._handed - durable) + self._queued()
            self._lost += self._in_hand + (self._handed - durable)
            self._stored += durable
            self._base += self._handed
            self._handed = 0
            self._in_hand = 0
            self._markers.clear()
            self._discard_queue_locked()
            self._failed = True
            self._recording = False
        self.error = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        logger.error("evlog recorder %s: recording stopped, %d event(s) not stored: %s",
                     self.session_name, lost, self.error)

    # stopping and saving ---------------------------------------------------------------------
    def _counters(self) -> dict:
        info = self.info()
        return {"events": info["recorded"], "unserializable": info["unserializable"],
                "lost": info["lost"], "error": self.error}

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
        self._sync()

    def flush(self) -> int:
        """Write every event captured so far and make it durable; returns the events
        recorded (durable), never more."""
        self._sync()
        return self.recorded

    def _sync(self) -> None:
        """Hand every queued row to the log and make the log durable."""
        with self._log_lock:
            self._drain()
            if self._log is not None and not self._failed:
                try:
                    self._log.flush()
                except (OSError, EvlogError) as exc:
                    self._fail(exc)

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
        """Make the log durable and write the counters into its manifest."""
        log = self._log
        if log is None:
            return
        try:
            if not self._failed:
                log.flush()
            log.set_metadata(recorder=self._counters())
        except (OSError, EvlogError) as exc:
            self._fail(exc)

    def _close_log(self) -> None:
        log = self._log
        if log is None:
            return
        self._write_counters()
        try:
            log.close()
        except (OSError, EvlogError) as exc:
            if self.error is None:
                self.error = str(exc).splitlines()[0]
                logger.error("evlog recorder %s: closing the recording failed: %s", self.session_name, exc)
        with self._count_lock:   # closed: what it holds is durable, the rest is lost
            durable = self._durable_locked() - self._stored
            self._lost += self._handed - durable
            self._stored += durable
            self._handed = 0
            self._markers.clear()
            self._log = None

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


def _headers_bytes(headers: Any) -> tuple[bytes, BaseException | None]:
    """An event's headers in their stored form, taken now (a dict may change later); keys and
    values that are not strings are stored as their str(). (b"", error) if they cannot be."""
    try:
        return encode_headers(headers), None
    except EvlogError:
        pass
    try:
        return encode_headers({str(k): str(v) for k, v in dict(headers).items()}), None
    except Exception as exc:  # noqa: BLE001 - the event is stored as a marker saying why
        return b"", exc


def storable_rows(rows: EncodedRows) -> EncodedRows:
    """`rows` with each row the log refuses (a name or source too long or not valid Unicode,
    data too large) replaced by a marker saying why, under a name and source cut to fit."""
    names, sources, flags, datas, types = (list(c) for c in rows[:5])
    headers = list(rows.headers) if rows.headers is not None else [b""] * len(names)
    for i in range(len(names)):
        try:
            check_row(names[i], sources[i], flags[i], None, rows.monotonics[i], datas[i], types[i], headers[i])
        except EvlogError as exc:
            names[i], sources[i] = _cut(names[i]), _cut(sources[i])
            datas[i], flags[i], types[i] = unserializable_marker(datas[i][:1000], exc)   # its start
            headers[i] = b""
    return EncodedRows(names, sources, flags, datas, types, headers, None, rows.monotonics)


def _cut(text: str) -> str:
    """A name or source the format can store: invalid Unicode replaced, cut to MAX_NAME_BYTES."""
    raw = text.encode("utf-8", "replace")[:MAX_NAME_BYTES]
    return raw.decode("utf-8", "ignore")
