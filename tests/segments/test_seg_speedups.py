"""The compiled write path (`evlog/segments/_speedups.c`) equals the Python code it stands in
for: the column helpers on arbitrary inputs, and the append hot path on the same sequence of
calls (results, errors and the log read back). In CI the extension must have been built."""
from __future__ import annotations

import importlib
import os
import threading

import pydantic
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evlog.segments import Log
from evlog.segments import block as blk
from evlog.segments import writer as writer_mod

try:
    speedups = importlib.import_module("evlog.segments._speedups")
except ImportError:  # pragma: no cover - a machine without a C compiler
    speedups = None
    if os.environ.get("CI"):
        raise RuntimeError("CI must build evlog.segments._speedups (setup.py); pip install -e . failed to") from None

# EVLOG_PURE_PYTHON=1 (make test's second run of the engine's tests): the Python code alone
needs_c = pytest.mark.skipif(speedups is None or writer_mod._CompiledModelAppender is None,
                             reason="evlog.segments._speedups is not built or not in use")
INT62 = st.integers(-(1 << 62), (1 << 62) - 1)


@needs_c
@given(st.lists(INT62, min_size=1, max_size=300))   # a block has 1 record or more
def test_mono_column_equals_python(mono):
    assert speedups.mono_column(mono) == blk._mono_column_py(mono)
    assert speedups.mono_column(tuple(mono)) == blk._mono_column_py(mono)


@needs_c
def test_mono_column_rejects_what_python_rejects():
    for bad in ([0, 1 << 63], [-(1 << 63), (1 << 63) - 1], [1, "x"]):
        with pytest.raises((OverflowError, TypeError)):
            blk._mono_column_py(bad)
        with pytest.raises((OverflowError, TypeError)):
            speedups.mono_column(bad)
    with pytest.raises(TypeError):
        speedups.mono_column(5)


@needs_c
@given(st.lists(st.binary(max_size=300), max_size=300))
def test_lengths_column_equals_python(datas):
    assert speedups.lengths_column(datas) == blk._lengths_column_py(datas)
    with pytest.raises(TypeError):
        speedups.lengths_column(datas + ["not bytes"])


@needs_c
@given(st.lists(st.binary(max_size=40), max_size=200), st.integers(1, 300), st.integers(0, 64),
       st.integers(0, 5000))
def test_lay_chunks_equals_python(datas, chunk, pos, size):
    pos = min(pos, size)
    c_buf, py_buf = bytearray(b"\xaa" * size), bytearray(b"\xaa" * size)
    c_end = speedups.lay_chunks(c_buf, pos, datas, chunk)
    py_end = blk._lay_chunks_py(py_buf, pos, datas, chunk)
    assert c_end == py_end
    assert c_buf[:c_end] == py_buf[:py_end]     # beyond the end a grown buffer is not defined
    assert len(c_buf) >= c_end


@needs_c
def test_lay_chunks_checks_its_arguments():
    with pytest.raises(ValueError):
        speedups.lay_chunks(bytearray(4), 5, [b"1"], 2)
    with pytest.raises(ValueError):
        speedups.lay_chunks(bytearray(4), 0, [b"1"], 0)
    with pytest.raises(TypeError):
        speedups.lay_chunks(bytearray(4), 0, [b"1", "2"], 2)
    with pytest.raises(TypeError):
        speedups.lay_chunks(b"immutable", 0, [b"1"], 2)


class Quote(pydantic.BaseModel):
    pair: str
    price: float
    raw: bytes = b""


# one step of a session: (kind, name, source); data and times follow from the kind
STEPS = st.lists(st.tuples(
    st.sampled_from(["model", "model", "model", "dict", "kw", "ts", "two", "bytes", "big", "bad"]),
    st.sampled_from(["Quote", "Trade", "Fill", "n" * 3]),
    st.sampled_from(["feed", "bot", ""])), max_size=60)


def _session(path: str, steps: list, compiled: bool, monkeypatch) -> tuple[list, list]:
    """Run `steps` on a new log with the compiled appender or the Python closure; returns
    what each call gave (offset or error type) and the records read back without times."""
    if not compiled:
        monkeypatch.setattr(writer_mod, "_CompiledModelAppender", None)
    outcomes = []
    with Log.create(path, fsync="never", block_max_records=7) as log:
        if compiled:
            assert type(log.append).__name__ == "ModelAppender"
        else:
            assert callable(log.append) and type(log.append).__name__ == "function"
        for i, (kind, name, source) in enumerate(steps):
            quote = Quote(pair=f"P{i}", price=i + 0.25)
            try:
                if kind == "model":
                    got = log.append(name, quote, source)
                elif kind == "two":
                    got = log.append(name, quote)
                elif kind == "dict":
                    got = log.append(name, {"i": i}, source)
                elif kind == "kw":
                    got = log.append(name, data=quote, source=source)
                elif kind == "ts":
                    got = log.append(name, quote, source, 1_700_000_000_000_000_000 + i)
                elif kind == "bytes":   # to_json fails on these bytes: the typed fallback
                    got = log.append(name, Quote(pair="b", price=1.0, raw=b"\xff"), source)
                elif kind == "big":     # past the fast path's size
                    got = log.append(name, Quote(pair="x" * (1 << 20), price=0.5), source)
                else:                   # a source that is not a string
                    got = log.append(name, quote, 5)
                outcomes.append(got)
            except Exception as exc:  # noqa: BLE001 - the outcome compared
                outcomes.append(type(exc).__name__)
    with Log.open(path) as log:
        records = [(r.offset, r.name, r.source, r.flags, r.data) for r in log.read()]
        monos = [r.monotonic for r in log.read()]
    assert monos == sorted(monos)
    return outcomes, records


@needs_c
@settings(max_examples=25, deadline=None)
@given(STEPS)
def test_compiled_appender_equals_the_python_closure(tmp_path_factory, steps):
    base = tmp_path_factory.mktemp("appender")
    with pytest.MonkeyPatch.context() as mp:
        compiled = _session(str(base / "c"), steps, True, mp)
    with pytest.MonkeyPatch.context() as mp:
        python = _session(str(base / "py"), steps, False, mp)
    assert compiled == python


@pytest.mark.parametrize("kind", ["model", "dict"])
@pytest.mark.parametrize("compiled", [pytest.param(True, marks=needs_c), False])
def test_appends_from_threads_keep_gapless_offsets(tmp_path, monkeypatch, compiled, kind):
    """Four threads appending at once (models: the hot path; dicts: the general path): offsets
    stay gapless and each thread's events keep their order."""
    if not compiled:
        monkeypatch.setattr(writer_mod, "_CompiledModelAppender", None)
    path = str(tmp_path / "rec")
    with Log.create(path, fsync="never", block_max_records=37) as log:
        log.append("Q", Quote(pair="warm", price=0.0), "t")

        def work(t: int) -> None:
            for i in range(800):
                quote = Quote(pair=f"{t}", price=i)
                log.append("Q", quote if kind == "model" else quote.model_dump(), f"t{t}")
        threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
    with Log.open(path) as log:
        got = list(log.read())
    assert [r.offset for r in got] == list(range(3201))
    for t in range(4):
        assert [r.data["price"] for r in got if r.source == f"t{t}"] == [float(i) for i in range(800)]


@needs_c
def test_compiled_appender_after_close_and_its_introspection(tmp_path):
    from evlog.segments import LogClosedError
    log = Log.create(str(tmp_path / "rec"), fsync="never")
    assert log.append.__name__ == "append" and "Append" in (log.append.__doc__ or "")
    assert log.append.slow.__name__ == "append"       # the Python closure behind it
    log.append("Q", Quote(pair="a", price=1.0), "s")
    log.append("Q", Quote(pair="a", price=2.0), "s")
    log.close()
    with pytest.raises(LogClosedError):
        log.append("Q", Quote(pair="a", price=3.0), "s")
    with pytest.raises(TypeError):
        speedups.ModelAppender()
