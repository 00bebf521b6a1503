"""Seeded fault injection on replay: drop, duplicate, delay and reorder events, reproducibly.

    faults="drop=0.01,dup=0.005,delay=50ms@0.02,reorder=3@0.01", seed=42

Each kind has a probability per event; an event gets at most one fault (one random draw per
event decides, so the probabilities must add up to at most 1). The same seed and the same
selected events give the same faults. What each fault does to the stream of records:

- `drop=P`: the event is not delivered.
- `dup=P`: the event is delivered twice in a row (the same record, the same offset).
- `delay=D@P`: the event is delivered D later in recording time (its `monotonic` says when):
  after every event due before then, before the events due after.
- `reorder=N@P`: the event is held back and delivered right after the N events that follow
  it in the stream (fewer at its end), at the time of the last of them (its `monotonic` is
  that time).

Streaming: only delayed events and held-back ones are buffered (a small heap and a queue).
Every fault injected is listed in `FaultInjector.faults` (offset, kind, parameters), which
the replay hands to `ReplayResult.faults`.

The order of deliveries is defined by a key per delivery, (time, slot, rank, index), where
`index` is the event's position in the selected stream and `slot` the position it is
delivered at: an event on time is (its time, index, 0, index), its duplicate (its time,
index, 1, index), a delayed one (its time + D, index, 0, index), a reordered one (the time of
the event N places later, index + N, 2, index). Deliveries come out in key order.
"""
from __future__ import annotations

import heapq
import random
from collections import Counter, deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from ..segments.errors import EvlogError
from ..timespec import parse_duration_ns

__all__ = ["Fault", "FaultError", "FaultInjector", "FaultSpec", "fault_lines", "parse_faults"]

KINDS = ("drop", "dup", "delay", "reorder")


class FaultError(EvlogError, ValueError):
    """A fault specification that cannot be used (unknown kind, probability outside 0..1...)."""


@dataclass(frozen=True)
class FaultSpec:
    """Probabilities and parameters of each kind of fault (0: never)."""

    drop: float = 0.0
    dup: float = 0.0
    delay_p: float = 0.0
    delay_ns: int = 0
    reorder_p: float = 0.0
    reorder_n: int = 0
    text: str = ""

    @property
    def empty(self) -> bool:
        return not (self.drop or self.dup or self.delay_p or self.reorder_p)

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class Fault:
    """One fault injected: the event's offset, the kind, its parameters."""

    offset: int
    kind: str                                   # drop | dup | delay | reorder
    params: dict = field(default_factory=dict)  # delay: {"delay_ns"}; reorder: {"after"}

    def to_dict(self) -> dict:
        return {"offset": self.offset, "kind": self.kind, **self.params}

    def __str__(self) -> str:
        if self.kind == "delay":
            return f"offset {self.offset}: delay {self.params['delay_ns'] / 1e6:g}ms"
        if self.kind == "reorder":
            return f"offset {self.offset}: reorder after {self.params['after']}"
        return f"offset {self.offset}: {self.kind}"


def parse_faults(text: Any) -> FaultSpec:
    """`"drop=0.01,dup=0.005,delay=50ms@0.02,reorder=3@0.01"` (any subset, any order); a
    FaultSpec is returned as it is."""
    if isinstance(text, FaultSpec):
        return text
    if not isinstance(text, str):
        raise FaultError(f"faults must be text such as 'drop=0.01,delay=50ms@0.02', not {type(text).__name__}")
    values: dict[str, Any] = {}
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        kind, sep, value = (s.strip() for s in part.partition("="))
        if not sep or kind not in KINDS:
            raise FaultError(f"bad fault {part!r}: expected drop=P, dup=P, delay=DURATION@P or reorder=N@P")
        if kind in values:
            raise FaultError(f"fault {kind!r} given twice")
        if kind in ("drop", "dup"):
            values[kind] = _probability(value, part)
            continue
        amount, at, p = (s.strip() for s in value.partition("@"))
        if not at:
            raise FaultError(f"bad fault {part!r}: {kind} takes {'DURATION' if kind == 'delay' else 'N'}@P")
        if kind == "delay":
            ns = parse_duration_ns(amount)
            if ns is None or ns <= 0:
                raise FaultError(f"bad fault {part!r}: {amount!r} is not a positive duration (e.g. 50ms)")
            values["delay_ns"], values["delay_p"] = ns, _probability(p, part)
        else:
            if not amount.isdigit() or int(amount) < 1:
                raise FaultError(f"bad fault {part!r}: {amount!r} is not a whole number of events >= 1")
            values["reorder_n"], values["reorder_p"] = int(amount), _probability(p, part)
    spec = FaultSpec(**values, text=text.strip())
    total = spec.drop + spec.dup + spec.delay_p + spec.reorder_p
    if total > 1:
        raise FaultError(f"fault probabilities add up to {total:g}: an event gets at most one fault, "
                         f"so they must add up to at most 1")
    return spec


def _probability(text: str, part: str) -> float:
    try:
        p = float(text)
    except ValueError:
        p = -1.0
    if not 0.0 <= p <= 1.0:
        raise FaultError(f"bad fault {part!r}: {text!r} is not a probability between 0 and 1")
    return p


class FaultInjector:
    """Applies a FaultSpec to streams of records with one random generator seeded by `seed`
    (None: a random seed, kept in `self.seed`); `apply` is called once per pass (the
    generator goes on from pass to pass)."""

    def __init__(self, spec: FaultSpec | str, seed: int | None = None) -> None:
        self.spec = parse_faults(spec)
        if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
            raise FaultError(f"seed must be an integer, not {seed!r}")
        self.seed = random.SystemRandom().randrange(2**32) if seed is None else seed   # reported, to replay it again
        self._rng = random.Random(self.seed)
        self.faults: list[Fault] = []
        self.extra = 0   # deliveries minus events taken in the current pass (dups - drops, once drained)
        s = self.spec
        self._limits = (s.drop, s.drop + s.dup, s.drop + s.dup + s.delay_p,
                        s.drop + s.dup + s.delay_p + s.reorder_p)

    def _kind(self) -> str | None:
        u = self._rng.random()
        for kind, limit in zip(KINDS, self._limits):
            if u < limit:
                return kind
        return None

    def apply(self, records: Iterable[Any]) -> Iterator[Any]:
        """The records of one pass with faults injected (records are NamedTuples with `offset`
        and `monotonic`; a delivery at another time is the record with its `monotonic` replaced)."""
        self.extra = 0
        heap: list[tuple] = []        # (key, record) of deliveries not yet due to come out
        held: deque = deque()         # reordered events waiting for their slot: (slot, index, record)
        spec, faults = self.spec, self.faults
        index = -1
        last_key: tuple | None = None
        for rec in records:
            index += 1
            mono = rec.monotonic
            while heap and heap[0][0] < (mono, index):
                self.extra += 1
                yield _at(heapq.heappop(heap))
            self.extra -= 1
            kind = self._kind()
            if kind is None:
                heapq.heappush(heap, ((mono, index, 0, index), rec))
            elif kind == "drop":
                faults.append(Fault(rec.offset, "drop"))
            elif kind == "dup":
                faults.append(Fault(rec.offset, "dup"))
                heapq.heappush(heap, ((mono, index, 0, index), rec))
                heapq.heappush(heap, ((mono, index, 1, index), rec))
            elif kind == "delay":
                faults.append(Fault(rec.offset, "delay", {"delay_ns": spec.delay_ns}))
                heapq.heappush(heap, ((mono + spec.delay_ns, index, 0, index), rec))
            else:
                fault = Fault(rec.offset, "reorder", {"after": spec.reorder_n})
                faults.append(fault)
                held.append((index + spec.reorder_n, index, rec, len(faults) - 1))
            while held and held[0][0] == index:
                _slot, i, r, _f = held.popleft()
                heapq.heappush(heap, ((mono, index, 2, i), r))
            last_key = (mono, index)
        if held and last_key is not None:   # the stream ended before their slot: after its last event
            mono, last = last_key
            while held:
                _slot, i, r, f = held.popleft()
                faults[f] = Fault(faults[f].offset, "reorder", {"after": last - i})
                heapq.heappush(heap, ((mono, last, 2, i), r))
        while heap:
            self.extra += 1
            yield _at(heapq.heappop(heap))


def fault_lines(faults: list[Fault], seed: int | None) -> list[str]:
    """What a command prints about the faults it injected: one line each, then a count."""
    if seed is None:
        return []
    kinds = Counter(f.kind for f in faults)
    counts = ", ".join(f"{kinds[k]} {k}" for k in KINDS if kinds[k]) or "none"
    return [f"fault: {f}" for f in faults] + [f"{len(faults)} faults injected ({counts}) with seed {seed}"]


def _at(entry: tuple) -> Any:
    """The record of a heap entry, at the time of its key."""
    key, rec = entry
    return rec if key[0] == rec.monotonic else rec._replace(monotonic=key[0])
