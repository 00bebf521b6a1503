"""A FileSystem that models what a power loss would leave of a recording.

`DiskModelFS` does the real file operations (the recording stays usable) and keeps, beside
them, a model of stable storage, as a kernel that honours fsync would have it:

* a file's bytes reach the disk only through a successful fsync/fdatasync of that file;
* after a FAILED fsync the pages it was writing are lost (Linux marks them clean: the page
  cache still shows the new bytes, but a later successful fsync does not write them again);
* a new directory entry (a created, renamed or removed file) is on the disk only after a
  successful fsync of the directory; until then a power loss may undo it.

It can also fail the k-th write (after writing half of it) or the k-th sync (fsync,
fdatasync, directory fsync) with an errno. `view(dst, pessimistic)` writes the files as a
power loss could leave them: pessimistic takes the directory as of its last fsync (new files
absent, removed files back, an atomic replace not done), optimistic takes it as it is now; in
both each file holds only what its inode has on the disk.
"""
from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field

from evlog.segments import FileSystem

from test_seg_iofaults import FaultyFS


@dataclass
class Inode:
    path: str                    # where its current bytes can be read
    disk: bytes = b""            # what is on stable storage
    lost: list[tuple[int, int]] = field(default_factory=list)   # byte ranges a failed sync dropped
    dirty: list[tuple[int, int]] = field(default_factory=list)  # byte ranges written since the last sync


class DiskModelFS(FaultyFS):
    """FaultyFS's faults (the k-th write, after writing half of it, or the k-th sync), with a
    model of the disk beside the real files."""

    def __init__(self, directory: str, op: str | None = None, k: int = 0, err: int = 5, *,
                 on_disk: dict[str, int] | None = None) -> None:
        """Files already in `directory` are on the disk, except that the file `name` of
        `on_disk` has only its first `on_disk[name]` bytes there (a killed writer's page cache)."""
        super().__init__(op or "", k, err)
        self.directory = os.path.abspath(directory)
        self._model = threading.RLock()
        self._inodes: list[Inode] = []
        self._fds: dict[int, int] = {}           # fd -> inode number
        self.names: dict[str, int] = {}          # the directory now: name -> inode number
        self.durable_names: dict[str, int] = {}  # the directory as of its last fsync
        if os.path.isdir(directory):
            for name in sorted(os.listdir(directory)):
                path = os.path.join(self.directory, name)
                if name == ".lock" or not os.path.isfile(path):
                    continue
                with open(path, "rb") as f:
                    data = f.read()
                self.names[name] = self._new_inode(path, data[:(on_disk or {}).get(name, len(data))])
            self.durable_names = dict(self.names)

    # the model ------------------------------------------------------------------
    def _new_inode(self, path: str, disk: bytes = b"") -> int:
        self._inodes.append(Inode(path, disk))
        return len(self._inodes) - 1

    def _mine(self, path: str) -> str | None:
        path = os.path.abspath(path)
        return os.path.basename(path) if os.path.dirname(path) == self.directory else None

    def _synced(self, ino: int) -> None:
        """A successful fsync: the inode's bytes are on the disk, except the lost ranges."""
        node = self._inodes[ino]
        with open(node.path, "rb") as f:
            data = bytearray(f.read())
        for a, b in node.lost:
            old = node.disk[a:b]
            data[a:b] = old + bytes(max(0, min(b, len(data)) - a - len(old)))
        node.disk = bytes(data)
        node.dirty = []

    def _sync_failed(self, ino: int) -> None:
        """The pages the sync was writing are dropped: what grew the file since the disk's
        copy, and what was written into space already on the disk (reserved zeros)."""
        node = self._inodes[ino]
        size = os.path.getsize(node.path)
        if size > len(node.disk):
            node.lost.append((len(node.disk), size))
        node.lost.extend((a, min(b, len(node.disk))) for a, b in node.dirty if a < len(node.disk))
        node.dirty = []

    def _fail(self) -> OSError:
        return OSError(self.err, os.strerror(self.err))

    # FileSystem ------------------------------------------------------------------
    def open_append(self, path):
        fd = super().open_append(path)
        name = self._mine(path)
        if name is not None:
            with self._model:
                if name not in self.names:
                    self.names[name] = self._new_inode(os.path.abspath(path))
                self._fds[fd] = self.names[name]
        return fd

    def close(self, fd):
        with self._model:
            self._fds.pop(fd, None)
        super().close(fd)

    def write(self, fd, data):
        ino = self._fds.get(fd)
        if ino is not None:
            at = os.lseek(fd, 0, os.SEEK_CUR)
            with self._model:
                self._inodes[ino].dirty.append((at, at + len(data)))
        super().write(fd, data)

    # the real files are never fsynced (the model is the disk that counts): tests stay fast
    def fsync(self, fd):
        ino = self._fds.get(fd)
        if self._tick("sync"):
            if ino is not None:
                with self._model:
                    self._sync_failed(ino)
            raise self._fail()
        if ino is not None:
            with self._model:
                self._synced(ino)

    fdatasync = fsync

    def fsync_dir(self, path):
        if self._tick("sync"):
            raise self._fail()
        if os.path.abspath(path) == self.directory:
            with self._model:
                self.durable_names = dict(self.names)

    def truncate(self, path, size):
        fd = os.open(path, os.O_WRONLY)   # FileSystem.truncate's steps, with the model's fsync
        name = self._mine(path)
        try:
            os.ftruncate(fd, size)
            with self._model:
                ino = self.names.get(name) if name is not None else None
                if ino is not None:
                    node = self._inodes[ino]
                    node.lost = [(a, min(b, size)) for a, b in node.lost if a < size]
                    self._fds[fd] = ino
            self.fsync(fd)
        finally:
            with self._model:
                self._fds.pop(fd, None)
            os.close(fd)

    def write_atomic(self, path, data):
        tmp = f"{path}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        name, tmp_name = self._mine(path), self._mine(tmp)
        with self._model:
            if tmp_name is not None:
                self.names[tmp_name] = ino = self._new_inode(os.path.abspath(tmp))
                self._fds[fd] = ino
        try:
            self.write(fd, data)
            self.fsync(fd)
        finally:
            with self._model:
                self._fds.pop(fd, None)
            os.close(fd)
        os.replace(tmp, path)
        with self._model:
            if name is not None:
                ino = self.names.pop(tmp_name)
                self._inodes[ino].path = os.path.abspath(path)
                self.names[name] = ino
        self.fsync_dir(os.path.dirname(path) or ".")

    def remove(self, path):
        os.remove(path)
        name = self._mine(path)
        with self._model:
            if name is not None:
                self.names.pop(name, None)

    # views -----------------------------------------------------------------------
    def view(self, dst: str, pessimistic: bool) -> str:
        """Write into `dst` the recording as a power loss now could leave it."""
        os.makedirs(dst)
        with self._model:
            names = self.durable_names if pessimistic else self.names
            for name, ino in names.items():
                with open(os.path.join(dst, name), "wb") as f:
                    f.write(self._inodes[ino].disk)
        return dst


class NoSyncFS(FileSystem):
    """Plain file operations without fsync: for checking a view, whose durability is not the point."""

    def fdatasync(self, fd):
        pass

    def fsync(self, fd):
        pass

    def fsync_dir(self, path):
        pass
