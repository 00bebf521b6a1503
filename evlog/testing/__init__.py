"""Regression testing with recordings: the pytest plugin (`pytest_plugin`, registered by the
`pytest11` entry point) and the helpers it runs, usable without pytest too:
`BaselineSpec`/`BaselineRun` (replay a baseline's inputs, record the outputs, diff or update),
`OutputCapture`, `BusRecorder`. See docs/testing.md.

The names are imported on first use: pytest imports the plugin (a module of this package) at
start-up, before coverage measurement starts, and that must not import the rest of evlog.
"""
from __future__ import annotations

from typing import Any

_LAZY = {
    "BaselineError": "evlog.testing.baseline", "BaselineRun": "evlog.testing.baseline",
    "BaselineSpec": "evlog.testing.baseline", "OutputCapture": "evlog.testing.capture",
    "BusRecorder": "evlog.testing.recording",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'evlog.testing' has no attribute {name!r}")


__all__ = list(_LAZY)
