"""Lock-step replay: the next event goes only when the consumer has finished with the last
one, and the replay runs on a virtual clock that stands at each event's recorded time.

A consumer whose behaviour depends on time (a debounce, a timeout, a throttle) reads the
replay's clock (`Lockstep.clock.now()`, ns): during the delivery of an event, and until the
next one, it reads that event's recorded time, however fast the replay really goes. So a
lock-step replay at "max" speed gives the consumer exactly what a replay at 1x gives it.

When is the consumer finished with an event?

- synchronously (`Lockstep()`, or `lockstep=True`): when the publish (or `on_record`)
  returns, e.g. an in-process bus whose handlers run in the publishing thread, an HTTP sink
  posting one event a request, a NATS sink waiting for the reply to each message;
- asynchronously (`Lockstep(ack=True)`): when the consumer calls `ack()`, once per event it
  was given (an event it ignores too). A consumer working in its own thread or event loop
  calls it when it has handled the event (and published what it publishes in response).

    step = Lockstep(ack=True)
    worker = MyAsyncBot(bus, clock=step.clock.now, done=step.ack)
    replayer.replay(bus, "max", lockstep=step)

A consumer that does not ack within `timeout` seconds ends the replay with `LockstepError`.
"""
from __future__ import annotations

import threading
from typing import Any

from .clock import RealClock, VirtualClock
from .options import ReplayError

__all__ = ["Lockstep", "LockstepError", "as_lockstep"]

DEFAULT_ACK_TIMEOUT = 30.0


class LockstepError(ReplayError):
    """A lock-step replay whose consumer did not acknowledge an event in time, or a lock-step
    asked for on a real clock."""


class Lockstep:
    """Lock-step delivery (see the module docstring). `clock`: the virtual clock the replay
    drives (a new `VirtualClock` by default); `ack`: wait for `ack()` after each delivery;
    `timeout`: seconds to wait for an ack before giving up."""

    def __init__(self, *, ack: bool = False, clock: Any = None, timeout: float = DEFAULT_ACK_TIMEOUT) -> None:
        if clock is None:
            clock = VirtualClock()
        elif isinstance(clock, RealClock):
            raise LockstepError("lock-step replays run on a virtual clock, not on the real one")
        if not timeout > 0:
            raise LockstepError(f"lock-step ack timeout must be positive, not {timeout!r}")
        self.clock = clock
        self.wants_ack = bool(ack)
        self.timeout = float(timeout)
        self._cond = threading.Condition()
        self._acked = 0
        self._delivered = 0

    def ack(self) -> None:
        """The consumer has finished with one event (thread-safe; call it once per event)."""
        with self._cond:
            self._acked += 1
            self._cond.notify_all()

    def delivered(self, offset: int) -> None:
        """Called by the replay after each delivery: returns when the consumer is done with it."""
        if not self.wants_ack:
            return
        with self._cond:
            self._delivered += 1
            if not self._cond.wait_for(lambda: self._acked >= self._delivered, self.timeout):
                raise LockstepError(f"the consumer did not acknowledge the event at offset {offset} "
                                    f"within {self.timeout:g}s (lock-step replay: call ack() once per event)")

    def __repr__(self) -> str:
        return f"<Lockstep {'ack' if self.wants_ack else 'sync'} delivered={self._delivered} acked={self._acked}>"


def as_lockstep(value: Any, clock: Any = None) -> Lockstep | None:
    """The Lockstep of a replay's `lockstep` option: None/False (none), True (synchronous, on
    `clock` if one is given), "ack" (acknowledged, idem), or a Lockstep (as it is)."""
    if value is None or value is False:
        return None
    if isinstance(value, Lockstep):
        if clock is not None and clock is not value.clock:
            raise LockstepError("give the clock to the Lockstep (Lockstep(clock=...)), not to the replay too")
        return value
    if value is True:
        return Lockstep(clock=clock)
    if value == "ack":
        return Lockstep(ack=True, clock=clock)
    raise LockstepError(f"lockstep must be True, False, 'ack' or a Lockstep, not {value!r}")
