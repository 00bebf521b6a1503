"""evlog.ops.common: the selected count behind progress bars, errors naming their input."""
from __future__ import annotations

import pytest

from evlog import ops
from evlog.ops.common import InputError, named_input, open_input, selected_count
from evlog.segments import CorruptRecordingError

from .helpers import make_recording

EVENTS = [("Alpha", {"i": i}, "left" if i % 2 else "right", i * 1_000_000) for i in range(6)] + \
         [("Beta", {"i": i}, "left", (6 + i) * 1_000_000) for i in range(4)]


@pytest.fixture
def rec(tmp_path):
    return make_recording(str(tmp_path / "rec"), EVENTS)


@pytest.mark.parametrize("selection, expected", [
    (None, 10),
    (ops.Selection(), 10),
    (ops.Selection(filter="Alpha"), 6),
    (ops.Selection(filter="Al*"), 6),
    (ops.Selection(filter="Alpha or Beta"), 10),
    (ops.Selection(filter="source=left"), 7),
    (ops.Selection(offsets=(2, 5)), 3),
    (ops.Selection(offsets=(8, 100)), 2),
    (ops.Selection(offsets=(None, 4)), 4),
    (ops.Selection(offsets=(20, None)), 0),
    (ops.Selection(filter="data.i > 2"), None),       # a data filter: only reading tells
    (ops.Selection(start="3ms"), None),               # a time range: only reading tells
    (ops.Selection(filter="Alpha", offsets=(0, 3)), None),
    (ops.Selection(filter="Alpha and source=left"), None),
])
def test_selected_count_is_exact_or_none(rec, selection, expected):
    with open_input(rec) as r:
        got = selected_count(r, selection)
        assert got == expected
        if got is not None:
            from evlog.ops.common import select
            assert got == sum(1 for _ in select(r, selection))


def test_selected_count_of_the_original_format_is_unknown(rec, tmp_path):
    legacy = str(tmp_path / "old.json")
    ops.export(rec, legacy, format="json")
    with open_input(legacy) as r:
        assert selected_count(r) is None


def test_errors_name_their_input(tmp_path):
    def broken():
        yield 1
        raise CorruptRecordingError("block checksum mismatch")
    with pytest.raises(InputError, match=r"^/data/a: block checksum mismatch$"):
        list(named_input("/data/a", broken()))
    (tmp_path / "plain.txt").write_text("hello")
    with pytest.raises(InputError, match="plain.txt"):
        open_input(str(tmp_path / "plain.txt"))
