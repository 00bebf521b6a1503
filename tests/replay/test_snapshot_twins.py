"""The recorder's compiled snapshot at publish (`evlog/_snapshot.c`) equals its Python twin
(`evlog.snapshot.snapshot_model_py`) on arbitrary events: the same row queued (the
monotonic stamp taken between the calls' bounds), the same -1 (nothing queued) for every
event that is not the common case, the same errors for wrong arguments. In CI the extension
must have been built."""
from __future__ import annotations

import datetime as _dt
import importlib
import os
import time
from decimal import Decimal

import pydantic
import pytest
from hypothesis import given
from hypothesis import strategies as st

from evlog import snapshot
from evlog.codec import MODEL_PLAN, encode, plan_cache
from evlog.recorder import ROW
from evlog.segments.codec import FLAG_MODEL

try:
    compiled = importlib.import_module("evlog._snapshot").snapshot_model
except ImportError:  # pragma: no cover - a machine without a C compiler
    compiled = None
    if os.environ.get("CI"):
        raise RuntimeError("CI must build evlog._snapshot (setup.py); pip install -e . failed to") from None

needs_c = pytest.mark.skipif(compiled is None, reason="evlog._snapshot is not built")
TWINS = [snapshot.snapshot_model_py] + ([compiled] if compiled is not None else [])


class Fill(pydantic.BaseModel):
    pair: str
    price: Decimal
    at: _dt.datetime
    tags: list[str] = []


class Raw(pydantic.BaseModel):
    blob: bytes   # non-UTF-8 bytes fail pydantic's JSON serializer


class NeverSeen(pydantic.BaseModel):
    x: int


for known in (Fill(pair="a", price=Decimal(1), at=_dt.datetime(2026, 1, 1)), Raw(blob=b"ok")):
    encode(known)   # the codec's plan cache now knows these classes as models

fills = st.builds(Fill, pair=st.text(max_size=20), price=st.decimals(allow_nan=False, allow_infinity=False, places=4),
                  at=st.datetimes(), tags=st.lists(st.text(max_size=5), max_size=3))
names = st.one_of(st.text(max_size=30), st.integers(), st.none())
events = st.one_of(fills, st.builds(Raw, blob=st.binary(max_size=8)), st.builds(NeverSeen, x=st.integers(0, 9)),
                   st.dictionaries(st.text(max_size=5), st.integers(), max_size=3), st.integers(), st.none())


def run(fn, name, event, source, base=5):
    queue = ["kept"]   # what is already queued stays, the row goes after it
    before = time.monotonic_ns() - base
    n = fn(queue, plan_cache, MODEL_PLAN, FLAG_MODEL, base, name, event, source)
    after = time.monotonic_ns() - base
    if n < 0:
        assert queue == ["kept"] and n == -1
        return None
    assert n == len(queue) == 1 + ROW
    row = queue[1:]
    assert before <= row[-1] <= after
    return row[:-1]


@given(name=names, event=events, source=names)
def test_compiled_equals_python(name, event, source):
    rows = [run(fn, name, event, source) for fn in TWINS]
    assert all(r == rows[0] for r in rows)
    common = type(name) is str and type(source) is str and type(event) in (Fill, Raw)
    if common:
        try:
            expected = event.__pydantic_serializer__.to_json(event)
        except Exception:  # noqa: BLE001 - left to the general path
            common = False
    if common:   # queued: the row the general path would store
        data, flags, types = encode(event)
        assert data == expected
        assert rows[0] == [name, source, flags, data, types, b""]
    else:
        assert rows[0] is None


@pytest.mark.parametrize("fn", TWINS)
def test_str_subclass_name_is_not_the_common_case(fn):
    class Name(str):
        pass
    event = Fill(pair="p", price=Decimal("1.5"), at=_dt.datetime(2026, 1, 2))
    assert run(fn, Name("x"), event, "s") is None
    assert run(fn, "x", event, Name("s")) is None


@needs_c
def test_compiled_rejects_wrong_arguments():
    event = Fill(pair="p", price=Decimal(2), at=_dt.datetime(2026, 1, 2))
    with pytest.raises(TypeError):
        compiled((), plan_cache, MODEL_PLAN, FLAG_MODEL, 0, "n", event, "s")
    with pytest.raises(TypeError):
        compiled([], [], MODEL_PLAN, FLAG_MODEL, 0, "n", event, "s")
    with pytest.raises(TypeError):
        compiled([], plan_cache, MODEL_PLAN)
    with pytest.raises(TypeError):
        compiled([], plan_cache, MODEL_PLAN, FLAG_MODEL, "not an int", "n", event, "s")


@pytest.mark.parametrize("fn", TWINS)
def test_a_serializer_failure_queues_nothing_but_a_non_exception_goes_up(fn):
    class Serializer:
        def __init__(self, exc: BaseException | None, out: object = b"{}") -> None:
            self.exc, self.out = exc, out

        def to_json(self, value: object) -> object:
            if self.exc is not None:
                raise self.exc
            return self.out

    class Event:
        pass
    plans = {Event: MODEL_PLAN}
    queue: list = []
    for serializer in (Serializer(ValueError("no")), Serializer(None, "str, not bytes")):
        Event.__pydantic_serializer__ = serializer
        assert fn(queue, plans, MODEL_PLAN, FLAG_MODEL, 0, "n", Event(), "s") == -1
    Event.__pydantic_serializer__ = Serializer(KeyboardInterrupt())
    with pytest.raises(KeyboardInterrupt):
        fn(queue, plans, MODEL_PLAN, FLAG_MODEL, 0, "n", Event(), "s")
    assert queue == []
    Event.__pydantic_serializer__ = Serializer(None)
    assert fn(queue, plans, MODEL_PLAN, FLAG_MODEL, 0, "n", Event(), "s") == ROW


def test_the_recorder_uses_the_compiled_twin_unless_told_not_to():
    if os.environ.get("EVLOG_PURE_PYTHON") or compiled is None:
        assert snapshot.snapshot_model is snapshot.snapshot_model_py
    else:
        assert snapshot.snapshot_model is compiled and snapshot.COMPILED
