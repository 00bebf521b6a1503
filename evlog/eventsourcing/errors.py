"""Errors of evlog's eventsourcing integration (one-line messages, all EvlogError)."""
from __future__ import annotations

from eventsourcing.persistence import IntegrityError, ProgrammingError

from ..segments.errors import EvlogError


class EvlogConfigError(EvlogError, ValueError):
    """A missing or wrong setting (EVLOG_PATH, EVLOG_FSYNC, ...)."""


class EvlogStoreMissingError(EvlogError, FileNotFoundError):
    """The store does not exist and CREATE_TABLE says not to create it."""


class EvlogReadOnlyError(EvlogError, ProgrammingError):
    """An insert into a store opened read-only."""


class EvlogBatchTooLargeError(EvlogError, ProgrammingError):
    """An insert larger than one atomic block (65,535 events, about 16 MiB)."""


class EvlogIntegrityError(EvlogError, IntegrityError):
    """A duplicate (originator_id, originator_version) or a stale tracking position.

    It is the package's IntegrityError, so applications handle it as usual."""


class EvlogNotAStoreError(EvlogError, ValueError):
    """A recording that was not written by evlog's eventsourcing recorders."""
