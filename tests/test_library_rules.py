"""Rules of the library code (evlog/), checked on its source: no process-wide switches, no
constructor bypasses (see docs/performance.md for what plain construction costs)."""
from __future__ import annotations

import os
import re

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FORBIDDEN = re.compile(r"\bgc\.(disable|freeze)\b|\bfrom\s+gc\s+import\b|\bobject\.__new__\b")


def offending_lines(root: str) -> list[str]:
    found = []
    for folder, _, files in os.walk(os.path.join(root, "evlog")):
        for f in sorted(files):
            if f.endswith(".py"):
                path = os.path.join(folder, f)
                with open(path, encoding="utf-8") as fh:
                    for n, line in enumerate(fh, 1):
                        if FORBIDDEN.search(line):
                            found.append(f"{os.path.relpath(path, root)}:{n}: {line.strip()}")
    return found


def test_the_pattern_finds_what_it_forbids():
    for line in ("gc.disable()", "    gc.freeze()", "from gc import disable", "_new = object.__new__",
                 "obj = object.__new__(UUID)"):
        assert FORBIDDEN.search(line), line
    for line in ("gc.collect()", "gc.isenabled()", "cls.__new__(cls)", "logc.disabled = True"):
        assert not FORBIDDEN.search(line), line


def test_no_gc_switch_or_constructor_bypass_in_the_library():
    found = offending_lines(ROOT)
    assert not found, "process-wide switch or constructor bypass:\n" + "\n".join(found)


def test_no_private_name_is_imported_from_another_module():
    """A helper two modules share is public (no `from x import _helper` across modules)."""
    import re
    from pathlib import Path
    root = Path(__file__).resolve().parent.parent / "evlog"
    pattern = re.compile(r"^\s*from\s+\S+\s+import\s+(.*)$")
    found = []
    for p in root.rglob("*.py"):
        for n, line in enumerate(p.read_text().splitlines(), 1):
            m = pattern.match(line)
            if not m or "__future__" in line:
                continue
            for name in m.group(1).strip("()").split(","):
                word = name.strip().split(" as ")[0].strip()
                if word.startswith("_") and not word.startswith("__") and word != "_speedups":
                    found.append(f"{p.relative_to(root)}:{n}: {line.strip()}")
    assert found == []
