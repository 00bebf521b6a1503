"""Capture from NATS into a recording (core subscription or JetStream pull consumer). The
replay sink is in natssink.py.

Each message is stored as its payload, with the broker's metadata in the record's headers
(natsformat.py; a format version 1 recording, which has no headers, is refused).

Exactly-once with JetStream: every record keeps its stream sequence (see natsformat); on start
the capture reads the last recorded sequence from the log's tail and skips anything at or below
it; a message is acknowledged only once the block holding it is below `Log.durable_offset`
(fsynced). Killed at any moment, the capture loses nothing (unacknowledged messages are
redelivered) and records nothing twice (redeliveries already recorded are skipped).

Through failures (a cluster's node dies, the stream or consumer leader changes, every server
is gone for a while) the capture waits and tries again with backoff, saying what it waits for
(`CaptureStats.waiting_for`, the status line, `/healthz`); it never gives up while the servers
may come back, unless `give_up_after` says how long to wait. While connected, deliveries lost
in flight (a gap in the consumer sequence, pull requests the server never ended, 409
Leadership Change, 503) make it resume from the consumer's state: wait for the open pull
requests to expire, fetch by sequence what the consumer delivered and the recording lacks,
pull again.

Several recorders can share one durable consumer (`shared`): each acknowledges every message
once it is durable in its own recording (AckPolicy explicit) and records what it is handed,
redeliveries included; `evlog merge --by-sequence` of their recordings drops the duplicates
and gives every message once, in stream order.

Core NATS has no persistence: messages the client drops (slow consumer) are counted, reported
by `evlog.capture.dropped` marker records and in the manifest's `nats_capture` metadata.
"""
from __future__ import annotations

import asyncio
import datetime as _dt
import sys
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Any, TextIO

from ..segments import Log, encode_headers
from ..segments.codec import EventEncodeError
from ..segments.errors import EventTooLargeError, EvlogError, LogClosedError, LogWriteError
from ..timespec import Rfc3339
from .natsformat import (
    CAPTURE_METADATA,
    DEFAULT_SOURCE,
    DROPPED_EVENT,
    ENVELOPES_BEFORE,
    MARKER_SOURCE,
    SOURCE_HEADER,
    NatsConnectError,
    NatsError,
    NatsSetupError,
    SubjectMapper,
    check_subject,
    encode_payload,
    envelope_limit,
    parse_ack_reply,
    parse_nats_url,
    record_headers,
    recorded_seq,
    redact_url,
)
from .natsclient import Backoff, connect, describe_error, import_nats, transient_errors
from .natspull import LOST_AFTER, PullFeeder
from .status import CaptureStats, StatusLine, directory_bytes, print_line

REJECTED_EVENT = "evlog.capture.rejected"
METADATA_KEY = CAPTURE_METADATA
PULL_EXPIRES = 2.0     # seconds a pull request waits on the server
SHARED_BATCH = 500     # messages per pull request of a recorder sharing its consumer
JS_API_TIMEOUT = 3.0   # seconds a JetStream API request (stream, consumer info) waits: then tried again



def last_recorded_seq(log: Log, stream: str) -> int | None:
    """The highest stream sequence of `stream` in the recording (read from the tail; the
    `nats.seq` header, or an older capture's envelope)."""
    limit = envelope_limit(log.manifest.metadata)
    for rec in log.read(reverse=True):
        seq = recorded_seq(rec.data, rec.headers, stream, rec.offset < limit)
        if seq is not None:
            return seq
    return None


def _covers(pattern: str, subject: str) -> bool:
    """Whether every subject matching `subject` (a stream's subject, wildcards allowed) also
    matches `pattern`."""
    if pattern == ">" or pattern == subject:
        return True
    p, s = pattern.split("."), subject.split(".")
    for i, tok in enumerate(p):
        if tok == ">":
            return len(s) > i
        if i >= len(s) or s[i] == ">" or (tok != "*" and tok != s[i]):
            return False
    return len(p) == len(s)


@dataclass
class CaptureConfig:
    url: str
    subject: str
    stream: str | None = None            # JetStream when set (or when `durable` is set)
    durable: str | None = None
    queue: str | None = None             # core NATS queue group
    mapper: SubjectMapper = field(default_factory=SubjectMapper)
    source_header: str = SOURCE_HEADER
    default_source: str = DEFAULT_SOURCE
    fetch_batch: int = 5000              # messages per pull request (two kept outstanding)
    max_ack_pending: int = 100_000       # for consumers evlog creates
    ack_wait: float = 60.0
    ack_flush_after: float = 1.0         # fsync early when the oldest unacked message waited this long
    pending_msgs_limit: int = 256 * 1024  # core: client-side buffer before messages are dropped
    pending_bytes_limit: int = 256 << 20
    status_interval: float = 10.0        # seconds between status lines (0: none)
    metadata_interval: float = 30.0
    roll_daily: bool = False             # new segment when the UTC date changes
    connect_timeout: float = 5.0
    max_events: int | None = None        # stop after recording this many events (this run)
    max_seconds: float | None = None     # stop after this long
    give_up_after: float | None = None   # stop with an error after waiting this long (None: never)
    shared: bool = False                 # recorders share the durable consumer (see the module doc)
    retry_max: float = 5.0               # the longest wait between two attempts (seconds)

    @property
    def jetstream(self) -> bool:
        return bool(self.stream or self.durable)

    def __post_init__(self) -> None:
        self.url = parse_nats_url(self.url)
        check_subject(self.subject, wildcards=True)
        if self.queue and self.jetstream:
            raise NatsSetupError("--queue is for core NATS; a JetStream durable consumer is shared with --shared")
        if self.shared and not self.durable:
            raise NatsSetupError("--shared needs --durable (the consumer the recorders share)")

    @property
    def filter_subject(self) -> str | None:
        """The consumer's filter: none when recording the whole stream (subject '>')."""
        return None if self.subject == ">" else self.subject


class NatsCapture:
    """Records `config.subject` into an open, writable `log` until `request_stop()`."""

    def __init__(self, log: Log, config: CaptureConfig, stats: CaptureStats | None = None,
                 status_stream: TextIO | None = sys.stderr) -> None:
        self.log = log
        self.config = config
        self.stats = stats or CaptureStats()
        self.stats.mode = "jetstream" if config.jetstream else "core"
        self.stats.subject = config.subject
        self.status_stream = status_stream
        self._status_line = StatusLine()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._stop_reason: str | None = None
        self._roll_wanted = False
        self._unacked: deque[tuple[int, Any]] = deque()
        self._ack_all = True
        self._ack_threshold = 50_000
        self._last_seq = 0
        self._stream: str | None = config.stream
        self._dropped_reported = 0
        prior = (log.manifest.metadata.get(METADATA_KEY) or {}) if hasattr(log, "manifest") else {}
        self._dropped_before = int(prior.get("dropped", 0) or 0)
        # records below this offset may hold an older capture's envelope (natsformat.envelope_limit)
        limit = envelope_limit(log.manifest.metadata) if hasattr(log, "manifest") else 0
        self._envelopes_before = int(log.end_offset) if limit == float("inf") else int(limit)
        self._time_text = Rfc3339()
        self._start_ns = log.manifest.start_time_ns
        self._day = _dt.datetime.now(_dt.timezone.utc).date()
        self.fatal: BaseException | None = None
        self._feeder: PullFeeder | None = None
        self._session_broken = False
        self._session_started = False
        self._broken_reason: str | None = None
        self._last_cseq: int | None = None     # consumer sequence of the last delivery (gap detection)
        self._backoff = Backoff(0.25, config.retry_max)
        self._waiting_mono: float | None = None
        self._give_up_text = ""
        self._gave_up: NatsError | None = None
        self._connect_error = "no answer"
        self._nc: Any = None
        self._stream_subjects: list[str] = []

    # control (thread-safe) --------------------------------------------------------------
    def request_stop(self, reason: str = "stop") -> None:
        """Ask the capture to stop (from any thread, or a signal handler in its loop)."""
        self._stop_reason = self._stop_reason or reason
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(stop.set)
            except RuntimeError:
                pass

    def request_roll(self) -> None:
        self._roll_wanted = True

    @property
    def stop_reason(self) -> str | None:
        return self._stop_reason

    # running ---------------------------------------------------------------------------
    async def run(self) -> CaptureStats:
        if getattr(self.log, "format_version", 2) < 2:
            raise NatsSetupError(f"{self.log.path} is a format version 1 recording, which cannot store the "
                                 "NATS metadata (headers): record into a new recording")
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        if self._stop_reason:
            self._stop.set()
        ticker = asyncio.create_task(self._ticker())
        try:
            nc = self._nc = await self._connect()
            if nc is not None:
                self._write_metadata(started=True)
                if self.config.jetstream:
                    await self._run_jetstream(nc)
                else:
                    await self._run_core(nc)
        except (LogWriteError, LogClosedError) as exc:
            self.fatal = self.fatal or exc
            self.stats.error(str(exc))
        finally:
            ticker.cancel()
            try:
                await ticker
            except (asyncio.CancelledError, Exception):  # noqa: BLE001
                pass
            await self._finish(self._nc)
        if self.fatal is not None:
            raise self.fatal
        if self._gave_up is not None:
            raise self._gave_up
        return self.stats

    @property
    def _log_broken(self) -> bool:
        return isinstance(self.fatal, (LogWriteError, LogClosedError))

    async def _finish(self, nc: Any) -> None:
        if not self._log_broken:
            try:
                await asyncio.to_thread(self.log.flush, True)
            except EvlogError as exc:
                self.fatal = exc
                self.stats.error(str(exc))
        if nc is not None:
            await self._ack_durable()
        self._report_drops()
        if nc is not None:
            try:
                await asyncio.wait_for(nc.flush(), 2.0)
            except Exception:  # noqa: BLE001 - acks not flushed are redelivered, and skipped
                pass
            try:
                await asyncio.wait_for(nc.close(), 2.0)
            except Exception:  # noqa: BLE001
                pass
        self.stats.connected = False
        self._update_stats()
        if not self._log_broken:
            self._write_metadata(stopped=True)

    # waiting -----------------------------------------------------------------------------
    def _wait_state(self, what: str | None, detail: str | None = None, failure: str | None = None) -> None:
        """Say what the capture waits for (None: it makes progress again). `failure` is the
        error if it gives up (`give_up_after`) while waiting for this."""
        s = self.stats
        if what is None:
            if s.waiting_for is not None:
                s.waiting_for = s.waiting_since = None
                self._waiting_mono = None
                self._backoff.reset()
                self._print_status()
            return
        if detail:
            s.error(f"{what}: {detail}")
        self._give_up_text = failure or (f"{what}: {detail}" if detail else what)
        if s.waiting_for != what:
            s.waiting_for = what
            if self._waiting_mono is None:
                s.waiting_since, self._waiting_mono = time.time(), time.monotonic()
            self._print_status()

    def _print_status(self) -> None:
        if self.status_stream is not None and self.config.status_interval > 0:
            self._update_stats()
            print_line(self.status_stream, self._status_line.format(self.stats.snapshot()))

    async def _pause(self, seconds: float) -> bool:
        """Sleep `seconds` (less if stopped); True when the capture is to stop."""
        assert self._stop is not None
        try:
            await asyncio.wait_for(self._stop.wait(), seconds)
        except asyncio.TimeoutError:
            pass
        return self._stop.is_set() or self.fatal is not None

    def _check_give_up(self) -> None:
        limit = self.config.give_up_after
        if limit is None or self._waiting_mono is None or self._gave_up is not None:
            return
        if time.monotonic() - self._waiting_mono >= limit:
            text = self._give_up_text
            if self.stats.waiting_for and self.stats.waiting_for.startswith(("connecting", "reconnecting")):
                text = f"cannot connect to NATS at {redact_url(self.config.url)}: {self._connect_error}"
            self._gave_up = NatsError(f"{text} (gave up after {limit:g}s)")
            self.request_stop("gave up")

    async def _connect(self) -> Any | None:
        """The connection, retried with backoff until a server answers (None: stopped first)."""
        url = redact_url(self.config.url)
        assert self._stop is not None
        self._wait_state(f"connecting to {url}")
        attempts = 0
        while True:
            try:
                nc = await connect(self.config.url, name=f"evlog-record:{self.log.session_name}",
                                   timeout=self.config.connect_timeout, on_error=self._on_error,
                                   on_disconnect=self._on_disconnect, on_reconnect=self._on_reconnect,
                                   first=attempts)
            except NatsConnectError as exc:
                attempts += 1
                self._wait_state(f"reconnecting to {url}")
                self.stats.error(str(exc))
                if await self._pause(self._backoff.next()):
                    return None
                continue
            if self._stop.is_set():
                await self._finish_early(nc)
                return None
            self.stats.connected = True
            # core NATS keeps no message for a subscription the server has not seen yet: the
            # capture waits until its subscription is registered (`_run_core`)
            self._wait_state(None if self.config.jetstream else f"subscribing to {self.config.subject}")
            return nc

    @staticmethod
    async def _finish_early(nc: Any) -> None:
        try:
            await asyncio.wait_for(nc.close(), 2.0)
        except Exception:  # noqa: BLE001
            pass

    # core NATS ---------------------------------------------------------------------------
    async def _run_core(self, nc: Any) -> None:
        cfg = self.config

        async def on_msg(msg: Any) -> None:
            self._record_core(msg)

        sub = await nc.subscribe(cfg.subject, queue=cfg.queue or "", cb=on_msg,
                                 pending_msgs_limit=cfg.pending_msgs_limit,
                                 pending_bytes_limit=cfg.pending_bytes_limit)
        try:   # a round trip: the server has the subscription once its PONG comes back
            await asyncio.wait_for(nc.flush(), cfg.connect_timeout)
        except Exception:  # noqa: BLE001 - a lost connection: nats-py subscribes again on reconnect
            pass
        self._wait_state(None)
        assert self._stop is not None
        await self._stop.wait()
        try:
            await sub.unsubscribe()
        except Exception:  # noqa: BLE001
            pass

    def _record_core(self, msg: Any) -> None:
        if self.fatal is not None:
            return
        self.stats.received += 1
        headers = msg.headers
        try:
            self._append(msg.subject, msg.data, headers, None, None, False, None, reply=msg.reply)
        except (LogWriteError, LogClosedError) as exc:
            self.fatal = exc
            self.stats.error(str(exc))
            self.request_stop("write failure")

    def _on_error(self, exc: BaseException) -> None:
        nats = import_nats()
        if isinstance(exc, nats.errors.SlowConsumerError):
            self.stats.dropped += 1
            if self.config.jetstream and self.fatal is None:
                # cannot happen with the feeder's limits; if it does, a later redelivery could be
                # taken for a duplicate: stop, and let the next start fetch the gap by sequence
                self.fatal = NatsError("the client dropped JetStream messages (slow consumer); "
                                       "restart the capture to fetch them by sequence")
                self.stats.error(str(self.fatal))
                self.request_stop("client dropped messages")
            return
        self._connect_error = describe_error(exc)
        self.stats.error(f"nats: {self._connect_error}")

    def _on_disconnect(self) -> None:
        self.stats.connected = False
        self._break_session("connection lost")
        if self._stop is not None and not self._stop.is_set():
            self._wait_state(f"reconnecting to {redact_url(self.config.url)}")

    def _on_reconnect(self) -> None:
        self.stats.connected = True
        self.stats.reconnects += 1
        if not self.config.jetstream:
            self._wait_state(None)   # JetStream: when the pull session answers again

    def _break_session(self, reason: str) -> None:
        """End the pull session: the capture resumes from the consumer's state."""
        if not self._session_broken:
            self._session_broken = True
            self._broken_reason = reason

    # JetStream ---------------------------------------------------------------------------
    async def _run_jetstream(self, nc: Any) -> None:
        cfg = self.config
        js = nc.jetstream(timeout=JS_API_TIMEOUT)
        stream = await self._find_stream(js)
        if stream is None:
            return   # stopped while waiting
        self._stream = stream
        if not cfg.shared:
            last = await asyncio.to_thread(last_recorded_seq, self.log, stream)
            self._last_seq = last or 0
            self.stats.last_seq = last
        consumer = cfg.durable or f"evlog-{uuid.uuid4().hex[:12]}"
        while True:   # the first time, a consumer that does not fit is a setup error
            try:
                info = await self._ensure_consumer(js, stream, consumer)
                break
            except transient_errors() as exc:
                self._wait_state(f"waiting for JetStream leader of stream {stream}", describe_error(exc),
                                 f"cannot create the JetStream consumer: {describe_error(exc)}")
                if await self._pause(self._backoff.next()):
                    return
        max_pending = info.config.max_ack_pending or 0
        self._ack_threshold = max(1, max_pending // 2) if max_pending > 0 else 50_000
        # recorders sharing the consumer take turns by request: smaller ones share it finer
        batch = max(1, min(min(cfg.fetch_batch, SHARED_BATCH) if cfg.shared else cfg.fetch_batch, self._ack_threshold))
        assert self._stop is not None
        while not self._stop.is_set() and self.fatal is None:
            await self._js_session(nc, js, stream, consumer, batch)
            if self._stop.is_set() or self.fatal is not None:
                break
            # the session broke (connection lost, the consumer's leader gone, deliveries lost
            # in flight): messages may have been delivered but never received. Let the open pull
            # requests expire, then resume from the consumer's state.
            if had_feeder := self._session_started:
                self.stats.resumes += 1
                self.stats.error(f"resuming from the consumer's state: {self._broken_reason}")
            while not nc.is_connected and not self._stop.is_set():
                await asyncio.sleep(0.2)
            if await self._pause(PULL_EXPIRES + LOST_AFTER if had_feeder and not cfg.shared
                                 else self._backoff.next()):
                break

    async def _find_stream(self, js: Any) -> str | None:
        """The stream's name once its leader answers (None: stopped while waiting). A stream
        that does not exist is a setup error."""
        nats = import_nats()
        cfg = self.config
        what = f"stream {cfg.stream}" if cfg.stream else f"the stream of {cfg.subject}"
        while True:
            try:
                stream = cfg.stream or await js.find_stream_name_by_subject(cfg.subject)
                info = await js.stream_info(stream)
                self._stream_subjects = list(info.config.subjects or [])
                self._wait_state(None)
                return stream
            except nats.js.errors.NotFoundError:
                what = f"stream {cfg.stream!r}" if cfg.stream else f"stream for subject {cfg.subject!r}"
                raise NatsSetupError(f"JetStream {what} not found (create it, or record with core NATS "
                                     f"by leaving out --stream/--durable)") from None
            except transient_errors() as exc:
                self._wait_state(f"waiting for JetStream leader of {what}", describe_error(exc),
                                 f"JetStream is not available: {describe_error(exc)}")
                if await self._pause(self._backoff.next()):
                    return None

    def _filter(self, subject: str | None) -> str | None:
        """The consumer's filter, none when it takes the whole stream anyway: nats-server 2.9
        delivers from a wildcard-filtered consumer started in mid-stream at a few hundred
        messages a second (an unfiltered one at thousands)."""
        if subject is None or subject == ">":
            return None
        if self._stream_subjects and all(_covers(subject, s) for s in self._stream_subjects):
            return None
        return subject

    async def _ensure_consumer(self, js: Any, stream: str, consumer: str) -> Any:
        """The consumer's info, created if missing (again after it was lost: it starts after the
        last recorded sequence). Raises NatsSetupError for a consumer evlog cannot use, the
        client's errors when the cluster does not answer."""
        nats = import_nats()
        api = nats.js.api
        cfg = self.config
        try:
            info = await js.consumer_info(stream, consumer)
        except nats.js.errors.NotFoundError:
            policy = api.AckPolicy.EXPLICIT if cfg.shared else api.AckPolicy.ALL
            config = api.ConsumerConfig(ack_policy=policy, max_ack_pending=cfg.max_ack_pending,
                                        ack_wait=cfg.ack_wait, filter_subject=self._filter(cfg.filter_subject),
                                        name=consumer)
            if self._last_seq:
                config.deliver_policy = api.DeliverPolicy.BY_START_SEQUENCE
                config.opt_start_seq = self._last_seq + 1
            if cfg.durable:
                config.durable_name = consumer
            else:
                config.inactive_threshold = 30.0
            try:
                info = await js.add_consumer(stream, config=config)
            except nats.js.errors.BadRequestError as exc:
                raise NatsSetupError(f"cannot create the JetStream consumer: {describe_error(exc)}") from None
            if self._session_started or self.stats.resumes:
                self.stats.error(f"consumer {consumer!r} was gone: created again")
        if info.config.deliver_subject:
            raise NatsSetupError(f"consumer {consumer!r} is a push consumer; evlog needs a pull consumer "
                                 "(use another --durable name)")
        policy = info.config.ack_policy
        if policy == api.AckPolicy.NONE:
            raise NatsSetupError(f"durable consumer {consumer!r} does not acknowledge (AckPolicy none); "
                                 "exactly-once capture needs ack policy explicit or all")
        if cfg.shared and policy == api.AckPolicy.ALL:
            raise NatsSetupError(f"durable consumer {consumer!r} acknowledges all (AckPolicy all): recorders "
                                 "sharing it need explicit acks (use another --durable name)")
        self._ack_all = policy == api.AckPolicy.ALL
        return info

    async def _js_session(self, nc: Any, js: Any, stream: str, consumer: str, batch: int) -> None:
        """Catch up on what the consumer delivered but the recording lacks, then pull until
        stopped, disconnected or broken (see `_break_session`)."""
        cfg = self.config
        assert self._stop is not None
        self._session_started = False
        self._session_broken = False
        self._broken_reason = None
        waiting = f"waiting for JetStream leader of stream {stream}"
        try:
            info = await self._ensure_consumer(js, stream, consumer)
        except transient_errors() as exc:
            self._wait_state(waiting, f"consumer info: {describe_error(exc)}")
            self._break_session(f"consumer info: {describe_error(exc)}")
            return
        delivered = info.delivered.stream_seq if info.delivered else 0
        if delivered > self._last_seq and not cfg.shared:
            # a previous capture (or connection, or consumer leader) was handed messages that are
            # not in the recording: they would come back only after ack_wait, behind newer ones,
            # where they would be taken for duplicates. Start the consumer again after the
            # recording's last sequence (the recording is the truth of what was recorded).
            try:
                await self._restart_consumer(js, stream, consumer, info)
            except transient_errors() as exc:
                text = f"restarting consumer {consumer!r} after sequence {self._last_seq}: {describe_error(exc)}"
                self._wait_state(waiting, text)
                self._break_session(text)
                return  # tried again by the next session
            if self._session_broken:
                return
        self._session_started = True
        self._last_cseq = None
        feeder = PullFeeder(nc, stream, consumer, self._record_js, self._on_pull_problem, batch=batch,
                            expires=PULL_EXPIRES, on_broken=self._on_pull_broken)
        self._feeder = feeder
        await feeder.start()
        try:
            while not self._stop.is_set() and self.fatal is None and not self._session_broken:
                try:
                    await asyncio.wait_for(self._stop.wait(), 0.05)
                except asyncio.TimeoutError:
                    pass
                if feeder.answered and self.stats.waiting_for is not None:
                    self._wait_state(None)   # the consumer's leader answers
                await self._ack_durable()
                if self._unacked and (len(self._unacked) >= self._ack_threshold or
                                      time.monotonic() - self._unacked[0][1][1] > cfg.ack_flush_after):
                    await asyncio.to_thread(self.log.flush, True)
                    await self._ack_durable()
                if feeder.credit() < feeder.batch:
                    await feeder.top_up()
        finally:
            self._feeder = None
            await feeder.close()

    def _on_pull_broken(self, reason: str) -> None:
        if self._stream is not None and self._stop is not None and not self._stop.is_set():
            self._wait_state(f"waiting for JetStream leader of stream {self._stream}", reason)
        self._break_session(reason)

    def _on_pull_problem(self, text: str) -> None:
        self.stats.error(text)

    async def _restart_consumer(self, js: Any, stream: str, consumer: str, info: Any) -> None:
        """Delete the consumer and create it again delivering from the recording's last sequence
        + 1, with the same ack policy, ack wait, max ack pending and filter."""
        nats = import_nats()
        api = nats.js.api
        old = info.config
        self.stats.restarts += 1
        try:
            await js.delete_consumer(stream, consumer)
        except nats.js.errors.NotFoundError:
            pass
        config = api.ConsumerConfig(
            name=consumer, durable_name=consumer if self.config.durable else None,
            ack_policy=old.ack_policy or api.AckPolicy.ALL, ack_wait=old.ack_wait or self.config.ack_wait,
            max_ack_pending=old.max_ack_pending or self.config.max_ack_pending,
            filter_subject=self._filter(old.filter_subject or self.config.filter_subject),
            deliver_policy=api.DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=self._last_seq + 1,
            inactive_threshold=None if self.config.durable else 30.0)
        await js.add_consumer(stream, config=config)

    def _record_js(self, msg: Any) -> None:
        if self.fatal is not None or self._session_broken:
            return  # not acknowledged: fetched by sequence when the session resumes, or redelivered
        try:
            self._record_js_msg(msg)
        except (LogWriteError, LogClosedError) as exc:
            self.fatal = exc
            self.stats.error(str(exc))
            self.request_stop("write failure")

    def _record_js_msg(self, msg: Any) -> None:
        self.stats.received += 1
        try:
            ack = parse_ack_reply(msg.reply)
        except ValueError:
            self.stats.error(f"message without JetStream metadata on {msg.subject}")
            return
        stream, seq, delivered, ts, pending = ack.stream, ack.seq, ack.delivered, ack.timestamp, ack.pending
        cseq = ack.consumer_seq
        self.stats.pending = pending
        now = time.monotonic()
        if self.config.shared:
            self._record_shared(msg, stream, seq, delivered, ts, now)
            return
        last_cseq = self._last_cseq
        if last_cseq is not None and cseq > last_cseq + 1:
            # deliveries were lost in flight (a leader change): recording this one would put it
            # before them; resume instead (they are fetched by sequence, in order)
            self._break_session(f"consumer deliveries {last_cseq + 1}..{cseq - 1} lost in flight")
            return
        self._last_cseq = cseq
        if seq <= self._last_seq:
            self.stats.duplicates += 1
            self._unacked.append((self.log.end_offset - 1, (msg, now)))
            return
        mono = max(0, ts - self._start_ns)
        offset = self._append(msg.subject, msg.data, msg.headers, stream, seq, delivered > 1, ts, mono,
                              consumer_seq=ack.consumer_seq)
        self._last_seq = seq
        self.stats.last_seq = seq
        self.stats.last_event_ns = ts
        self._unacked.append((offset, (msg, now)))

    def _record_shared(self, msg: Any, stream: str, seq: int, delivered: int, ts: int, now: float) -> None:
        """A recorder sharing its consumer records what it is handed (another recorder has the
        messages in between); each is acknowledged once durable (AckPolicy explicit)."""
        offset = self._append(msg.subject, msg.data, msg.headers, stream, seq, delivered > 1, ts,
                              max(0, ts - self._start_ns))
        if seq > self._last_seq:
            self._last_seq = seq
            self.stats.last_seq = seq
        self.stats.last_event_ns = ts
        self._unacked.append((offset, (msg, now)))

    async def _ack_durable(self) -> None:
        if not self._unacked:
            return
        durable = self.log.durable_offset
        last = None
        while self._unacked and self._unacked[0][0] < durable:
            _, (msg, _t) = self._unacked.popleft()
            self.stats.acked += 1
            if self._ack_all:
                last = msg
            else:
                await self._ack(msg)
        if last is not None:
            await self._ack(last)

    async def _ack(self, msg: Any) -> None:
        try:
            await msg.ack()
        except Exception as exc:  # noqa: BLE001 - an unacked message is redelivered, then skipped
            self.stats.error(f"ack: {describe_error(exc)}")

    # appending ---------------------------------------------------------------------------
    def _append(self, subject: str, payload: bytes, headers: dict | None, stream: str | None,
                seq: int | None, redelivered: bool, ts: int | None, mono: int | None = None, *,
                reply: str | None = None, consumer_seq: int | None = None) -> int:
        """Store one message: its payload as the data, the broker's metadata as headers
        (natsformat.record_headers). `reply`: a core NATS message's reply subject;
        `consumer_seq`: a JetStream message's sequence in the capture's consumer."""
        cfg = self.config
        name = cfg.mapper.name(subject, headers)
        source = (headers.get(cfg.source_header) if headers else None) or cfg.default_source
        data, flags, types, binary = encode_payload(payload)
        try:
            meta = encode_headers(record_headers(
                subject, headers, stream=stream, seq=seq, consumer_seq=consumer_seq, reply=reply,
                timestamp=ts if stream is not None else None, redelivered=redelivered, binary=binary,
                time_text=self._time_text))
            offset = self.log.append_encoded(name, source, flags, data, types, timestamp=ts, monotonic=mono,
                                             validate=False, headers=meta)   # bytes the codecs produced
        except (EventTooLargeError, EventEncodeError) as exc:
            # keep the place (and the stream sequence) of what could not be stored
            self.stats.error(f"event on {subject} not stored: {exc}")
            return self.log.append(REJECTED_EVENT, {"error": str(exc)[:300], "size": len(payload)}, MARKER_SOURCE,
                                   timestamp=ts, monotonic=mono,
                                   headers=record_headers(subject, None, stream=stream, seq=seq))
        self.stats.recorded += 1
        if binary:
            self.stats.binary += 1
        return offset

    def _report_drops(self) -> None:
        dropped = self.stats.dropped
        if dropped > self._dropped_reported and not self._log_broken:
            try:
                self.log.append(DROPPED_EVENT, {"dropped": dropped - self._dropped_reported,
                                                "total": dropped + self._dropped_before,
                                                "subject": self.config.subject}, MARKER_SOURCE)
            except EvlogError as exc:
                self.stats.error(str(exc))
                return
            self._dropped_reported = dropped
            self._write_metadata()

    # housekeeping ------------------------------------------------------------------------
    async def _ticker(self) -> None:
        cfg = self.config
        next_status = time.monotonic() + cfg.status_interval if cfg.status_interval > 0 else float("inf")
        next_meta = time.monotonic() + cfg.metadata_interval
        deadline = time.monotonic() + cfg.max_seconds if cfg.max_seconds else float("inf")
        while True:
            await asyncio.sleep(0.05)
            await self._ack_durable()
            if self._roll_wanted:
                self._roll_wanted = False
                self.log.roll()
            if cfg.roll_daily:
                today = _dt.datetime.now(_dt.timezone.utc).date()
                if today != self._day:
                    self._day = today
                    self.log.roll()
            self._report_drops()
            self._check_give_up()
            now = time.monotonic()
            if now >= deadline:
                self.request_stop("duration reached")
            if cfg.max_events is not None and self.stats.recorded >= cfg.max_events:
                self.request_stop("event count reached")
            if now >= next_status:
                next_status = now + cfg.status_interval
                self._update_stats()
                if self.status_stream is not None:
                    print_line(self.status_stream, self._status_line.format(self.stats.snapshot()))
            if now >= next_meta:
                next_meta = now + cfg.metadata_interval
                self._write_metadata()

    def _update_stats(self) -> None:
        s = self.stats
        s.updated_at = time.time()
        try:
            s.durable_offset = self.log.durable_offset
            s.end_offset = self.log.end_offset
        except EvlogError:
            pass
        s.bytes = directory_bytes(self.log.path)
        if s.last_event_ns is not None:
            s.lag_seconds = max(0.0, time.time() - s.last_event_ns / 1e9)

    def _write_metadata(self, started: bool = False, stopped: bool = False) -> None:
        cfg = self.config
        meta = dict(self.log.manifest.metadata.get(METADATA_KEY) or {})
        meta.update({"url": redact_url(cfg.url), "subject": cfg.subject, "mode": self.stats.mode,
                     "stream": self._stream, "durable": cfg.durable,
                     "dropped": self._dropped_before + self.stats.dropped,
                     ENVELOPES_BEFORE: self._envelopes_before})
        now = _dt.datetime.now(_dt.timezone.utc).isoformat()
        if started:
            meta["runs"] = int(meta.get("runs", 0) or 0) + 1
            meta["last_start"] = now
        if stopped:
            meta["last_stop"] = now
            meta["last_stop_reason"] = self._stop_reason
        try:
            self.log.set_metadata(**{METADATA_KEY: meta})
        except (EvlogError, OSError) as exc:
            self.stats.error(f"metadata: {exc}")

