"""Tables of events: CSV and Parquet.

Columns: offset, time (ISO-8601 UTC), name, source, then either the data as one JSON column
(`data`, for recordings mixing event names) or, for one chosen event name, the data
flattened to dotted columns (`data.pair`, `data.fill.price`; lists stay JSON text); last,
when some exported event has per-event headers, `headers`: the event's headers as one JSON
object (empty in CSV, null in Parquet, for an event without headers).
"""
from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import Any, BinaryIO

import msgspec

from ..chunks import chunked
from ..segments.codec import encode_json
from .common import OpError
from .jsonl import LineEncoder

_decode = msgspec.json.decode


def flatten(value: Any, prefix: str = "data") -> dict[str, Any]:
    """Dotted-path columns of a JSON value: nested objects are walked, anything else is a leaf."""
    out: dict[str, Any] = {}

    def walk(v: Any, path: str) -> None:
        if isinstance(v, dict) and v:
            for k, x in v.items():
                walk(x, f"{path}.{k}")
        else:
            out[path] = v
    walk(value, prefix)
    return out


def cell(v: Any) -> str:
    if v is None:
        return ""
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, str):
        return v
    if isinstance(v, (int, float)):
        return repr(v)
    return encode_json(v).decode()


Row = tuple[int, int, str, str, bytes, bytes]   # offset, timestamp ns, name, source, data JSON, headers JSON


def flat_columns(rows: Iterable[Row]) -> tuple[list[str], bool]:
    """The union of the dotted columns of all rows, in first-seen order, and whether some row
    has headers (one streaming pass)."""
    seen: dict[str, None] = {}
    headers = False
    for _o, _t, _n, _s, data, h in rows:
        headers = headers or bool(h)
        for key in flatten(_decode(data)):
            if key not in seen:
                seen[key] = None
    return list(seen), headers


def write_csv(f: BinaryIO, rows: Iterable[Row], columns: list[str] | None, headers: bool = False) -> int:
    """Write the CSV header and one line per row; `columns`: dotted data columns, or None for
    one JSON `data` column; `headers`: a last `headers` column. Returns the number of rows."""
    text = io.TextIOWrapper(f, encoding="utf-8", newline="", write_through=False)
    enc = LineEncoder()
    w = csv.writer(text)
    w.writerow(["offset", "time", "name", "source"] + (columns if columns is not None else ["data"]) +
               (["headers"] if headers else []))
    n = 0
    try:
        for offset, ts, name, source, data, h in rows:
            row = [offset, enc.iso(ts).decode(), name, source]
            if columns is None:
                row.append(data.decode("utf-8"))
            else:
                flat = flatten(_decode(data))
                row += [cell(flat.get(c)) for c in columns]
            if headers:
                row.append(h.decode("utf-8"))
            w.writerow(row)
            n += 1
    finally:
        text.flush()
        text.detach()
    return n


PARQUET_BATCH = 65_536


def write_parquet(f: BinaryIO, rows: Iterable[Row], headers: bool = False) -> int:
    """Write a Parquet file (zstd): offset int64, time timestamp[ns, UTC], monotonic is not
    kept, name and source dictionary strings, data JSON text, and with `headers` the headers
    as JSON text (null for none). Streams in row groups."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise OpError("--format parquet needs pyarrow: pip install 'evlog[parquet]'") from None
    schema = pa.schema([
        ("offset", pa.int64()), ("time", pa.timestamp("ns", tz="UTC")),
        ("name", pa.dictionary(pa.int32(), pa.string())), ("source", pa.dictionary(pa.int32(), pa.string())),
        ("data", pa.string()),
    ] + ([("headers", pa.string())] if headers else []))
    n = 0
    with pq.ParquetWriter(f, schema, compression="zstd") as writer:
        for batch in chunked(rows, PARQUET_BATCH):
            offsets, times, names, sources, datas, heads = zip(*batch)
            columns = {
                "offset": pa.array(offsets, pa.int64()),
                "time": pa.array(times, pa.int64()).cast(pa.timestamp("ns", tz="UTC")),
                "name": pa.array(names, pa.string()).dictionary_encode(),
                "source": pa.array(sources, pa.string()).dictionary_encode(),
                "data": pa.array([d.decode("utf-8") for d in datas], pa.string()),
            }
            if headers:
                columns["headers"] = pa.array([h.decode("utf-8") if h else None for h in heads], pa.string())
            table = pa.table(columns, schema=schema)
            writer.write_table(table)
            n += len(batch)
    return n

