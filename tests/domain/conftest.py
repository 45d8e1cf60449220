"""Domain fixtures: the in-memory store, a started batched writer and a fixed clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from csms.config import Config
from csms.domain.core import Domain
from csms.domain.services import Services
from csms.store.writer import BatchedWriter
from tests.fakes.memory_store import MemoryStore

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


@pytest.fixture
async def domain() -> AsyncIterator[Domain]:
    """A domain on MemoryStore whose clock always says NOW."""
    store = MemoryStore(clock=lambda: NOW)
    writer = BatchedWriter(store, max_items=100, interval=0.01)
    await writer.start()
    yield Domain(Services(config=Config(), store=store, writer=writer, clock=lambda: NOW))
    await writer.stop()
