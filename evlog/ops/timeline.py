"""`timeline`: the first events of a recording, one line each, with markers for failures,
trades and cycles (the original tool's `print_timeline`)."""
from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice
from typing import Any

from ..segments.codec import encode_json, to_json_mode
from .common import Selection, open_input, select

FAILURE, TRADE, CYCLE, OTHER = "failure", "trade", "cycle", "event"
MARKERS = {FAILURE: "❌", TRADE: "💰", CYCLE: "🔄", OTHER: "  "}
ASCII_MARKERS = {FAILURE: "!!", TRADE: "$$", CYCLE: "->", OTHER: "  "}
_TRADE_WORDS = ("Purchased", "Sold", "Buy", "Sell", "Order", "Trade", "Position")
_FAILURE_WORDS = ("Failed", "Failure", "Error", "Rejected", "Timeout")


def classify(name: str) -> str:
    """failure | trade | cycle | event, from the event name."""
    if any(w in name for w in _FAILURE_WORDS):
        return FAILURE
    if any(w in name for w in _TRADE_WORDS):
        return TRADE
    if "Cycle" in name:
        return CYCLE
    return OTHER


@dataclass(frozen=True)
class TimelineEntry:
    offset: int
    monotonic: int   # ns since the recording's start
    name: str
    source: str
    kind: str        # failure | trade | cycle | event
    preview: str     # the start of the data, as JSON


def timeline(path: str | os.PathLike, *, max_events: int | None = 50,
             selection: Selection | None = None, preview_chars: int = 80) -> Iterator[TimelineEntry]:
    """The first `max_events` selected events (all with None), streamed."""
    with open_input(path) as rec:
        records: Any = select(rec, selection)
        if max_events is not None:
            records = islice(records, max_events)
        for r in records:
            yield TimelineEntry(r.offset, r.monotonic, r.name, r.source, classify(r.name),
                                preview(r.data, preview_chars))


def preview(data: Any, limit: int) -> str:
    if limit <= 0:
        return ""
    text = encode_json(to_json_mode(data)).decode("utf-8", "replace")
    return text if len(text) <= limit else text[:limit - 1] + "…"


def format_entry(e: TimelineEntry, ascii_only: bool = False) -> str:
    marker = (ASCII_MARKERS if ascii_only else MARKERS)[e.kind]
    source = f" ({e.source})" if e.source else ""
    preview = f"  {e.preview}" if e.preview else ""
    return f"[{e.monotonic / 1e9:>10.3f}s] #{e.offset:<7} {marker} {e.name}{source}{preview}"
