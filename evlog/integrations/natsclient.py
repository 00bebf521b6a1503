"""The NATS client: importing the optional `nats-py` package and connecting, for the capture
(nats.py) and the replay sink (natssink.py). The only module that imports `nats`."""
from __future__ import annotations

import asyncio
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
                  on_reconnect: Callable[[], None] | None = None) -> Any:
    """Connect, or raise NatsConnectError (one line) within `timeout` seconds. With `reconnect`
    the connection then retries forever after losing the server (a capture must outlive restarts)."""
    nats = import_nats()
    url = parse_nats_url(url)
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

    try:
        return await asyncio.wait_for(nats.connect(
            servers=url.split(","), name=name, error_cb=error_cb, disconnected_cb=disconnected_cb,
            reconnected_cb=reconnected_cb, connect_timeout=min(2.0, timeout), allow_reconnect=reconnect,
            max_reconnect_attempts=-1 if reconnect else 0, reconnect_time_wait=1.0), timeout)
    except (asyncio.TimeoutError, OSError, nats.errors.Error) as exc:
        cause = last[0] if last else exc
        raise NatsConnectError(f"cannot connect to NATS at {redact_url(url)}: {describe_error(cause)}") from None
