"""Every `evlog` command on a table of bad inputs: a user mistake is one line on stderr and a
non-zero exit, never a traceback.

The table is walked for every command of the click group (a new command without a row here
fails `test_every_command_has_a_row`). Each row says how to call the command with an input
path (IN), a recording it needs beside it (GOOD) and an output (OUT); each bad input is put
in the place it concerns. Where a command is right to succeed on an input (`info` reads a
damaged recording's index, `recover` exists for damaged recordings) the row says so, and the
run must then succeed.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

import pytest
from click.testing import CliRunner
from ops.helpers import trading

from evlog.cli import cli


@dataclass(frozen=True)
class Row:
    args: tuple[str, ...]                 # with {IN}, {GOOD}, {OUT} placeholders
    bad_option: tuple[str, ...]           # arguments appended to make an option value wrong
    output: bool = False                  # OUT is written (a file or a new recording)
    stdin_input: bool = False             # the input is stdin, not IN (record)
    succeeds_on: frozenset[str] = field(default_factory=frozenset)   # input kinds it must accept
    good: str = "good"                    # the valid input when another argument is the bad one


ROWS = {
    "info": Row(("{IN}",), ("--nope",), succeeds_on=frozenset({"damaged"})),
    "timeline": Row(("{IN}",), ("--max-events", "-1")),
    "cat": Row(("{IN}",), ("--format", "xml")),
    "tail": Row(("{IN}",), ("-n", "many")),
    "state": Row(("{IN}",), ("--offset", "-5")),
    "export": Row(("{IN}", "-o", "{OUT}"), ("--format", "xml"), output=True),
    "import": Row(("{IN}", "-o", "{OUT}"), ("--nope",), output=True, good="good_json"),
    "merge": Row(("{GOOD}", "{IN}", "-o", "{OUT}"), ("--nope",), output=True),
    "diff": Row(("{GOOD}", "{IN}"), ("--window", "2")),
    "slice": Row(("{IN}", "-o", "{OUT}"), ("--offsets", "x:y"), output=True),
    "verify": Row(("{IN}",), ("--nope",)),
    "recover": Row(("{IN}", "-o", "{OUT}"), ("--nope",), output=True, succeeds_on=frozenset({"damaged"})),
    "reindex": Row(("{IN}",), ("--nope",)),   # a damaged recording: reindex refuses, says to recover
    "retain": Row(("{IN}", "--max-age", "7d"), ("--max-bytes", "lots"), succeeds_on=frozenset({"damaged"})),
    "replay": Row(("{IN}", "--speed", "max"), ("--speed", "0")),
    "record": Row(("-o", "{OUT}", "--strict"), ("--fsync", "sometimes"), output=True, stdin_input=True),
    "demo": Row(("--out", "{OUT}", "--events", "20", "--pace", "inf", "--no-serve"), ("--events", "0"),
                output=True, stdin_input=True),
}
INPUT_KINDS = ("missing", "not_a_recording", "binary", "truncated_json", "damaged", "plain_recording")
OTHER_KINDS = ("bad_option", "unwritable_output", "missing_output_parent")


@pytest.fixture
def files(tmp_path):
    """Fresh inputs for each run (some commands change their input: reindex, retain)."""
    base = tmp_path / "inputs"
    base.mkdir()
    good = trading(200, str(base / "good"), session="good")
    damaged = trading(200, str(base / "damaged"), session="damaged")
    seg = sorted(f for f in os.listdir(damaged) if not f.endswith((".json", ".idx", ".lock")))[0]
    path = os.path.join(damaged, seg)
    data = bytearray(open(path, "rb").read())
    for i in range(len(data) // 3, len(data) // 3 + 64):
        data[i] ^= 0x5A
    open(path, "wb").write(bytes(data))
    folder = base / "folder"
    folder.mkdir()
    (folder / "notes.txt").write_text("not a recording")
    (base / "binary.bin").write_bytes(bytes(range(256)) * 16 + os.urandom(4096))
    whole = json.dumps({"session_name": "t", "start_time": "2025-10-12T10:00:00",
                        "events": [{"timestamp_offset_ms": i, "event_name": "E", "event_data": {"i": i},
                                    "source": "s"} for i in range(50)]})
    (base / "truncated.json").write_text(whole[: len(whole) // 2])
    (base / "good.json").write_text(whole)
    return {"good": good, "plain_recording": good, "good_json": str(base / "good.json"), "damaged": damaged, "not_a_recording": str(folder),
            "binary": str(base / "binary.bin"), "truncated_json": str(base / "truncated.json"),
            "missing": str(base / "no" / "such" / "recording"), "base": base}


@pytest.fixture
def unwritable(files):
    """A folder no write succeeds in, even as root (/sys refuses new files)."""
    if os.geteuid() == 0:
        return "/sys"
    path = files["base"] / "readonly"
    path.mkdir()
    path.chmod(0o500)
    return str(path)


def stdin_for(kind: str, files: dict) -> bytes:
    if kind in ("binary", "truncated_json"):
        return open(files[kind], "rb").read()
    return b'{"event_name": "E", "event_data": {"i": 1}, "source": "s"}\n'


def cases():
    for command, row in ROWS.items():
        for kind in INPUT_KINDS + OTHER_KINDS:
            if row.stdin_input and kind in INPUT_KINDS and kind not in ("binary", "truncated_json"):
                continue   # the input is stdin: only its content can be bad
            if command == "demo" and kind in INPUT_KINDS:
                continue   # demo reads nothing
            if kind == "plain_recording" and command != "state":
                continue   # a recording that is not an eventsourcing store: bad for `state` only
            if not row.output and kind in ("unwritable_output", "missing_output_parent"):
                continue
            yield pytest.param(command, kind, id=f"{command}-{kind}")


def check_one_line_error(result) -> None:
    err = [line for line in result.stderr.splitlines() if line.strip()]
    if err and err[0].startswith("Usage:"):   # a usage error: click's usage and help lines, then one error
        assert len(err) == 3 and err[1].startswith("Try ") and err[2].startswith("Error: "), result.stderr
    else:
        assert len(err) == 1 and err[0].startswith("evlog: error: "), result.stderr


@pytest.mark.parametrize("command, kind", list(cases()))
def test_a_bad_input_is_one_line_and_a_non_zero_exit(command, kind, files, unwritable, tmp_path):
    row = ROWS[command]
    out = str(tmp_path / "out")   # a new path in an existing folder
    inp = files[row.good]
    if kind in INPUT_KINDS and not row.stdin_input:
        inp = files[kind]
    if kind == "unwritable_output":
        out = os.path.join(unwritable, "evlog-out")
    elif kind == "missing_output_parent":
        out = str(tmp_path / "missing" / "deeper" / "out")
    args = [a.format(IN=inp, GOOD=files["good"], OUT=out) for a in row.args]
    if kind == "bad_option":
        args += list(row.bad_option)
    stdin = stdin_for(kind, files) if row.stdin_input else None
    result = CliRunner().invoke(cli, [command, *args], input=stdin)
    shown = f"evlog {' '.join(args)}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
    assert result.exception is None or isinstance(result.exception, SystemExit), \
        f"{shown}\n--- exception {result.exception!r}"
    assert "Traceback" not in result.stdout + result.stderr, shown
    if kind in row.succeeds_on:
        assert result.exit_code == 0, shown
        return
    assert result.exit_code != 0, shown
    if command == "verify" and kind == "damaged":
        assert result.exit_code == 1 and "DAMAGED" in result.stdout and not result.stderr, shown
        return
    check_one_line_error(result)
    if kind in ("missing", "not_a_recording", "binary", "truncated_json", "damaged") and command in ("merge", "diff"):
        assert inp in result.stderr, f"the error must name the bad input\n{shown}"
    if kind == "missing_output_parent":
        assert "does not exist" in result.stderr and not os.path.exists(tmp_path / "missing"), shown
    if kind == "binary":
        assert "JSON file" not in result.stderr, shown


def test_every_command_has_a_row():
    assert set(cli.commands) - {"serve"} == set(ROWS)


def test_serve_on_a_missing_folder_does_not_traceback(tmp_path, monkeypatch):
    import werkzeug.serving
    monkeypatch.setattr(werkzeug.serving, "run_simple", lambda *a, **k: None)   # the app is made; no port bound
    result = CliRunner().invoke(cli, ["serve", str(tmp_path / "missing")])
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.stdout + result.stderr
