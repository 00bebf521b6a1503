"""NATS operations: record a subject into a recording (core NATS or JetStream, exactly once),
replay a recording into NATS (tagged messages, dry run). The `evlog record --from nats://...`
and `evlog replay --to-nats ...` commands are thin shells over these."""
from __future__ import annotations

import asyncio
import os
import shutil
import sys
from dataclasses import dataclass, field
from typing import Any, TextIO

from ..filters import parse_filter
from ..integrations.nats import CaptureConfig, NatsCapture
from ..integrations.natsclient import import_nats
from ..integrations.natsformat import DEFAULT_SOURCE, NAME_HEADER, SOURCE_HEADER, NatsSetupError, SubjectMapper
from ..integrations.natssink import NatsSink
from ..integrations.signals import CaptureSignals
from ..integrations.status import CaptureStats, StatusServer
from ..replay.control import ReplayControl
from ..replay.faults import fault_lines
from ..replay.options import parse_speed
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
    """(the log, True if it was created): an existing recording is appended to."""
    if os.path.exists(path) and is_recording(path):
        return Log.open(path, "a", **options), False
    return Log.create(check_new_recording(path), session_name, **options), True


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
                     **capture_options: Any) -> NatsRecordResult:
    """Record `subject` from the NATS server at `url` into the recording at `path` (created, or
    appended to: a restarted JetStream capture resumes after the last recorded stream sequence).

    Runs until SIGTERM/SIGINT (then flushes, fsyncs, closes: a clean stop), `max_events` or
    `max_seconds`. SIGHUP starts a new segment. Raises an EvlogError subclass on user mistakes.
    """
    import_nats()
    mapper = SubjectMapper.from_specs(list(name_rules), name_template, name_header)
    config = CaptureConfig(url=url, subject=subject, stream=stream, durable=durable, queue=queue, mapper=mapper,
                           source_header=source_header, default_source=default_source,
                           status_interval=status_interval, roll_daily=roll_daily,
                           max_events=max_events, max_seconds=max_seconds, **capture_options)
    options: dict[str, Any] = {"fsync": fsync}
    for key, value in (("fsync_interval", fsync_interval), ("segment_max_bytes", segment_max_bytes),
                       ("segment_max_age", segment_max_age), ("retain_max_age", retain_max_age),
                       ("retain_max_bytes", retain_max_bytes)):
        if value is not None:
            options[key] = value
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
    """Publish the events of a recording to NATS through the replayer (`EventReplayer`): its
    timing (`speed` 2 = twice as fast, "max" or inf = as fast as possible), filter language and
    `start`/`end` (as `EventReplayer.replay` takes them: an int offset, or a time "90s" or ISO). Every
    message is tagged `Evlog-Replay: <recording>`. `dry_run` prints what would be sent, without
    waiting and without connecting. `lockstep`: each message is a request and the next one
    goes when the consumer has replied (within `reply_timeout` seconds), on a virtual clock (no
    waiting). `faults`/`seed`: seeded fault injection (see evlog.replay.faults)."""
    factor = parse_speed(speed)
    if limit is not None and limit < 0:
        raise NatsSetupError("--limit must not be negative")
    if filter_text:
        parse_filter(filter_text)  # a syntax error before anything connects
    replayer = EventReplayer(path)
    sink = NatsSink(url, subject_template, replayer.session_name or os.path.basename(os.path.abspath(path)),
                    dry_run=dry_run, out=out, reply_timeout=reply_timeout if lockstep and not dry_run else None)
    control = ReplayControl()

    def publish(name: str, event: Any, source: str = "") -> None:
        if limit is not None and sink.sent >= limit:
            control.stop()
            return
        sink.publish(name, event, source)
        if limit is not None and sink.sent >= limit:
            control.stop()

    try:
        result = replayer.replay(publish, "max" if dry_run else factor, event_filter=filter_text,
                                 start=start, end=end, control=control,
                                 stop_on_error=True, lockstep=lockstep, faults=faults, seed=seed)
    finally:
        sink.close()
    if result.failed and result.errors:
        raise NatsSetupError(f"replay stopped after {sink.sent} messages: {result.errors[0]}")
    return NatsReplayResult(sink.sent, sink.skipped, dry_run, result.faults, result.fault_seed)

