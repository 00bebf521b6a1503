"""`slice`: a new recording holding the selected events of another (the original tool's
`filter_events`, persisted). evlog records are copied without decoding their data (only a
filter on data decodes, to test); offsets restart at 0, times are kept."""
from __future__ import annotations

import os
from typing import Any

from ..segments import EncodedRows, Log
from .common import Progress, Selection, open_input, progress_or_noop, raw_records, redacted, redaction_metadata
from .output import check_new_recording, creating

_TICK = 4096


def slice_recording(path: str | os.PathLike, out: str | os.PathLike, selection: Selection | None = None, *,
                    session_name: str | None = None, progress: Progress | None = None, redact: Any = None) -> int:
    """Copy the selected events of `path` into the new recording `out`; returns the count.

    The new recording keeps the source's start time, so event times (wall clock and time
    since the start) are unchanged; its manifest metadata says where it was sliced from.
    `redact`: a redaction policy (evlog.redact): the events are decoded, redacted and encoded
    again (the filter tests the redacted events), and the metadata names the policy.
    """
    if redact is not None:
        from ..redact import as_redactor
        redact = as_redactor(redact)
    out = check_new_recording(out)
    tick = progress_or_noop(progress)
    with open_input(path) as opened, creating(out):
        rec = redacted(opened, redact)
        described = _describe(selection)
        if redact is not None and "filter" in described:
            described["filter"] = redact.filter_text(described["filter"])
        metadata = {"sliced_from": {"path": os.path.abspath(os.fspath(path)), "session_name": rec.session_name,
                                    "selection": described}, **redaction_metadata(redact)}
        with Log.create(out, session_name or f"{rec.session_name}_slice", start_time_ns=rec.start_time_ns,
                        metadata=metadata) as log:
            count = 0
            batch: list = []
            for r in raw_records(rec, selection):   # evlog records copied raw; the original's encoded
                batch.append(r)
                count += 1
                if len(batch) == 512:
                    log.append_rows(EncodedRows.from_raw(batch), validate=False)   # one call per batch
                    batch.clear()
                if count % _TICK == 0:
                    tick(_TICK)
            log.append_rows(EncodedRows.from_raw(batch), validate=False)
            tick(count % _TICK)
    return count


def _describe(selection: Selection | None) -> dict:
    if selection is None:
        return {}
    out: dict = {}
    if selection.filter is not None:
        out["filter"] = str(selection.filter)
    if selection.start is not None:
        out["from"] = str(selection.start)
    if selection.end is not None:
        out["to"] = str(selection.end)
    if selection.offsets is not None:
        out["offsets"] = list(selection.offsets)
    return out
