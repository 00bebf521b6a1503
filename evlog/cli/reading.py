"""Commands that read a recording: info, timeline, cat, tail, state."""
from __future__ import annotations

import json

import click

from .. import ops
from ..ops.common import OpError
from ..ops.jsonl import LineEncoder
from ..ops.timeline import TimelineEntry, classify, preview
from ..segments import Log, encode_headers
from ..segments.codec import encode_json, to_json_mode
from ..timespec import parse_time
from .common import msg, selection, selection_options, stdout


@click.command()
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


@click.command()
@click.argument("recording")
@click.option("--max-events", default=50, show_default=True, type=click.IntRange(0), help="Events to show (0: all).")
@selection_options(offsets=True)
@click.option("--ascii", "ascii_only", is_flag=True, help="ASCII markers instead of emoji.")
@click.option("--no-data", is_flag=True, help="Do not show the start of each event's data.")
def timeline(recording: str, max_events: int, filter_text: str | None, start: str | None, end: str | None,
             offsets: str | None, ascii_only: bool, no_data: bool) -> None:
    """The events in order, one a line, with markers: ❌ failures, 💰 trades, 🔄 cycles."""
    sel = selection(filter_text, start, end, offsets)
    shown = 0
    for entry in ops.timeline(recording, max_events=max_events or None, selection=sel,
                              preview_chars=0 if no_data else 80):
        click.echo(ops.format_entry(entry, ascii_only))
        shown += 1
    if max_events and shown == max_events:
        msg(f"(first {shown} events; --max-events 0 shows all)")


@click.command()
@click.argument("recording")
@selection_options()
@click.option("--format", "fmt", type=click.Choice(["jsonl", "json", "csv"]), default="jsonl", show_default=True,
              help="jsonl, json (the original tool's format) or csv.")
def cat(recording: str, filter_text: str | None, start: str | None, end: str | None, offsets: str | None,
        fmt: str) -> None:
    """Print events on stdout, as JSON Lines by default (for jq, grep, ...)."""
    ops.export(recording, stdout(), format=fmt, selection=selection(filter_text, start, end, offsets))


@click.command()
@click.argument("recording")
@click.option("-n", "--lines", "n", default=10, show_default=True, type=click.IntRange(0), help="Events to show.")
@click.option("-f", "--follow", is_flag=True, help="Keep printing events as they are appended.")
@click.option("--filter", "filter_text", metavar="EXPR", help="Events to show.")
@click.option("--jsonl", is_flag=True, help="JSON Lines instead of timeline lines.")
@click.option("--poll", default=0.2, show_default=True, type=click.FloatRange(min=0.01), help="Seconds between checks with -f.")
def tail(recording: str, n: int, follow: bool, filter_text: str | None, jsonl: bool, poll: float) -> None:
    """The last events; with -f, follows a recording being written (Ctrl-C to stop)."""
    enc = LineEncoder()
    out = stdout()
    for r in ops.tail(recording, n, selection=selection(filter_text), follow=follow, poll_interval=poll):
        if jsonl:
            out.write(enc.line(r.offset, r.timestamp, r.monotonic, r.name, r.source,
                               encode_json(to_json_mode(r.data)), r.flags, headers=encode_headers(r.headers)))
        else:
            entry = TimelineEntry(r.offset, r.monotonic, r.name, r.source, classify(r.name), preview(r.data, 80))
            out.write((ops.format_entry(entry) + "\n").encode("utf-8"))
        out.flush()


@click.command("state")
@click.argument("store")
@click.option("--aggregate", "originator_id", metavar="ID", help="One aggregate's originator id (default: every aggregate).")
@click.option("--offset", type=click.IntRange(0), help="As of this offset (its event included).")
@click.option("--at", "at_time", metavar="T", help="As of this time: an offset from the start (90s) or an ISO timestamp.")
@click.option("--limit", default=1000, show_default=True, type=click.IntRange(1), help="Aggregates shown without --aggregate.")
def state(store: str, originator_id: str | None, offset: int | None, at_time: str | None, limit: int) -> None:
    """Time travel in an eventsourcing store (PERSISTENCE_MODULE=evlog.eventsourcing, or a
    capture): the state of an aggregate, or of every aggregate, as it was at an offset or time,
    as JSON on stdout (fields folded from the events' JSON states; see docs/eventsourcing.md)."""
    try:   # the optional extra evlog[eventsourcing]
        from ..eventsourcing.access import events_path
        from ..eventsourcing.timetravel import aggregate_state_json, application_state_json
    except ImportError as exc:
        raise OpError(f"evlog state needs the eventsourcing package: pip install 'evlog[eventsourcing]' ({exc})") from None
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


COMMANDS = [info, timeline, cat, tail, state]
