"""The original tool's REST API shapes: each check of original_shapes.py is one test."""
from __future__ import annotations

import pytest
from original_shapes import CHECKS, Ctx


@pytest.fixture
def ctx(client, rec_dir):
    c = Ctx(client, rec_dir)
    yield c
    c.post("/api/replay/stop")
    c.close()


def test_there_are_at_least_the_38_checks_of_the_issue():
    assert len(CHECKS) >= 38 and len({n for n, _ in CHECKS}) == len(CHECKS)


@pytest.mark.parametrize("name,check", CHECKS, ids=[n for n, _ in CHECKS])
def test_original_shape(ctx, name, check):
    check(ctx)
