"""Downloads: the `evlog export` engine (evlog.ops.export) streamed into the response.

The engine writes to a binary stream; here it runs in a thread writing into a bounded pipe
whose chunks the response yields, so a download never holds more than a few chunks in memory,
and a client that goes away stops the export."""
from __future__ import annotations

import io
import queue
import threading
from collections.abc import Iterator

from werkzeug.exceptions import NotImplemented as NotImplemented501

CHUNK = 64 * 1024
FORMATS = {"json": "application/json", "jsonl": "application/x-ndjson", "csv": "text/csv"}


class _Cancelled(Exception):
    pass


class _Pipe(io.BufferedIOBase):
    """A write-only stream handing CHUNK-sized pieces to a queue (waits while the queue is full)."""

    def __init__(self, depth: int = 8) -> None:
        super().__init__()
        self.chunks: queue.Queue = queue.Queue(maxsize=depth)
        self.cancelled = threading.Event()
        self._buf = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        self._buf += data
        while len(self._buf) >= CHUNK:
            self.put(bytes(self._buf[:CHUNK]))
            del self._buf[:CHUNK]
        return len(data)

    def flush(self) -> None:
        if self._buf:
            self.put(bytes(self._buf))
            self._buf.clear()

    def close(self) -> None:
        self._buf.clear()   # what is left after a cancel is dropped, not flushed
        super().close()

    def put(self, item: object) -> None:
        while True:
            if self.cancelled.is_set():
                raise _Cancelled
            try:
                self.chunks.put(item, timeout=0.5)
                return
            except queue.Full:
                continue


def stream_export(path: str, fmt: str, filter_text: str | None, redactor: object = None) -> Iterator[bytes]:
    """The export of `path` in `fmt` (json, jsonl, csv), as chunks of bytes (through the
    redaction policy `redactor`, if any)."""
    try:
        from ..ops.common import Selection
        from ..ops.export import export
    except ImportError:
        raise NotImplemented501("export is not available in this build (evlog.ops.export missing)") from None
    selection = Selection(filter=filter_text) if filter_text else None
    pipe = _Pipe()
    done = object()

    def produce() -> None:
        try:
            export(path, pipe, format=fmt, selection=selection, redact=redactor)
            pipe.flush()
            pipe.put(done)
        except _Cancelled:
            pass
        except Exception as exc:  # noqa: BLE001 - handed to the response's generator
            try:
                pipe.put(exc)
            except _Cancelled:
                pass

    def chunks() -> Iterator[bytes]:
        thread = threading.Thread(target=produce, name="evlog-export", daemon=True)
        thread.start()
        try:
            while True:
                item = pipe.chunks.get()
                if item is done:
                    return
                if isinstance(item, Exception):
                    raise item
                yield item
        finally:
            pipe.cancelled.set()
    return chunks()
