"""The HTTP solar meter (`[solar] meter_url`): read per site from a local fixture server; a site without a
meter (404) or a broken answer keeps the measurement it had; each reading re-balances its site."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest

from csms.domain.solar import SiteMeasurement
from csms.site_feeds.solar_meter import SolarMeter, parse_meter_json
from tests.fakes.memory_solar import MemorySolarStore
from tests.site_server import site_server
from tests.utils import MS

T0 = datetime(2026, 12, 4, 12, tzinfo=UTC)


@pytest.fixture
async def meter_url() -> AsyncIterator[tuple[str, dict[str, Any]]]:
    """A fixture server on 127.0.0.1 (`tests.site_server`)."""
    async with site_server("meter") as served:
        yield served


async def test_each_site_is_read_and_failures_keep_the_old_measurement(
    meter_url: tuple[str, dict[str, Any]],
) -> None:
    """LOC1 is read and re-balanced; LOC2 (404) and, later, a broken LOC1 answer change nothing."""
    url, answers = meter_url
    store = MemorySolarStore()
    reported: list[str] = []

    async def sites() -> list[tuple[str, str]]:
        return [("org-a", "LOC1"), ("org-a", "LOC2")]

    meter = SolarMeter(url, 3600, store, sites, reported.append, lambda: T0)
    with pytest.raises(RuntimeError):
        await meter.poll()
    answers["LOC1"] = {"production_w": 9000, "consumption_w": 2500}
    await meter.start()
    try:
        async with asyncio.timeout(5000 * MS):  # the first read runs at start, in the loop's task
            while not reported:  # noqa: ASYNC110 (waits for the loop's first read)
                await asyncio.sleep(0.01)
        assert store.measurements == {("org-a", "LOC1"): SiteMeasurement(9000, 2500, T0)}
        assert reported == ["LOC1"]
        answers["LOC1"] = "{not json"
        assert await meter.poll() == 0
        answers["LOC1"] = {"production_w": -5, "consumption_w": 0}
        assert await meter.poll() == 0
        assert store.measurements == {("org-a", "LOC1"): SiteMeasurement(9000, 2500, T0)}
        answers["LOC2"] = {"production_w": 100, "consumption_w": 50}
        answers["LOC1"] = {"production_w": 9500, "consumption_w": 3000}  # the same surplus
        assert await meter.poll() == 2
        assert store.measurements[("org-a", "LOC2")] == SiteMeasurement(100, 50, T0)
        assert store.measurements[("org-a", "LOC1")] == SiteMeasurement(9500, 3000, T0)
        assert reported == ["LOC1", "LOC2"]  # LOC1's unchanged surplus re-balances nothing
    finally:
        await meter.stop()


@pytest.mark.parametrize(
    "body",
    [
        [],
        {"production_w": 1},
        {"production_w": 1, "consumption_w": "2"},
        {"production_w": True, "consumption_w": 0},
    ],
)
def test_bad_meter_answers(body: object) -> None:
    """A meter answer that is not an object of two non-negative integers is refused."""
    with pytest.raises(ValueError):
        parse_meter_json(body, lambda: T0)


async def test_disabled_without_url() -> None:
    """Without `meter_url` nothing starts."""

    async def sites() -> list[tuple[str, str]]:
        raise AssertionError("never listed")

    meter = SolarMeter("", 10, MemorySolarStore(), sites, lambda _: None, lambda: T0)
    await meter.start()
    assert not meter.enabled
    await meter.stop()
