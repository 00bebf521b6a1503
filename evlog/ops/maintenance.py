"""`verify`, `recover`, `reindex`: thin wrappers over the storage engine's recovery tools
(evlog.segments.recovery) that check their argument is an evlog recording first."""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Sequence

from ..legacy import looks_like_legacy
from ..segments import EncodedRows, Log, SalvageReport, VerifyReport
from ..segments import reindex as _reindex
from ..segments import salvage as _salvage
from ..segments import verify as _verify
from ..segments.manifest import read_manifest
from .common import OpError, Progress, progress_or_noop
from .output import check_new_recording, creating


def _evlog_dir(path: str | os.PathLike) -> str:
    path = os.fspath(path)
    if os.path.isfile(path):
        if not looks_like_legacy(path):
            raise OpError(f"{path} is a file, not an evlog recording (a folder)")
        raise OpError(f"{path} is a JSON file of the original format: it has no checksums or index "
                      f"(import it with `evlog import`)")
    read_manifest(path)   # raises a clear error for anything but a recording
    return path


def verify(path: str | os.PathLike, chain: bool = False, key: bytes | None = None) -> VerifyReport:
    """Check every block checksum, every block's content and every index (`chain`: and the
    blocks' hash chain, keyed with `key` when the recording's chain is)."""
    return _verify(_evlog_dir(path), chain=chain, key=key)


def reindex(path: str | os.PathLike, keys: Sequence[str] = ()) -> list[str]:
    """Rewrite every index (and key file) from its segment; `keys`: key paths to index from
    now on. Returns the files written."""
    return _reindex(_evlog_dir(path), keys=keys)


@dataclass
class RecoverResult:
    path: str
    report: SalvageReport


def recover(path: str | os.PathLike, out: str | os.PathLike | None = None, *,
            progress: Progress | None = None) -> RecoverResult:
    """Copy every intact block of a damaged recording into the new recording `out` (default:
    `<path>.recovered`); the report says what was skipped (byte ranges, lost offsets).
    Event offsets are renumbered from 0; times, names, sources and data are kept."""
    src = _evlog_dir(path)
    dest = check_new_recording(out if out is not None else src.rstrip("/\\") + ".recovered")
    manifest = read_manifest(src)
    tick = progress_or_noop(progress)
    report = SalvageReport()
    with creating(dest):
        metadata = dict(manifest.metadata)
        metadata["recovered_from"] = os.path.abspath(src)
        with Log.create(dest, manifest.session_name, start_time_ns=manifest.start_time_ns,
                        metadata=metadata, keys=manifest.keys) as log:   # its key indexes too
            batch: list = []
            for r in _salvage(src, report, raw=True):
                batch.append(r)
                if len(batch) == 4096:
                    log.append_rows(EncodedRows.from_raw(batch), validate=False)
                    tick(len(batch))
                    batch.clear()
            log.append_rows(EncodedRows.from_raw(batch), validate=False)
            tick(len(batch))
    return RecoverResult(dest, report)
