"""Encoded rows: what the writer takes (`Log.append_rows`), and the checks they must pass.

Every append (`Log.append`, `append_batch`, the recorder, raw copies by merge, slice and
recover) reaches the writer as rows of already-encoded events, column by column. The
checks here guard what the block encoder relies on (a row it could not encode would fail
the writer in its I/O thread, losing the events queued with it), per column with C-level
built-ins: no Python step per row unless a check fails (then the rows are checked one by
one, to name the bad one) or `validate` asks for the data to be decoded.
"""
from __future__ import annotations

import os
from operator import add as _add
from typing import Any, Iterable, NamedTuple, Sequence

from .block import MAX_EVENT_BYTES, MAX_NAME_BYTES, RawRecord
from .codec import FLAG_TYPED, KNOWN_FLAGS, EventEncodeError, apply_type_map, decode_json
from .errors import EventTooLargeError
from .headers import MAX_HEADER_BYTES, check_encoded_headers

TIME_LIMIT = 1 << 62   # timestamps and their deltas must fit the block's int64 columns
PLAIN_FLAGS = frozenset(range(KNOWN_FLAGS + 1))


class EncodedRows(NamedTuple):
    """Events already encoded, as columns of one length (see `Log.append_rows`).

    `datas` are JSON bytes, `types` type-map bytes (b"" for none), `headers` the events'
    `encode_headers` bytes (None: no event has any). `timestamps` None (or a None entry):
    the wall clock is the block's wall-clock base + the monotonic time. `monotonics` None:
    measured when appended (one clock read for all the rows, which get it 1 ns apart)."""

    names: Sequence[str]
    sources: Sequence[str]
    flags: Sequence[int]
    datas: Sequence[bytes]
    types: Sequence[bytes]
    headers: Sequence[bytes] | None = None
    timestamps: Sequence[int | None] | None = None
    monotonics: Sequence[int] | None = None

    @classmethod
    def from_raw(cls, records: Iterable[RawRecord]) -> "EncodedRows":
        """Rows that copy records read with `Log.read(raw=True)`, their times and headers kept."""
        records = records if isinstance(records, (list, tuple)) else list(records)
        if not records:
            return cls((), (), (), (), (), None, None, None)
        _offsets, ts, mono, names, sources, datas, flags, types, headers = zip(*records)
        return cls(names, sources, flags, datas, types, headers, ts, mono)


def good_name(value: Any) -> bool:
    """An event name or source the block encoder can store."""
    if value.__class__ is not str:
        return False
    try:
        return len(value.encode("utf-8")) <= MAX_NAME_BYTES
    except UnicodeEncodeError:
        return False


def check_row(name: Any, source: Any, flags: Any, timestamp: Any, monotonic: Any, data: Any, types: Any,
              headers: Any = b"") -> None:
    """Reject one event the block encoder could not store, with the precise reason."""
    if not isinstance(data, bytes) or not isinstance(types, bytes):
        raise EventEncodeError("encoded event data and type map must be bytes")
    if len(data) + len(types) > MAX_EVENT_BYTES:
        raise EventTooLargeError(f"event data of {len(data) + len(types)} bytes exceeds {MAX_EVENT_BYTES}")
    if not isinstance(headers, bytes):
        raise EventEncodeError("encoded event headers must be bytes (see encode_headers)")
    if len(headers) > MAX_HEADER_BYTES:
        raise EventTooLargeError(f"event headers of {len(headers)} bytes exceed {MAX_HEADER_BYTES}")
    if not isinstance(name, str) or not isinstance(source, str):
        raise EventEncodeError("event name and source must be strings")
    try:
        too_long = len(name.encode("utf-8")) > MAX_NAME_BYTES or len(source.encode("utf-8")) > MAX_NAME_BYTES
    except UnicodeEncodeError:
        raise EventEncodeError("event name or source is not valid Unicode (lone surrogate)") from None
    if too_long:
        raise EventTooLargeError(f"event name and source are limited to {MAX_NAME_BYTES} bytes")
    if flags.__class__ is not int or flags & ~KNOWN_FLAGS:
        raise EventEncodeError(f"unknown event flags {flags!r}")
    for value, what in ((timestamp, "timestamp"), (monotonic, "monotonic")):
        if value is not None and (not isinstance(value, int) or not -TIME_LIMIT <= value < TIME_LIMIT):
            raise EventEncodeError(f"event {what} must be an int of ns below 2**62, not {value!r}")


def check_encoded(data: Any, flags: Any, types: Any) -> None:
    """Reject encoded data that is not one JSON value: stored, it would make its whole block unreadable."""
    try:
        value = decode_json(data)
        if flags & FLAG_TYPED and types:
            apply_type_map(value, decode_json(types))
    except Exception as exc:  # noqa: BLE001 - whatever is wrong, it must not reach a block
        raise EventEncodeError(f"encoded event data is not valid JSON: {exc}") from None


def _timestamps_ok(values: Sequence[Any]) -> bool:
    """Ints of ns within the limit, or None (the block's wall-clock base + monotonic)."""
    nones = values.count(None)
    if nones:
        values = [v for v in values if v is not None]
        if not values:
            return True
    return set(map(type, values)) == {int} and -TIME_LIMIT <= min(values) and max(values) < TIME_LIMIT


def _row_sizes_py(datas: Sequence[Any], types: Sequence[Any],
                  headers: Sequence[Any] | None) -> tuple[list[int], int, int] | None:
    """(each row's payload bytes: data + type map + headers, the largest data + type map, the
    largest headers), or None when an item is not exactly bytes or the columns differ in length."""
    if len(types) != len(datas) or (headers is not None and len(headers) != len(datas)):
        return None
    if not datas:
        return [], 0, 0
    if set(map(type, datas)) != {bytes} or set(map(type, types)) != {bytes}:
        return None
    sizes = list(map(_add, map(len, datas), map(len, types)))
    biggest = max(sizes)
    if headers is None:
        return sizes, biggest, 0
    if set(map(type, headers)) != {bytes}:
        return None
    head = list(map(len, headers))
    return list(map(_add, sizes, head)), biggest, max(head)


def _monotonic_order_py(values: Sequence[Any]) -> int:
    """0 when an item is not exactly an int within the limit; else 2 when they never
    decrease (the writer's clamp has nothing to do), 1 otherwise. One sort gives both the
    range and the order: C-level, no step per row."""
    if not values:
        return 2
    if set(map(type, values)) != {int}:
        return 0
    ordered = sorted(values)
    if not (-TIME_LIMIT <= ordered[0] and ordered[-1] < TIME_LIMIT):
        return 0
    return 2 if ordered == (values if values.__class__ is list else list(values)) else 1


# the compiled versions (setup.py builds them where it can), equal to these by test
_row_sizes, _monotonic_order = _row_sizes_py, _monotonic_order_py
if not os.environ.get("EVLOG_PURE_PYTHON"):
    try:
        from ._speedups import monotonic_order as _monotonic_order, row_sizes as _row_sizes
    except ImportError:  # pragma: no cover - depends on the build
        pass


def checked_sizes(rows: EncodedRows, known: Any) -> tuple[list[int], bool]:
    """Check `rows` column by column; return each row's size in the block payload (data, type
    map, headers) and whether the given monotonic times are already in order. `known`: names
    and sources checked before (the writer's ids). Raises EventEncodeError /
    EventTooLargeError (naming the first bad row) when a row is bad."""
    names, sources, flags, datas, types, headers, ts, mono = rows
    n = len(names)
    lengths = {len(sources), len(flags), len(datas), len(types)}
    lengths.update(len(c) for c in (headers, ts, mono) if c is not None)
    if lengths != {n}:
        raise ValueError(f"the columns of encoded rows must have one length (names: {n}, others: {sorted(lengths)})")
    ordered = True
    try:
        found = _row_sizes(datas, types, headers)
        ok = (found is not None and found[1] <= MAX_EVENT_BYTES and found[2] <= MAX_HEADER_BYTES
              and PLAIN_FLAGS.issuperset(flags) and (ts is None or _timestamps_ok(ts))
              and all(map(good_name, set(names).union(sources).difference(known))))
        if ok and mono is not None:
            order = _monotonic_order(mono)
            ok, ordered = order > 0, order == 2
    except TypeError:   # an unhashable name...
        ok = False
    if not ok:
        if mono is not None and None in mono:
            raise EventEncodeError("the monotonic times of encoded rows are all given (ints) or all measured "
                                   "(monotonics=None)")
        for i in range(n):   # the precise error of the first bad row
            check_row(names[i], sources[i], flags[i], None if ts is None else ts[i], None if mono is None else mono[i],
                      datas[i], types[i], b"" if headers is None else headers[i])
        raise EventEncodeError("encoded rows that cannot be stored")   # pragma: no cover - check_row raised
    assert found is not None
    return found[0], ordered


def validate_rows(rows: EncodedRows) -> None:
    """Decode every row's data, type map and headers: for bytes that did not come from the
    codec (or from verified blocks), so invalid JSON never reaches a block."""
    for data, flags, types in zip(rows.datas, rows.flags, rows.types):
        check_encoded(data, flags, types)
    if rows.headers is not None:
        for raw in rows.headers:
            if raw:
                check_encoded_headers(raw)


__all__ = ["EncodedRows", "TIME_LIMIT", "PLAIN_FLAGS", "check_row", "check_encoded", "checked_sizes", "validate_rows",
           "good_name"]
