"""Pull requests on a JetStream consumer, delivered through one plain subscription.

nats-py's `PullSubscription.fetch` waits for each message with its own timeout (about 75 us
of CPU per message); this keeps up to two batches requested (`$JS.API.CONSUMER.MSG.NEXT`),
each with its own reply subject `<inbox>.<n>`, and hands every message to a plain callback
(about 12 us per message). Requests end with their batch, or a status message (404, 408,
409), or expire; new ones are sent as credit runs low. The subscription can hold every
requested message, so the client never drops one.
"""
from __future__ import annotations

import asyncio
import json
import time
from typing import Any, Callable


class PullFeeder:
    def __init__(self, nc: Any, stream: str, consumer: str, on_message: Callable[[Any], None],
                 on_problem: Callable[[str], None], batch: int = 1000, expires: float = 5.0) -> None:
        self._nc = nc
        self._next_subject = f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{consumer}"
        self._on_message = on_message
        self._on_problem = on_problem
        self.batch = max(1, batch)
        self.expires = expires
        self._requests: dict[str, list] = {}   # reply token -> [remaining, local deadline]
        self._counter = 0
        self._prefix = ""
        self._sub: Any = None
        self._topping = False
        self._closed = False

    async def start(self) -> None:
        self._prefix = self._nc.new_inbox()
        self._sub = await self._nc.subscribe(f"{self._prefix}.*", cb=self._cb,
                                             pending_msgs_limit=4 * self.batch + 1024, pending_bytes_limit=0)
        await self.top_up()

    def credit(self) -> int:
        now = time.monotonic()
        for token in [t for t, r in self._requests.items() if r[1] < now]:
            del self._requests[token]   # expired on the server (or lost with a reconnect)
        return sum(r[0] for r in self._requests.values())

    def reset(self) -> None:
        """Forget outstanding requests (after a reconnect the server has dropped them)."""
        self._requests.clear()

    async def top_up(self) -> None:
        if self._topping or self._closed:
            return
        self._topping = True
        try:
            while not self._closed and self.credit() < 2 * self.batch:
                self._counter += 1
                token = str(self._counter)
                self._requests[token] = [self.batch, time.monotonic() + self.expires + 1.0]
                body = json.dumps({"batch": self.batch, "expires": int(self.expires * 1e9)}).encode()
                try:
                    await self._nc.publish(self._next_subject, body, reply=f"{self._prefix}.{token}")
                except Exception as exc:  # noqa: BLE001 - disconnected: retried on the next top-up
                    self._requests.pop(token, None)
                    self._on_problem(f"pull request: {exc}")
                    return
        finally:
            self._topping = False

    async def _cb(self, msg: Any) -> None:
        token = msg.subject.rpartition(".")[2]
        request = self._requests.get(token)
        if msg.reply:
            if request is not None:
                request[0] -= 1
                if request[0] <= 0:
                    del self._requests[token]
            self._on_message(msg)
        else:
            status = (msg.headers or {}).get("Status", "")
            if status != "100":          # 100: idle heartbeat / flow control
                self._requests.pop(token, None)
                if status == "409":
                    description = (msg.headers or {}).get("Description", "")
                    if "Exceeded MaxWaiting" not in description:
                        self._on_problem(f"pull request ended: 409 {description}")
                elif status not in ("404", "408"):
                    self._on_problem(f"pull request ended: {status} {(msg.headers or {}).get('Description', '')}")
        if not self._topping and self.credit() < self.batch:
            asyncio.ensure_future(self.top_up())

    async def close(self) -> None:
        self._closed = True
        if self._sub is not None:
            try:
                await self._sub.unsubscribe()
            except Exception:  # noqa: BLE001
                pass
