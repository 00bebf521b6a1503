"""Where an operation writes: the one set of rules for every output path of every command.

* A file output (`export -o`, `diff`...) given as a path is written to a temporary file
  beside it, then renamed over it, so a failed export leaves nothing half-written, when the
  path is a regular file or does not exist yet. A special file (`/dev/stdout`, `/dev/null`,
  a FIFO, a character device, a socket) is written in place: it is never replaced. A
  symbolic link is followed: its target is written (atomically, beside the target) and the
  link stays. `-` (or None) is standard output; an open binary stream is written as it is.
* Every output (a file or a new recording) must be in an existing folder: evlog creates the
  output itself, never a missing parent (`import -o /missing/x` is a one-line error naming
  `/missing`, it does not create it).
* A new recording must not exist yet, or be an empty directory (operations never overwrite
  a recording); if making it fails, what was made is removed (`creating`).
"""
from __future__ import annotations

import contextlib
import os
import shutil
import stat
import sys
from collections.abc import Iterator
from typing import BinaryIO

from .common import OpError

Output = "str | os.PathLike | BinaryIO | None"


def check_parent(path: str | os.PathLike) -> str:
    """The folder that will hold `path`; OpError (one line) when it does not exist or is not
    a folder. Returns `path` as a string."""
    path = os.fspath(path)
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        what = "is not a folder" if os.path.exists(parent) else "does not exist"
        raise OpError(f"cannot write {path}: the folder {parent} {what} (create it first)")
    return path


def check_new_recording(path: str | os.PathLike) -> str:
    """An output recording must not exist yet (or be an empty directory), in an existing folder."""
    path = os.fspath(path)
    if os.path.exists(path) and not (os.path.isdir(path) and not os.listdir(path)):
        raise OpError(f"{path} already exists (remove it or choose another output)")
    return check_parent(path)


@contextlib.contextmanager
def creating(path: str) -> Iterator[str]:
    """Wrap the making of a new recording: if it fails, remove what was made (the path did
    not exist, or was an empty directory, before)."""
    existed = os.path.isdir(path)
    try:
        yield path
    except BaseException:
        if os.path.isdir(path):
            if existed:
                for name in os.listdir(path):
                    p = os.path.join(path, name)
                    shutil.rmtree(p) if os.path.isdir(p) else os.remove(p)
            else:
                shutil.rmtree(path, ignore_errors=True)
        raise


def is_stdout(out: object) -> bool:
    """True for the outputs that mean standard output: None and "-"."""
    return out is None or out == "-"


def writes_in_place(path: str) -> bool:
    """True when `path` (followed through links) exists and is not a regular file: a
    device, a FIFO or a socket, written where it is, never replaced."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return False
    if stat.S_ISDIR(mode):
        raise OpError(f"cannot write {path}: it is a folder")
    return not stat.S_ISREG(mode)


@contextlib.contextmanager
def open_output(out: str | os.PathLike | BinaryIO | None) -> Iterator[BinaryIO]:
    """A binary stream to write an operation's output to (see the module's rules)."""
    if is_stdout(out):
        stream = sys.stdout.buffer
        yield stream
        stream.flush()
        return
    if not isinstance(out, (str, os.PathLike)):
        yield out  # a caller's stream: the caller closes it
        out.flush()
        return
    path = os.fspath(out)
    if writes_in_place(path):
        with open(path, "wb") as special:
            yield special
        return
    target = os.path.realpath(path)   # a symlink's target (even a dangling one), or the path
    check_parent(target)
    try:
        mode: int | None = stat.S_IMODE(os.stat(target).st_mode)
    except FileNotFoundError:
        mode = None
    tmp = f"{target}.tmp{os.getpid()}"
    f = open(tmp, "wb", buffering=1 << 20)  # noqa: SIM115 - closed below, renamed only on success
    try:
        yield f
        f.close()
        if mode is not None:
            os.chmod(tmp, mode)   # the replaced file keeps its permissions
        os.replace(tmp, target)
    except BaseException:
        f.close()
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise
