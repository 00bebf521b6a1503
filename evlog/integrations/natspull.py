"""Pull requests on a JetStream consumer, delivered through one plain subscription.

nats-py's `PullSubscription.fetch` waits for each message with its own timeout (about 75 us
of CPU per message); this keeps up to two batches requested (`$JS.API.CONSUMER.MSG.NEXT`),
each with its own reply subject `<inbox>.<n>`, and hands every message to a plain callback
(about 12 us per message). The server fills requests in order, so each message counts against
the oldest open request (messages keep their own subject; only status messages name the
request). Requests end with their batch, or a status message (404, 408, 409), or expire; new
ones are sent as credit runs low. The subscription can hold far more than the requested
messages, so the client does not drop any.

In a cluster the consumer's leader can die or change: its open requests then vanish (no
status ever comes back), or end with 409 "Leadership Change", or the request finds no
responder (503). `on_broken(reason)` reports each of these (requests are taken as lost when
nothing came back for `LOST_AFTER` seconds past a request's expiry), so that the capture can resume from the consumer's state at once
instead of waiting for the messages delivered in flight to come back after `ack_wait`.
"""
from __future__ import annotations

import asyncio
import json
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

LOST_AFTER = 2.5   # seconds past a request's expiry with nothing at all received: the leader is gone
ENDED_AFTER = 0.3  # seconds past its expiry after which a request is taken as ended (a server can end
                   # a partly filled request without a status): the credit goes to new requests


class PullFeeder:
    def __init__(self, nc: Any, stream: str, consumer: str, on_message: Callable[[Any], None],
                 on_problem: Callable[[str], None], batch: int = 1000, expires: float = 5.0,
                 on_broken: Callable[[str], None] | None = None) -> None:
        self._nc = nc
        self._next_subject = f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{consumer}"
        self._on_message = on_message
        self._on_problem = on_problem
        self._on_broken = on_broken
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
        self.broken: str | None = None    # why the session should resume (see on_broken); stops top-ups
        self.answered = False             # the server answered a request (a message or a status)
        self._last_answer = time.monotonic()

    async def start(self) -> None:
        self._prefix = self._nc.new_inbox()
        self._sub = await self._nc.subscribe(f"{self._prefix}.*", cb=self._cb,
                                             pending_msgs_limit=8 * self.batch + 4096, pending_bytes_limit=0)
        await self.top_up()

    def credit(self) -> int:
        """Messages requested and not yet received (requests past their deadline are dropped)."""
        now = time.monotonic()
        lost = [t for t, r in self._requests.items() if r[1] < now]
        for token in lost:
            self._credit -= self._requests.pop(token)[0]   # the server never answered it
        if lost and not self._closed and now - self._last_answer > self.expires + LOST_AFTER:
            # nothing at all came back (a client busy with a backlog still receives: not lost)
            self._broke(f"{len(lost)} pull request(s) unanswered (the consumer's leader is gone?)")
        return self._credit

    def _broke(self, reason: str) -> None:
        if self._on_broken is not None and self.broken is None:
            self.broken = reason
            self._on_broken(reason)

    def reset(self) -> None:
        """Forget outstanding requests (after a reconnect the server has dropped them)."""
        self._requests.clear()
        self._credit = 0

    async def top_up(self) -> None:
        self._scheduled = False
        if self._topping or self._closed or self.broken is not None:
            return
        self._topping = True
        try:
            while not self._closed and self.credit() < 2 * self.batch:
                self._counter += 1
                token = str(self._counter)
                self._requests[token] = [self.batch, time.monotonic() + self.expires + ENDED_AFTER]
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
        self._last_answer = time.monotonic()
        if msg.reply:
            self.answered = True
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
            self.answered = self.answered or status != "503"
            if status != "100":          # 100: idle heartbeat / flow control
                request = requests.pop(msg.subject.rpartition(".")[2], None)
                if request is not None:
                    self._credit -= request[0]
                description = headers.get("Description", "")
                if status == "409":
                    if "Exceeded MaxWaiting" not in description:
                        self._on_problem(f"pull request ended: 409 {description}")
                        if "Leadership" in description or "Deleted" in description:
                            self._broke(f"409 {description}")
                elif status == "503":
                    self._broke("no responders (no JetStream leader for the consumer)")
                elif status not in ("404", "408"):
                    self._on_problem(f"pull request ended: {status} {description}")
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
