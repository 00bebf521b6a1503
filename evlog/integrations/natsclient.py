"""The NATS client: importing the optional `nats-py` package and connecting, for the capture
(nats.py) and the replay sink (natssink.py). The only module that imports `nats`."""
from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from typing import Any

from .natsformat import NatsConnectError, NatsNotInstalledError, parse_nats_url, redact_url


def import_nats() -> Any:
    try:
        import nats  # the nats-py client: an optional extra
        import nats.js.api
    except ImportError:
        raise NatsNotInstalledError("the NATS integration needs nats-py: pip install 'evlog[nats]'") from None
    return nats


def describe_error(exc: BaseException) -> str:
    """The first line of a client error, for one-line messages and status lines."""
    if isinstance(exc, asyncio.TimeoutError):
        return "timed out"
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:200]


async def connect(url: str, *, name: str = "evlog", timeout: float = 5.0, reconnect: bool = True,
                  on_error: Callable[[BaseException], None] | None = None,
                  on_disconnect: Callable[[], None] | None = None,
                  on_reconnect: Callable[[], None] | None = None, first: int = 0) -> Any:
    """Connect, or raise NatsConnectError (one line) within `timeout` seconds. With `reconnect`
    the connection then retries forever after losing the server (a capture must outlive restarts).

    The connection itself tries each server at most twice, beginning with the server `first` of
    the list (modulo its length: a caller retrying passes its attempt number); the client's
    endless reconnecting is only switched on once connected (a client cancelled while it retries
    can go on retrying for ever)."""
    nats = import_nats()
    url = parse_nats_url(url)
    servers = url.split(",")
    k = first % len(servers)
    servers = servers[k:] + servers[:k]
    last: list[BaseException] = []

    async def error_cb(exc: BaseException) -> None:
        last[:] = [exc]
        if on_error is not None:
            on_error(exc)

    async def disconnected_cb() -> None:
        if on_disconnect is not None:
            on_disconnect()

    async def reconnected_cb() -> None:
        if on_reconnect is not None:
            on_reconnect()

    per_server = min(2.0, timeout)
    try:
        # each server is tried at most twice (then NoServersError); the time limit is a safety net
        nc = await asyncio.wait_for(nats.connect(
            servers=servers, name=name, error_cb=error_cb, disconnected_cb=disconnected_cb,
            reconnected_cb=reconnected_cb, connect_timeout=per_server, allow_reconnect=reconnect,
            dont_randomize=True, max_reconnect_attempts=1, reconnect_time_wait=0.5),
            max(timeout, 2 * len(servers) * (per_server + 0.5) + 1))
    except (asyncio.TimeoutError, OSError, nats.errors.Error) as exc:
        cause = last[0] if last else exc
        raise NatsConnectError(f"cannot connect to NATS at {redact_url(url)}: {describe_error(cause)}") from None
    if reconnect:   # from now on the client reconnects by itself (options are read when it disconnects)
        nc.options["allow_reconnect"] = True
        nc.options["max_reconnect_attempts"] = -1
    return nc


def transient_errors() -> tuple[type[BaseException], ...]:
    """The errors after which a capture waits and tries again: timeouts, a lost connection,
    a JetStream API without a leader (503, no responders) — all of the client's own errors."""
    nats = import_nats()
    return (asyncio.TimeoutError, OSError, nats.errors.Error)


class Backoff:
    """Delays between attempts: `first` seconds, doubled each time up to `cap` (with +-20%
    jitter, so that recorders restarted together do not retry in step); `reset()` after a success."""

    def __init__(self, first: float = 0.25, cap: float = 5.0) -> None:
        self.first = first
        self.cap = cap
        self._next = first

    def reset(self) -> None:
        self._next = self.first

    def next(self) -> float:
        delay = self._next
        self._next = min(self.cap, self._next * 2)
        return delay * random.uniform(0.8, 1.2)
