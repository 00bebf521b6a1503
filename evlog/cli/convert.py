"""Commands that convert: export (original JSON, JSON Lines, CSV, Parquet, CloudEvents), import."""
from __future__ import annotations

import click

from .. import ops
from ..ops.common import OpError
from ..ops.importer import FORMATS as IMPORT_FORMATS
from ..ops.output import is_stdout
from .common import bar, msg, quiet_option, redact_options, selection, selection_options, stdout, stdout_is_tty, total


@click.command()
@click.argument("recording")
@click.option("--format", "fmt", type=click.Choice(ops.FORMATS), default="jsonl", show_default=True,
              help="json: the original tool's format; jsonl; csv; parquet (needs evlog[parquet]); "
                   "cloudevents: CloudEvents 1.0 JSON Lines.")
@click.option("-o", "--output", "output", type=click.Path(dir_okay=False, allow_dash=True),
              help="Output file (default or '-': stdout).")
@click.option("--name", "event_name", metavar="EVENT", help="CSV: only this event, its data in dotted columns.")
@selection_options()
@redact_options
@quiet_option
def export(recording: str, fmt: str, output: str | None, event_name: str | None, filter_text: str | None,
           start: str | None, end: str | None, offsets: str | None, quiet: bool, redact: object) -> None:
    """Write events as the original JSON format, JSON Lines, CSV, Parquet or CloudEvents."""
    sel = selection(filter_text, start, end, offsets)
    to_stdout = is_stdout(output)
    if fmt == "parquet" and to_stdout and stdout_is_tty():
        raise OpError("Parquet is binary: give -o FILE or redirect stdout")
    with bar("exporting", total(recording, sel), quiet) as progress:
        n = ops.export(recording, stdout() if to_stdout else output, format=fmt, selection=sel,
                       event_name=event_name, progress=progress, redact=redact)
    if not to_stdout:
        msg(f"{n} events written to {output}")


@click.command("import")
@click.argument("source", type=click.Path())
@click.option("-o", "--output", "output", type=click.Path(), help="The new recording (default: SOURCE without extension).")
@click.option("--name", "session_name", help="Session name (default: from the file).")
@click.option("--format", "fmt", type=click.Choice(IMPORT_FORMATS), default="auto", show_default=True,
              help="json: the original tool's format; jsonl; cloudevents: CloudEvents JSON Lines; "
                   "auto: told by the first line.")
@quiet_option
def import_cmd(source: str, output: str | None, session_name: str | None, fmt: str, quiet: bool) -> None:
    """Make an evlog recording from an original JSON recording, a JSON Lines file or CloudEvents JSON Lines."""
    with bar("importing", None, quiet) as progress:
        path = ops.import_recording(source, output, session_name=session_name, progress=progress, format=fmt)
    msg(f"imported {progress.done} events into {path}")
    click.echo(path)


COMMANDS = [export, import_cmd]
