"""Production capture commands: record from NATS, replay into NATS, retention.

Library functions (`record_from_nats`, `replay_to_nats`, `retain`) plus click commands that
wrap them (`record_cmd`, `replay_cmd`, `retain_cmd`), testable standalone with CliRunner and
runnable as `python -m evlog.capture_cli record|replay|retain ...` until `evlog/cli.py` wires them.
"""
from __future__ import annotations

import asyncio
import os
import shutil
import sys
from dataclasses import dataclass
from typing import Any, TextIO

import click

from .integrations.natsformat import (
    DEFAULT_SOURCE,
    NAME_HEADER,
    SOURCE_HEADER,
    NatsSetupError,
    SubjectMapper,
)
from .integrations.status import CaptureStats, StatusServer
from .segments import EvlogError, Log
from .segments.manifest import is_recording
from .segments.retention import RetentionResult, parse_age, parse_size
from .segments.retention import retain as _storage_retain

FSYNC_CHOICES = ("always", "interval", "never")


@dataclass
class RecordResult:
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
                       f"{s.backfilled} fetched by sequence, {s.acked} acknowledged")
        else:
            out.append(f"core nats: {s.dropped} messages dropped by the client (slow consumer)")
        if s.binary:
            out.append(f"{s.binary} non-JSON payloads kept as bytes")
        if s.last_error:
            out.append(f"last error: {s.last_error}")
        return out


def _open_for_capture(path: str, session_name: str | None, options: dict[str, Any]) -> Log:
    if os.path.exists(path) and is_recording(path):
        return Log.open(path, "a", **options)
    return Log.create(path, session_name, **options)


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
                     **capture_options: Any) -> RecordResult:
    """Record `subject` from the NATS server at `url` into the recording at `path` (created, or
    appended to: a restarted JetStream capture resumes after the last recorded stream sequence).

    Runs until SIGTERM/SIGINT (then flushes, fsyncs, closes: a clean stop), `max_events` or
    `max_seconds`. SIGHUP starts a new segment. Raises an EvlogError subclass on user mistakes.
    """
    from .integrations.nats import CaptureConfig, NatsCapture, import_nats
    from .integrations.signals import CaptureSignals

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
    created = not (os.path.exists(path) and is_recording(path))
    try:
        log = _open_for_capture(path, session_name, options)
    except ValueError as exc:  # WriterOptions validation
        raise NatsSetupError(str(exc)) from None
    stats = CaptureStats()
    capture = NatsCapture(log, config, stats, status_stream=status_stream if status_stream is not None else sys.stderr)
    server = StatusServer(stats.snapshot, status_host, status_port) if status_port is not None else None
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
    return RecordResult(path, stats, capture.stop_reason, server.port if server else None)


def _remove_empty_recording(path: str) -> None:
    try:
        if len(Log.open(path)) == 0:
            shutil.rmtree(path)
    except (EvlogError, OSError):
        pass


# replay ------------------------------------------------------------------------------------
@dataclass
class ReplayResult:
    sent: int
    skipped: int
    dry_run: bool

    def lines(self) -> list[str]:
        verb = "would send" if self.dry_run else "sent"
        tail = f" ({self.skipped} evlog marker records not sent)" if self.skipped else ""
        return [f"{verb} {self.sent} messages{tail}"]


def replay_to_nats(path: str, url: str, *, subject_template: str = "replay.{event_name}",
                   speed: float = 1.0, filter_text: str | None = None, start: str | None = None,
                   end: str | None = None, limit: int | None = None, dry_run: bool = False,
                   out: TextIO | None = None) -> ReplayResult:
    """Publish the events of a recording to NATS through the replayer (`EventReplayer`): its
    timing (`speed` 2 = twice as fast, 0 = as fast as possible), filter language and start/end
    ("90s", an ISO time, or an offset). Every message is tagged `Evlog-Replay: <recording>`.
    `dry_run` prints what would be sent, without waiting and without connecting."""
    from .filters import parse_filter
    from .integrations.natssink import NatsSink
    from .replay.control import ReplayControl
    from .replayer import EventReplayer

    if speed < 0:
        raise NatsSetupError("--speed must be 0 (as fast as possible) or positive")
    if limit is not None and limit < 0:
        raise NatsSetupError("--limit must not be negative")
    if filter_text:
        parse_filter(filter_text)  # a syntax error before anything connects
    replayer = EventReplayer(path)
    sink = NatsSink(url, subject_template, replayer.session_name or os.path.basename(os.path.abspath(path)),
                    dry_run=dry_run, out=out)
    control = ReplayControl()

    def publish(name: str, event: Any, source: str = "") -> None:
        if limit is not None and sink.sent >= limit:
            control.stop()
            return
        sink.publish(name, event, source)
        if limit is not None and sink.sent >= limit:
            control.stop()

    try:
        result = replayer.replay(publish, "max" if dry_run or speed == 0 else speed, event_filter=filter_text,
                                 start=_point(start), end=_point(end), control=control, stop_on_error=True)
    finally:
        sink.close()
    if result.failed and result.errors:
        raise NatsSetupError(f"replay stopped after {sink.sent} messages: {result.errors[0]}")
    return ReplayResult(sink.sent, sink.skipped, dry_run)


def _point(text: str | None) -> Any:
    """An offset ("1200") or a time ("90s", ISO), as the replayer takes them."""
    if text is None:
        return None
    return int(text) if text.strip().isdigit() else text


# retention ---------------------------------------------------------------------------------
def retain(path: str, max_age: str | float | None = None, max_bytes: str | int | None = None) -> RetentionResult:
    """Delete whole old segments so the recording keeps at most `max_age` ("7d" or seconds) and
    `max_bytes` ("10G" or bytes). The active segment is never touched (safe during a capture)."""
    if max_age is None and max_bytes is None:
        raise NatsSetupError("give --max-age and/or --max-bytes")
    age = _age(max_age)
    size = _size(max_bytes)
    return _storage_retain(path, age, size)


def _age(value: str | float | None) -> float | None:
    if value is None or isinstance(value, (int, float)):
        return value
    try:
        return parse_age(value)
    except ValueError as exc:
        raise NatsSetupError(str(exc)) from None


def _size(value: str | int | None) -> int | None:
    if value is None or isinstance(value, int):
        return value
    try:
        return parse_size(value)
    except ValueError as exc:
        raise NatsSetupError(str(exc)) from None


# click commands ----------------------------------------------------------------------------
def _speed(text: str) -> float:
    """'max' -> 0 (no waiting), else a positive multiplier."""
    if text.strip().lower() in ("max", "inf"):
        return 0.0
    try:
        value = float(text)
    except ValueError:
        raise NatsSetupError(f"--speed must be a positive number or max, not {text!r}") from None
    if not 0 < value < float("inf"):
        raise NatsSetupError(f"--speed must be a positive number or max, not {text!r}")
    return value


def _fail(exc: EvlogError) -> None:
    click.echo(f"evlog: error: {exc}", err=True)
    sys.exit(2)


@click.command("record")
@click.argument("recording", type=click.Path())
@click.option("--from", "url", required=True, metavar="nats://HOST:PORT", help="NATS server URL.")
@click.option("--subject", required=True, help="Subject to record (wildcards allowed, e.g. 'trading.>').")
@click.option("--stream", default=None, help="JetStream stream: record through a pull consumer, exactly once.")
@click.option("--durable", default=None, help="JetStream durable consumer name (created if missing).")
@click.option("--queue", default=None, help="Core NATS queue group.")
@click.option("--name", "name_rules", multiple=True, metavar="PATTERN=TEMPLATE",
              help="Event name for subjects matching PATTERN, e.g. 'trading.*.price=PriceTick' "
                   "or 'orders.>={last}'. Repeatable; first match wins.")
@click.option("--name-template", default="{subject}", show_default=True,
              help="Event name when no --name rule matches: {subject} {first} {last} {tokens[N]}.")
@click.option("--source-header", default=SOURCE_HEADER, show_default=True, help="Header holding the event source.")
@click.option("--default-source", default=DEFAULT_SOURCE, show_default=True, help="Source when the header is absent.")
@click.option("--session", "session_name", default=None, help="Session name of a new recording.")
@click.option("--fsync", type=click.Choice(FSYNC_CHOICES), default="always", show_default=True,
              help="When blocks reach stable storage (see docs/production.md).")
@click.option("--fsync-interval", type=float, default=None, help="Seconds between fsyncs with --fsync interval.")
@click.option("--segment-size", default=None, metavar="SIZE", help="Roll segments at this size (e.g. 64M).")
@click.option("--segment-age", default=None, metavar="AGE", help="Roll segments at this age (e.g. 1h).")
@click.option("--roll-daily", is_flag=True, help="Start a new segment when the UTC date changes.")
@click.option("--retain-max-age", default=None, metavar="AGE", help="Delete segments older than AGE (e.g. 7d) at each roll.")
@click.option("--retain-max-bytes", default=None, metavar="SIZE", help="Keep the recording under SIZE (e.g. 10G) at each roll.")
@click.option("--status-interval", type=float, default=10.0, show_default=True,
              help="Seconds between status lines on stderr (0: none).")
@click.option("--status-port", type=int, default=None, help="Serve GET /status and /healthz on 127.0.0.1:PORT.")
@click.option("--max-events", type=int, default=None, help="Stop after recording this many events.")
@click.option("--duration", default=None, metavar="AGE", help="Stop after this long (e.g. 60s, 2h).")
def record_cmd(recording: str, url: str, subject: str, stream: str | None, durable: str | None,
               queue: str | None, name_rules: tuple[str, ...], name_template: str, source_header: str,
               default_source: str, session_name: str | None, fsync: str, fsync_interval: float | None,
               segment_size: str | None, segment_age: str | None, roll_daily: bool,
               retain_max_age: str | None, retain_max_bytes: str | None, status_interval: float,
               status_port: int | None, max_events: int | None, duration: str | None) -> None:
    """Record events from NATS (core or JetStream) into RECORDING."""
    try:
        result = record_from_nats(
            recording, url, subject, stream=stream, durable=durable, queue=queue, name_rules=name_rules,
            name_template=name_template, source_header=source_header, default_source=default_source,
            session_name=session_name, fsync=fsync, fsync_interval=fsync_interval,
            segment_max_bytes=_size(segment_size), segment_max_age=_age(segment_age), roll_daily=roll_daily,
            retain_max_age=_age(retain_max_age), retain_max_bytes=_size(retain_max_bytes),
            status_interval=status_interval, status_port=status_port, max_events=max_events,
            max_seconds=_age(duration))
    except EvlogError as exc:
        _fail(exc)
        return
    for line in result.lines():
        click.echo(line, err=True)


@click.command("replay")
@click.argument("recording", type=click.Path())
@click.option("--to", "url", required=True, metavar="nats://HOST:PORT", help="NATS server to publish to.")
@click.option("--subject-template", default="replay.{event_name}", show_default=True,
              help="Subject of each message: {event_name} {source} {subject} (original) {recording}.")
@click.option("--speed", default="1", show_default=True, metavar="X|max",
              help="Speed multiplier, or max (no waiting).")
@click.option("--filter", "filter_text", default=None, help="Filter expression (docs/filters.md).")
@click.option("--start", default=None, help="Start at an offset, a time into the recording (90s) or an ISO time.")
@click.option("--end", default=None, help="End at an offset (exclusive), a time into the recording or an ISO time.")
@click.option("--limit", type=int, default=None, help="Send at most this many messages.")
@click.option("--dry-run", is_flag=True, help="Print what would be sent; connect to nothing.")
def replay_cmd(recording: str, url: str, subject_template: str, speed: str, filter_text: str | None,
               start: str | None, end: str | None, limit: int | None, dry_run: bool) -> None:
    """Replay RECORDING into NATS; every message carries the header Evlog-Replay."""
    try:
        result = replay_to_nats(recording, url, subject_template=subject_template, speed=_speed(speed),
                                filter_text=filter_text, start=start, end=end, limit=limit, dry_run=dry_run)
    except EvlogError as exc:
        _fail(exc)
        return
    for line in result.lines():
        click.echo(line, err=True)


@click.command("retain")
@click.argument("recording", type=click.Path())
@click.option("--max-age", default=None, metavar="AGE", help="Delete segments whose newest event is older (e.g. 7d).")
@click.option("--max-bytes", default=None, metavar="SIZE", help="Delete oldest segments above this size (e.g. 10G).")
def retain_cmd(recording: str, max_age: str | None, max_bytes: str | None) -> None:
    """Delete whole old segments of RECORDING (never the active one)."""
    try:
        result = retain(recording, max_age, max_bytes)
    except EvlogError as exc:
        _fail(exc)
        return
    for line in result.lines():
        click.echo(line)


@click.group()
def capture_group() -> None:
    """Production capture commands (standalone entry point)."""


capture_group.add_command(record_cmd)
capture_group.add_command(replay_cmd)
capture_group.add_command(retain_cmd)


if __name__ == "__main__":
    capture_group()
