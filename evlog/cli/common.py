"""What the commands of the `evlog` CLI share: the selection options (--filter, --from,
--to, --offsets), parameter types (speed, age, size), the progress bar, stdout and messages."""
from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any

import click

from ..filters import parse_filter
from ..ops.common import Selection, parse_offsets, selected_count
from ..ops.progress import ProgressBar
from ..recording import open_recording
from ..replay.options import parse_speed
from ..segments import EvlogError
from ..segments.retention import parse_age, parse_size
from ..timespec import parse_time

EXIT_ERROR = 2


def selection_options(offsets: bool = True) -> Callable[[Callable], Callable]:
    """--filter, --from, --to (and --offsets) on a command."""
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


def selection(filter_text: str | None = None, start: str | None = None, end: str | None = None,
              offsets: str | None = None) -> Selection | None:
    """The Selection of the selection options (None when none is given)."""
    sel = Selection(parse_filter(filter_text) if filter_text else None,
                    parse_time(start) if start else None, parse_time(end) if end else None,
                    parse_offsets(offsets) if offsets else None)
    return None if sel.empty else sel


quiet_option = click.option("-q", "--quiet", is_flag=True, help="No progress bar.")


def redact_options(f: Callable) -> Callable:
    """--redact POLICY, --redact-key-env NAME, --redact-key-file FILE (docs/redaction.md):
    the command gets `redact`, a compiled Redactor or None."""
    @click.option("--redact", "redact_policy", metavar="POLICY", type=click.Path(dir_okay=False),
                  help="Redact events by this policy file (TOML or JSON, docs/redaction.md).")
    @click.option("--redact-key-env", metavar="NAME", help="With --redact: the HMAC key is in this environment variable.")
    @click.option("--redact-key-file", metavar="FILE", type=click.Path(dir_okay=False),
                  help="With --redact: the HMAC key is in this file.")
    @functools.wraps(f)
    def wrapper(*args: Any, redact_policy: str | None, redact_key_env: str | None,
                redact_key_file: str | None, **kwargs: Any) -> Any:
        return f(*args, redact=redactor_of(redact_policy, redact_key_env, redact_key_file), **kwargs)
    return wrapper


def redactor_of(policy: str | None, key_env: str | None = None, key_file: str | None = None) -> Any:
    """The Redactor of the --redact options (None without --redact); a bad policy or key is
    an EvlogError (one line, status 2)."""
    if policy is None:
        if key_env or key_file:
            raise click.UsageError("--redact-key-env and --redact-key-file go with --redact POLICY")
        return None
    if key_env and key_file:
        raise click.UsageError("give the HMAC key once: --redact-key-env or --redact-key-file")
    from ..redact import RedactionPolicy, load_key
    p = RedactionPolicy.load(policy)
    key = load_key(key_env, key_file) if (key_env or key_file) else None
    return p.compile(key)


class Parsed(click.ParamType):
    """A click parameter parsed by one of evlog's parsers (a bad value is a usage error)."""

    def __init__(self, name: str, parse: Callable[[str], Any]) -> None:
        self.name = name
        self._parse = parse

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if not isinstance(value, str):
            return value
        try:
            return self._parse(value)
        except (ValueError, EvlogError) as exc:
            self.fail(str(exc), param, ctx)


SPEED = Parsed("speed", parse_speed)    # a positive multiplier, or max (inf)
AGE = Parsed("age", parse_age)          # seconds from 7d, 12h, 90s
SIZE = Parsed("size", parse_size)       # bytes from 64M, 10G


def _duration_ns(text: str) -> int:
    from ..flight.recorder import parse_seconds_ns
    return parse_seconds_ns(text, "duration")


DURATION = Parsed("duration", _duration_ns)   # ns from 60s, 1m30s, 500ms


def bar(label: str, total: int | None, quiet: bool) -> ProgressBar:
    """A progress bar on stderr when it is a terminal (never in pipes or with -q); `total`
    None shows a count without a bar."""
    return ProgressBar(label, total, enabled=not quiet and stderr_is_tty())


def stderr_is_tty() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def stdout_is_tty() -> bool:
    try:
        return sys.stdout.isatty()
    except (AttributeError, ValueError):
        return False


def total(path: str, sel: Selection | None = None) -> int | None:
    """The number of events `sel` selects when the index gives it for free, else None (the
    bar then counts without a total). Errors are left to the command itself."""
    try:
        with open_recording(path) as rec:
            return selected_count(rec, sel)
    except (EvlogError, OSError):
        return None


def stdout() -> Any:
    return sys.stdout.buffer


def msg(text: str) -> None:
    """A message for the user, on stderr (stdout carries data only)."""
    click.echo(text, err=True)
