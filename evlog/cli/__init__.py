"""The `evlog` command line: one click group; each command is a thin shell over a library
function of `evlog.ops` (parsing, progress and exit codes only).

Errors a user can make (missing file, not a recording, damaged recording, bad filter, bad
time, bad option) print one line on stderr and exit with status 2; data goes to stdout,
messages to stderr. Progress bars appear on a terminal only (never in pipes or with -q).

| module | commands |
|---|---|
| `reading.py` | info, timeline, cat, tail, state |
| `convert.py` | export, import |
| `logops.py` | merge, diff, slice |
| `capture.py` | record (stdin or NATS), replay (stdout, HTTP or NATS) |
| `maintenance.py` | verify, recover, reindex, retain |
| `serve.py` | demo, serve |
| `common.py` | shared options, parameter types, progress bar |
"""
from __future__ import annotations

import os
import sys
from typing import Any

import click

from ..segments import EvlogError
from . import capture, convert, logops, maintenance, reading, serve
from .common import EXIT_ERROR


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
            click.echo(f"evlog: error: {one_line(exc)}", err=True)
            ctx.exit(EXIT_ERROR)
        except KeyboardInterrupt:
            click.echo("evlog: interrupted", err=True)
            ctx.exit(130)


def one_line(exc: BaseException) -> str:
    """The message of an error on one line (an OSError names its file)."""
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


for _module in (serve, reading, convert, capture, logops, maintenance):
    for _command in _module.COMMANDS:
        cli.add_command(_command)


def main() -> None:
    cli(prog_name="evlog")
