"""`Closing`: the with-statement protocol of an object that has a `close()` (a recording, a
replayer, a sink, a progress bar): `with obj:` returns obj and closes it at the end."""
from __future__ import annotations

from typing import Any, TypeVar

C = TypeVar("C", bound="Closing")


class Closing:
    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self: C) -> C:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
