"""The compiled block-encoder columns and the decoder's column sums
(`evlog/segments/_speedups.c`) equal the Python functions they stand in for, on arbitrary
inputs and in whole blocks; appends from several threads keep offsets gapless. In CI the
extension must have been built."""
from __future__ import annotations

import importlib
import os
import threading

import pydantic
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evlog import Log
from evlog.segments import block as blk
from evlog.segments import rows as rows_mod

try:
    speedups = importlib.import_module("evlog.segments._speedups")
except ImportError:  # pragma: no cover - a machine without a C compiler
    speedups = None
    if os.environ.get("CI"):
        raise RuntimeError("CI must build evlog.segments._speedups (setup.py); pip install -e . failed to") from None

# EVLOG_PURE_PYTHON=1 (make test's second run of the engine's tests): the Python code alone
needs_c = pytest.mark.skipif(speedups is None or blk._mono_column is blk._mono_column_py,
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


@st.composite
def shuffled_columns(draw):
    """(buf, n, width, signed, positions): a byte-shuffled column (bytes mostly 0 and 0xff
    among random ones: the sign and carry edges), maybe longer than its n values."""
    width = draw(st.sampled_from([1, 2, 4, 8]))
    n = draw(st.integers(0, 600))
    size = width * n + draw(st.integers(0, 9))
    buf = bytes(draw(st.lists(st.sampled_from([0, 0xff, 0x80, 0x7f, 1]) | st.integers(0, 255),
                              min_size=size, max_size=size)))
    positions = sorted(draw(st.lists(st.integers(0, n), max_size=12)))
    return buf, n, width, draw(st.booleans()), positions


@needs_c
@settings(max_examples=120, deadline=None)
@given(shuffled_columns())
def test_column_sums_equals_python(column):
    buf, n, width, signed, positions = column
    want = blk._column_sums_py(buf, n, width, signed, positions)
    assert speedups.column_sums(buf, n, width, signed, positions) == want
    assert speedups.column_sums(memoryview(buf), n, width, signed, tuple(positions)) == want


def test_column_sums_of_extreme_values():
    """Sums beyond 64 bits (65,535 values of +-2**63) come out as Python ints, exactly."""
    n = 1000
    for value in (-(1 << 63), (1 << 63) - 1, -1, 1 << 62):
        raw = value.to_bytes(8, "little", signed=True)
        buf = b"".join(bytes([raw[k]]) * n for k in range(8))   # the shuffled column of n copies
        positions = [0, 1, 500, n]
        assert blk._column_sums(buf, n, 8, True, positions) == [p * value for p in positions]
        assert blk._column_sums_py(buf, n, 8, True, positions) == [p * value for p in positions]


def test_column_sums_rejects_what_python_rejects():
    funcs = [blk._column_sums_py] + ([speedups.column_sums] if speedups is not None else [])
    for f in funcs:
        for args in ((bytes(8), 2, 3, False, [1]),      # no such width
                     (bytes(7), 2, 4, False, [1]),      # shorter than its values
                     (bytes(8), 2, 4, False, [2, 1]),   # descending
                     (bytes(8), 2, 4, False, [3]),      # past the end
                     (bytes(8), 2, 4, False, [-1]),
                     (bytes(8), -1, 4, False, [])):
            with pytest.raises(ValueError):
                f(*args)
        with pytest.raises(TypeError):
            f(bytes(8), 2, 4, False, ["1"])


ITEMS = st.one_of(st.binary(max_size=60), st.text(max_size=5), st.none(), st.integers(0, 3),
                  st.builds(bytearray, st.binary(max_size=5)))
MOSTLY_BYTES = st.one_of(st.binary(max_size=60), st.binary(max_size=60), st.binary(max_size=60), ITEMS)


@needs_c
@given(st.lists(MOSTLY_BYTES, max_size=60), st.lists(MOSTLY_BYTES, max_size=60),
       st.one_of(st.none(), st.lists(MOSTLY_BYTES, max_size=60)), st.booleans())
def test_row_sizes_equals_python(datas, types, headers, same_length):
    if same_length:   # mostly columns of one length, as the writer gets them
        n = len(datas)
        types = (types + [b""] * n)[:n]
        headers = None if headers is None else (headers + [b"h"] * n)[:n]
    assert speedups.row_sizes(datas, types, headers) == rows_mod._row_sizes_py(datas, types, headers)
    assert speedups.row_sizes(tuple(datas), tuple(types), headers) == rows_mod._row_sizes_py(datas, types, headers)


@needs_c
@given(st.lists(st.one_of(INT62, INT62, st.integers(), st.booleans(), st.floats(allow_nan=False), st.none()),
                max_size=60))
def test_monotonic_order_equals_python(values):
    assert speedups.monotonic_order(values) == rows_mod._monotonic_order_py(values)
    ints = [v for v in values if type(v) is int and -(1 << 62) <= v < (1 << 62)]
    assert speedups.monotonic_order(ints) == rows_mod._monotonic_order_py(ints)
    assert speedups.monotonic_order(sorted(ints)) == rows_mod._monotonic_order_py(sorted(ints)) == 2
    assert speedups.monotonic_order(tuple(ints)) == rows_mod._monotonic_order_py(tuple(ints))


@needs_c
def test_row_checks_take_sequences_only():
    with pytest.raises(TypeError):
        speedups.row_sizes(5, [], None)
    with pytest.raises(TypeError):
        speedups.monotonic_order(5)
    assert rows_mod._row_sizes is speedups.row_sizes and rows_mod._monotonic_order is speedups.monotonic_order


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


@needs_c
@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.binary(max_size=30), st.integers(0, 10**6),
                          st.sampled_from([b"", b'{"k":"v"}'])), min_size=1, max_size=600))
def test_blocks_encoded_with_the_compiled_columns_equal_the_python_ones(monkeypatch, rows):
    """Whole frames, byte for byte: the compiled helpers change nothing but the speed."""
    import zstandard
    from evlog.segments.chain import Chain
    cctx = zstandard.ZstdCompressor(level=1, write_content_size=True)
    flat = []
    mono = 0
    for name, data, step, headers in rows:
        mono += step
        flat += (name, 4, 0, None, mono, b'"' + data.hex().encode() + b'"', b"", headers)
    table = ["a", "b", "c", "d", "src"]
    compiled = blk.encode_flat(0, flat, cctx, 10**18, table, chain=Chain(bytes(32)))
    with monkeypatch.context() as mp:
        mp.setattr(blk, "_mono_column", blk._mono_column_py)
        mp.setattr(blk, "_lengths_column", blk._lengths_column_py)
        mp.setattr(blk, "_lay_chunks", blk._lay_chunks_py)
        python = blk.encode_flat(0, flat, cctx, 10**18, table, chain=Chain(bytes(32)))
    assert compiled == python


@pytest.mark.parametrize("kind", ["model", "dict"])
def test_appends_from_threads_keep_gapless_offsets(tmp_path, kind):
    """Four threads appending at once, models and dicts: offsets stay gapless and each
    thread's events keep their order."""
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


def _table(values, counts) -> bytes:
    out = bytearray(len(values).to_bytes(2, "little"))
    for v, c in zip(values, counts):
        b = v.encode() if isinstance(v, str) else v
        out += len(b).to_bytes(2, "little") + b + c.to_bytes(4, "little")
    return bytes(out)


def _outcome(fn, buf, pos, total, max_len):
    try:
        return fn(memoryview(buf), pos, total, max_len)
    except UnicodeDecodeError:
        return "unicode"
    except ValueError as exc:
        return str(exc)


@needs_c
@settings(max_examples=300)
@given(values=st.lists(st.one_of(st.text(max_size=12), st.binary(max_size=12)), max_size=8),
       counts=st.lists(st.integers(0, 1 << 32 - 1), max_size=8), pad=st.binary(max_size=6),
       pos=st.integers(0, 4), cut=st.integers(0, 60), total=st.integers(0, 50), max_len=st.integers(0, 12))
def test_read_table_equals_python(values, counts, pad, pos, cut, total, max_len):
    """Well-formed, truncated, non-UTF-8, over-long and miscounted tables: the same values or
    the same error (the meta of a damaged block is rejected alike)."""
    n = min(len(values), len(counts))
    counts = counts[:n]
    body = _table(values[:n], counts)
    for buf in (pad[:pos] + body, pad[:pos] + body[:cut]):
        for t in (total, sum(counts)):
            assert _outcome(speedups.read_table, buf, pos, t, max_len) == \
                _outcome(blk._read_table_py, buf, pos, t, max_len)
    assert blk._read_table is speedups.read_table
