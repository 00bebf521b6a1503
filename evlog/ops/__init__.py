"""Log operations: the library behind every `evlog` command, for Python users and the dashboard.

    from evlog import ops
    ops.info("recordings/run1")                               # dict, from the index
    ops.export("run1", "run1.jsonl", format="jsonl")           # json | jsonl | csv | parquet
    ops.import_recording("old.json", "run1")                  # original JSON or JSON Lines
    ops.slice_recording("run1", "fails", ops.Selection(filter="*Failed"))
    ops.merge(["a", "b"], "ab")                                # k-way by timestamp
    result = ops.diff("baseline", "new", ignore_fields=["*.timestamp"])
    result.equal, result.summary, result.differences

Every function streams: memory does not grow with the recording.
"""
from .common import OpError, Selection, parse_offsets
from .diff import DiffResult, DiffSummary, Difference, FieldChange, diff, iter_diff
from .export import FORMATS, export
from .importer import import_recording
from .info import format_info, info
from .maintenance import RecoverResult, recover, reindex, verify
from .merge import merge, origin_of, origins
from .record import RecordResult, record_stream
from .replay import HttpSink, JsonLinesSink, replay
from .slice import slice_recording
from .tail import tail
from .timeline import TimelineEntry, classify, format_entry, timeline

slice = slice_recording  # noqa: A001 - evlog.ops.slice(...), like the command

__all__ = [
    "OpError", "Selection", "parse_offsets", "info", "format_info", "timeline", "TimelineEntry", "classify",
    "format_entry", "export", "FORMATS", "import_recording", "slice_recording", "slice", "merge", "origins",
    "origin_of", "diff", "iter_diff", "DiffResult", "DiffSummary", "Difference", "FieldChange",
    "record_stream", "RecordResult", "tail", "replay", "JsonLinesSink", "HttpSink", "verify", "recover",
    "reindex", "RecoverResult",
]
