"""Fixtures of the cluster tests: a real 3-node JetStream cluster of the machine's nats-server
(scripts/nats-cluster.sh, loopback ports away from 4222, stores in a temporary directory),
started once per test session and stopped at its end, and a fresh R3 stream per test."""
from __future__ import annotations

import os
import shutil
import uuid

import pytest

from .harness import Cluster


def _server() -> str | None:
    if os.access("/usr/sbin/nats-server", os.X_OK):
        return "/usr/sbin/nats-server"
    return shutil.which("nats-server")


@pytest.fixture(scope="session")
def nats_cluster(tmp_path_factory) -> Cluster:
    pytest.importorskip("nats", reason="nats-py is not installed (pip install 'evlog[nats]')")
    if _server() is None:
        pytest.fail("nats-server is not installed (/usr/sbin/nats-server): the cluster tests need it")
    cluster = Cluster(str(tmp_path_factory.mktemp("nats-cluster")))
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def cluster(nats_cluster) -> Cluster:
    """The cluster with its three nodes running (a test may have stopped one)."""
    nats_cluster.ensure_running()
    nats_cluster.wait_ready()
    return nats_cluster


@pytest.fixture
def r3_stream(cluster):
    """(stream name, subject prefix): a fresh stream replicated on the three nodes, capturing
    '<prefix>.>', deleted afterwards."""
    name = f"R{uuid.uuid4().hex[:8].upper()}"
    prefix = name.lower()
    cluster.create_stream(name, [f"{prefix}.>"])
    yield name, prefix
    cluster.ensure_running()
    cluster.delete_stream(name)
