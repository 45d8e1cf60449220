"""What the push outbox (ocpi/push.py) reports to `csms.metrics`: delivery attempts by verdict, entries
settled by status, and the depth of what this process queued."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from csms.config import Config, OcpiConfig
from csms.domain.core import Domain
from csms.domain.services import Services
from csms.metrics import Metrics
from csms.store.writer import BatchedWriter
from ocpi.client import PartnerClient
from ocpi.context import OcpiContext
from ocpi.push import Outbox
from tests.fakes.memory_store import MemoryStore
from tests.fakes.ocpi_memory_store import MemoryOcpiStore
from tests.ocpi.conftest import FakeClock
from tests.ocpi.test_push import FakePartner, add_partner, closed_port_url, session_push
from tests.prometheus import Scrape
from tests.utils import MS


@pytest.fixture
async def partner_server() -> AsyncIterator[FakePartner]:
    """A running fake partner."""
    partner = FakePartner()
    await partner.start()
    yield partner
    await partner.close()


@pytest.fixture
async def metrics_ctx(
    clock: FakeClock, memory_ocpi_store: MemoryOcpiStore
) -> AsyncIterator[tuple[OcpiContext, Metrics]]:
    """An OCPI context whose domain reports to a `Metrics` (max. 2 attempts per push)."""
    store = MemoryStore(clock=clock)
    writer = BatchedWriter(store, max_items=100, interval=0.01)
    await writer.start()
    metrics = Metrics()
    domain = Domain(Services(config=Config(), store=store, writer=writer, clock=clock, metrics=metrics))
    config = OcpiConfig(push_retry_seconds=5.0, push_max_attempts=2)
    async with aiohttp.ClientSession() as session:
        yield OcpiContext(
            domain=domain,
            store=memory_ocpi_store,
            config=config,
            base_url="http://127.0.0.1:1",
            client=PartnerClient(session, config, timeout=2000 * MS),
            clock=clock,
        ), metrics
    await writer.stop()


async def test_attempts_settlements_and_depth(
    metrics_ctx: tuple[OcpiContext, Metrics], partner_server: FakePartner, clock: FakeClock
) -> None:
    """Sent, rejected and unreachable pushes are counted by verdict; sent and failed entries leave the
    depth, which counts what is still queued."""
    ctx, metrics = metrics_ctx
    outbox = Outbox(ctx)
    metrics.watch_outbox(lambda: outbox.depth)

    async def reject_second(request: web.Request, body: Any) -> tuple[int, Any]:
        return (400, None) if body == {"n": 2} else (200, {"status_code": 1000, "timestamp": "x"})

    partner_server.answer = reject_second
    partner = await add_partner(ctx, partner_server.url)
    down = await add_partner(ctx, closed_port_url(), party_id="DWN")
    await session_push(outbox, partner, "1", 1)
    await session_push(outbox, partner, "2", 2)
    await session_push(outbox, down, "3", 3)

    def value(name: str, **labels: str) -> float | None:
        return Scrape(metrics.render().decode()).value(name, **labels)

    assert value("csms_ocpi_outbox_pending") == 3
    await outbox.deliver_due()
    assert value("csms_ocpi_push_attempts_total", verdict="sent") == 1
    assert value("csms_ocpi_push_attempts_total", verdict="rejected") == 1
    assert value("csms_ocpi_push_attempts_total", verdict="unavailable") == 1
    assert value("csms_ocpi_push_settled_total", status="sent") == 1
    assert value("csms_ocpi_push_settled_total", status="failed") == 1
    assert value("csms_ocpi_outbox_pending") == 1
    clock.advance(seconds=60)
    await outbox.deliver_due()  # second and last attempt: the entry fails
    assert value("csms_ocpi_push_attempts_total", verdict="unavailable") == 2
    assert value("csms_ocpi_push_settled_total", status="failed") == 2
    assert value("csms_ocpi_outbox_pending") == 0
