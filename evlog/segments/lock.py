"""The one-writer lock of a recording: an exclusive `flock` on `<recording>/.lock`, held by
the writer (writer.py) and by `reindex` (recovery.py) while they change a recording."""
from __future__ import annotations

import errno
import os

from .errors import RecordingLockedError

LOCK_NAME = ".lock"


def acquire_lock(directory: str) -> int:
    """Take the recording's writer lock (an exclusive flock on its `.lock` file, which holds
    the pid), or raise RecordingLockedError. Returns the descriptor to pass to release_lock."""
    import fcntl  # POSIX only: imported when a recording is opened for writing
    fd = os.open(os.path.join(directory, LOCK_NAME), os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        try:
            holder = os.pread(fd, 64, 0).decode("ascii", "replace").strip()
        except OSError:
            holder = ""
        os.close(fd)
        if exc.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
            who = f" (pid {holder})" if holder else ""
            raise RecordingLockedError(f"{directory} is already open for writing by another writer{who}") from None
        raise
    os.ftruncate(fd, 0)
    os.pwrite(fd, str(os.getpid()).encode(), 0)
    return fd


def release_lock(fd: int) -> None:
    os.close(fd)  # closing the descriptor releases the flock
