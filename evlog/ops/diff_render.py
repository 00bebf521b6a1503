"""How a diff is shown: the text lines of `evlog diff` (`- + ~ @` and the summary line) and
its JSON document `{"differences": [...], "summary": {...}}`, written as the differences
stream in (nothing is held but the count)."""
from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, TextIO

from .diff import DELETED, INSERTED, CHANGED, Difference, DiffSummary

FORMATS = ("text", "json")


def difference_count(s: DiffSummary) -> int:
    """Differences a diff reports (an event both changed and shifted counts twice)."""
    return s.deleted + s.inserted + s.changed + s.timing


def format_event(e: Any) -> str:
    src = f" ({e.source})" if e.source else ""
    return f"#{e.offset} [{e.monotonic / 1e9:.3f}s] {e.name}{src}"


def format_difference(d: Difference) -> str:
    """One difference as text: `-` only in the baseline, `+` only in the new recording, `~`
    changed fields (one line each), `@` a timing shift."""
    if d.kind == DELETED:
        return f"- {format_event(d.baseline)}  only in baseline"
    if d.kind == INSERTED:
        return f"+ {format_event(d.new)}  only in new"
    head = f"#{d.baseline.offset} -> #{d.new.offset} {d.baseline.name}"
    lines = []
    if d.kind == CHANGED:
        lines.append(f"~ {head}")
        for c in d.changes:
            old = "(absent)" if c.old_missing else json.dumps(c.old, ensure_ascii=False, default=str)
            new = "(absent)" if c.new_missing else json.dumps(c.new, ensure_ascii=False, default=str)
            lines.append(f"    {c.path}: {old} -> {new}")
    if d.time_shift_ns is not None:
        lines.append(("    " if lines else f"@ {head}: ") + f"time shifted by {d.time_shift_ns / 1e9:+.3f}s "
                     f"({d.baseline.monotonic / 1e9:.3f}s -> {d.new.monotonic / 1e9:.3f}s)")
    return "\n".join(lines)


def format_summary(s: DiffSummary) -> str:
    if s.equal:
        return f"recordings are equal ({s.matched} events)"
    n = len(s.schema_changes)
    schema = f"{n} schema change{'s' if n > 1 else ''}, " if n else ""
    return (f"recordings differ: {schema}{s.deleted} only in baseline, {s.inserted} only in new, {s.changed} changed, "
            f"{s.timing} timing shifts ({s.matched} equal; {s.baseline_events} vs {s.new_events} events)")


def write_diff(results: Iterable[Difference | DiffSummary], out: TextIO, fmt: str = "text",
               max_differences: int | None = None) -> DiffSummary:
    """Write what `iter_diff` yields to `out` as text or JSON, at most `max_differences`
    differences (None: all; every one is counted). Returns the summary.

    Nothing is written before the first result arrives, so an input that cannot be read
    fails before any output (no half JSON document on stdout)."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown diff format {fmt!r}")
    summary = DiffSummary()
    shown = 0
    pending = ['{"differences": ['] if fmt == "json" else []

    def write(text: str) -> None:
        if pending:
            out.write(pending.pop())
        out.write(text)

    for d in results:
        if isinstance(d, DiffSummary):
            summary = d
            continue
        if max_differences is not None and shown >= max_differences:
            continue
        if fmt == "json":
            write(("\n  " if shown == 0 else ",\n  ") + json.dumps(d.to_dict(), ensure_ascii=False, default=str))
        else:
            write(format_difference(d) + "\n")
        shown += 1
    if fmt == "json":
        s = summary.to_dict()
        s["shown"] = shown
        write(("\n" if shown else "") + '], "summary": ' + json.dumps(s) + "}\n")
    else:
        for change in summary.schema_changes:
            write(change.describe() + "\n")
        if shown < difference_count(summary):
            write(f"... {difference_count(summary) - shown} more differences not shown (--max-differences)\n")
        write(format_summary(summary) + "\n")
    out.flush()
    return summary
