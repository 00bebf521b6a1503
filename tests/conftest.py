"""Shared pytest configuration: a hypothesis profile fit for a shared, noisy CI machine."""
from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "evlog",
    deadline=None,  # the machine is shared: timing says nothing about correctness
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    print_blob=True,
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "evlog"))


@pytest.fixture
def rec_path(tmp_path):
    """Path of a recording directory that does not exist yet."""
    return str(tmp_path / "rec")
