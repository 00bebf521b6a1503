"""Commands that record and replay: record (stdin JSON Lines, or a NATS subject), replay
(stdout JSON Lines, an HTTP endpoint, or NATS)."""
from __future__ import annotations

import os
import sys

import click

from .. import ops
from ..integrations.natsformat import DEFAULT_SOURCE, SOURCE_HEADER
from ..ops.nats import FSYNC_CHOICES
from ..ops.output import check_parent
from ..ops.record import default_path
from ..replay.faults import fault_lines, parse_faults
from ..replay.harness import HarnessOptions
from ..timespec import parse_time
from .common import (AGE, DURATION, SIZE, SPEED, Parsed, bar, msg, quiet_option, redact_options, selection,
                     selection_options, stdout, total)

NATS_URL = "nats://HOST:PORT"


@click.command()
@click.argument("recording")
@click.option("--speed", default="1", show_default=True, type=SPEED, metavar="X|max", help="Speed multiplier, or max.")
@selection_options(offsets=False)
@click.option("--loop", is_flag=True, help="Start again at the end (until Ctrl-C).")
@click.option("--sink", "sink_url", metavar="URL",
              help="Where the events go: http(s)://... (as --to-url) or nats://... (as --to-nats); default stdout.")
@click.option("--to-url", "url", metavar="URL", help="POST events to this HTTP endpoint instead of stdout.")
@click.option("--batch", default=1, show_default=True, type=click.IntRange(1), help="Events per POST.")
@click.option("--retries", default=3, show_default=True, type=click.IntRange(0), help="Retries of a failed POST.")
@click.option("--to-nats", "nats_url", metavar=NATS_URL,
              help="Publish into NATS instead of stdout (each message tagged Evlog-Replay).")
@click.option("--subject-template", default="replay.{event_name}", show_default=True,
              help="With --to-nats: the subject of each message: {event_name} {source} {subject} {recording}.")
@click.option("--dry-run", is_flag=True, help="With --to-nats: print what would be sent, connect to nothing.")
@click.option("--limit", type=click.IntRange(0), help="With --to-nats: send at most this many messages.")
@click.option("--lockstep", is_flag=True,
              help="Send the next event only when the consumer has answered the last one (--to-url: its HTTP "
                   "response; --to-nats: its reply), on a virtual clock (no waiting).")
@click.option("--faults", type=Parsed("faults", parse_faults), metavar="SPEC",
              help="Inject seeded faults, e.g. drop=0.01,dup=0.005,delay=50ms@0.02,reorder=3@0.01.")
@click.option("--seed", type=int, help="With --faults: the random seed (the same seed gives the same faults).")
@quiet_option
def replay(recording: str, speed: float, filter_text: str | None, start: str | None, end: str | None,
           loop: bool, sink_url: str | None, url: str | None, batch: int, retries: int, nats_url: str | None, subject_template: str,
           dry_run: bool, limit: int | None, lockstep: bool, faults: object, seed: int | None, quiet: bool) -> None:
    """Replay events with their recorded timing, as JSON Lines on stdout, to an HTTP endpoint
    (--to-url), or into NATS (--to-nats nats://HOST:PORT, tagged with an Evlog-Replay header)."""
    url, nats_url = _sink(sink_url, url, nats_url)
    for option, value in (("--from", start), ("--to", end)):
        if value is not None and "://" in value:
            raise click.UsageError(f"{option} is a time; send the events elsewhere with --sink URL "
                                   f"(or --to-url / --to-nats)")
    if seed is not None and faults is None:
        raise click.UsageError("--seed goes with --faults")
    if lockstep and nats_url is None and (url is None or batch != 1):
        raise click.UsageError("--lockstep needs a consumer that answers each event: --to-url (with --batch 1) "
                               "or --to-nats (a pipe cannot acknowledge)")
    if nats_url is not None:
        if url is not None or loop:
            raise click.UsageError("--to-nats goes without --to-url and --loop")
        for t in (start, end):
            if t is not None:
                parse_time(t)   # --from and --to are times, whatever the sink
        result = ops.replay_to_nats(recording, nats_url, subject_template=subject_template, speed=speed,
                                    filter_text=filter_text, start=start, end=end, limit=limit, dry_run=dry_run,
                                    lockstep=lockstep, faults=faults, seed=seed)
        for line in result.lines():
            msg(line)
        return
    if dry_run or limit is not None:
        raise click.UsageError("--dry-run and --limit go with --to-nats nats://...")
    sel = selection(filter_text, start, end)
    sink = ops.HttpSink(url, batch=batch, retries=retries) if url else ops.JsonLinesSink(stdout())
    count = total(recording, sel)
    harness = HarnessOptions.of(lockstep=lockstep, faults=faults, seed=seed)
    results: list = []
    with bar("replay", count, quiet) as progress:
        def on_event(n: int, r: object) -> None:
            progress.done = n
            where = f" {n}/{count}" if count and not loop else f" {n}"
            progress.status(f"replay x{speed}{where} t={r.monotonic / 1e9:.3f}s {r.name}")  # type: ignore[attr-defined]
        n = ops.replay(recording, sink, speed=speed, selection=sel, loop=loop, on_event=on_event,
                       harness=harness, on_result=results.append)
    for line in fault_lines(results[0].faults, results[0].fault_seed) if results else []:
        msg(line)
    msg(f"replayed {n} events" + (f" to {url}" if url else ""))


def _sink(sink_url: str | None, url: str | None, nats_url: str | None) -> tuple[str | None, str | None]:
    """(HTTP URL, NATS URL) from --sink, --to-url and --to-nats (at most one of them)."""
    if sink_url is None:
        if url is not None and nats_url is not None:
            raise click.UsageError("--to-url and --to-nats: give one sink")
        return url, nats_url
    if url is not None or nats_url is not None:
        raise click.UsageError("--sink goes without --to-url and --to-nats")
    if sink_url.startswith(("http://", "https://")):
        return sink_url, None
    if sink_url.startswith(("nats://", "tls://")):
        return None, sink_url
    raise click.UsageError(f"--sink takes an http://, https:// or nats:// URL, not {sink_url!r}")


@click.command()
@click.argument("recording", required=False)
@click.option("--name", "session_name", default=None, help="Session name (default: stdin; from NATS: the folder's name).")
@click.option("--out", "out_dir", default="recordings", show_default=True, type=click.Path(file_okay=False),
              help="Folder for the new recording (created if its own parent exists).")
@click.option("-o", "--output", "output", type=click.Path(), help="Exact path of the recording.")
@click.option("--strict", is_flag=True, help="Stop at the first line that is not an event (default: skip it).")
@click.option("--from", "source_url", metavar=NATS_URL, help="Record from NATS instead of stdin.")
@click.option("--subject", help="With --from: the subject to record (wildcards allowed, e.g. 'trading.>'); "
                                "with --stream it may be left out: the whole stream.")
@click.option("--stream", help="With --from: JetStream stream (exactly-once through a pull consumer).")
@click.option("--durable", help="With --from: JetStream durable consumer name (created if missing).")
@click.option("--queue", help="With --from: core NATS queue group (recorders sharing a subject).")
@click.option("--map", "name_rules", multiple=True, metavar="PATTERN=TEMPLATE",
              help="With --from: event name from the subject, e.g. 'trading.*.price={last}'. Repeatable; first match wins.")
@click.option("--name-template", default="{subject}", show_default=True,
              help="With --from: event name when no --map rule matches: {subject} {first} {last} {tokens[N]}.")
@click.option("--source-header", default=SOURCE_HEADER, show_default=True,
              help="With --from: the header holding the event source.")
@click.option("--default-source", default=DEFAULT_SOURCE, show_default=True,
              help="With --from: the source when the header is absent.")
@click.option("--fsync", type=click.Choice(FSYNC_CHOICES), default="always", show_default=True,
              help="With --from: fsync policy (docs/production.md).")
@click.option("--fsync-interval", type=click.FloatRange(min=0, min_open=True), metavar="SECONDS",
              help="With --fsync interval: seconds between fsyncs (default 1).")
@click.option("--segment-size", type=SIZE, metavar="SIZE", help="With --from: roll segments at this size (e.g. 64M).")
@click.option("--segment-age", type=AGE, metavar="AGE", help="With --from: roll segments at this age (e.g. 1h).")
@click.option("--retain-max-age", type=AGE, metavar="AGE", help="With --from: delete segments older than AGE (e.g. 7d).")
@click.option("--retain-max-bytes", type=SIZE, metavar="SIZE", help="With --from: keep the recording under SIZE (e.g. 10G).")
@click.option("--roll-daily", is_flag=True, help="With --from: start a new segment each UTC day.")
@click.option("--status-interval", type=click.FloatRange(min=0), default=10.0, show_default=True,
              help="With --from: seconds between status lines on stderr (0: none).")
@click.option("--status-port", type=click.IntRange(0, 65535), help="With --from: serve GET /status on 127.0.0.1:PORT.")
@click.option("--max-events", type=click.IntRange(1), help="With --from: stop after this many events.")
@click.option("--duration", type=AGE, metavar="AGE", help="With --from: stop after this long (e.g. 60s, 2h).")
@redact_options
@click.option("--snapshot", "snapshot_keep", type=DURATION, metavar="KEEP",
              help="Flight recorder: keep the last KEEP (e.g. 60s) in memory and write a recording into --out only "
                   "when triggered (SIGUSR1, --trigger-on); nothing is written otherwise (docs/flight.md).")
@click.option("--after", "snapshot_after", type=DURATION, default="10s", show_default=True, metavar="DURATION",
              help="With --snapshot: how long a triggered recording goes on after the trigger.")
@click.option("--snapshot-bytes", type=SIZE, default="256MiB", show_default=True, metavar="SIZE",
              help="With --snapshot: the memory bound of the ring (oldest events dropped first).")
@click.option("--trigger-on", metavar="FILTER",
              help="With --snapshot: an event matching this filter triggers, e.g. 'OrderFailed or data.drawdown > 0.05'.")
@click.option("--shared", is_flag=True,
              help="With --durable: several recorders share the consumer, each writing its own recording "
                   "(explicit acks); join them with evlog merge --by-sequence.")
@click.option("--ack-wait", type=AGE, metavar="AGE",
              help="With --durable: for a consumer evlog creates, how long the server waits for an ack before "
                   "redelivering (default 60s): what a recorder killed with --shared delays its messages.")
@click.option("--give-up-after", type=AGE, metavar="AGE",
              help="With --from: exit with an error after waiting this long for NATS (no server reachable, "
                   "no JetStream leader). Default: wait and retry for ever.")
def record(recording: str | None, session_name: str | None, out_dir: str, output: str | None, strict: bool,
           source_url: str | None, subject: str | None, stream: str | None, durable: str | None,
           queue: str | None, name_rules: tuple[str, ...], name_template: str, source_header: str,
           default_source: str, fsync: str, fsync_interval: float | None, segment_size: int | None,
           segment_age: float | None, retain_max_age: float | None, retain_max_bytes: int | None,
           roll_daily: bool, status_interval: float, status_port: int | None, max_events: int | None,
           duration: float | None, redact: object, snapshot_keep: int | None, snapshot_after: int,
           snapshot_bytes: int, trigger_on: str | None, shared: bool, ack_wait: float | None,
           give_up_after: float | None) -> None:
    """Record JSON Lines from stdin ({"event_name", "event_data", "source", "timestamp"?})
    until end of input or Ctrl-C, flushing as it goes; or, with --from nats://..., record a
    NATS subject until SIGTERM/SIGINT (see docs/production.md)."""
    if recording is not None:
        if output is not None:
            raise click.UsageError("give the recording either as RECORDING or with -o, not both")
        output = recording
    if source_url is not None and not subject:
        if not stream:
            raise click.UsageError("--from needs --subject (or --stream: the whole stream)")
        subject = ">"
    if source_url is None and (shared or give_up_after is not None or ack_wait is not None):
        raise click.UsageError("--shared, --ack-wait and --give-up-after go with --from nats://...")
    extra = {} if ack_wait is None else {"ack_wait": ack_wait}
    if snapshot_keep is not None:
        return _record_snapshot(out_dir, output, session_name, source_url, subject, queue, name_rules, name_template,
                                source_header, default_source, stream, durable, strict, status_interval,
                                status_port, max_events, duration, snapshot_keep, snapshot_after, snapshot_bytes,
                                trigger_on)
    if trigger_on is not None:
        raise click.UsageError("--trigger-on goes with --snapshot")
    if output is None:
        if not os.path.isdir(out_dir):
            os.mkdir(check_parent(out_dir))   # the folder itself, never a missing parent
        output = default_path(out_dir, session_name or ("nats" if source_url else "stdin"))
    if source_url is not None:
        result = ops.record_from_nats(
            output, source_url, subject, stream=stream, durable=durable, queue=queue, name_rules=name_rules,
            name_template=name_template, source_header=source_header, default_source=default_source,
            session_name=session_name, fsync=fsync, fsync_interval=fsync_interval,
            segment_max_bytes=segment_size, segment_max_age=segment_age, retain_max_age=retain_max_age,
            retain_max_bytes=retain_max_bytes, roll_daily=roll_daily, status_interval=status_interval,
            status_port=status_port, max_events=max_events, max_seconds=duration, redact=redact, shared=shared,
            give_up_after=give_up_after, **extra)
        for line in result.lines():
            msg(line)
        return
    if sys.stdin.isatty():
        msg(f"recording stdin into {output} (Ctrl-D or Ctrl-C to stop)")
    result = ops.record_stream(sys.stdin.buffer, output, session_name=session_name or "stdin",
                               on_error="fail" if strict else "skip", redact=redact)
    for err in result.errors:
        msg(f"skipped {err}")
    if result.skipped > len(result.errors):
        msg(f"... {result.skipped - len(result.errors)} more lines skipped")
    click.echo(ops.format_info(ops.info(output)))
    msg(f"recorded {result.events} events" + (f", skipped {result.skipped} lines" if result.skipped else "")
        + (" (interrupted)" if result.interrupted else ""))


def _record_snapshot(out_dir: str, output: str | None, session_name: str | None, source_url: str | None,
                     subject: str | None, queue: str | None, name_rules: tuple[str, ...], name_template: str,
                     source_header: str, default_source: str, stream: str | None, durable: str | None, strict: bool,
                     status_interval: float, status_port: int | None, max_events: int | None,
                     duration: float | None, keep_ns: int,
                     after_ns: int, keep_bytes: int, trigger_on: str | None) -> None:
    """`record --snapshot`: stdin or a core NATS subject into a flight recorder; SIGUSR1 triggers."""
    if output is not None:
        raise click.UsageError("--snapshot writes its recordings into --out (named by their trigger time), "
                               "not to RECORDING or -o")
    if keep_ns <= 0:
        raise click.UsageError("--snapshot needs a positive duration, e.g. 60s")
    if not os.path.isdir(out_dir):
        os.mkdir(check_parent(out_dir))
    name = session_name or ("nats" if source_url else "stdin")
    if source_url is None:
        msg(f"flight recorder on stdin: the last {keep_ns / 1e9:g}s in memory; kill -USR1 {os.getpid()} "
            f"writes them and the next {after_ns / 1e9:g}s into {out_dir}")
        result = ops.record_stream_snapshot(sys.stdin.buffer, out_dir, session_name=name, keep=keep_ns / 1e9,
                                            after=after_ns / 1e9, keep_bytes=keep_bytes, trigger_on=trigger_on,
                                            on_error="fail" if strict else "skip")
        for err in result.errors:
            msg(f"skipped {err}")
    else:
        if stream or durable:
            raise click.UsageError("--snapshot records core NATS subjects (a JetStream consumer would acknowledge "
                                   "messages held only in memory)")
        flight = ops.flight_recorder(name, out_dir, keep_ns / 1e9, after_ns / 1e9, keep_bytes, trigger_on)
        result = ops.SnapshotResult()
        try:
            flight.install_signal_handler()
            nats = ops.record_from_nats(
                out_dir, source_url, subject or "", queue=queue, name_rules=name_rules, name_template=name_template,
                source_header=source_header, default_source=default_source, session_name=name,
                status_interval=status_interval, status_port=status_port, max_events=max_events,
                max_seconds=duration, snapshot=flight)
            result.events = nats.stats.recorded
            msg(f"read {nats.stats.recorded} events from {nats.stats.subject}"
                + (f" (stopped: {nats.stop_reason})" if nats.stop_reason else ""))
        finally:
            ops.finish_snapshot(flight, result, "stopped")
    for line in result.lines():
        msg(line)


COMMANDS = [record, replay]
