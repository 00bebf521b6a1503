"""The diff view's data: the same engine as `evlog diff` (evlog.ops.diff), shaped for the page."""
from __future__ import annotations

from typing import Any

from werkzeug.exceptions import NotImplemented as NotImplemented501


def run_diff(path_a: str, path_b: str, name_a: str, name_b: str, limit: int,
             filter_text: str | None) -> dict[str, Any]:
    """Differences of `b` against the baseline `a` (at most `limit` listed, all counted)."""
    try:
        from ..ops.common import Selection
        from ..ops.diff import diff as ops_diff
    except ImportError:
        raise NotImplemented501("diff is not available in this build (evlog.ops.diff missing)") from None
    selection = Selection(filter=filter_text) if filter_text else None
    result = ops_diff(path_a, path_b, selection=selection, max_differences=limit)
    return {"a": name_a, "b": name_b, "filter": filter_text, "summary": result.summary.to_dict(),
            "differences": [d.to_dict() for d in result.differences], "truncated": result.truncated}
