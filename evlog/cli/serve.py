"""Commands that show recordings to a person: demo (record a simulated bot, show it), serve
(the web dashboard)."""
from __future__ import annotations

import click

from .. import ops
from ..demo import run_demo
from ..ops.common import OpError
from ..ops.output import check_parent
from .common import bar, msg, quiet_option, stderr_is_tty, stdout_is_tty


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
@click.argument("directory", default="recordings", type=click.Path(file_okay=False))
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5556, show_default=True, type=int)
@click.option("--token", default=None, help="Write token (default: $EVLOG_TOKEN, or generated off loopback).")
def serve(directory: str, host: str, port: int, token: str | None) -> None:
    """Start the web dashboard over a directory of recordings."""
    web_serve = _web_serve()
    if token is not None:
        web_serve(directory, host, port, token=token)
    else:
        web_serve(directory, host, port)


COMMANDS = [demo, serve]
