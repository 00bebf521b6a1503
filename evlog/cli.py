"""The `evlog` command line: one click group; each command is a thin shell over a library
function of `evlog.ops` (parsing, progress and exit codes only).

Errors a user can make (missing file, not a recording, damaged recording, bad filter, bad
time, bad option) print one line on stderr and exit with status 2; data goes to stdout,
messages to stderr. Progress bars appear on a terminal only (never in pipes or with -q).
"""
from __future__ import annotations

import json
import math
import os
import sys
from collections.abc import Callable
from typing import Any

import click

from . import ops
from .ops.common import OpError, Selection, parse_offsets
from .ops.progress import ProgressBar
from .segments import EvlogError, Log

EXIT_ERROR = 2


class EvlogGroup(click.Group):
    """Turns evlog errors and OS errors on user paths into one line on stderr and status 2."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BrokenPipeError:
            # the reader of our stdout went away (`evlog cat x | head`): stop quietly
            try:
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, sys.stdout.fileno())
            except (OSError, ValueError, AttributeError):
                pass
            ctx.exit(1)
        except (EvlogError, OSError) as exc:
            click.echo(f"evlog: error: {_one_line(exc)}", err=True)
            ctx.exit(EXIT_ERROR)
        except KeyboardInterrupt:
            click.echo("evlog: interrupted", err=True)
            ctx.exit(130)


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, OSError) and not isinstance(exc, EvlogError) and exc.filename:
        text = f"{exc.filename}: {exc.strerror or exc}"
    else:
        text = str(exc) or type(exc).__name__
    return " ".join(text.split())


@click.group(cls=EvlogGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="evlog")
def cli() -> None:
    """Record, inspect, compare and replay event logs.

    Every command reads evlog recordings (directories) and the original tool's JSON
    recordings alike. Filters (--filter) use the language of docs/filters.md; times
    (--from, --to) are offsets such as 90s or 1m30s, or ISO timestamps.
    """


# shared options --------------------------------------------------------------------------
def _selection_options(offsets: bool = True) -> Callable[[Callable], Callable]:
    def deco(f: Callable) -> Callable:
        opts = [
            click.option("--filter", "filter_text", metavar="EXPR", help='Events to keep, e.g. "Position*" or "data.profit < 0".'),
            click.option("--from", "start", metavar="T", help="From this time: offset (90s, 1m30s) or ISO timestamp."),
            click.option("--to", "end", metavar="T", help="Up to this time (inclusive)."),
        ]
        if offsets:
            opts.append(click.option("--offsets", "offsets", metavar="A:B", help="Offsets A (inclusive) to B (exclusive)."))
        for o in reversed(opts):
            f = o(f)
        return f
    return deco


def _selection(filter_text: str | None = None, start: str | None = None, end: str | None = None,
               offsets: str | None = None) -> Selection | None:
    from .filters import parse_filter
    from .timespec import parse_time
    sel = Selection(parse_filter(filter_text) if filter_text else None,
                    parse_time(start) if start else None, parse_time(end) if end else None,
                    parse_offsets(offsets) if offsets else None)
    return None if sel.empty else sel


quiet_option = click.option("-q", "--quiet", is_flag=True, help="No progress bar.")


def _bar(label: str, total: int | None, quiet: bool) -> ProgressBar:
    return ProgressBar(label, total, enabled=not quiet and _stderr_is_tty())


def _stderr_is_tty() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def _stdout_is_tty() -> bool:
    try:
        return sys.stdout.isatty()
    except (AttributeError, ValueError):
        return False


def _total(path: str) -> int | None:
    """The event count when the index gives it for free (evlog recordings)."""
    try:
        from .recording import open_recording
        with open_recording(path) as rec:
            return len(rec) if rec.format == "evlog" else None
    except EvlogError:
        return None


def _stdout() -> Any:
    return sys.stdout.buffer


def _msg(text: str) -> None:
    click.echo(text, err=True)


# demo ----------------------------------------------------------------------------------------
@cli.command()
@click.option("--events", "n_events", default=2000, show_default=True, type=click.IntRange(1), help="Number of events.")
@click.option("--out", "out_dir", default="recordings", show_default=True, type=click.Path(file_okay=False),
              help="Directory of the recording.")
@click.option("--pace", default=50.0, show_default=True, type=click.FloatRange(min=0, min_open=True),
              help="How much faster than the simulated bot's clock (1 = real time; 'inf' = no waiting).")
@click.option("--serve/--no-serve", default=None, help="Start the dashboard afterwards (default: on a terminal).")
@click.option("--port", default=5556, show_default=True, type=int, help="Dashboard port.")
@quiet_option
def demo(n_events: int, out_dir: str, pace: float, serve: bool | None, port: int, quiet: bool) -> None:
    """Record a simulated trading bot, then show it (info, timeline, dashboard)."""
    from .demo import run_demo
    with _bar("recording", n_events, quiet) as bar:
        last = [0]

        def on_event(i: int) -> None:
            bar(i - last[0])
            last[0] = i
        path = run_demo(out_dir, n_events, pace=pace, on_event=on_event)
    click.echo(path)
    click.echo("")
    click.echo(ops.format_info(ops.info(path)))
    click.echo("")
    click.echo("Timeline (first 15 events):")
    for entry in ops.timeline(path, max_events=15, preview_chars=0):
        click.echo(ops.format_entry(entry))
    click.echo("")
    if serve is None:
        serve = _stdout_is_tty() and _stderr_is_tty()
    try:
        from evlog import web
        has_web = hasattr(web, "serve")
    except ImportError:
        has_web = False
    if serve and has_web:
        web.serve(out_dir, "127.0.0.1", port)
    elif has_web:
        _msg(f"view it in the dashboard: evlog serve {out_dir}   (then open http://127.0.0.1:{port}/)")
    else:
        _msg(f"explore it: evlog timeline {path} --max-events 100   |   evlog cat {path} | jq .")


# info, timeline --------------------------------------------------------------------------
@cli.command()
@click.argument("recording")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable JSON.")
def info(recording: str, as_json: bool) -> None:
    """Session, start, duration, events, size, compression, segments and counts per event
    name and source (from the index: instant even for millions of events)."""
    d = ops.info(recording)
    if as_json:
        click.echo(json.dumps(d, indent=2, ensure_ascii=False))
    else:
        click.echo(ops.format_info(d))


@cli.command()
@click.argument("recording")
@click.option("--max-events", default=50, show_default=True, type=click.IntRange(0), help="Events to show (0: all).")
@_selection_options(offsets=True)
@click.option("--ascii", "ascii_only", is_flag=True, help="ASCII markers instead of emoji.")
@click.option("--no-data", is_flag=True, help="Do not show the start of each event's data.")
def timeline(recording: str, max_events: int, filter_text: str | None, start: str | None, end: str | None,
             offsets: str | None, ascii_only: bool, no_data: bool) -> None:
    """The events in order, one a line, with markers: ❌ failures, 💰 trades, 🔄 cycles."""
    sel = _selection(filter_text, start, end, offsets)
    shown = 0
    for entry in ops.timeline(recording, max_events=max_events or None, selection=sel,
                              preview_chars=0 if no_data else 80):
        click.echo(ops.format_entry(entry, ascii_only))
        shown += 1
    if max_events and shown == max_events:
        _msg(f"(first {shown} events; --max-events 0 shows all)")


# cat, export, import ----------------------------------------------------------------------
@cli.command()
@click.argument("recording")
@_selection_options()
@click.option("--format", "fmt", type=click.Choice(["jsonl", "json", "csv"]), default="jsonl", show_default=True,
              help="jsonl, json (the original tool's format) or csv.")
def cat(recording: str, filter_text: str | None, start: str | None, end: str | None, offsets: str | None,
        fmt: str) -> None:
    """Print events on stdout, as JSON Lines by default (for jq, grep, ...)."""
    ops.export(recording, _stdout(), format=fmt, selection=_selection(filter_text, start, end, offsets))


@cli.command()
@click.argument("recording")
@click.option("--format", "fmt", type=click.Choice(ops.FORMATS), default="jsonl", show_default=True,
              help="json: the original tool's format; jsonl; csv; parquet (needs evlog[parquet]).")
@click.option("-o", "--output", "output", type=click.Path(dir_okay=False), help="Output file (default: stdout).")
@click.option("--name", "event_name", metavar="EVENT", help="CSV: only this event, its data in dotted columns.")
@_selection_options()
@quiet_option
def export(recording: str, fmt: str, output: str | None, event_name: str | None, filter_text: str | None,
           start: str | None, end: str | None, offsets: str | None, quiet: bool) -> None:
    """Write events as the original JSON format, JSON Lines, CSV or Parquet."""
    sel = _selection(filter_text, start, end, offsets)
    if fmt == "parquet" and output is None and _stdout_is_tty():
        raise OpError("Parquet is binary: give -o FILE or redirect stdout")
    with _bar("exporting", _total(recording), quiet) as bar:
        n = ops.export(recording, output if output is not None else _stdout(), format=fmt, selection=sel,
                       event_name=event_name, progress=bar)
    if output is not None:
        _msg(f"{n} events written to {output}")


@cli.command("import")
@click.argument("source", type=click.Path())
@click.option("-o", "--output", "output", type=click.Path(), help="The new recording (default: SOURCE without extension).")
@click.option("--name", "session_name", help="Session name (default: from the file).")
@quiet_option
def import_cmd(source: str, output: str | None, session_name: str | None, quiet: bool) -> None:
    """Make an evlog recording from an original JSON recording or a JSON Lines file."""
    with _bar("importing", None, quiet) as bar:
        path = ops.import_recording(source, output, session_name=session_name, progress=bar)
    _msg(f"imported {bar.done} events into {path}")
    click.echo(path)


# replay, record -----------------------------------------------------------------------------
def _speed(text: str) -> float:
    if text.lower() in ("max", "inf", "infinite"):
        return math.inf
    try:
        value = float(text)
    except ValueError:
        raise click.BadParameter(f"{text!r} is not a number or 'max'") from None
    if not value > 0 or math.isinf(value) or math.isnan(value):
        raise click.BadParameter("speed must be a positive number or 'max'")
    return value


@cli.command()
@click.argument("recording")
@click.option("--speed", default="1", show_default=True, metavar="X|max", help="Speed multiplier, or max.")
@_selection_options(offsets=False)
@click.option("--loop", is_flag=True, help="Start again at the end (until Ctrl-C).")
@click.option("--to-url", "url", metavar="URL", help="POST events to this HTTP endpoint instead of stdout.")
@click.option("--batch", default=1, show_default=True, type=click.IntRange(1), help="Events per POST.")
@click.option("--retries", default=3, show_default=True, type=click.IntRange(0), help="Retries of a failed POST.")
@click.option("--subject-template", default="replay.{event_name}", show_default=True,
              help="With --to nats://...: the subject of each replayed message.")
@click.option("--dry-run", is_flag=True, help="With --to nats://...: print what would be sent, send nothing.")
@click.option("--limit", type=click.IntRange(0), help="With --to nats://...: send at most this many messages.")
@quiet_option
def replay(recording: str, speed: str, filter_text: str | None, start: str | None, end: str | None,
           loop: bool, url: str | None, batch: int, retries: int, subject_template: str, dry_run: bool,
           limit: int | None, quiet: bool) -> None:
    """Replay events with their recorded timing, as JSON Lines on stdout, to an HTTP endpoint
    (--to-url), or into NATS (--to nats://HOST:PORT, tagged with an Evlog-Replay header)."""
    if end is not None and end.startswith(("nats://", "tls://")):
        from .capture_cli import replay_to_nats
        factor = _speed(speed)
        result = replay_to_nats(recording, end, subject_template=subject_template,
                                speed=0 if math.isinf(factor) else factor, filter_text=filter_text,
                                start=start, limit=limit, dry_run=dry_run)
        for line in result.lines():
            _msg(line)
        return
    if dry_run or limit is not None:
        raise click.UsageError("--dry-run and --limit go with --to nats://...")
    factor = _speed(speed)
    sel = _selection(filter_text, start, end)
    sink: Any = ops.HttpSink(url, batch=batch, retries=retries) if url else ops.JsonLinesSink(_stdout())
    total = _total(recording)
    with _bar("replay", total, quiet) as bar:
        def on_event(n: int, r: Any) -> None:
            bar.done = n
            where = f" {n}/{total}" if total and not loop else f" {n}"
            bar.status(f"replay x{speed}{where} t={r.monotonic / 1e9:.3f}s {r.name}")
        n = ops.replay(recording, sink, speed=factor, selection=sel, loop=loop, on_event=on_event)
    _msg(f"replayed {n} events" + (f" to {url}" if url else ""))


@cli.command()
@click.argument("recording", required=False)
@click.option("--name", "session_name", default="stdin", show_default=True, help="Session name.")
@click.option("--out", "out_dir", default="recordings", show_default=True, type=click.Path(file_okay=False),
              help="Directory for the new recording.")
@click.option("-o", "--output", "output", type=click.Path(), help="Exact path of the new recording.")
@click.option("--strict", is_flag=True, help="Stop at the first line that is not an event (default: skip it).")
@click.option("--from", "source_url", metavar="nats://HOST:PORT", help="Record from NATS instead of stdin.")
@click.option("--subject", help="With --from: the subject to record (wildcards allowed, e.g. 'trading.>').")
@click.option("--stream", help="With --from: JetStream stream (exactly-once through a durable pull consumer).")
@click.option("--durable", help="With --from: JetStream durable consumer name (created if missing).")
@click.option("--map", "name_rules", multiple=True, metavar="PATTERN=TEMPLATE",
              help="With --from: event name from the subject, e.g. 'trading.*.price={last}'.")
@click.option("--fsync", type=click.Choice(["always", "interval", "never"]), default="always", show_default=True,
              help="With --from: fsync policy (docs/production.md).")
@click.option("--segment-size", metavar="SIZE", help="With --from: roll segments at this size (e.g. 64M).")
@click.option("--retain-max-age", metavar="AGE", help="With --from: delete segments older than AGE (e.g. 7d).")
@click.option("--retain-max-bytes", metavar="SIZE", help="With --from: keep the recording under SIZE (e.g. 10G).")
@click.option("--roll-daily", is_flag=True, help="With --from: start a new segment each UTC day.")
@click.option("--status-interval", type=float, default=10.0, show_default=True,
              help="With --from: seconds between status lines on stderr.")
@click.option("--status-port", type=int, help="With --from: serve GET /status on 127.0.0.1:PORT.")
@click.option("--max-events", type=int, help="With --from: stop after this many events.")
@click.option("--duration", metavar="AGE", help="With --from: stop after this long (e.g. 60s, 2h).")
def record(recording: str | None, session_name: str, out_dir: str, output: str | None, strict: bool,
           source_url: str | None, subject: str | None, stream: str | None, durable: str | None,
           name_rules: tuple[str, ...], fsync: str, segment_size: str | None, retain_max_age: str | None,
           retain_max_bytes: str | None, roll_daily: bool, status_interval: float, status_port: int | None,
           max_events: int | None, duration: str | None) -> None:
    """Record JSON Lines from stdin ({"event_name", "event_data", "source", "timestamp"?})
    until end of input or Ctrl-C, flushing as it goes; or, with --from nats://..., record a
    NATS subject until SIGTERM/SIGINT (see docs/production.md)."""
    from .ops.record import default_path
    if recording is not None:
        if output is not None:
            raise click.UsageError("give the recording either as RECORDING or with -o, not both")
        output = recording
    if output is None:
        os.makedirs(out_dir, exist_ok=True)
        output = default_path(out_dir, session_name)
    if source_url is not None:
        from .capture_cli import _age, _size, record_from_nats
        if not subject:
            raise click.UsageError("--from needs --subject")
        result = record_from_nats(output, source_url, subject, stream=stream, durable=durable,
                                  name_rules=name_rules, session_name=session_name, fsync=fsync,
                                  segment_max_bytes=_size(segment_size), retain_max_age=_age(retain_max_age),
                                  retain_max_bytes=_size(retain_max_bytes), roll_daily=roll_daily,
                                  status_interval=status_interval, status_port=status_port,
                                  max_events=max_events, max_seconds=_age(duration))
        for line in result.lines():
            _msg(line)
        return
    _msg(f"recording stdin into {output} (Ctrl-D or Ctrl-C to stop)" if sys.stdin.isatty() else
         f"recording stdin into {output}")
    result = ops.record_stream(sys.stdin.buffer, output, session_name=session_name,
                               on_error="fail" if strict else "skip")
    for err in result.errors:
        _msg(f"skipped {err}")
    if result.skipped > len(result.errors):
        _msg(f"... {result.skipped - len(result.errors)} more lines skipped")
    click.echo(ops.format_info(ops.info(output)))
    _msg(f"recorded {result.events} events" + (f", skipped {result.skipped} lines" if result.skipped else "")
         + (" (interrupted)" if result.interrupted else ""))


# merge, diff, slice ---------------------------------------------------------------------------
@cli.command()
@click.argument("inputs", nargs=-1, required=True)
@click.option("-o", "--output", "output", required=True, type=click.Path(), help="The new merged recording.")
@click.option("--name", "session_name", help="Session name of the merged recording.")
@click.option("--tag-sources", is_flag=True, help='Also prefix each source with its recording: "label/source".')
@quiet_option
def merge(inputs: tuple[str, ...], output: str, session_name: str | None, tag_sources: bool, quiet: bool) -> None:
    """Merge recordings by wall-clock time (ties in input order) into a new recording; each
    event keeps the recording it came from (see `evlog info` and docs/cli.md)."""
    if len(inputs) < 2:
        raise OpError("merge needs at least two recordings")
    totals = [_total(p) for p in inputs]
    total = sum(t for t in totals if t is not None) if all(t is not None for t in totals) else None
    with _bar("merging", total, quiet) as bar:
        n = ops.merge(list(inputs), output, session_name=session_name, tag_sources=tag_sources, progress=bar)
    _msg(f"merged {n} events from {len(inputs)} recordings into {output}")


@cli.command()
@click.argument("baseline")
@click.argument("new")
@click.option("--ignore-field", "ignore", multiple=True, metavar="PATH",
              help="Data field to ignore (dotted path, globs allowed: timestamp, *.id, data.fills.*.ts). Repeatable.")
@click.option("--time-tolerance", metavar="T", help="Report timing shifts larger than this (e.g. 50ms). Default: timing is not compared.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--filter", "filter_text", metavar="EXPR", help="Compare only these events (both sides).")
@click.option("--window", default=4096, show_default=True, type=click.IntRange(8), help="Alignment window (events).")
@click.option("--max-differences", default=1000, show_default=True, type=click.IntRange(0),
              help="Differences to print (0: all); all are counted.")
@quiet_option
def diff(baseline: str, new: str, ignore: tuple[str, ...], time_tolerance: str | None, fmt: str,
         filter_text: str | None, window: int, max_differences: int, quiet: bool) -> None:
    """Compare two recordings: events only in one, changed data (field by field), timing
    shifts. Exit status 0 when equal, 1 when different, 2 on error."""
    from .ops.diff import DiffSummary
    from .timespec import parse_duration_ns
    tolerance = None
    if time_tolerance is not None:
        tolerance = parse_duration_ns(time_tolerance)
        if tolerance is None:
            raise OpError(f"--time-tolerance {time_tolerance!r} is not a duration (e.g. 50ms, 1s)")
    sel = _selection(filter_text)
    out = sys.stdout
    shown = 0
    limit = max_differences or None
    summary = DiffSummary()
    pending = ['{"differences": ['] if fmt == "json" else []   # written with the first result

    def write(text: str) -> None:
        if pending:
            out.write(pending.pop())
        out.write(text)
    with _bar("comparing", _total(baseline), quiet) as bar:
        for d in ops.iter_diff(baseline, new, ignore_fields=ignore, time_tolerance_ns=tolerance, selection=sel,
                               window=window, progress=bar):
            if isinstance(d, DiffSummary):
                summary = d
                continue
            if limit is not None and shown >= limit:
                continue
            if fmt == "json":
                write(("\n  " if shown == 0 else ",\n  ") + json.dumps(d.to_dict(), ensure_ascii=False, default=str))
            else:
                write(_format_difference(d) + "\n")
            shown += 1
    if fmt == "json":
        s = summary.to_dict()
        s["shown"] = shown
        write(("\n" if shown else "") + '], "summary": ' + json.dumps(s) + "}\n")
    else:
        if shown < _count_differences(summary):
            write(f"... {_count_differences(summary) - shown} more differences not shown (--max-differences)\n")
        write(_format_summary(summary) + "\n")
    out.flush()
    click.get_current_context().exit(0 if summary.equal else 1)


def _count_differences(s: Any) -> int:
    return s.deleted + s.inserted + s.changed + s.timing  # an event both changed and shifted counts twice


def _format_event(e: Any) -> str:
    src = f" ({e.source})" if e.source else ""
    return f"#{e.offset} [{e.monotonic / 1e9:.3f}s] {e.name}{src}"


def _format_difference(d: Any) -> str:
    if d.kind == "deleted":
        return f"- {_format_event(d.baseline)}  only in baseline"
    if d.kind == "inserted":
        return f"+ {_format_event(d.new)}  only in new"
    head = f"#{d.baseline.offset} -> #{d.new.offset} {d.baseline.name}"
    lines = []
    if d.kind == "changed":
        lines.append(f"~ {head}")
        for c in d.changes:
            old = "(absent)" if c.old_missing else json.dumps(c.old, ensure_ascii=False, default=str)
            new = "(absent)" if c.new_missing else json.dumps(c.new, ensure_ascii=False, default=str)
            lines.append(f"    {c.path}: {old} -> {new}")
    if d.time_shift_ns is not None:
        lines.append(("    " if lines else f"@ {head}: ") + f"time shifted by {d.time_shift_ns / 1e9:+.3f}s "
                     f"({d.baseline.monotonic / 1e9:.3f}s -> {d.new.monotonic / 1e9:.3f}s)")
    return "\n".join(lines)


def _format_summary(s: Any) -> str:
    if s.equal:
        return f"recordings are equal ({s.matched} events)"
    return (f"recordings differ: {s.deleted} only in baseline, {s.inserted} only in new, {s.changed} changed, "
            f"{s.timing} timing shifts ({s.matched} equal; {s.baseline_events} vs {s.new_events} events)")


@cli.command("state")
@click.argument("store")
@click.option("--aggregate", "originator_id", metavar="ID", help="One aggregate's originator id (default: every aggregate).")
@click.option("--offset", type=click.IntRange(0), help="As of this offset (its event included).")
@click.option("--at", "at_time", metavar="T", help="As of this time: an offset from the start (90s) or an ISO timestamp.")
@click.option("--limit", default=1000, show_default=True, type=click.IntRange(1), help="Aggregates shown without --aggregate.")
def state(store: str, originator_id: str | None, offset: int | None, at_time: str | None, limit: int) -> None:
    """Time travel in an eventsourcing store (PERSISTENCE_MODULE=evlog.eventsourcing, or a
    capture): the state of an aggregate, or of every aggregate, as it was at an offset or time,
    as JSON on stdout (fields folded from the events' JSON states; see docs/eventsourcing.md)."""
    from .eventsourcing.access import events_path
    from .eventsourcing.timetravel import aggregate_state_json, application_state_json
    from .timespec import parse_time
    time_ns = None
    if at_time is not None:
        with Log.open(events_path(store)) as log:
            time_ns = parse_time(at_time).to_wall(log.manifest.start_time_ns)
    if originator_id is not None:
        result = aggregate_state_json(store, originator_id, offset=offset, time_ns=time_ns)
        if result is None:
            raise OpError(f"no aggregate {originator_id} in {store} at that point")
    else:
        result = application_state_json(store, offset=offset, time_ns=time_ns, limit=limit)
    click.echo(json.dumps(result, indent=2, ensure_ascii=False, default=str))


@cli.command("slice")
@click.argument("recording")
@click.option("-o", "--output", "output", required=True, type=click.Path(), help="The new recording.")
@_selection_options()
@click.option("--name", "session_name", help="Session name (default: <session>_slice).")
@quiet_option
def slice_cmd(recording: str, output: str, filter_text: str | None, start: str | None, end: str | None,
              offsets: str | None, session_name: str | None, quiet: bool) -> None:
    """Save the selected events as a new recording."""
    sel = _selection(filter_text, start, end, offsets)
    with _bar("slicing", _total(recording), quiet) as bar:
        n = ops.slice_recording(recording, output, sel, session_name=session_name, progress=bar)
    _msg(f"{n} events written to {output}")


# verify, recover, reindex, tail -------------------------------------------------------------
@cli.command()
@click.argument("recording")
def verify(recording: str) -> None:
    """Check every checksum and index. Exit 0 if intact, 1 if damaged (says what and where)."""
    report = ops.verify(recording)
    for p in report.problems:
        click.echo(f"damaged: {p}")
    if report.torn_tail:
        click.echo(f"note: {report.torn_tail[0]} ends with an unfinished write at byte {report.torn_tail[1]} "
                   f"(a crash while writing; readers ignore it)")
    state = "OK" if report.ok else f"DAMAGED ({len(report.problems)} problems; try `evlog recover`)"
    click.echo(f"{recording}: {report.events} events, {report.blocks} blocks, {report.segments} segments: {state}")
    click.get_current_context().exit(0 if report.ok else 1)


@cli.command()
@click.argument("recording")
@click.option("-o", "--output", "output", type=click.Path(), help="The new recording (default: RECORDING.recovered).")
@quiet_option
def recover(recording: str, output: str | None, quiet: bool) -> None:
    """Copy every intact block of a damaged recording into a new one; says what was lost."""
    with _bar("recovering", None, quiet) as bar:
        result = ops.recover(recording, output, progress=bar)
    r = result.report
    for p in r.skipped:
        _msg(f"lost: {p}")
    _msg(f"recovered {r.events} events in {r.blocks} blocks into {result.path}"
         + ("" if not r.skipped else f"; {len(r.skipped)} damaged areas skipped"))
    click.echo(result.path)


@cli.command()
@click.argument("recording")
def reindex(recording: str) -> None:
    """Rewrite the index files of a recording from its segments."""
    names = ops.reindex(recording)
    _msg(f"rewrote {len(names)} index files")


@cli.command()
@click.argument("recording")
@click.option("-n", "--lines", "n", default=10, show_default=True, type=click.IntRange(0), help="Events to show.")
@click.option("-f", "--follow", is_flag=True, help="Keep printing events as they are appended.")
@click.option("--filter", "filter_text", metavar="EXPR", help="Events to show.")
@click.option("--jsonl", is_flag=True, help="JSON Lines instead of timeline lines.")
@click.option("--poll", default=0.2, show_default=True, type=click.FloatRange(min=0.01), help="Seconds between checks with -f.")
def tail(recording: str, n: int, follow: bool, filter_text: str | None, jsonl: bool, poll: float) -> None:
    """The last events; with -f, follows a recording being written (Ctrl-C to stop)."""
    from .ops.jsonl import LineEncoder
    from .ops.timeline import TimelineEntry, _preview, classify
    from .segments.codec import encode_json, to_json_mode
    enc = LineEncoder()
    out = _stdout()
    for r in ops.tail(recording, n, selection=_selection(filter_text), follow=follow, poll_interval=poll):
        if jsonl:
            out.write(enc.line(r.offset, r.timestamp, r.monotonic, r.name, r.source,
                               encode_json(to_json_mode(r.data)), r.flags))
        else:
            entry = TimelineEntry(r.offset, r.monotonic, r.name, r.source, classify(r.name), _preview(r.data, 80))
            out.write((ops.format_entry(entry) + "\n").encode("utf-8"))
        out.flush()


# serve ----------------------------------------------------------------------------------------
@cli.command()
@click.argument("directory", required=False, type=click.Path(file_okay=False))
@click.option("--dir", "--recordings-dir", "dir_option", type=click.Path(file_okay=False),
              help="The recordings folder (default: recordings), as the argument.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default="5556", show_default=True, help="1-65535.")
@click.option("--token", default=None, help="Token (default: $EVLOG_TOKEN, or generated off loopback).")
@click.option("--allowed-host", "allowed_hosts", multiple=True, metavar="NAME",
              help="Also answer this Host name (a LAN name); repeatable.")
@click.option("--public-read", is_flag=True, help="Off loopback, let reads go without the token.")
def serve(directory: str | None, dir_option: str | None, host: str, port: str, token: str | None,
          allowed_hosts: tuple[str, ...], public_read: bool) -> None:
    """Start the web dashboard over a directory of recordings."""
    if directory and dir_option and os.path.abspath(directory) != os.path.abspath(dir_option):
        raise OpError("give the recordings folder once: as DIR or with --dir")
    try:
        port_n = int(port)
    except ValueError:
        port_n = 0
    if not 1 <= port_n <= 65535:
        raise OpError(f"--port must be a number from 1 to 65535, not {port!r}")
    try:
        from .web import serve as web_serve
    except ImportError as exc:
        raise OpError(f"the dashboard is not available in this installation ({exc})") from None
    web_serve(directory or dir_option or "recordings", host, port_n, token=token,
              allowed_hosts=list(allowed_hosts), public_read=public_read)


def _add_capture_commands() -> None:
    """`evlog retain` (evlog.capture_cli). Recording from and replaying into NATS are
    `evlog record --from nats://...` and `evlog replay --to nats://...`."""
    try:
        from .capture_cli import retain_cmd
    except ImportError:
        return
    cli.add_command(retain_cmd, "retain")


_add_capture_commands()


def main() -> None:
    cli(prog_name="evlog")
