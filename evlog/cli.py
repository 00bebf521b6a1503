"""The `evlog` command line (minimal until the CLI issue: demo and info)."""
from __future__ import annotations

import datetime as _dt
import os
import sys

import click

from .demo import trading_session
from .segments import EvlogError, Log


@click.group()
@click.version_option(package_name="evlog")
def cli() -> None:
    """Record, inspect and replay event logs."""


@cli.command()
@click.option("--events", "n_events", default=2000, show_default=True, help="Number of events.")
@click.option("--out", "out_dir", default="recordings", show_default=True, type=click.Path(file_okay=False))
def demo(n_events: int, out_dir: str) -> None:
    """Record a simulated trading session."""
    name = f"demo_{_dt.datetime.now():%Y%m%d_%H%M%S}"
    path = os.path.join(out_dir, name)
    os.makedirs(out_dir, exist_ok=True)
    start_ns = int(_dt.datetime.now(_dt.timezone.utc).timestamp() * 1e9)
    with Log.create(path, name, start_time_ns=start_ns) as log:
        for ev_name, event, source, offset in trading_session(n_events):
            log.append(ev_name, event, source, timestamp=start_ns + offset, monotonic=offset)
    click.echo(path)
    _print_info(path)


def _print_info(path: str) -> None:
    log = Log.open(path)
    s = log.summary()
    click.echo(f"session:  {log.session_name}")
    click.echo(f"start:    {log.manifest.start_time.isoformat()}")
    dur = ((s.last_mono or 0) - (s.first_mono or 0)) / 1e9
    click.echo(f"duration: {dur:.3f} s")
    click.echo(f"events:   {s.count}")
    click.echo(f"size:     {s.stored_bytes} bytes ({s.raw_bytes / max(s.stored_bytes, 1):.1f}x compression)")
    for name, count in s.names.most_common():
        click.echo(f"  {name}: {count}")
    log.close()


@cli.command()
@click.argument("recording")
def info(recording: str) -> None:
    """Summary of a recording, from its index."""
    _print_info(recording)


def main() -> None:
    try:
        cli(standalone_mode=True)
    except EvlogError as exc:
        click.echo(f"evlog: error: {exc}", err=True)
        sys.exit(2)
