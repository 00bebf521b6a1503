"""Where an operation writes a file: a path (written to a temporary file, then renamed, so
a failed export leaves nothing half-written) or an open binary stream (stdout)."""
from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from typing import BinaryIO

Output = "str | os.PathLike | BinaryIO | None"


@contextlib.contextmanager
def open_output(out: str | os.PathLike | BinaryIO | None) -> Iterator[BinaryIO]:
    if out is None or out == "-":
        stream = sys.stdout.buffer
        yield stream
        stream.flush()
        return
    if not isinstance(out, (str, os.PathLike)):
        yield out  # a caller's stream: the caller closes it
        out.flush()
        return
    path = os.fspath(out)
    tmp = f"{path}.tmp{os.getpid()}"
    f = open(tmp, "wb", buffering=1 << 20)  # noqa: SIM115 - closed below, renamed only on success
    try:
        yield f
        f.close()
        os.replace(tmp, path)
    except BaseException:
        f.close()
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise
