"""Commands that show recordings to a person: demo (record a simulated bot, show it), serve
(the web dashboard)."""
from __future__ import annotations

import os

import click

from .. import ops
from ..demo import run_demo
from ..ops.common import OpError
from ..ops.output import check_parent
from .common import DURATION, SIZE, bar, msg, quiet_option, redact_options, stderr_is_tty, stdout_is_tty


def _web_serve():   # the dashboard is imported only when a command needs it (Flask is slow to import)
    try:
        from ..web import serve
    except ImportError as exc:
        raise OpError(f"the dashboard is not available in this installation ({exc})") from None
    return serve


@click.command()
@click.option("--events", "n_events", default=2000, show_default=True, type=click.IntRange(1), help="Number of events.")
@click.option("--out", "out_dir", default="recordings", show_default=True, type=click.Path(file_okay=False),
              help="Folder of the recording (created if its own parent exists).")
@click.option("--pace", default=50.0, show_default=True, type=click.FloatRange(min=0, min_open=True),
              help="How much faster than the simulated bot's clock (1 = real time; 'inf' = no waiting).")
@click.option("--serve/--no-serve", default=None, help="Start the dashboard afterwards (default: on a terminal).")
@click.option("--port", default=5556, show_default=True, type=click.IntRange(1, 65535), help="Dashboard port.")
@quiet_option
def demo(n_events: int, out_dir: str, pace: float, serve: bool | None, port: int, quiet: bool) -> None:
    """Record a simulated trading bot, then show it (info, timeline, dashboard)."""
    check_parent(out_dir)
    with bar("recording", n_events, quiet) as progress:
        last = [0]

        def on_event(i: int) -> None:
            progress(i - last[0])
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
        serve = stdout_is_tty() and stderr_is_tty()
    if serve:
        _web_serve()(out_dir, "127.0.0.1", port)
    else:
        msg(f"view it in the dashboard: evlog serve {out_dir}   (then open http://127.0.0.1:{port}/)")


@click.command()
@click.argument("directory", required=False, type=click.Path(file_okay=False))
@click.option("--dir", "--recordings-dir", "dir_option", type=click.Path(file_okay=False),
              help="The recordings folder (default: recordings), as the argument.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default="5556", show_default=True, help="1-65535.")
@click.option("--token", default=None, help="Token (default: $EVLOG_TOKEN, or generated off loopback).")
@click.option("--allowed-host", "allowed_hosts", multiple=True, metavar="NAME",
              help="Also answer this Host name (a LAN name); repeatable.")
@click.option("--public-read", is_flag=True, help="Off loopback, let reads go without the token.")
@redact_options
@click.option("--snapshot", "snapshot_keep", type=DURATION, metavar="KEEP",
              help="Run a flight recorder on the record API's events: the last KEEP in memory, written by "
                   "POST /api/snapshot (docs/flight.md).")
@click.option("--snapshot-after", type=DURATION, default="10s", show_default=True, metavar="DURATION",
              help="With --snapshot: how long a snapshot goes on after POST /api/snapshot.")
@click.option("--snapshot-bytes", type=SIZE, default="256MiB", show_default=True, metavar="SIZE",
              help="With --snapshot: the memory bound of the ring.")
def serve(directory: str | None, dir_option: str | None, host: str, port: str, token: str | None,
          allowed_hosts: tuple[str, ...], public_read: bool, redact: object, snapshot_keep: int | None, snapshot_after: int,
          snapshot_bytes: int) -> None:
    """Start the web dashboard over a directory of recordings."""
    if directory and dir_option and os.path.abspath(directory) != os.path.abspath(dir_option):
        raise OpError("give the recordings folder once: as DIR or with --dir")
    try:
        port_n = int(port)
    except ValueError:
        port_n = 0
    if not 1 <= port_n <= 65535:
        raise OpError(f"--port must be a number from 1 to 65535, not {port!r}")
    if snapshot_keep is not None and snapshot_keep <= 0:
        raise click.UsageError("--snapshot needs a positive duration, e.g. 60s")
    snapshot = {} if snapshot_keep is None else {"snapshot": snapshot_keep / 1e9, "snapshot_after": snapshot_after / 1e9,
                                                 "snapshot_bytes": snapshot_bytes}
    _web_serve()(directory or dir_option or "recordings", host, port_n, token=token,
                 allowed_hosts=list(allowed_hosts), public_read=public_read, redact=redact, **snapshot)


COMMANDS = [demo, serve]
