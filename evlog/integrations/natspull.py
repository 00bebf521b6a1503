"""Pull requests on a JetStream consumer, delivered through one plain subscription.

nats-py's `PullSubscription.fetch` waits for each message with its own timeout (about 75 us
of CPU per message); this keeps up to two batches requested (`$JS.API.CONSUMER.MSG.NEXT`),
each with its own reply subject `<inbox>.<n>`, and hands every message to a plain callback
(about 12 us per message). The server fills requests in order, so each message counts against
the oldest open request (messages keep their own subject; only status messages name the
request). Requests end with their batch, or a status message (404, 408, 409), or expire; new
ones are sent as credit runs low. The subscription can hold far more than the requested
messages, so the client does not drop any.
"""
from __future__ import annotations

import asyncio
import json
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any


class PullFeeder:
    def __init__(self, nc: Any, stream: str, consumer: str, on_message: Callable[[Any], None],
                 on_problem: Callable[[str], None], batch: int = 1000, expires: float = 5.0) -> None:
        self._nc = nc
        self._next_subject = f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{consumer}"
        self._on_message = on_message
        self._on_problem = on_problem
        self.batch = max(1, batch)
        self.expires = expires
        self._requests: OrderedDict[str, list] = OrderedDict()   # token -> [remaining, local deadline]
        self._counter = 0
        self._prefix = ""
        self._sub: Any = None
        self._topping = False
        self._scheduled = False
        self._credit = 0
        self._closed = False

    async def start(self) -> None:
        self._prefix = self._nc.new_inbox()
        self._sub = await self._nc.subscribe(f"{self._prefix}.*", cb=self._cb,
                                             pending_msgs_limit=8 * self.batch + 4096, pending_bytes_limit=0)
        await self.top_up()

    def credit(self) -> int:
        """Messages requested and not yet received (requests past their deadline are dropped)."""
        now = time.monotonic()
        for token in [t for t, r in self._requests.items() if r[1] < now]:
            self._credit -= self._requests.pop(token)[0]   # expired on the server, or lost
        return self._credit

    def reset(self) -> None:
        """Forget outstanding requests (after a reconnect the server has dropped them)."""
        self._requests.clear()
        self._credit = 0

    async def top_up(self) -> None:
        self._scheduled = False
        if self._topping or self._closed:
            return
        self._topping = True
        try:
            while not self._closed and self.credit() < 2 * self.batch:
                self._counter += 1
                token = str(self._counter)
                self._requests[token] = [self.batch, time.monotonic() + self.expires + 1.0]
                self._credit += self.batch
                body = json.dumps({"batch": self.batch, "expires": int(self.expires * 1e9)}).encode()
                try:
                    await self._nc.publish(self._next_subject, body, reply=f"{self._prefix}.{token}")
                except Exception as exc:  # noqa: BLE001 - disconnected: retried on the next top-up
                    self._credit -= self._requests.pop(token)[0]
                    self._on_problem(f"pull request: {exc}")
                    return
        finally:
            self._topping = False

    async def _cb(self, msg: Any) -> None:
        requests = self._requests
        if msg.reply:
            if requests:
                token, request = next(iter(requests.items()))
                request[0] -= 1
                self._credit -= 1
                if request[0] <= 0:
                    del requests[token]
            self._on_message(msg)
        else:
            headers = msg.headers or {}
            status = headers.get("Status", "")
            if status != "100":          # 100: idle heartbeat / flow control
                request = requests.pop(msg.subject.rpartition(".")[2], None)
                if request is not None:
                    self._credit -= request[0]
                if status == "409":
                    description = headers.get("Description", "")
                    if "Exceeded MaxWaiting" not in description:
                        self._on_problem(f"pull request ended: 409 {description}")
                elif status not in ("404", "408"):
                    self._on_problem(f"pull request ended: {status} {headers.get('Description', '')}")
        if self._credit < self.batch and not self._scheduled and not self._topping:
            self._scheduled = True
            asyncio.ensure_future(self.top_up())

    async def close(self) -> None:
        self._closed = True
        if self._sub is not None:
            try:
                await self._sub.unsubscribe()
            except Exception:  # noqa: BLE001
                pass
