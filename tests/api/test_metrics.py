"""`GET /metrics`: served at the root without an API key, every metric family of `csms.metrics`, values
read when scraped."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestClient, TestServer

from csms.api import create_app
from csms.config import Config
from csms.domain.core import Domain
from csms.domain.registry import LiveConnection
from csms.domain.services import Services
from csms.metrics import Metrics
from csms.store.writer import BatchedWriter
from tests.api.conftest import NOW, ApiClient
from tests.fakes.memory_store import MemoryStore
from tests.prometheus import FAMILIES, Scrape
from tests.store.test_writer import hb


@pytest.fixture
def metrics() -> Metrics:
    """The metrics of the app under test."""
    return Metrics()


@pytest.fixture
async def writer(store: MemoryStore, metrics: Metrics) -> AsyncIterator[BatchedWriter]:
    """As in conftest (only `sync()` flushes), reporting its batches to `metrics`."""
    writer = BatchedWriter(store, max_items=10_000, interval=60.0, on_flush=metrics.batch_flushed)
    await writer.start()
    yield writer
    await writer.stop()


@pytest.fixture
def services(config: Config, store: MemoryStore, writer: BatchedWriter, metrics: Metrics) -> Services:
    """Services with `metrics` wired as the composition root does it (csms/app.py)."""
    services = Services(config=config, store=store, writer=writer, clock=lambda: NOW, metrics=metrics)
    metrics.watch(services.registry, writer)
    return services


async def scrape(client: ApiClient) -> Scrape:
    response = await client.get("/metrics")  # no Authorization header
    assert response.status == 200, await response.text()
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    return Scrape(await response.text())


async def test_metrics_need_no_key_and_list_every_family(client: ApiClient) -> None:
    """Every family is exported with its type, samples or not."""
    got = await scrape(client)
    assert {name: got.families.get(name) for name in FAMILIES} == FAMILIES


async def test_values_are_read_at_scrape_time(
    client: ApiClient, services: Services, writer: BatchedWriter, metrics: Metrics
) -> None:
    """Connected stations by version, the writer's queue depth and batches, counted events."""
    services.registry.register(LiveConnection("CP-1", "2.0.1", NOW))
    writer.put(hb(1))
    writer.put(hb(2))
    metrics.call_handled("Heartbeat", "CALLRESULT", 0.001)
    got = await scrape(client)
    assert got.value("csms_connected_stations", ocpp_version="2.0.1") == 1
    assert got.value("csms_connected_stations", ocpp_version="1.6") == 0
    assert got.value("csms_writer_pending_items") == 2
    assert got.value("csms_ocpp_messages_total", action="Heartbeat", result="CALLRESULT") == 1
    await writer.sync()
    got = await scrape(client)
    assert got.value("csms_writer_pending_items") == 0
    assert got.value("csms_writer_batch_items_count") == 1
    assert got.value("csms_writer_batch_items_sum") == 2


async def test_two_apps_keep_their_own_metrics(client: ApiClient, metrics: Metrics) -> None:
    """A second Metrics (another CSMS in the same process) neither clashes nor leaks into this one."""
    Metrics().handshake_refused("unauthorized")
    metrics.handshake_admitted()
    got = await scrape(client)
    assert got.value("csms_ocpp_handshakes_admitted_total") == 1
    assert got.value("csms_ocpp_handshakes_refused_total", reason="unauthorized") is None


async def test_not_found_without_a_metrics_registry(config: Config, store: MemoryStore) -> None:
    """`Services` built without `csms.metrics.Metrics` (the default `NoMetrics`) serve no /metrics."""
    plain = Services(config=config, store=store, writer=BatchedWriter(store))
    async with TestClient(TestServer(create_app(Domain(plain)))) as client:
        response = await client.get("/metrics")
        assert response.status == 404
