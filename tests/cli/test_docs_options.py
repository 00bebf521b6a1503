"""The docs name only commands and options that exist.

Every `evlog <command> ... --option` written in the docs (a code line, or a backticked
span) must name a command of the click group and options of that command. In
docs/cli.md, docs/production.md and README.md an option mentioned on its own (a table row
such as `--fsync-interval`, prose such as `--dry-run`) must also be an option of a command
its section is about: the commands its heading names or that the section runs, or any
command in a section of the whole page (a level-1 heading).
"""
from __future__ import annotations

import glob
import os
import re
import sys

import pytest

from evlog.cli import cli

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SECTION_CHECKED = ["docs/cli.md", "docs/production.md", "README.md"]
ALL_DOCS = sorted({os.path.relpath(p, ROOT) for p in glob.glob(os.path.join(ROOT, "docs", "*.md"))}
                  | {"README.md"})

OPTION = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")
RUN = re.compile(r"(?:^|[|;&(]\s*|\$\s*)evlog\s+([a-z][a-z-]*)")      # evlog <command> on a code line
SPAN = re.compile(r"`((?:(?!\n\s*\n)[^`])+)`")
HEADING = re.compile(r"^(#+)\s+(.*)")


def command_options() -> dict[str, set[str]]:
    return {name: {o for p in cmd.params for o in (*p.opts, *p.secondary_opts)} | {"--help", "-h"}
            for name, cmd in cli.commands.items()}


COMMANDS = command_options()
EVERY_OPTION = set().union(*COMMANDS.values()) | {"--version"}


def _section_commands(lines: list[str]) -> list[set[str] | None]:
    """For each line, the commands its section is about (None: the whole page's section)."""
    out: list[set[str] | None] = []
    current: set[str] | None = None
    i = 0
    while i < len(lines):
        m = HEADING.match(lines[i])
        if m or i == 0:
            j = i + 1
            while j < len(lines) and not HEADING.match(lines[j]):
                j += 1
            if m and len(m.group(1)) == 1:
                current = None
            else:
                words = set(re.findall(r"[a-z]+", m.group(2))) if m else set()
                current = {w for w in words if w in COMMANDS}
                for line in lines[i:j]:
                    current |= {c for c in re.findall(r"\bevlog\s+([a-z]+)", line) if c in COMMANDS}
            out.extend([current] * (j - i))
            i = j
        else:   # pragma: no cover - every line is reached from its heading
            i += 1
    return out


def mentions(path: str) -> list[tuple[int, str | None, str, str]]:
    """(line, command or None, option, text) of every option mentioned; command "?" + the
    word for an `evlog WORD` that names no command."""
    with open(os.path.join(ROOT, path), encoding="utf-8") as f:
        lines = f.read().splitlines()
    found: list[tuple[int, str | None, str, str]] = []
    in_code = False
    continued: str | None = None
    prose = []   # the lines outside code blocks (code lines blanked), for backticked spans
    for n, line in enumerate(lines, 1):
        if line.lstrip().startswith("```"):
            in_code, continued = not in_code, None
            prose.append("")
            continue
        if not in_code:
            prose.append(line)
            continue
        prose.append("")
        code = line.split(" #")[0]
        m = RUN.search(code)
        command = m.group(1) if m else continued
        if m and command not in COMMANDS:
            found.append((n, "?", command, line))
        elif command is not None:
            found.extend((n, command, o, line) for o in OPTION.findall(code[m.end():] if m else code))
        continued = command if line.rstrip().endswith("\\") else None
    text = "\n".join(prose)
    for m in SPAN.finditer(text):   # a span may continue on the next line of its paragraph
        n = text.count("\n", 0, m.start()) + 1
        span, line = " ".join(m.group(1).split()), lines[n - 1]
        words = span.split()
        if not words:
            continue
        if words[0] == "evlog" and len(words) > 1 and not words[1].startswith("-"):
            if words[1] not in COMMANDS:
                found.append((n, "?", words[1], line))
            else:
                found.extend((n, words[1], o, line) for o in OPTION.findall(span))
        elif words[0] in COMMANDS:
            found.extend((n, words[0], o, line) for o in OPTION.findall(span))
        elif words[0].startswith("-"):
            found.extend((n, None, o, line) for o in OPTION.findall(span))
    return sorted(found, key=lambda f: f[0])


def problems(path: str, sections: bool) -> list[str]:
    with open(os.path.join(ROOT, path), encoding="utf-8") as f:
        section_of = _section_commands(f.read().splitlines())
    out = []
    for n, command, option, text in mentions(path):
        where = f"{path}:{n}: {text.strip()[:90]}"
        if command == "?":
            out.append(f"{where}: no command `evlog {option}`")
        elif command is not None:
            if option not in COMMANDS[command]:
                out.append(f"{where}: `evlog {command}` has no {option}")
        elif sections:
            about = section_of[n - 1]
            allowed = EVERY_OPTION if not about else set().union(*(COMMANDS[c] for c in about))
            if about is not None and option not in allowed:
                out.append(f"{where}: {option} is no option of {', '.join(sorted(about))}")
    return out


@pytest.mark.parametrize("path", ALL_DOCS)
def test_documented_commands_and_options_exist(path):
    found = problems(path, sections=path in SECTION_CHECKED)
    assert not found, "\n".join(found)


def test_the_checker_sees_wrong_options(tmp_path, monkeypatch):
    doc = tmp_path / "doc.md"
    doc.write_text("# Title\n\n## Recording\n\n```sh\nevlog record out --from nats://x --queue q \\\n"
                   "    --segment-agee 1h\nevlog nats record\n```\n\n| `--fsync-interval` | ok |\n"
                   "| `--source-headr` | typo |\n\nRun `evlog export --jsonl` or `cat --format csv`.\n")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", str(tmp_path))
    found = problems("doc.md", sections=True)
    assert len(found) == 4, found
    assert "has no --segment-agee" in found[0] and "no command `evlog nats`" in found[1]
    assert "--source-headr is no option of export, record" in found[2] and "`evlog export` has no --jsonl" in found[3]


def test_the_documented_production_options_are_checked():
    options = {o for _, c, o, _ in mentions("docs/production.md") if c in (None, "record")}
    assert {"--queue", "--name-template", "--source-header", "--default-source", "--fsync-interval",
            "--segment-age"} <= options
