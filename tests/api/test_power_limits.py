"""`GET|PUT /locations/{id}/power-limit`: a site's limit, stored per organization and location."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import time
from decimal import Decimal
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from csms.api import create_app
from csms.api.power_limits import SITE_LIMIT_STORE
from csms.domain.core import Domain
from csms.domain.smart_charging import LimitPeriod, SiteLimit
from ocpi import admin_api
from tests.api.conftest import NOW, ApiClient, error_of
from tests.api.openapi_check import OpenApiChecker
from tests.api.test_locations import location_body
from tests.fakes.memory_site_limits import MemorySiteLimitStore
from tests.fakes.ocpi_memory_store import MemoryOcpiStore

URL = "/api/v1/locations/LOC-1/power-limit"


@pytest.fixture
def limits() -> MemorySiteLimitStore:
    return MemorySiteLimitStore()


@pytest.fixture
async def client(domain: Domain, limits: MemorySiteLimitStore) -> AsyncIterator[ApiClient]:
    """The app with the OCPI routes and the site limit store; responses checked against the document."""
    app: web.Application = create_app(domain, extra_routes=admin_api.ROUTES)
    admin_api.install(app, MemoryOcpiStore(clock=lambda: NOW))
    app[SITE_LIMIT_STORE] = limits
    failures: list[str] = []
    app.middlewares.append(OpenApiChecker.shared().middleware(failures))
    async with TestClient(TestServer(app)) as test_client:
        yield test_client
    assert not failures, "\n".join(failures)


async def test_put_then_get(client: ApiClient, auth: dict[str, str], limits: MemorySiteLimitStore) -> None:
    """A PUT stores the limit (schedule in order) for the caller's organization; GET shows it; 404 before."""
    created = await client.post("/api/v1/locations", json=location_body(charge_point_ids=[]), headers=auth)
    assert created.status == 201, await created.text()
    assert (await error_of(await client.get(URL, headers=auth), 404))["code"] == "not_found"
    body: dict[str, Any] = {
        "max_power_w": 22000,
        "max_current_a": "32",
        "schedule": [{"start": "18:00", "max_power_w": 11000}, {"start": "07:00", "max_power_w": 22000}],
    }
    response = await client.put(URL, json=body, headers=auth)
    assert response.status == 200, await response.text()
    expected = {
        "location_id": "LOC-1",
        "max_power_w": 22000,
        "max_current_a": "32",
        "phases": 3,
        "min_current_a": "6",
        "schedule": [{"start": "07:00", "max_power_w": 22000}, {"start": "18:00", "max_power_w": 11000}],
    }
    assert await response.json() == expected
    assert await (await client.get(URL, headers=auth)).json() == expected
    assert limits.limits[("default", "LOC-1")] == SiteLimit(
        max_power_w=22000,
        max_current_a=Decimal(32),
        schedule=(LimitPeriod(time(7), 22000), LimitPeriod(time(18), 11000)),
    )


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"phases": 3},
        {"max_power_w": -1},
        {"max_power_w": 1000, "phases": 2},
        {"schedule": [{"start": "24:00", "max_power_w": 1}]},
        {"schedule": [{"start": "07:00", "max_power_w": 1}, {"start": "07:00", "max_power_w": 2}]},
        {"max_power_w": 1000, "surplus": True},
    ],
)
async def test_invalid_bodies(client: ApiClient, auth: dict[str, str], body: dict[str, Any]) -> None:
    """A body without any limit, with a bad value, or an unknown field is 400 `invalid_request`."""
    await client.post("/api/v1/locations", json=location_body(charge_point_ids=[]), headers=auth)
    assert (await error_of(await client.put(URL, json=body, headers=auth), 400))["code"] == "invalid_request"


async def test_unknown_location(client: ApiClient, auth: dict[str, str]) -> None:
    """An unknown location is 404 for GET and PUT."""
    assert (await error_of(await client.get(URL, headers=auth), 404))["code"] == "not_found"
    put = await client.put(URL, json={"max_power_w": 1000}, headers=auth)
    assert (await error_of(put, 404))["code"] == "not_found"
