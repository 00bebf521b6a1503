"""Property: for random event times and sizes and random triggers, the recordings are exactly
the expected windows — [t - keep, t + after] merged when they meet — each event once."""
from __future__ import annotations

import itertools
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from evlog.flight.ring import Ring
from evlog.flight.windows import Windows, WindowWriter
from evlog.segments import EncodedRows, Log

KEEP = 1_000


def expected(monos: list[int], triggers: list[tuple[int, int]]) -> list[list[int]]:
    """The model: windows in trigger order, a trigger meeting the latest window extends it."""
    windows: list[list[int]] = []
    for t, after in triggers:
        if windows and t - KEEP <= windows[-1][1]:
            windows[-1][1] = max(windows[-1][1], t + after)
        else:
            windows.append([t - KEEP, t + after])
    return [[i for i, m in enumerate(monos) if s <= m <= e] for s, e in windows]


events = st.lists(st.tuples(st.integers(1, 120), st.integers(0, 300), st.booleans(), st.integers(0, 400)),
                  min_size=1, max_size=300)


@settings(max_examples=60)
@given(events=events, batch=st.integers(1, 40))
def test_recordings_are_exactly_the_expected_windows(events, batch):
    gaps, sizes, triggers_here, afters = zip(*events)
    monos = list(itertools.accumulate(gaps))
    triggers = [(monos[i], afters[i]) for i in range(len(monos)) if triggers_here[i]]
    with tempfile.TemporaryDirectory() as d:
        ring = Ring(1 << 30, KEEP, 0, block_bytes=2048)
        writer = WindowWriter("p", 1_700_000_000 * 10**9, fsync="never")
        windows = Windows(ring, KEEP, writer.wall0, writer, grace_ns=0)
        names = (Path(d) / f"w{k}" for k in itertools.count())
        for a in range(0, len(monos), batch):
            b = min(a + batch, len(monos))
            ring.add(EncodedRows(["E"] * (b - a), ["s"] * (b - a), [0] * (b - a),
                                 [b'{"i":%d,"p":"%s"}' % (i, b"x" * sizes[i]) for i in range(a, b)],
                                 [b""] * (b - a), None, None, monos[a:b]))
            for i in range(a, b):   # triggers of this batch, at their event's time
                if triggers_here[i]:
                    windows.request(monos[i], f"at {i}", afters[i], lambda wall: next(names))
            if windows.active():
                ring.seal()
            windows.step(monos[b - 1])
        ring.seal()
        windows.step(monos[-1] + 10**6)
        writer.wait()
        writer.close()
        got = []
        for w in windows.all:
            assert w.error is None
            with Log.open(w.path) as log:
                got.append([r.data["i"] for r in log.read()])
                assert log.manifest.metadata["flight"]["events"] == len(got[-1])
        assert got == expected(monos, triggers)
        # nothing left the ring by age that a window wanted
        assert not any(w.truncated for w in windows.all)
