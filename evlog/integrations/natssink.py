"""The NATS replay sink: `publish(event_name, event, source)` for the replayer."""
from __future__ import annotations

import asyncio
import sys
import threading
from typing import Any, TextIO

from ..closing import Closing
from .natsclient import connect
from .natsformat import (
    MARKER_SOURCE,
    check_subject_template,
    parse_nats_url,
    payload_bytes,
    replay_headers,
    replay_subject,
)
from .status import print_line


class NatsSink(Closing):
    """A replay sink: `publish(event_name, event, source)` sends one message to NATS.

    The subject comes from `subject_template`; headers mark the message as a replay
    (`Evlog-Replay: <recording>`). Recorded NATS envelopes are unwrapped: the original payload
    is sent. With `dry_run` nothing connects; each message is printed to `out` instead.
    Marker records evlog added to a capture (source "evlog") are not sent.
    With `reply_timeout` (lock-step replay), each message is a request: `publish` returns when
    the consumer has replied (an error after `reply_timeout` seconds without a reply).
    """

    def __init__(self, url: str, subject_template: str = "replay.{event_name}", recording: str = "",
                 *, dry_run: bool = False, out: TextIO | None = None, connect_timeout: float = 5.0,
                 reply_timeout: float | None = None) -> None:
        self.url = parse_nats_url(url)
        self.subject_template = check_subject_template(subject_template)
        self.recording = recording
        self.dry_run = dry_run
        self.reply_timeout = reply_timeout
        self.out = out or sys.stdout
        self.sent = 0
        self.skipped = 0
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

    def message(self, event_name: str, event: Any, source: str) -> tuple[str, dict[str, str], bytes] | None:
        """(subject, headers, payload) for one event, or None for evlog's own marker records."""
        if source == MARKER_SOURCE and event_name.startswith("evlog.capture."):
            return None
        subject = replay_subject(self.subject_template, event_name, source, event, self.recording)
        return subject, replay_headers(event_name, source, event, self.recording), payload_bytes(event)

    def publish(self, event_name: str, event: Any, source: str = "") -> None:
        msg = self.message(event_name, event, source)
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

