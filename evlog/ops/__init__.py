"""Log operations: the library behind every `evlog` command, for Python users and the dashboard.

    from evlog import ops
    ops.info("recordings/run1")                               # dict, from the index
    ops.export("run1", "run1.jsonl", format="jsonl")           # json | jsonl | csv | parquet
    ops.import_recording("old.json", "run1")                  # original JSON or JSON Lines
    ops.slice_recording("run1", "fails", ops.Selection(filter="*Failed"))
    ops.merge(["a", "b"], "ab")                                # k-way by timestamp
    ops.merge_by_sequence(["r1", "r2"], "all")                 # shards of a JetStream stream, by sequence
    ops.record_from_nats("rec", "nats://127.0.0.1:4222", "trading.>", max_events=100)
    result = ops.diff("baseline", "new", ignore_fields=["*.timestamp"])
    result.equal, result.summary, result.differences

Every function streams: memory does not grow with the recording.
"""
from .common import OpError, Selection, parse_offsets, selected_count
from .diff import Difference, DiffResult, DiffSummary, FieldChange, diff, iter_diff
from .export import FORMATS, export
from .importer import import_recording
from .info import format_info, info
from .maintenance import RecoverResult, recover, reindex, verify
from .merge import merge, origin_of, origins
from .merge_seq import SequenceMergeResult, merge_by_sequence
from .nats import NatsRecordResult, NatsReplayResult, record_from_nats, replay_to_nats
from .record import (FlightLog, RecordResult, SnapshotResult, finish_snapshot, flight_recorder, record_stream,
                     record_stream_snapshot)
from .replay import HttpSink, JsonLinesSink, replay
from .retention import retain
from .slice import slice_recording
from .tail import tail
from .timeline import TimelineEntry, classify, format_entry, timeline

slice = slice_recording

__all__ = [
    "FORMATS",
    "DiffResult",
    "DiffSummary",
    "Difference",
    "FieldChange",
    "HttpSink",
    "JsonLinesSink",
    "NatsRecordResult",
    "NatsReplayResult",
    "OpError",
    "RecordResult",
    "RecoverResult",
    "Selection",
    "TimelineEntry",
    "classify",
    "diff",
    "export",
    "format_entry",
    "format_info",
    "import_recording",
    "info",
    "iter_diff",
    "merge",
    "merge_by_sequence",
    "SequenceMergeResult",
    "origin_of",
    "origins",
    "parse_offsets",
    "record_from_nats",
    "record_stream", "record_stream_snapshot", "SnapshotResult", "FlightLog", "flight_recorder", "finish_snapshot",
    "recover",
    "reindex",
    "replay",
    "replay_to_nats",
    "retain",
    "selected_count",
    "slice",
    "slice_recording",
    "tail",
    "timeline",
    "verify",
]
