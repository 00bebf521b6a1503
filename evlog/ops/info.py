"""`info`: what a recording holds, from its index (the original tool's `info`, extended)."""
from __future__ import annotations

import os
from typing import Any

from ..recording import INDEX
from .common import iso, open_input


def info(path: str | os.PathLike) -> dict[str, Any]:
    """Session, start, duration, events, sizes, compression, segments and counts per name
    and source. For evlog recordings everything comes from the index files (no event is
    decoded); the original JSON format is read once as a stream."""
    with open_input(path) as rec:
        s = rec.summary()
        segments = rec.segments()
        duration_ms = rec.duration_ms
        out: dict[str, Any] = {
            "path": os.fspath(path),
            "format": rec.format,
            "indexed": INDEX in rec.capabilities,
            "session_name": rec.session_name,
            "start_time": iso(rec.start_time_ns),
            "start_time_ns": rec.start_time_ns,
            "duration_ms": round(duration_ms, 3),
            "total_events": s.count,
            "first_offset": rec.start_offset,
            "first_event_time": iso(s.first_ts) if s.first_ts is not None else None,
            "last_event_time": iso(s.last_ts) if s.last_ts is not None else None,
            "size_bytes": s.stored_bytes,
            "raw_bytes": s.raw_bytes,
            "compression_ratio": round(s.raw_bytes / s.stored_bytes, 2) if s.stored_bytes else None,
            "segments": [{"file": name, "first_offset": base, "events": n} for name, base, n in segments],
            "blocks": s.blocks,
            "events_by_name": dict(s.names.most_common()),
            "events_by_source": dict(s.sources.most_common()),
            "metadata": dict(getattr(rec, "metadata", {}) or {}),
        }
        return out


def format_info(d: dict[str, Any]) -> str:
    """The human-readable form printed by `evlog info`."""
    lines = [
        f"Session:     {d['session_name']}",
        f"Format:      {d['format']}",
        f"Start:       {d['start_time']}",
        f"Duration:    {d['duration_ms'] / 1000:.2f}s",
        f"Events:      {d['total_events']}",
    ]
    size = f"Size:        {_human(d['size_bytes'])}"
    if d.get("indexed") and d["compression_ratio"]:
        size += f" ({_human(d['raw_bytes'])} uncompressed, {d['compression_ratio']:.1f}x compression)"
    lines.append(size)
    if d.get("indexed"):
        lines.append(f"Segments:    {len(d['segments'])} ({d['blocks']} blocks)")
    if d["metadata"].get("merged_from"):
        lines.append("Merged from: " + ", ".join(str(m.get("session_name", m.get("path")))
                                                 for m in d["metadata"]["merged_from"]))
    if d["events_by_name"]:
        lines.append("")
        lines.append("Events by name:")
        width = max(len(n) for n in d["events_by_name"])
        lines += [f"  {n:<{width}}  {c:>8}x" for n, c in d["events_by_name"].items()]
    if d["events_by_source"]:
        lines.append("")
        lines.append("Events by source:")
        width = max(len(n or "(none)") for n in d["events_by_source"])
        lines += [f"  {n or '(none)':<{width}}  {c:>8}x" for n, c in d["events_by_source"].items()]
    return "\n".join(lines)


def _human(n: int) -> str:
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"
