"""Commands that check and repair a recording: verify, recover, reindex, retain."""
from __future__ import annotations

import click

from .. import ops
from .common import AGE, SIZE, bar, msg, quiet_option


@click.command()
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


@click.command()
@click.argument("recording")
@click.option("-o", "--output", "output", type=click.Path(), help="The new recording (default: RECORDING.recovered).")
@quiet_option
def recover(recording: str, output: str | None, quiet: bool) -> None:
    """Copy every intact block of a damaged recording into a new one; says what was lost."""
    with bar("recovering", None, quiet) as progress:
        result = ops.recover(recording, output, progress=progress)
    r = result.report
    for p in r.skipped:
        msg(f"lost: {p}")
    msg(f"recovered {r.events} events in {r.blocks} blocks into {result.path}"
        + ("" if not r.skipped else f"; {len(r.skipped)} damaged areas skipped"))
    click.echo(result.path)


@click.command()
@click.argument("recording")
def reindex(recording: str) -> None:
    """Rewrite the index files of a recording from its segments."""
    names = ops.reindex(recording)
    msg(f"rewrote {len(names)} index files")


@click.command("retain")
@click.argument("recording", type=click.Path())
@click.option("--max-age", type=AGE, default=None, metavar="AGE", help="Delete segments whose newest event is older (e.g. 7d).")
@click.option("--max-bytes", type=SIZE, default=None, metavar="SIZE", help="Delete oldest segments above this size (e.g. 10G).")
def retain(recording: str, max_age: float | None, max_bytes: int | None) -> None:
    """Delete whole old segments of RECORDING (never the active one; safe while recording)."""
    for line in ops.retain(recording, max_age, max_bytes).lines():
        click.echo(line)


COMMANDS = [verify, recover, reindex, retain]
