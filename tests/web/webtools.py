"""Helpers of the dashboard tests: recordings with a demo session, a legacy file, a hostile payload."""
from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from typing import Any

from evlog.demo import trading_session
from evlog.segments import Log

START_NS = 1_760_263_200_000_000_000


def wait_for(pred: Callable[[], Any], timeout: float = 15.0) -> Any:
    """The first true value of `pred()`, polled until `timeout` (AssertionError then)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError("condition not met in time")   # 2025-10-12T10:00:00Z
XSS = "<script>window.__pwned = 1</script><img src=x onerror=\"window.__pwned = 2\">"


def make_demo(root: str, name: str = "demo", n: int = 300, change_at: int | None = None) -> str:
    path = os.path.join(root, name)
    with Log.create(path, name, start_time_ns=START_NS) as log:
        for i, (ev_name, event, source, offset) in enumerate(trading_session(n)):
            data = event.model_dump(mode="json")
            if change_at is not None and i == change_at:
                data = dict(data, planted="changed")
            log.append(ev_name, data, source, timestamp=START_NS + offset, monotonic=offset)
    return path


def make_xss(root: str, name: str = "hostile") -> str:
    path = os.path.join(root, name)
    with Log.create(path, name, start_time_ns=START_NS) as log:
        for i in range(5):
            log.append(XSS if i == 2 else "Note", {"html": XSS, "i": i}, XSS, timestamp=START_NS + i * 10**6,
                       monotonic=i * 10**6)
    return path


def make_legacy(root: str, name: str = "old_session.json", n: int = 20) -> str:
    path = os.path.join(root, name)
    events = [{"timestamp_offset_ms": i * 50, "event_name": f"Legacy{i % 3}", "event_data": {"i": i},
               "source": "Old"} for i in range(n)]
    with open(path, "w") as f:
        json.dump({"session_name": "old", "start_time": "2025-10-12T10:00:00+00:00",
                   "duration_ms": (n - 1) * 50, "total_events": n, "events": events}, f)
    return path


_BANK: list = []


def _bank_classes() -> tuple:
    """The tiny bank domain, defined once per process (eventsourcing registers topics)."""
    if not _BANK:
        from eventsourcing.application import Application
        from eventsourcing.domain import Aggregate, event

        class Account(Aggregate):
            @event("Opened")
            def __init__(self, owner: str) -> None:
                self.owner = owner
                self.balance = 0

            @event("Deposited")
            def deposit(self, amount: int) -> None:
                self.balance += amount

        class Bank(Application):
            pass
        _BANK.extend([Account, Bank])
    return tuple(_BANK)


def make_store(root: str, name: str = "bank") -> list[str]:
    """An eventsourcing store (captured from a tiny bank): 5 events; returns the 2 account ids."""
    from evlog.eventsourcing.capture import capture
    Account, Bank = _bank_classes()
    bank = Bank(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    a, b = Account("ann"), Account("bob")
    bank.save(a, b)                  # offsets 0, 1
    a.deposit(10)
    bank.save(a)                     # 2
    b.deposit(5)
    bank.save(b)                     # 3
    a.deposit(7)
    bank.save(a)                     # 4
    capture(bank, os.path.join(root, name))
    return [str(a.id), str(b.id)]
