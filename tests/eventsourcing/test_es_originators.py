"""The originator index: loaded from columns without an object per originator, it answers
and saves exactly as an index built entry by entry (a property over random operations)."""
from __future__ import annotations

from array import array

from hypothesis import given
from hypothesis import strategies as st

from evlog.eventsourcing.originators import OriginatorIndex, VersionedOffsets

KEYS = [f"k{i}" for i in range(8)]


def _model_columns(model: dict[str, list[tuple[int, int]]]) -> tuple:
    keys = list(model)
    counts = array("q", [len(model[k]) for k in keys])
    versions = array("q", [v for k in keys for v, _ in model[k]])
    offsets = array("q", [o for k in keys for _, o in model[k]])
    return keys, counts, versions, offsets


@st.composite
def models(draw):
    model: dict[str, list[tuple[int, int]]] = {}
    offset = 0
    for key in draw(st.lists(st.sampled_from(KEYS), unique=True, max_size=6)):
        versions = sorted(draw(st.sets(st.integers(1, 50), min_size=1, max_size=5)))
        model[key] = []
        for v in versions:
            model[key].append((v, offset))
            offset += 1
    return model


@given(models(), st.lists(st.tuples(st.sampled_from(["get", "add"]), st.sampled_from(KEYS),
                                    st.integers(1, 60)), max_size=20))
def test_loaded_index_behaves_as_the_model(model, operations):
    index = OriginatorIndex.from_columns(*_model_columns(model))
    model = {k: list(v) for k, v in model.items()}
    next_offset = 1000
    for op, key, version in operations:
        if op == "get":
            seq = index.get(key)
            if key not in model:
                assert seq is None
            else:
                assert list(zip(seq.versions, seq.offsets)) == model[key]
        elif not any(v == version for v, _ in model.get(key, [])):
            index.sequence(key).add(version, next_offset)
            model.setdefault(key, []).append((version, next_offset))
            model[key].sort()
            next_offset += 1
    assert list(index) == list(model) and len(index) == len(model)
    assert index.columns() == _model_columns(model)
    assert index.memory() > 0


def test_an_index_loaded_from_columns_makes_entries_only_when_used():
    index = OriginatorIndex.from_columns(["a", "b", "c"], array("q", [2, 1, 2]), array("q", [1, 2, 1, 1, 2]),
                                         array("q", [0, 3, 1, 2, 4]))
    assert all(isinstance(e, int) for e in index._entries.values())
    seq = index.get("c")
    assert isinstance(seq, VersionedOffsets) and list(seq.versions) == [1, 2] and list(seq.offsets) == [2, 4]
    assert index.get("c") is seq and isinstance(index._entries["a"], int)
    assert index.get("missing") is None
    assert index.columns() == (["a", "b", "c"], array("q", [2, 1, 2]), array("q", [1, 2, 1, 1, 2]),
                               array("q", [0, 3, 1, 2, 4]))


def test_versioned_offsets_keep_version_order():
    seq = VersionedOffsets()
    for version, offset in ((3, 30), (1, 10), (2, 20), (5, 50)):
        seq.add(version, offset)
    assert list(seq.versions) == [1, 2, 3, 5] and list(seq.offsets) == [10, 20, 30, 50]
    assert seq.offset_of(3) == 30 and not seq.has(4)
