"""The recording's manifest: `manifest.json`, small, replaced atomically."""
from __future__ import annotations

import datetime as _dt
import json
import os
from dataclasses import dataclass, field
from typing import Any

from .errors import NotARecordingError, RecordingNotFoundError, UnsupportedFormatError
from .fsio import FileSystem

MANIFEST_NAME = "manifest.json"
FORMAT_NAME = "evlog"
FORMAT_VERSION = 2              # what a new recording is written in
READ_VERSIONS = (1, 2)          # what this evlog reads (and appends to, each in its own version)


def _tool_version() -> str:
    try:
        from importlib.metadata import version
        return f"evlog {version('evlog')}"
    except Exception:  # running from a source tree
        return "evlog (source)"


@dataclass
class Manifest:
    session_name: str
    start_time_ns: int
    format_version: int = FORMAT_VERSION
    created_by: str = field(default_factory=_tool_version)
    metadata: dict[str, Any] = field(default_factory=dict)
    chain: dict[str, Any] | None = None   # v2: the hash chain's anchor and head (chain.py)
    keys: list[str] = field(default_factory=list)   # key paths with a key index (keyindex.py)

    @property
    def start_time(self) -> _dt.datetime:
        return _dt.datetime.fromtimestamp(self.start_time_ns / 1e9, tz=_dt.timezone.utc)

    def to_json(self) -> bytes:
        doc = {
            "format": FORMAT_NAME,
            "format_version": self.format_version,
            "session_name": self.session_name,
            "start_time": self.start_time.isoformat(),
            "start_time_ns": self.start_time_ns,
            "created_by": self.created_by,
            "metadata": self.metadata,
        }
        if self.chain is not None:
            doc["chain"] = self.chain
        if self.keys:
            doc["keys"] = list(self.keys)
        return json.dumps(doc, indent=2, ensure_ascii=False).encode("utf-8") + b"\n"


def manifest_path(directory: str) -> str:
    return os.path.join(directory, MANIFEST_NAME)


def read_manifest(directory: str) -> Manifest:
    """Read and check a recording's manifest; raise a clear error for anything else."""
    if not os.path.exists(directory):
        raise RecordingNotFoundError(f"no such recording: {directory}")
    if not os.path.isdir(directory):
        raise NotARecordingError(f"{directory} is not an evlog recording (a recording is a directory)")
    path = manifest_path(directory)
    try:
        with open(path, "rb") as f:
            raw = f.read(1 << 20)
    except FileNotFoundError:
        raise NotARecordingError(f"{directory} is not an evlog recording (no {MANIFEST_NAME})") from None
    try:
        doc = json.loads(raw)
        if not isinstance(doc, dict) or doc.get("format") != FORMAT_NAME:
            raise ValueError("not an evlog manifest")
        version = doc["format_version"]
    except (ValueError, KeyError, UnicodeDecodeError):
        raise NotARecordingError(f"{directory} is not an evlog recording (unreadable {MANIFEST_NAME})") from None
    if version not in READ_VERSIONS:
        raise UnsupportedFormatError(
            f"{directory} uses evlog format version {version}; this evlog reads versions "
            f"{', '.join(map(str, READ_VERSIONS[:-1]))} and {READ_VERSIONS[-1]}"
        )
    try:
        chain = doc.get("chain") if version >= 2 else None
        keys = doc.get("keys") or []
        if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
            raise ValueError("keys")
        return Manifest(
            session_name=str(doc["session_name"]), start_time_ns=int(doc["start_time_ns"]),
            format_version=version, created_by=str(doc.get("created_by", "")),
            metadata=dict(doc.get("metadata") or {}), chain=dict(chain) if isinstance(chain, dict) else None,
            keys=list(keys),
        )
    except (KeyError, TypeError, ValueError):
        raise NotARecordingError(f"{directory} has an incomplete {MANIFEST_NAME}") from None


def write_manifest(fs: FileSystem, directory: str, manifest: Manifest) -> None:
    fs.write_atomic(manifest_path(directory), manifest.to_json())


def is_recording(path: str) -> bool:
    return os.path.isfile(manifest_path(path))
