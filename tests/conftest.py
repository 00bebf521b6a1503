"""Shared pytest configuration: a hypothesis profile fit for a shared, noisy CI machine."""
from __future__ import annotations

import os
import socket

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


NATS_URL = "nats://127.0.0.1:4222"


def _reachable() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 4222), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture
def nats_url() -> str:
    """The real NATS server of the machine (tests of NATS capture, replay, snapshot, redaction)."""
    pytest.importorskip("nats", reason="nats-py is not installed (pip install 'evlog[nats]')")
    if not _reachable():
        pytest.fail("the NATS server is not running on 127.0.0.1:4222: run scripts/test-services.sh")
    return NATS_URL
