"""A tiny domain for the capture/replay/time-travel tests: counters and a totals process."""
from __future__ import annotations

from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.application import Application
from eventsourcing.dispatch import singledispatchmethod
from eventsourcing.domain import Aggregate, event
from eventsourcing.system import ProcessApplication


class Counter(Aggregate):
    @event("Created")
    def __init__(self, name: str) -> None:
        self.name = name
        self.count = 0
        self.history: list[int] = []

    @event("Incremented")
    def increment(self, by: int) -> None:
        self.count += by
        self.history.append(by)


class Counters(Application[UUID]):
    def create(self, name: str) -> UUID:
        counter = Counter(name)
        self.save(counter)
        return counter.id

    def increment(self, counter_id: UUID, by: int) -> None:
        counter: Counter = self.repository.get(counter_id)
        counter.increment(by)
        self.save(counter)


class Total(Aggregate):
    @event("Started")
    def __init__(self, name: str) -> None:
        self.name = name
        self.total = 0
        self.increments = 0

    @staticmethod
    def create_id(name: str) -> UUID:
        return uuid5(NAMESPACE_URL, f"/totals/{name}")

    @event("Added")
    def add(self, by: int) -> None:
        self.total += by
        self.increments += 1


class Totals(ProcessApplication[UUID]):
    """Keeps one Total per counter name (a process application following Counters)."""

    @singledispatchmethod
    def policy(self, domain_event: Any, processing_event: Any) -> None:
        pass

    @policy.register(Counter.Created)
    def _(self, domain_event: Any, processing_event: Any) -> None:
        processing_event.collect_events(Total(domain_event.name))

    @policy.register(Counter.Incremented)
    def _(self, domain_event: Any, processing_event: Any) -> None:
        counter = self.counter_names[domain_event.originator_id]
        total: Total = self.repository.get(Total.create_id(counter))
        total.add(domain_event.by)
        processing_event.collect_events(total)

    @property
    def counter_names(self) -> dict:
        # rebuilt from the upstream application's events would need a query; keep a map
        return self._names

    def __init__(self, env: Any = None) -> None:
        super().__init__(env)
        self._names: dict = {}

    def process_event(self, domain_event: Any, tracking: Any) -> None:
        if isinstance(domain_event, Counter.Created):
            self._names[domain_event.originator_id] = domain_event.name
        super().process_event(domain_event, tracking)


def total_id(name: str) -> UUID:
    return Total.create_id(name)
