"""evlog.ops.output: where operations write (atomic regular files, special files in place,
symlinks followed, one missing-parent rule), through the library and the CLI."""
from __future__ import annotations

import json
import os
import stat
import threading

import pytest
from click.testing import CliRunner

from evlog import ops
from evlog.cli import cli
from evlog.ops.output import check_new_recording, check_parent, open_output, writes_in_place

from .helpers import trading


@pytest.fixture
def rec(tmp_path):
    return trading(30, str(tmp_path / "rec"), session="bot")


def _lines(path) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def test_a_regular_file_is_replaced_atomically_and_keeps_its_mode(tmp_path):
    out = tmp_path / "out.jsonl"
    out.write_text("old")
    out.chmod(0o640)
    with open_output(str(out)) as f:
        f.write(b"new")
        assert out.read_text() == "old"   # nothing is visible until the rename
        assert [p.name for p in tmp_path.iterdir() if ".tmp" in p.name]
    assert out.read_text() == "new"
    assert stat.S_IMODE(out.stat().st_mode) == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["out.jsonl"]


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    out = tmp_path / "out.jsonl"
    out.write_text("old")
    with pytest.raises(RuntimeError), open_output(str(out)) as f:
        f.write(b"half")
        raise RuntimeError("boom")
    assert out.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.jsonl"]


def test_a_symlink_is_followed_and_kept(tmp_path):
    target_dir = tmp_path / "real"
    target_dir.mkdir()
    target = target_dir / "data.jsonl"
    target.write_text("old")
    link = tmp_path / "link.jsonl"
    link.symlink_to(target)
    with open_output(str(link)) as f:
        f.write(b"new")
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert target.read_text() == "new"
    dangling = tmp_path / "dangling.jsonl"
    dangling.symlink_to(target_dir / "later.jsonl")
    with open_output(str(dangling)) as f:
        f.write(b"made")
    assert dangling.is_symlink() and (target_dir / "later.jsonl").read_text() == "made"


def test_special_files_are_written_in_place(tmp_path):
    assert writes_in_place("/dev/null") and not writes_in_place(str(tmp_path / "new"))
    with open_output("/dev/null") as f:
        f.write(b"gone")
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    got = []
    reader = threading.Thread(target=lambda: got.append(open(fifo, "rb").read()))
    reader.start()
    with open_output(str(fifo)) as f:
        f.write(b"through the pipe")
    reader.join(10)
    assert got == [b"through the pipe"]
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)   # still the FIFO, not a regular file
    assert [p.name for p in tmp_path.iterdir()] == ["fifo"]


def test_a_folder_is_not_an_output(tmp_path):
    with pytest.raises(ops.OpError, match="it is a folder"), open_output(str(tmp_path)):
        pass


def test_missing_parent_is_refused_and_never_created(tmp_path):
    missing = tmp_path / "missing" / "deeper"
    with pytest.raises(ops.OpError, match="does not exist"):
        check_parent(str(missing / "x.json"))
    with pytest.raises(ops.OpError, match="does not exist"), open_output(str(missing / "x.json")):
        pass
    with pytest.raises(ops.OpError, match="does not exist"):
        check_new_recording(str(missing / "rec"))
    (tmp_path / "file").write_text("x")
    with pytest.raises(ops.OpError, match="is not a folder"):
        check_parent(str(tmp_path / "file" / "x.json"))
    assert not (tmp_path / "missing").exists()


@pytest.mark.parametrize("args", [
    ["export", "{rec}", "-o", "{out}"],
    ["import", "{json}", "-o", "{out}"],
    ["merge", "{rec}", "{rec}", "-o", "{out}"],
    ["slice", "{rec}", "-o", "{out}"],
    ["recover", "{rec}", "-o", "{out}"],
    ["record", "-o", "{out}"],
    ["record", "--out", "{out}"],
    ["demo", "--out", "{out}", "--events", "5", "--pace", "inf", "--no-serve"],
])
def test_every_command_refuses_a_missing_parent(args, rec, tmp_path):
    legacy = tmp_path / "old.json"
    ops.export(rec, str(legacy), format="json")
    out = tmp_path / "missing" / "out"
    args = [a.format(rec=rec, json=legacy, out=out) for a in args]
    result = CliRunner().invoke(cli, args, input='{"event_name": "E"}\n')
    assert result.exit_code == 2, result.output
    assert result.stderr.strip() == f"evlog: error: cannot write {out}: the folder {out.parent} does not exist " \
                                    f"(create it first)"
    assert not out.parent.exists()


def test_record_out_creates_its_own_folder_only(tmp_path):
    result = CliRunner().invoke(cli, ["record", "--out", str(tmp_path / "recs"), "--name", "live"],
                                input='{"event_name": "E", "event_data": {"i": 1}}\n')
    assert result.exit_code == 0, result.output
    made = list((tmp_path / "recs").iterdir())
    assert len(made) == 1 and made[0].name.startswith("live_")


def test_export_to_dev_stdout_dash_and_a_symlink(rec, tmp_path):
    runner = CliRunner()
    dash = runner.invoke(cli, ["export", rec, "-o", "-"])
    assert dash.exit_code == 0 and len(dash.stdout.splitlines()) == 30
    assert runner.invoke(cli, ["export", rec, "-o", "/dev/null"]).exit_code == 0
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)
    target = tmp_path / "target.jsonl"
    target.write_text("")
    link = tmp_path / "link.jsonl"
    link.symlink_to(target)
    assert runner.invoke(cli, ["export", rec, "-o", str(link)]).exit_code == 0
    assert link.is_symlink() and len(_lines(target)) == 30
