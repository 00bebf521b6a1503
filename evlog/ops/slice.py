"""`slice`: a new recording holding the selected events of another (the original tool's
`filter_events`, persisted). Records are copied without decoding their data (only a filter on
data decodes, to test; the original format's are encoded as they are read); offsets restart at
0, times are kept (or, with `rebase`, counted from the first selected event, as the original
tool's "create recording" did). The dashboard's "Create recording" is this operation."""
from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from ..segments import EncodedRows, Log
from .common import (OpError, Progress, Selection, open_input, progress_or_noop, raw_records, redacted,
                     redaction_metadata)
from .output import check_new_recording, creating

_TICK = 4096
_BATCH = 512


class SliceCancelled(OpError):
    """The slice was cancelled (`cancelled()` said so); what was written is removed."""


def slice_recording(path: str | os.PathLike, out: str | os.PathLike, selection: Selection | None = None, *,
                    session_name: str | None = None, progress: Progress | None = None,
                    keep: Callable[[int], bool] | None = None, rebase: bool = False,
                    metadata: dict | None = None, cancelled: Callable[[], bool] | None = None,
                    redact: Any = None) -> int:
    """Copy the selected events of `path` into the new recording `out`; returns the count.

    The new recording keeps the source's start time, so event times (wall clock and time
    since the start) are unchanged; its manifest metadata says where it was sliced from
    (`metadata` replaces that). `keep(offset)`: a test on offsets (the dashboard's chosen
    events; nothing is decoded for it). `rebase`: the new recording starts at its first event
    (its wall time; times since the start counted from it). `progress(n)`: n more events read;
    `cancelled()`, asked as often, true stops the slice (SliceCancelled) and removes `out`.
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
        if metadata is None:
            described = _describe(selection)
            if redact is not None and "filter" in described:
                described["filter"] = redact.filter_text(described["filter"])
            metadata = {"sliced_from": {"path": os.path.abspath(os.fspath(path)), "session_name": rec.session_name,
                                        "selection": described}}
        metadata = {**metadata, **redaction_metadata(redact)}
        name = session_name or f"{rec.session_name}_slice"
        log: Log | None = None
        shift = 0
        count = read = 0
        batch: list = []
        try:
            for r in raw_records(rec, selection):   # copied as stored: data, types, headers
                read += 1
                if read % _TICK == 0:
                    if cancelled is not None and cancelled():
                        raise SliceCancelled("the slice was cancelled")
                    tick(_TICK)
                if keep is not None and not keep(r.offset):
                    continue
                if log is None:   # made at the first event: with `rebase`, it starts there
                    shift = r.monotonic if rebase else 0
                    log = Log.create(out, name, start_time_ns=r.timestamp if rebase else rec.start_time_ns,
                                     metadata=metadata)
                batch.append(r._replace(monotonic=r.monotonic - shift) if shift else r)
                count += 1
                if len(batch) == _BATCH:
                    log.append_rows(EncodedRows.from_raw(batch), validate=False)   # verified blocks: no re-check
                    batch.clear()
            if log is None:
                log = Log.create(out, name, start_time_ns=rec.start_time_ns, metadata=metadata)
            log.append_rows(EncodedRows.from_raw(batch), validate=False)
            tick(read % _TICK)
        finally:
            if log is not None:
                log.close()
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
