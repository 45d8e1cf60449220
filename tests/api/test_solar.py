"""`POST|GET /locations/{id}/measurements` and `PUT|GET /sessions/{id}/solar-mode` (solar surplus)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from csms.api import create_app
from csms.api.solar import MEASUREMENT_REPORTED, SOLAR_MODE_CHANGED, SOLAR_STORE
from csms.domain.clock import isoformat_z
from csms.domain.core import Domain
from csms.domain.models import NewTransaction
from csms.domain.solar import SiteMeasurement, SolarMode
from ocpi import admin_api
from tests.api.conftest import NOW, ApiClient, error_of
from tests.api.openapi_check import OpenApiChecker
from tests.api.test_locations import location_body
from tests.fakes.memory_solar import MemorySolarStore
from tests.fakes.memory_store import MemoryStore
from tests.fakes.ocpi_memory_store import MemoryOcpiStore

URL = "/api/v1/locations/LOC-1/measurements"


@pytest.fixture
def solar() -> MemorySolarStore:
    return MemorySolarStore()


@pytest.fixture
def told() -> dict[str, list[object]]:
    """What the balancer hooks were told."""
    return {"sites": [], "sessions": []}


@pytest.fixture
async def client(
    domain: Domain, solar: MemorySolarStore, told: dict[str, list[object]]
) -> AsyncIterator[ApiClient]:
    """The app with the OCPI routes, the solar store and recording hooks; responses checked against the
    document."""
    app: web.Application = create_app(domain, extra_routes=admin_api.ROUTES)
    admin_api.install(app, MemoryOcpiStore(clock=lambda: NOW))
    app[SOLAR_STORE] = solar
    app[MEASUREMENT_REPORTED] = told["sites"].append
    app[SOLAR_MODE_CHANGED] = told["sessions"].append
    failures: list[str] = []
    app.middlewares.append(OpenApiChecker.shared().middleware(failures))
    async with TestClient(TestServer(app)) as test_client:
        yield test_client
    assert not failures, "\n".join(failures)


async def test_post_then_get_measurement(
    client: ApiClient, auth: dict[str, str], solar: MemorySolarStore, told: dict[str, list[object]]
) -> None:
    """A POST stores the site's latest measurement, shows its surplus and re-balances the site; GET shows
    it; 404 before any and for an unknown location."""
    created = await client.post("/api/v1/locations", json=location_body(charge_point_ids=[]), headers=auth)
    assert created.status == 201, await created.text()
    assert (await error_of(await client.get(URL, headers=auth), 404))["code"] == "not_found"
    body = {"production_w": 9000, "consumption_w": 2500, "measured_at": "2026-12-04T13:00:00+01:00"}
    response = await client.post(URL, json=body, headers=auth)
    assert response.status == 200, await response.text()
    expected = {
        "location_id": "LOC-1",
        "production_w": 9000,
        "consumption_w": 2500,
        "surplus_w": 6500,
        "measured_at": "2026-12-04T12:00:00.000Z",
    }
    assert await response.json() == expected
    assert await (await client.get(URL, headers=auth)).json() == expected
    assert solar.measurements[("default", "LOC-1")] == SiteMeasurement(
        9000, 2500, datetime(2026, 12, 4, 12, tzinfo=UTC)
    )
    assert told["sites"] == ["LOC-1"]
    later = await client.post(URL, json={"production_w": 1000, "consumption_w": 2500}, headers=auth)
    assert (await later.json())["surplus_w"] == 0  # never negative; measured now by default
    assert (await later.json())["measured_at"] == isoformat_z(NOW)
    unknown = await client.post("/api/v1/locations/NOPE/measurements", json=body, headers=auth)
    assert (await error_of(unknown, 404))["code"] == "not_found"


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"production_w": 1000},
        {"production_w": -1, "consumption_w": 0},
        {"production_w": 1000, "consumption_w": 0, "measured_at": "2026-12-04T12:00:00"},  # no offset
        {"production_w": 1000, "consumption_w": 0, "extra": 1},
    ],
)
async def test_bad_measurement_is_400(
    client: ApiClient, auth: dict[str, str], body: dict[str, object]
) -> None:
    """Missing or negative powers, a time without offset and unknown fields are `invalid_request`."""
    created = await client.post("/api/v1/locations", json=location_body(charge_point_ids=[]), headers=auth)
    assert created.status == 201
    assert (await error_of(await client.post(URL, json=body, headers=auth), 400))["code"] == "invalid_request"


async def test_solar_mode(
    client: ApiClient,
    auth: dict[str, str],
    store: MemoryStore,
    solar: MemorySolarStore,
    told: dict[str, list[object]],
) -> None:
    """A session's mode is `none` until set; a PUT stores it and re-balances; bad modes are 400; an
    unknown session is 404."""
    tx = await store.add_transaction(
        NewTransaction("CP-1", evse_id=1, connector_id=1, started_at=NOW, id_token="T", meter_start_wh=0)
    )
    url = f"/api/v1/sessions/{tx.id}/solar-mode"
    assert await (await client.get(url, headers=auth)).json() == {"session_id": tx.id, "mode": "none"}
    response = await client.put(url, json={"mode": "solar_only"}, headers=auth)
    assert response.status == 200, await response.text()
    assert await response.json() == {"session_id": tx.id, "mode": "solar_only"}
    assert solar.modes[tx.id] == SolarMode.SOLAR_ONLY and told["sessions"] == [tx.id]
    assert await (await client.get(url, headers=auth)).json() == {"session_id": tx.id, "mode": "solar_only"}
    bad = await client.put(url, json={"mode": "sunny"}, headers=auth)
    assert (await error_of(bad, 400))["code"] == "invalid_request"
    missing = await client.put("/api/v1/sessions/999/solar-mode", json={"mode": "none"}, headers=auth)
    assert (await error_of(missing, 404))["code"] == "not_found"
