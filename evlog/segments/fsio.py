"""The file operations the writer uses, in one replaceable object.

Every write, fsync and rename of the storage engine goes through a `FileSystem`, so tests
can substitute one that fails the k-th write or fsync (EIO, ENOSPC) and check that nothing
unacknowledged is reported durable.
"""
from __future__ import annotations

import os


class FileSystem:
    """Plain POSIX file operations."""

    def open_append(self, path: str) -> int:
        """Open `path` for writing at its end. Not O_APPEND: a writer that preallocates
        (`preallocate`) writes before the end of the file; the file's one writer (it holds the
        recording's lock) keeps the position at the end of its data."""
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
        try:
            os.lseek(fd, 0, os.SEEK_END)
        except OSError:
            os.close(fd)
            raise
        return fd

    def preallocate(self, fd: int, offset: int, length: int) -> bool:
        """Reserve `length` bytes of the file from `offset` (read as zeros until written),
        setting its size past them; False where the file system cannot (nothing changed then
        but, at worst, the file's size). A write into reserved space changes no file size, so
        its fdatasync commits no metadata: the cheaper sync of fsync=always."""
        fallocate = getattr(os, "posix_fallocate", None)
        if fallocate is None:   # pragma: no cover - not on Linux
            return False
        try:
            fallocate(fd, offset, length)
        except OSError:
            return False
        return True

    def write(self, fd: int, data: bytes) -> None:
        view = memoryview(data)
        while view:
            n = os.write(fd, view)
            view = view[n:]

    def trim(self, fd: int, size: int) -> None:
        """Cut the file open as `fd` to `size` bytes, not synced: for bytes that hold no data
        (reserved zeros), which a power loss may bring back harmlessly."""
        os.ftruncate(fd, size)

    def fdatasync(self, fd: int) -> None:
        (getattr(os, "fdatasync", None) or os.fsync)(fd)

    def fsync(self, fd: int) -> None:
        os.fsync(fd)

    def close(self, fd: int) -> None:
        os.close(fd)

    def truncate(self, path: str, size: int) -> None:
        fd = os.open(path, os.O_WRONLY)
        try:
            os.ftruncate(fd, size)
            self.fsync(fd)
        finally:
            os.close(fd)

    def fsync_dir(self, path: str) -> None:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        try:
            self.fsync(fd)
        finally:
            os.close(fd)

    def write_atomic(self, path: str, data: bytes) -> None:
        """Replace `path` with `data`: temporary file, fsync, rename, fsync of the directory."""
        tmp = f"{path}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            self.write(fd, data)
            self.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
        self.fsync_dir(os.path.dirname(path) or ".")

    def remove(self, path: str) -> None:
        os.remove(path)


DEFAULT_FS = FileSystem()
