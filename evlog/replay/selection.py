"""Which events a replay or a filtered replayer selects: `evlog.selection.Selection` (one
Selection for every layer), with the helpers the replay layer shows events with."""
from __future__ import annotations

from ..selection import Selection, SelectionError, event_dict, offset_ms, resolve_bound

__all__ = ["Selection", "SelectionError", "event_dict", "offset_ms", "resolve_bound"]
