from __future__ import annotations

import pytest

from evlog.bus import CollectingBus, CountingBus, ServiceBus


def test_subscribe_publish_globs_and_unsubscribe() -> None:
    bus = ServiceBus()
    seen: list = []
    bus.subscribe("PositionSold", lambda n, e, s: seen.append(("exact", n, e, s)))
    off = bus.subscribe("Position*", lambda n, e, s: seen.append(("glob", n)))
    assert bus.publish("PositionSold", {"x": 1}, "Exec") == 2
    assert bus.publish("PositionPurchased", None, "") == 1
    assert bus.publish("Other", 1, "") == 0
    off()
    assert bus.publish("PositionPurchased", None) == 0
    assert seen == [("exact", "PositionSold", {"x": 1}, "Exec"), ("glob", "PositionSold"),
                    ("glob", "PositionPurchased")]


def test_handler_errors_propagate_and_bad_handler_rejected() -> None:
    bus = ServiceBus()
    bus.subscribe("A", lambda n, e, s: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        bus.publish("A", None, "")
    with pytest.raises(TypeError):
        bus.subscribe("A", "not callable")  # type: ignore[arg-type]


def test_collecting_and_counting_buses() -> None:
    c, k = CollectingBus(), CountingBus()
    c.publish("A", 1, "s")
    k.publish("A", 1, "s")
    k.publish("B")
    assert c.events == [("A", 1, "s")] and k.count == 2
