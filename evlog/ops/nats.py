"""NATS operations: record a subject into a recording (core NATS or JetStream, exactly once),
replay a recording into NATS (tagged messages, dry run). The `evlog record --from nats://...`
and `evlog replay --to-nats ...` commands are thin shells over these."""
from __future__ import annotations

import asyncio
import os
import shutil
import sys
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any, TextIO

from ..integrations.nats import CaptureConfig, NatsCapture
from ..integrations.natsclient import import_nats
from ..integrations.natsformat import (DEFAULT_SOURCE, NAME_HEADER, SOURCE_HEADER, NatsSetupError, SubjectMapper,
                                      envelope_limit)
from ..integrations.natssink import NatsSink
from ..integrations.signals import CaptureSignals
from ..integrations.status import CaptureStats, StatusServer
from ..replay.control import ReplayControl
from ..replay.faults import fault_lines
from ..replay.harness import HarnessOptions
from ..replay.options import parse_speed
from ..replay.facade import ReplayOptions, play
from ..replay.selection import Selection
from ..replayer import EventReplayer
from ..segments import EvlogError, Log
from ..segments.manifest import is_recording
from .output import check_new_recording

FSYNC_CHOICES = ("always", "interval", "never")


@dataclass
class NatsRecordResult:
    """What `record_from_nats` did: `lines()` is the summary the CLI prints."""

    path: str
    stats: CaptureStats
    stop_reason: str | None
    status_port: int | None = None

    def lines(self) -> list[str]:
        s = self.stats
        out = [f"recorded {s.recorded} events from {s.subject} into {self.path}"
               + (f" (stopped: {self.stop_reason})" if self.stop_reason else "")]
        if s.mode == "jetstream":
            out.append(f"jetstream: last stream sequence {s.last_seq}, {s.duplicates} redeliveries skipped, "
                       f"{s.acked} acknowledged, {s.resumes} sessions resumed, {s.restarts} consumer restarts")
        else:
            out.append(f"core nats: {s.dropped} messages dropped by the client (slow consumer)")
        if s.binary:
            out.append(f"{s.binary} non-JSON payloads kept as bytes")
        if s.last_error:
            out.append(f"last error: {s.last_error}")
        return out


def _open_for_capture(path: str, session_name: str | None, options: dict[str, Any]) -> tuple[Log, bool]:
    """(the log, True if it was created): an existing recording is appended to. With a
    `redact` option, an `evlog.Log` that redacts every event appended (evlog.redact)."""
    cls: Any = Log
    if options.get("redact") is not None:
        from ..log import Log as cls
    else:
        options.pop("redact", None)
    if os.path.exists(path) and is_recording(path):
        return cls.open(path, "a", **options), False
    return cls.create(check_new_recording(path), session_name, **options), True


def record_from_nats(path: str, url: str, subject: str, *, stream: str | None = None,
                     durable: str | None = None, queue: str | None = None,
                     name_rules: tuple[str, ...] | list[str] = (), name_template: str = "{subject}",
                     name_header: str | None = NAME_HEADER, source_header: str = SOURCE_HEADER,
                     default_source: str = DEFAULT_SOURCE, session_name: str | None = None,
                     fsync: str = "always", fsync_interval: float | None = None,
                     segment_max_bytes: int | None = None, segment_max_age: float | None = None,
                     retain_max_age: float | None = None, retain_max_bytes: int | None = None,
                     roll_daily: bool = False, status_interval: float = 10.0,
                     status_port: int | None = None, status_host: str = "127.0.0.1",
                     max_events: int | None = None, max_seconds: float | None = None,
                     status_stream: TextIO | None = None, handle_signals: bool = True,
                     redact: Any = None, snapshot: Any = None, **capture_options: Any) -> NatsRecordResult:
    """Record `subject` from the NATS server at `url` into the recording at `path` (created, or
    appended to: a restarted JetStream capture resumes after the last recorded stream sequence).

    Runs until SIGTERM/SIGINT (then flushes, fsyncs, closes: a clean stop), `max_events` or
    `max_seconds`. SIGHUP starts a new segment. Raises an EvlogError subclass on user mistakes.
    `redact`: a redaction policy (evlog.redact) applied to every message before it is stored.
    `snapshot`: a FlightRecorder (evlog.flight) that takes the events instead of `path`
    (core NATS only: a JetStream consumer would acknowledge messages held only in memory).
    """
    import_nats()
    mapper = SubjectMapper.from_specs(list(name_rules), name_template, name_header)
    config = CaptureConfig(url=url, subject=subject, stream=stream, durable=durable, queue=queue, mapper=mapper,
                           source_header=source_header, default_source=default_source,
                           status_interval=status_interval, roll_daily=roll_daily,
                           max_events=max_events, max_seconds=max_seconds, **capture_options)
    options: dict[str, Any] = {"fsync": fsync, "redact": redact}
    for key, value in (("fsync_interval", fsync_interval), ("segment_max_bytes", segment_max_bytes),
                       ("segment_max_age", segment_max_age), ("retain_max_age", retain_max_age),
                       ("retain_max_bytes", retain_max_bytes)):
        if value is not None:
            options[key] = value
    if snapshot is not None:
        if stream or durable:
            raise NatsSetupError("--snapshot records core NATS subjects (a JetStream consumer would acknowledge "
                                 "messages held only in memory)")
        from .record import FlightLog
        log, created = FlightLog(snapshot), False
    else:
        try:
            log, created = _open_for_capture(path, session_name, options)
        except ValueError as exc:  # WriterOptions validation
            raise NatsSetupError(str(exc)) from None
    stats = CaptureStats()
    capture = NatsCapture(log, config, stats, status_stream=status_stream if status_stream is not None else sys.stderr)
    try:
        server = StatusServer(stats.snapshot, status_host, status_port) if status_port is not None else None
    except EvlogError:
        log.close()
        if created:
            _remove_empty_recording(path)
        raise
    try:
        async def main() -> None:
            signals = CaptureSignals(asyncio.get_running_loop(), capture.request_stop, capture.request_roll)
            if handle_signals:
                signals.install()
            try:
                await capture.run()
            finally:
                signals.remove()

        asyncio.run(main())
    except EvlogError:
        if server is not None:
            server.close()
            server = None
        log.close()
        if created and stats.recorded == 0 and capture.fatal is None:
            _remove_empty_recording(path)  # a setup mistake must not leave an empty recording behind
        raise
    finally:
        if server is not None:
            server.close()
        log.close()
    return NatsRecordResult(path, stats, capture.stop_reason, server.port if server else None)


def _remove_empty_recording(path: str) -> None:
    try:
        if len(Log.open(path)) == 0:
            shutil.rmtree(path)
    except (EvlogError, OSError):
        pass


@dataclass
class NatsReplayResult:
    """What `replay_to_nats` did: `lines()` is the summary the CLI prints."""

    sent: int
    skipped: int
    dry_run: bool
    faults: list = field(default_factory=list)   # faults injected (`faults=`), as ReplayResult.faults
    fault_seed: int | None = None

    def lines(self) -> list[str]:
        verb = "would send" if self.dry_run else "sent"
        tail = f" ({self.skipped} evlog marker records not sent)" if self.skipped else ""
        return [f"{verb} {self.sent} messages{tail}"] + fault_lines(self.faults, self.fault_seed)


def replay_to_nats(path: str, url: str, *, subject_template: str = "replay.{event_name}",
                   speed: float | str = 1.0, filter_text: str | None = None, start: Any = None,
                   end: Any = None, limit: int | None = None, dry_run: bool = False,
                   out: TextIO | None = None, lockstep: bool = False, reply_timeout: float = 30.0,
                   faults: Any = None, seed: int | None = None) -> NatsReplayResult:
    """Publish the events of a recording to NATS through the replay scheduler (the replayer's
    timing: `speed` 2 = twice as fast, "max" or inf = as fast as possible; its filter language
    and `start`/`end`: an int offset, or a time "90s" or ISO). Every message is tagged
    `Evlog-Replay: <recording>` and has `Nats-Msg-Id: evlog:<recording>:<start_time_ns>:<offset>`
    (a stream with a duplicate window keeps one copy however often a replay is run or
    resumed); a recorded NATS message gets its subject (`{subject}` in the template) and its
    headers back (natsformat.replay_headers). `dry_run` prints what would be sent, without
    waiting and without connecting. `lockstep`: each message is a request and the next one
    goes when the consumer has replied (within `reply_timeout` seconds), on a virtual clock (no
    waiting). `faults`/`seed`: seeded fault injection (see evlog.replay.faults)."""
    factor = parse_speed(speed)
    if limit is not None and limit < 0:
        raise NatsSetupError("--limit must not be negative")
    selection = Selection(filter=filter_text, start=start, end=end)   # a syntax error before anything connects
    replayer = EventReplayer(path)
    harness = HarnessOptions.of(lockstep=lockstep, faults=faults, seed=seed, upcasters=replayer.upcasters)
    sink = NatsSink(url, subject_template, replayer.session_name or os.path.basename(os.path.abspath(path)),
                    dry_run=dry_run, out=out, reply_timeout=reply_timeout if lockstep and not dry_run else None,
                    start_time_ns=replayer.start_time_ns, envelopes_before=envelope_limit(replayer.metadata))
    control = ReplayControl()

    def send(record: Any) -> None:
        if limit is not None and sink.sent >= limit:
            control.stop()
            return
        sink.send(record)
        if limit is not None and sink.sent >= limit:
            control.stop()

    try:
        options = ReplayOptions(speed="max" if dry_run else factor, selection=selection, stop_on_error=True,
                                clock=harness.lockstep.clock if harness.lockstep else None, harness=harness)
        result = play(replayer.recording, SimpleNamespace(send=send), options, control=control)
    finally:
        sink.close()
        replayer.close()
    if result.failed and result.errors:
        raise NatsSetupError(f"replay stopped after {sink.sent} messages: {result.errors[0]}")
    return NatsReplayResult(sink.sent, sink.skipped, dry_run, result.faults, result.fault_seed)
