"""The NATS replay sink: `send(record)` (record-level: the replay of `evlog replay --to-nats`) or
`publish(event_name, event, source, headers=None)` (a bus)."""
from __future__ import annotations

import asyncio
import sys
import threading
from collections.abc import Mapping
from typing import Any, TextIO

from ..closing import Closing
from .natsclient import connect
from .natsformat import (
    MARKER_SOURCE,
    as_recorded,
    check_subject_template,
    parse_nats_url,
    payload_bytes,
    replay_headers,
    replay_msg_id,
    replay_subject,
)
from .status import print_line


class NatsSink(Closing):
    """A replay sink: `send(record)` (record-level, with the record's offset and headers) or
    `publish(event_name, event, source, headers=None)` (a bus) sends one message to NATS.

    The subject comes from `subject_template` (`{subject}`: the `subject` header); the NATS
    headers are the recorded message's own (`nats.h.*`) and evlog's (natsformat.replay_headers):
    `Evlog-Replay: <recording>` marks the message, and with `send` and a `start_time_ns`,
    `Nats-Msg-Id: evlog:<recording>:<start_time_ns>:<offset>` lets a stream with a duplicate
    window drop what a resumed or repeated replay sends again. The payload is the recorded
    one (bytes as they are, else JSON). Records below `envelopes_before` (an older capture's
    recording: natsformat.envelope_limit) that hold an envelope `{"nats":..., "data":...}` are
    unwrapped. With `dry_run` nothing connects; each message is printed to `out` instead.
    Marker records evlog added to a capture (source "evlog") are not sent.
    With `reply_timeout` (lock-step replay), each message is a request: `publish` returns when
    the consumer has replied (an error after `reply_timeout` seconds without a reply).
    """

    def __init__(self, url: str, subject_template: str = "replay.{event_name}", recording: str = "",
                 *, dry_run: bool = False, out: TextIO | None = None, connect_timeout: float = 5.0,
                 reply_timeout: float | None = None, start_time_ns: int | None = None,
                 envelopes_before: float = 0) -> None:
        self.url = parse_nats_url(url)
        self.subject_template = check_subject_template(subject_template)
        self.recording = recording
        self.start_time_ns = start_time_ns
        self.envelopes_before = envelopes_before
        self.dry_run = dry_run
        self.reply_timeout = reply_timeout
        self.out = out or sys.stdout
        self.sent = 0
        self.skipped = 0
        self._last_offset: int | None = None
        self._repeat = 0
        self._nc: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        if not dry_run:
            self._start(connect_timeout)

    def _start(self, timeout: float) -> None:
        loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=loop.run_forever, name="evlog-nats-sink", daemon=True)
        self._thread.start()
        self._loop = loop
        try:
            self._nc = asyncio.run_coroutine_threadsafe(
                connect(self.url, name=f"evlog-replay:{self.recording}", timeout=timeout, reconnect=False),
                loop).result()
        except BaseException:
            self._stop_loop()
            raise

    def message(self, event_name: str, event: Any, source: str, headers: Mapping[str, str] | None = None,
                offset: int | None = None) -> tuple[str, dict[str, str], bytes] | None:
        """(subject, headers, payload) for one event, or None for evlog's own marker records."""
        if source == MARKER_SOURCE and event_name.startswith("evlog.capture."):
            return None
        legacy = self.envelopes_before > 0 if offset is None else offset < self.envelopes_before
        event, headers = as_recorded(event, headers, legacy)
        msg_id = None
        if offset is not None and self.start_time_ns is not None:
            # a `dup` fault delivers the same record twice in a row: the copy gets its own id
            self._repeat = self._repeat + 1 if offset == self._last_offset else 0
            self._last_offset = offset
            msg_id = replay_msg_id(self.recording, self.start_time_ns, offset, self._repeat)
        subject = replay_subject(self.subject_template, event_name, source, headers, self.recording)
        return (subject, replay_headers(event_name, source, headers, self.recording, msg_id),
                payload_bytes(event))

    def send(self, record: Any) -> None:
        """Publish one record (`Record`: name, data, source, headers, offset)."""
        self._send(self.message(record.name, record.data, record.source, record.headers, record.offset))

    def publish(self, event_name: str, event: Any, source: str = "",
                headers: Mapping[str, str] | None = None) -> None:
        self._send(self.message(event_name, event, source, headers))

    def _send(self, msg: tuple[str, dict[str, str], bytes] | None) -> None:
        if msg is None:
            self.skipped += 1
            return
        subject, headers, payload = msg
        if self.dry_run:
            shown = payload[:200].decode("utf-8", "replace") + ("..." if len(payload) > 200 else "")
            hdrs = " ".join(f"{k}={v}" for k, v in headers.items())
            print_line(self.out, f"{subject} [{hdrs}] {shown}")
        else:
            assert self._loop is not None
            send = (self._nc.publish(subject, payload, headers=headers) if self.reply_timeout is None else
                    self._nc.request(subject, payload, timeout=self.reply_timeout, headers=headers))
            asyncio.run_coroutine_threadsafe(send, self._loop).result()
        self.sent += 1

    def close(self) -> None:
        if self._nc is not None and self._loop is not None:
            try:
                asyncio.run_coroutine_threadsafe(self._nc.drain(), self._loop).result(10)
            except Exception:  # noqa: BLE001
                pass
            self._nc = None
        self._stop_loop()

    def _stop_loop(self) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            if self._thread is not None:
                self._thread.join(5)
            self._loop.close()
            self._loop = None

