"""Commands that check and repair a recording: verify, recover, reindex, retain."""
from __future__ import annotations

import os

import click

from .. import ops
from ..ops.common import OpError
from ..segments.keyindex import check_key_paths
from .common import AGE, SIZE, bar, msg, quiet_option


@click.command()
@click.argument("recording")
@click.option("--chain", is_flag=True, help="Also check the blocks' hash chain: none altered, removed or reordered.")
@click.option("--key-file", type=click.Path(dir_okay=False), help="The key of a keyed chain: the file's bytes (1-64).")
@click.option("--key-env", metavar="VAR", help="The key of a keyed chain: this environment variable's value.")
def verify(recording: str, chain: bool, key_file: str | None, key_env: str | None) -> None:
    """Check every checksum and index. Exit 0 if intact, 1 if damaged (says what and where)."""
    key = _chain_key(key_file, key_env)
    report = ops.verify(recording, chain=chain or key is not None, key=key)
    for p in report.problems:
        click.echo(f"damaged: {p}")
    if report.chain is not None:
        for note in report.chain.notes:
            click.echo(f"note: {note}")
        if report.chain.ok:
            c = report.chain
            click.echo(f"chain: {c.blocks} blocks linked from offset {c.first_offset or 0} to {c.end_offset or 0}, "
                       f"head at offset {c.head_offset}{' (keyed)' if key is not None else ''}: intact")
    if report.torn_tail:
        click.echo(f"note: {report.torn_tail[0]} ends with an unfinished write at byte {report.torn_tail[1]} "
                   f"(a crash while writing; readers ignore it)")
    state = "OK" if report.ok else f"DAMAGED ({len(report.problems)} problems; run `evlog {report.repair}`)"
    click.echo(f"{recording}: {report.events} events, {report.blocks} blocks, {report.segments} segments: {state}")
    if report.advice:
        click.echo(f"advice: {report.advice}")
    click.get_current_context().exit(0 if report.ok else 1)


def _chain_key(key_file: str | None, key_env: str | None) -> bytes | None:
    """The chain key of --key-file (its bytes as they are) or --key-env (the value, UTF-8)."""
    if key_file is not None and key_env is not None:
        raise OpError("give --key-file or --key-env, not both")
    if key_file is not None:
        try:
            with open(key_file, "rb") as f:
                key = f.read(65)
        except OSError as exc:
            raise OpError(f"cannot read key file {key_file}: {exc.strerror or exc}") from None
        where = f"key file {key_file}"
    elif key_env is not None:
        if key_env not in os.environ:
            raise OpError(f"environment variable {key_env} is not set")
        key, where = os.environ[key_env].encode("utf-8"), f"environment variable {key_env}"
    else:
        return None
    if not 1 <= len(key) <= 64:
        raise OpError(f"{where} holds {len(key)}{'+' if len(key) > 64 else ''} bytes: a chain key has 1 to 64")
    return key


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
@click.option("--key", "keys", multiple=True, metavar="PATH",
              help="Also index this key path from now on (data.<field>, headers.<name>, source; repeatable).")
def reindex(recording: str, keys: tuple[str, ...]) -> None:
    """Rewrite the index files of a recording from its segments (each replaced only once its
    new version is written; on a damaged segment nothing is changed and it says to run
    `evlog recover`). `--key` adds a key index (docs/format.md)."""
    try:
        check_key_paths(keys)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--key") from None
    names = ops.reindex(recording, keys=keys)
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
