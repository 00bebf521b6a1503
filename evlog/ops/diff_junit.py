"""`evlog diff --format junit`: a diff as a JUnit XML report, for CI systems.

One test case per event type (event name) that either recording holds (within the
selection's names): it passes when no difference involves that type, and fails otherwise,
its `<failure>` carrying the counts as its message and, as its text, the readable lines of
`evlog diff` for that type (its schema change first, if any). The suite's `<system-out>`
holds the summary line. Shape:

    <testsuites name="evlog diff" tests="3" failures="1" errors="0">
      <testsuite name="evlog diff baseline new" tests="3" failures="1" errors="0" skipped="0" time="0.012">
        <testcase classname="evlog.diff" name="PositionSold" time="0">
          <failure message="1 changed" type="difference">~ #120 -> #120 PositionSold ...</failure>
        </testcase>
        ...

Differences are grouped as they stream in; at most `max_differences` lines are kept in
all (every difference is counted in the messages).
"""
from __future__ import annotations

import re
import time
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterable
from typing import TextIO

from .common import Selection, open_input
from .diff import DELETED, INSERTED, Difference, DiffSummary
from .diff_render import format_difference, format_summary
from .schema import selected_names

__all__ = ["case_names", "write_junit"]

CLASSNAME = "evlog.diff"
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_WORDS = {DELETED: "only in baseline", INSERTED: "only in new", "changed": "changed", "timing": "timing shifts"}


def _xml_text(text: str) -> str:
    """Text XML 1.0 can hold (control characters and lone surrogates replaced)."""
    return _NOT_XML.sub("\ufffd", text)


def case_names(baseline: str, new: str, selection: Selection | None = None) -> list[str]:
    """The event names of both recordings (from their indexes), in a stable order."""
    with open_input(baseline) as a, open_input(new) as b:
        return sorted(selected_names(a, selection) | selected_names(b, selection))


def write_junit(results: Iterable[Difference | DiffSummary], out: TextIO, names: Iterable[str],
                suite_name: str = "evlog diff", max_differences: int | None = None) -> DiffSummary:
    """Write what `iter_diff` yields as a JUnit XML report (one test case per name in
    `names`, plus any other name a difference involves). Returns the summary."""
    started = time.perf_counter()
    summary = DiffSummary()
    counts: dict[str, Counter] = {}
    lines: dict[str, list[str]] = {}
    found: Counter = Counter()     # differences per name
    shown = 0
    for d in results:
        if isinstance(d, DiffSummary):
            summary = d
            continue
        name = (d.baseline or d.new).name
        c = counts.setdefault(name, Counter())
        found[name] += 1
        if d.kind in (DELETED, INSERTED):
            c[d.kind] += 1
        else:
            c["changed"] += d.kind == "changed"
            c["timing"] += d.time_shift_ns is not None
        if max_differences is None or shown < max_differences:
            lines.setdefault(name, []).append(format_difference(d))
            shown += 1
    schema = {s.name: s.describe() for s in summary.schema_changes}
    all_names = list(dict.fromkeys([*names, *counts, *schema]))
    failures = sum(1 for n in all_names if n in counts or n in schema)
    elapsed = f"{time.perf_counter() - started:.3f}"
    root = ET.Element("testsuites", name="evlog diff", tests=str(len(all_names)), failures=str(failures),
                      errors="0", time=elapsed)
    suite = ET.SubElement(root, "testsuite", name=_xml_text(suite_name), tests=str(len(all_names)),
                          failures=str(failures), errors="0", skipped="0", time=elapsed)
    for name in all_names:
        case = ET.SubElement(suite, "testcase", classname=CLASSNAME, name=_xml_text(name), time="0")
        if name not in counts and name not in schema:
            continue
        c = counts.get(name, Counter())
        message = ", ".join(f"{c[k]} {_WORDS[k]}" for k in _WORDS if c[k])
        if name in schema:
            message = "schema changed" + (f", {message}" if message else "")
        text = [schema[name]] if name in schema else []
        text += lines.get(name, [])
        hidden = found[name] - len(lines.get(name, []))
        if hidden > 0:
            text.append(f"... {hidden} more differences not shown (--max-differences)")
        failure = ET.SubElement(case, "failure", message=_xml_text(message), type="difference")
        failure.text = _xml_text("\n".join(text) + "\n")
    ET.SubElement(suite, "system-out").text = _xml_text(format_summary(summary) + "\n")
    ET.indent(root)
    out.write('<?xml version="1.0" encoding="UTF-8"?>\n')
    out.write(ET.tostring(root, encoding="unicode"))
    out.write("\n")
    out.flush()
    return summary
