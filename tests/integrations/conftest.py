"""Fixtures for the NATS integration tests: the real server on 127.0.0.1:4222 (started by
scripts/test-services.sh), uniquely named JetStream streams deleted afterwards."""
from __future__ import annotations

import asyncio
import os
import uuid

import pytest

NATS_URL = "nats://127.0.0.1:4222"
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture
def unique() -> str:
    return uuid.uuid4().hex[:10]


@pytest.fixture
def js_stream(nats_url, unique):
    """(stream name, subject prefix): a fresh stream capturing '<prefix>.>'."""
    import nats
    from nats.js.api import StreamConfig

    name, prefix = f"T{unique.upper()}", f"t{unique}"

    async def create() -> None:
        nc = await nats.connect(nats_url)
        await nc.jetstream().add_stream(StreamConfig(name=name, subjects=[f"{prefix}.>"]))
        await nc.close()

    async def delete() -> None:
        nc = await nats.connect(nats_url)
        try:
            await nc.jetstream().delete_stream(name)
        except Exception:
            pass
        await nc.close()

    asyncio.run(create())
    yield name, prefix
    asyncio.run(delete())
