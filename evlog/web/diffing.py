"""The diff view's data: the same engine as `evlog diff` (evlog.ops.diff), shaped for the page."""
from __future__ import annotations

from typing import Any

from werkzeug.exceptions import NotImplemented as NotImplemented501


def run_diff(path_a: str, path_b: str, name_a: str, name_b: str, limit: int,
             filter_text: str | None) -> dict[str, Any]:
    try:
        from ..ops import diff as ops_diff  # noqa: F401
    except ImportError:
        raise NotImplemented501("diff is not available in this build (evlog.ops.diff missing)") from None
    raise NotImplemented501("diff adapter pending")
