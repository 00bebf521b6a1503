"""The options that turn a replay into a test harness, parsed and checked in one place:
lock-step delivery (`lockstep`), seeded fault injection (`faults`, `seed`) and upcasting of
old event versions (`upcasters`). `HarnessOptions.of(...)` is what `EventReplayer.replay`,
`evlog replay` and the NATS replay build; `run_replay(harness=...)` applies them:

    records read -> faults (FaultInjector.apply) -> upcast -> deliver -> lock-step wait

Each part is its own unit (`lockstep.py`, `faults.py`, `upcast.py`), testable alone.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .faults import FaultInjector, FaultSpec, parse_faults
from .lockstep import Lockstep, as_lockstep
from .upcast import Upcasters, as_upcasters

__all__ = ["HarnessOptions"]


@dataclass(frozen=True)
class HarnessOptions:
    lockstep: Lockstep | None = None
    faults: FaultSpec | None = None
    seed: int | None = None
    upcasters: Upcasters | None = None

    @classmethod
    def of(cls, *, lockstep: Any = None, faults: Any = None, seed: int | None = None,
           upcasters: Any = None, clock: Any = None) -> "HarnessOptions":
        """Check and build the options: `lockstep` True, "ack" or a `Lockstep` (on `clock`
        when one is given); `faults` text or a FaultSpec; `seed` an int (None: a random seed);
        `upcasters` a mapping {(name, version): step} or an `Upcasters`."""
        spec = parse_faults(faults) if faults is not None else None
        if spec is not None:
            FaultInjector(spec, seed)   # checks the seed
        return cls(as_lockstep(lockstep, clock), None if spec is None or spec.empty else spec, seed,
                   as_upcasters(upcasters))

    @property
    def empty(self) -> bool:
        return self.lockstep is None and self.faults is None and self.upcasters is None

    def injector(self) -> FaultInjector | None:
        """A new injector for one replay (None without faults)."""
        return None if self.faults is None else FaultInjector(self.faults, self.seed)
