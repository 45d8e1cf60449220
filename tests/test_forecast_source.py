"""The HTTP forecast source (`[energy] forecast_url`): fetched per site from a local fixture server; a site
the source does not know (404) or a broken answer keeps the forecast the site had."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from csms.config import EnergyConfig
from csms.domain.commands import CommandService, RegistryGateway
from csms.domain.energy.planner import EnergyPlanner
from csms.domain.events import EventBus
from csms.domain.registry import ConnectionRegistry
from csms.site_feeds.forecasts import ForecastSource
from tests.fakes.memory_store import MemoryStore
from tests.site_server import site_server

T0 = datetime(2026, 1, 1, tzinfo=UTC)
GOOD = {
    "currency": "EUR",
    "prices": [{"start": "2026-01-01T00:00:00Z", "end": "2026-01-01T01:00:00Z", "price_per_kwh": "0.21"}],
    "carbon_intensity": [
        {"start": "2026-01-01T00:00:00Z", "end": "2026-01-01T01:00:00Z", "g_co2_per_kwh": 90}
    ],
}


@pytest.fixture
async def source_url() -> AsyncIterator[tuple[str, dict[str, Any]]]:
    """A fixture server on 127.0.0.1 (`tests.site_server`)."""
    async with site_server("f") as served:
        yield served


async def test_each_site_is_fetched_and_failures_keep_the_old_forecast(
    source_url: tuple[str, dict[str, Any]],
) -> None:
    """LOC1 is fetched; LOC2 (404) and, later, a broken LOC1 answer change nothing."""
    url, answers = source_url
    planner = EnergyPlanner(
        EnergyConfig(forecast_url=url),
        CommandService(RegistryGateway(ConnectionRegistry(EventBus()))),
        lambda: T0,
        EventBus(),
        MemoryStore(),
    )

    async def sites() -> list[str]:
        return ["LOC1", "LOC2"]

    source = ForecastSource(planner, sites)
    answers["LOC1"] = GOOD
    await source.start()
    try:
        assert await source.refresh() == 1
        assert planner.forecast("LOC1").price_at(T0) == Decimal("0.21")
        assert planner.forecast("LOC1").carbon_at(T0) == 90
        assert planner.forecast("LOC2").prices == []
        answers["LOC1"] = '{"prices": [{"start": "x"}]}'
        assert await source.refresh() == 0
        assert planner.forecast("LOC1").price_at(T0) == Decimal("0.21")
    finally:
        await source.stop()


def test_no_url_no_source() -> None:
    """Without `forecast_url` the source is off."""
    planner = EnergyPlanner(
        EnergyConfig(),
        CommandService(RegistryGateway(ConnectionRegistry(EventBus()))),
        lambda: T0,
        EventBus(),
        MemoryStore(),
    )

    async def sites() -> list[str]:
        return []

    assert not ForecastSource(planner, sites).enabled
