"""Baselines the storage benchmark compares evlog's `Log` against.

(a) `JsonRecorder`: the plain JSON recorder evlog replaces. Events are kept in memory as
    dicts (`model_dump(mode="json")`) and written with one `json.dump` at save time;
    reading is one `json.load`. `OriginalRecorder` is the same tool as a bus interceptor
    (its `publish` wrapper: `model_dump()` and a dict appended to a list), for the
    recorder's publish-loop benchmark.
(b) MCAP (the `mcap` package's pure-Python writer and reader): zstd chunks of 1 MiB, one
    JSON-encoded channel per event name, message data = `model_dump_json()` bytes; reading
    decodes every message's JSON to a dict.
(c) The floor: serialize each event, compress with zstd level 3 in 1 MiB blocks, write the
    blocks to one file, fsync once at the end. No framing, no index, no timestamps: the
    least work any durable recorder of these events can do in Python.

Each writer is used as `w = X(path); w.append(name, model, source, offset_ns)...; w.close()`
(close makes the file durable: fsync), and each has `read_all(path)` returning the events
with their data decoded to dicts.
"""
from __future__ import annotations

import datetime as _dt
import json
import os
import time
from collections.abc import Iterator
from typing import Any

import zstandard

BLOCK_BYTES = 1 << 20


def _fsync_path(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# (a) the plain JSON recorder ------------------------------------------------------------
class JsonRecorder:
    """Events accumulated as dicts, one json.dump at save, fsynced (to compare durable files)."""

    def __init__(self, path: str, session_name: str = "bench") -> None:
        self.path = path
        self.session_name = session_name
        self.start = _dt.datetime.now(_dt.timezone.utc)
        self.events: list[dict] = []

    def append(self, name: str, model: Any, source: str, offset_ns: int) -> None:
        self.events.append({
            "timestamp_offset_ms": offset_ns / 1e6,
            "event_name": name,
            "event_data": model.model_dump(mode="json"),
            "source": source,
        })

    def close(self) -> None:
        last = self.events[-1]["timestamp_offset_ms"] if self.events else 0.0
        doc = {
            "session_name": self.session_name,
            "start_time": self.start.isoformat(),
            "duration_ms": last,
            "total_events": len(self.events),
            "events": self.events,
        }
        with open(self.path, "w", encoding="utf-8") as f:
            json.dump(doc, f)
            f.flush()
            os.fsync(f.fileno())

    @staticmethod
    def read_all(path: str) -> list[dict]:
        with open(path, encoding="utf-8") as f:
            return json.load(f)["events"]


# (a') the original tool's recorder, as a bus interceptor ------------------------------------
class OriginalRecorder:
    """The original tool's `EventRecorder` on the publishing thread, as its README describes
    it: `start_recording(bus)` wraps `bus.publish`; each publish calls `event.model_dump()`
    and appends a dict (`timestamp_offset_ms`, `event_name`, `event_data`, `source`) to an
    in-memory list, then calls the bus's own publish. `save` writes one JSON file (fsynced)."""

    def __init__(self, session_name: str = "bench") -> None:
        self.session_name = session_name
        self.events: list[dict] = []
        self.is_recording = False
        self._start = 0.0
        self._bus: Any = None

    def start_recording(self, bus: Any) -> None:
        self._start = time.time()
        self.is_recording = True
        original = bus.publish
        recorder = self

        def publish(event_name: str, event: Any, source: str = "") -> Any:
            if recorder.is_recording:
                event_data = event.model_dump() if hasattr(event, "model_dump") else event
                recorder.events.append({
                    "timestamp_offset_ms": (time.time() - recorder._start) * 1000,
                    "event_name": event_name,
                    "event_data": event_data,
                    "source": source,
                })
            return original(event_name, event, source)

        bus.publish = publish
        self._bus = bus

    def stop_recording(self) -> None:
        self.is_recording = False
        if self._bus is not None:
            del self._bus.publish
            self._bus = None

    def save(self, path: str) -> None:
        doc = {"session_name": self.session_name, "start_time": _dt.datetime.fromtimestamp(self._start).isoformat(),
               "total_events": len(self.events), "events": self.events}
        with open(path, "w", encoding="utf-8") as f:
            json.dump(doc, f, default=str)
            f.flush()
            os.fsync(f.fileno())


# (b) MCAP ---------------------------------------------------------------------------
class McapRecorder:
    """MCAP file, zstd chunks, one JSON channel per event name."""

    def __init__(self, path: str) -> None:
        from mcap.writer import CompressionType, Writer

        self.path = path
        self._file = open(path, "wb")  # noqa: SIM115 - closed in close()
        self._writer = Writer(self._file, chunk_size=BLOCK_BYTES, compression=CompressionType.ZSTD)
        self._writer.start(profile="", library="evlog-bench")
        self._schema = self._writer.register_schema(name="event", encoding="jsonschema", data=b"{}")
        self._channels: dict[str, int] = {}
        self._seq = 0

    def append(self, name: str, model: Any, source: str, offset_ns: int) -> None:
        channel = self._channels.get(name)
        if channel is None:
            channel = self._channels[name] = self._writer.register_channel(
                topic=name, message_encoding="json", schema_id=self._schema, metadata={"source": source})
        self._seq += 1
        self._writer.add_message(channel_id=channel, log_time=offset_ns, data=model.model_dump_json().encode(),
                                 publish_time=offset_ns, sequence=self._seq)

    def close(self) -> None:
        self._writer.finish()
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()

    @staticmethod
    def iter_read(path: str, topics: Any = None) -> Iterator[tuple[str, int, dict]]:
        from mcap.reader import make_reader

        with open(path, "rb") as f:
            reader = make_reader(f)
            for _schema, channel, message in reader.iter_messages(topics=topics, log_time_order=False):
                yield channel.topic, message.log_time, json.loads(message.data)

    @staticmethod
    def read_all(path: str) -> list:
        return list(McapRecorder.iter_read(path))


# (c) the floor ------------------------------------------------------------------------
class FloorRecorder:
    """Serialize, zstd-3 in 1 MiB blocks, write, fsync once at the end."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        self._cctx = zstandard.ZstdCompressor(level=3)
        self._buf: list[bytes] = []
        self._size = 0

    def append(self, name: str, model: Any, source: str, offset_ns: int) -> None:
        # the same bytes as model.model_dump_json(), without the round trip through str
        data = model.__pydantic_serializer__.to_json(model)
        self._buf.append(data)
        self._size += len(data) + 1
        if self._size >= BLOCK_BYTES:
            self._write_block()

    def _write_block(self) -> None:
        if not self._buf:
            return
        frame = self._cctx.compress(b"\n".join(self._buf))
        os.write(self._fd, len(frame).to_bytes(4, "little") + frame)
        self._buf = []
        self._size = 0

    def close(self) -> None:
        self._write_block()
        os.fsync(self._fd)
        os.close(self._fd)

    @staticmethod
    def read_all(path: str) -> list:
        import msgspec

        decode = msgspec.json.decode
        dctx = zstandard.ZstdDecompressor()
        out: list = []
        with open(path, "rb") as f:
            buf = f.read()
        pos = 0
        while pos < len(buf):
            n = int.from_bytes(buf[pos:pos + 4], "little")
            raw = dctx.decompress(buf[pos + 4:pos + 4 + n])
            out.extend(decode(b"[" + raw.replace(b"\n", b",") + b"]"))
            pos += 4 + n
        return out


def file_size(path: str) -> int:
    if os.path.isdir(path):
        return sum(os.path.getsize(os.path.join(path, f)) for f in os.listdir(path)
                   if os.path.isfile(os.path.join(path, f)))
    return os.path.getsize(path)
