"""`chunked`: a stream cut into lists, the one way evlog batches a stream (merge inputs,
Parquet row groups, eventsourcing replays); `itertools.batched` arrived only in Python 3.12."""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import islice
from typing import TypeVar

T = TypeVar("T")


def chunked(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """Lists of up to `size` consecutive items (only the last may be shorter; none for no items)."""
    if size < 1:
        raise ValueError("chunk size must be at least 1")
    it = iter(items)
    while chunk := list(islice(it, size)):
        yield chunk
