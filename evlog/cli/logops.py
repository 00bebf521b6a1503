"""Commands that make or compare recordings: merge, diff, slice."""
from __future__ import annotations

import sys

import click

from .. import ops
from ..ops.common import OpError
from ..ops.diff_junit import case_names, write_junit
from ..ops.diff_render import write_diff
from ..timespec import parse_duration_ns
from .common import bar, msg, quiet_option, redact_options, selection, selection_options, total


@click.command()
@click.argument("inputs", nargs=-1, required=True)
@click.option("-o", "--output", "output", required=True, type=click.Path(), help="The new merged recording.")
@click.option("--name", "session_name", help="Session name of the merged recording.")
@click.option("--tag-sources", is_flag=True, help='Also prefix each source with its recording: "label/source".')
@click.option("--by-sequence", is_flag=True,
              help="Recordings of recorders sharing a JetStream consumer: order by stream sequence (nats.seq), "
                   "each message once.")
@redact_options
@quiet_option
def merge(inputs: tuple[str, ...], output: str, session_name: str | None, tag_sources: bool, by_sequence: bool,
          quiet: bool, redact: object) -> None:
    """Merge recordings by wall-clock time (ties in input order) into a new recording; each
    event keeps the recording it came from (see `evlog info` and docs/cli.md). With
    --by-sequence: by JetStream stream sequence, duplicates dropped."""
    if len(inputs) < 2 and not by_sequence:
        raise OpError("merge needs at least two recordings")
    totals = [total(p) for p in inputs]
    known = None if None in totals else sum(t for t in totals if t is not None)
    with bar("merging", known, quiet) as progress:
        if by_sequence:
            if redact is not None:
                raise click.UsageError("--redact goes without --by-sequence (redact the merged recording with evlog slice --redact)")
            result = ops.merge_by_sequence(list(inputs), output, session_name=session_name, tag_sources=tag_sources,
                                           progress=progress)
            span = f"sequences {result.first_seq}..{result.last_seq}" if result.first_seq is not None else "no sequences"
            msg(f"merged {result.events} events from {len(inputs)} recordings into {output} by sequence "
                f"(stream {result.stream or '?'}, {span}, {result.duplicates} duplicates dropped)")
            return
        n = ops.merge(list(inputs), output, session_name=session_name, tag_sources=tag_sources, progress=progress,
                      redact=redact)
    msg(f"merged {n} events from {len(inputs)} recordings into {output}")


@click.command()
@click.argument("baseline")
@click.argument("new")
@click.option("--ignore-field", "ignore", multiple=True, metavar="PATH",
              help="Data field to ignore (dotted path, globs allowed: timestamp, *.id, data.fills.*.ts). Repeatable.")
@click.option("--time-tolerance", metavar="T", help="Report timing shifts larger than this (e.g. 50ms). Default: timing is not compared.")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "junit"]), default="text", show_default=True,
              help="text, json, or junit (JUnit XML for CI: one test case per event type).")
@click.option("--filter", "filter_text", metavar="EXPR", help="Compare only these events (both sides).")
@click.option("--window", default=4096, show_default=True, type=click.IntRange(8), help="Alignment window (events).")
@click.option("--max-differences", default=1000, show_default=True, type=click.IntRange(0),
              help="Differences to print (0: all); all are counted.")
@quiet_option
def diff(baseline: str, new: str, ignore: tuple[str, ...], time_tolerance: str | None, fmt: str,
         filter_text: str | None, window: int, max_differences: int, quiet: bool) -> None:
    """Compare two recordings: events only in one, changed data (field by field), timing
    shifts. Exit status 0 when equal, 1 when different, 2 on error."""
    tolerance = None
    if time_tolerance is not None:
        tolerance = parse_duration_ns(time_tolerance)
        if tolerance is None:
            raise OpError(f"--time-tolerance {time_tolerance!r} is not a duration (e.g. 50ms, 1s)")
    sel = selection(filter_text)
    names = case_names(baseline, new, sel) if fmt == "junit" else []
    with bar("comparing", total(baseline, sel), quiet) as progress:
        results = ops.iter_diff(baseline, new, ignore_fields=ignore, time_tolerance_ns=tolerance, selection=sel,
                                window=window, progress=progress)
        if fmt == "junit":
            summary = write_junit(results, sys.stdout, names, f"evlog diff {baseline} {new}", max_differences or None)
        else:
            summary = write_diff(results, sys.stdout, fmt, max_differences or None)
    click.get_current_context().exit(0 if summary.equal else 1)


@click.command("slice")
@click.argument("recording")
@click.option("-o", "--output", "output", required=True, type=click.Path(), help="The new recording.")
@selection_options()
@click.option("--name", "session_name", help="Session name (default: <session>_slice).")
@redact_options
@quiet_option
def slice_cmd(recording: str, output: str, filter_text: str | None, start: str | None, end: str | None,
              offsets: str | None, session_name: str | None, quiet: bool, redact: object) -> None:
    """Save the selected events as a new recording."""
    sel = selection(filter_text, start, end, offsets)
    with bar("slicing", total(recording, sel), quiet) as progress:
        n = ops.slice_recording(recording, output, sel, session_name=session_name, progress=progress, redact=redact)
    msg(f"{n} events written to {output}")


COMMANDS = [merge, diff, slice_cmd]
