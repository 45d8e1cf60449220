"""What operators change through `/api/v1/locations`, connector specs and `/api/v1/tariffs` is pushed to the
partners' receiver endpoints through the outbox (ocpi/publish.py; OCPI 2.2.1 Locations and Tariffs,
receiver interfaces)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from structlog.testing import capture_logs

from csms.api import create_app
from csms.domain.core import Domain
from csms.domain.models import ChargePoint, ConnectorStatus, StatusChange
from csms.store.writer import BatchedWriter
from ocpi import admin_api
from ocpi.client import PartnerClient
from ocpi.context import OcpiContext
from ocpi.models import OutboxEntry, Partner, PartnerStatus
from ocpi.push import Outbox
from tests.api.conftest import NOW, ApiClient
from tests.api.openapi_check import OpenApiChecker
from tests.api.test_locations import location_body
from tests.api.test_tariffs import tariff_body
from tests.fakes.memory_store import MemoryStore
from tests.fakes.ocpi_memory_store import MemoryOcpiStore
from tests.ocpi.schemas import assert_valid, assert_valid_patch
from tests.ocpi.test_push import FakePartner, fake_partner  # noqa: F401 - the fixture
from tests.utils import MS

LOCATIONS = "/ocpi/2.2.1/locations/NL/CSM"
TARIFFS = "/ocpi/2.2.1/tariffs/NL/CSM"
OCPI_NOW = "2025-01-02T03:04:05Z"  # NOW as OCPI writes it (whole seconds)


@pytest.fixture
async def ctx(domain: Domain) -> AsyncIterator[OcpiContext]:
    """A bridge context on an in-memory OCPI store at `NOW`, with an outbox the tests drain by hand."""
    async with aiohttp.ClientSession() as session:
        config = domain.config.ocpi
        ctx = OcpiContext(
            domain=domain,
            store=MemoryOcpiStore(clock=lambda: NOW),
            config=config,
            base_url="http://127.0.0.1:1",
            client=PartnerClient(session, config, timeout=2000 * MS),
            clock=lambda: NOW,
        )
        ctx.outbox = Outbox(ctx)
        yield ctx


@pytest.fixture
async def api(domain: Domain, ctx: OcpiContext) -> AsyncIterator[ApiClient]:
    """The REST API with the OCPI routes and the bridge's context; responses checked against OpenAPI."""
    app: web.Application = create_app(domain, extra_routes=admin_api.ROUTES)
    admin_api.install(app, ctx.store, ctx)
    failures: list[str] = []
    app.middlewares.append(OpenApiChecker.shared().middleware(failures))
    async with TestClient(TestServer(app)) as client:
        yield client
    assert not failures, "\n".join(failures)


@pytest.fixture
async def stations(store: MemoryStore, writer: BatchedWriter) -> None:
    """CP-1 (EVSEs 1 and 2) and CP-2 (EVSE 1), registered, their connectors reported Available."""
    for charge_point_id, evses in (("CP-1", 2), ("CP-2", 1)):
        await store.add_charge_point(ChargePoint(charge_point_id, ocpp_version="1.6", created_at=NOW))
        for evse_id in range(1, evses + 1):
            writer.put(StatusChange(charge_point_id, evse_id, 1, ConnectorStatus.AVAILABLE, NOW))
    await writer.sync()


async def add_partner(
    ctx: OcpiContext, url: str, *, party_id: str = "EMS", modules: str = "locations tariffs"
) -> Partner:
    """A REGISTERED partner with a RECEIVER endpoint below `url` for each of `modules`."""
    return await ctx.store.add_partner(
        Partner(
            id=0,
            name=f"eMSP {party_id}",
            country_code="NL",
            party_id=party_id,
            status=PartnerStatus.REGISTERED,
            token_b=f"token-b-{party_id}",
            endpoints={f"{module}:RECEIVER": f"{url}/{module}" for module in modules.split()},
        )
    )


async def delivered(ctx: OcpiContext, partner: FakePartner, count: int) -> list[tuple[str, str, Any]]:
    """Deliver what is due and return the pushes `partner` received (waiting for `count` of them)."""
    assert isinstance(ctx.outbox, Outbox)
    while await ctx.outbox.deliver_due():
        pass
    await partner.wait_for(count)
    return partner.requests


async def outbox(ctx: OcpiContext) -> list[OutboxEntry]:
    return sorted(await ctx.store.list_outbox(limit=1000), key=lambda e: e.id)


async def evse_uid(ctx: OcpiContext, charge_point_id: str, evse_id: int) -> str:
    return (await ctx.store.evse_uid(charge_point_id, evse_id)).uid


async def create_location(api: ApiClient, auth: dict[str, str], **changes: Any) -> None:
    response = await api.post("/api/v1/locations", json=location_body(**changes), headers=auth)
    assert response.status == 201, await response.text()


async def test_created_location_is_put_whole(
    api: ApiClient, auth: dict[str, str], ctx: OcpiContext, stations: None, fake_partner: FakePartner
) -> None:
    """A published location created by an operator is PUT whole, with its EVSEs, to every partner with a
    locations receiver (and to no other partner)."""
    await add_partner(ctx, fake_partner.url)
    await add_partner(ctx, fake_partner.url, party_id="SES", modules="sessions")
    await create_location(api, auth)
    [(method, path, body)] = await delivered(ctx, fake_partner, 1)
    assert (method, path) == ("PUT", f"{LOCATIONS}/LOC-1")
    assert_valid("Location", body)
    assert body["id"] == "LOC-1" and body["name"] == "Gent Zuid"
    assert sorted(evse["uid"] for evse in body["evses"]) == sorted(
        [await evse_uid(ctx, "CP-1", 1), await evse_uid(ctx, "CP-1", 2), await evse_uid(ctx, "CP-2", 1)]
    )


async def test_charge_point_leaving_removes_its_evses(
    api: ApiClient, auth: dict[str, str], ctx: OcpiContext, stations: None, fake_partner: FakePartner
) -> None:
    """A replaced location is PUT again without the EVSEs of a charge point that left it, and each of those
    EVSEs is PUT with status REMOVED (OCPI 2.2.1 Locations has no DELETE)."""
    await add_partner(ctx, fake_partner.url)
    await create_location(api, auth)
    body = location_body(charge_point_ids=["CP-1"], name="Gent Noord")
    response = await api.put("/api/v1/locations/LOC-1", json=body, headers=auth)
    assert response.status == 200, await response.text()
    requests = await delivered(ctx, fake_partner, 3)
    removed_uid = await evse_uid(ctx, "CP-2", 1)
    [(_, _, location)] = [r for r in requests[1:] if r[1] == f"{LOCATIONS}/LOC-1"]
    assert location["name"] == "Gent Noord"
    assert removed_uid not in {evse["uid"] for evse in location["evses"]}
    [(method, _, evse)] = [r for r in requests if r[1] == f"{LOCATIONS}/LOC-1/{removed_uid}"]
    assert method == "PUT"
    assert (evse["uid"], evse["status"], evse["last_updated"]) == (removed_uid, "REMOVED", OCPI_NOW)
    assert_valid("EVSE", evse)


async def test_deleted_location_removes_every_evse(
    api: ApiClient, auth: dict[str, str], ctx: OcpiContext, stations: None, fake_partner: FakePartner
) -> None:
    """Deleting a published location PUTs each of its EVSEs with status REMOVED; nothing else."""
    await add_partner(ctx, fake_partner.url)
    await create_location(api, auth, charge_point_ids=["CP-1"])
    response = await api.delete("/api/v1/locations/LOC-1", headers=auth)
    assert response.status == 204
    requests = (await delivered(ctx, fake_partner, 3))[1:]
    uids = [await evse_uid(ctx, "CP-1", 1), await evse_uid(ctx, "CP-1", 2)]
    assert sorted(path for _, path, _ in requests) == sorted(f"{LOCATIONS}/LOC-1/{uid}" for uid in uids)
    for method, _, evse in requests:
        assert (method, evse["status"]) == ("PUT", "REMOVED")
        assert_valid("EVSE", evse)


async def test_unpublished_location_is_pushed_only_when_it_stops_being_published(
    api: ApiClient, auth: dict[str, str], ctx: OcpiContext, stations: None, fake_partner: FakePartner
) -> None:
    """An unpublished location is not pushed; once published it is PUT; unpublished again, partners get a
    PATCH `publish: false` (OCPI 2.2.1 Location.publish), then nothing while it stays unpublished."""
    await add_partner(ctx, fake_partner.url)
    await create_location(api, auth, publish=False)
    assert await outbox(ctx) == []
    for publish in (True, False, False):
        response = await api.put("/api/v1/locations/LOC-1", json=location_body(publish=publish), headers=auth)
        assert response.status == 200, await response.text()
    requests = await delivered(ctx, fake_partner, 2)
    assert [(method, path) for method, path, _ in requests] == [
        ("PUT", f"{LOCATIONS}/LOC-1"),
        ("PATCH", f"{LOCATIONS}/LOC-1"),
    ]
    assert requests[1][2] == {"publish": False, "last_updated": OCPI_NOW}
    assert_valid_patch("Location", requests[1][2])
    assert len(await outbox(ctx)) == 2


SPEC = {
    "standard": "IEC_62196_T2_COMBO",
    "format": "CABLE",
    "power_type": "DC",
    "max_voltage": 920,
    "max_amperage": 200,
    "max_electric_power": 150000,
}


async def test_connector_spec_pushes_the_connector_or_the_new_evse(
    api: ApiClient, auth: dict[str, str], ctx: OcpiContext, stations: None, fake_partner: FakePartner
) -> None:
    """A spec set on a connector of an EVSE partners have is a Connector PUT; on an EVSE the station never
    reported (new to partners), the whole EVSE is PUT."""
    await add_partner(ctx, fake_partner.url)
    await create_location(api, auth, charge_point_ids=["CP-1"])
    for evse_id in (1, 3):
        path = f"/api/v1/charge-points/CP-1/connectors/{evse_id}/1/spec"
        response = await api.put(path, json=SPEC, headers=auth)
        assert response.status == 200, await response.text()
    requests = (await delivered(ctx, fake_partner, 3))[1:]
    uid1, uid3 = await evse_uid(ctx, "CP-1", 1), await evse_uid(ctx, "CP-1", 3)
    by_path = {path: (method, body) for method, path, body in requests}
    method, connector = by_path[f"{LOCATIONS}/LOC-1/{uid1}/1"]
    assert method == "PUT"
    assert_valid("Connector", connector)
    assert (connector["id"], connector["standard"], connector["max_electric_power"]) == (
        "1",
        "IEC_62196_T2_COMBO",
        150000,
    )
    method, evse = by_path[f"{LOCATIONS}/LOC-1/{uid3}"]
    assert method == "PUT"
    assert_valid("EVSE", evse)
    assert evse["connectors"][0]["power_type"] == "DC"


async def test_connector_spec_outside_a_published_location_is_not_pushed(
    api: ApiClient, auth: dict[str, str], ctx: OcpiContext, stations: None, fake_partner: FakePartner
) -> None:
    """A spec of a charge point in no location, or in an unpublished one, queues nothing."""
    await add_partner(ctx, fake_partner.url)
    await create_location(api, auth, charge_point_ids=["CP-2"], publish=False)
    for charge_point_id in ("CP-1", "CP-2"):
        path = f"/api/v1/charge-points/{charge_point_id}/connectors/1/1/spec"
        response = await api.put(path, json=SPEC, headers=auth)
        assert response.status == 200, await response.text()
    assert await outbox(ctx) == []


async def test_tariff_changes_are_put_and_deleted(
    api: ApiClient, auth: dict[str, str], ctx: OcpiContext, fake_partner: FakePartner
) -> None:
    """A tariff created or replaced is PUT whole to the tariffs receivers, a deleted one DELETEd (OCPI 2.2.1
    Tariffs receiver: PUT and DELETE, no PATCH), in that order."""
    await add_partner(ctx, fake_partner.url)
    response = await api.post("/api/v1/tariffs", json=tariff_body(), headers=auth)
    assert response.status == 201, await response.text()
    replaced = tariff_body(currency="CHF")
    response = await api.put("/api/v1/tariffs/T-1", json=replaced, headers=auth)
    assert response.status == 200, await response.text()
    response = await api.delete("/api/v1/tariffs/T-1", headers=auth)
    assert response.status == 204
    requests = await delivered(ctx, fake_partner, 3)
    assert [(method, path) for method, path, _ in requests] == [
        ("PUT", f"{TARIFFS}/T-1"),
        ("PUT", f"{TARIFFS}/T-1"),
        ("DELETE", f"{TARIFFS}/T-1"),
    ]
    for _, _, body in requests[:2]:
        assert_valid("Tariff", body)
    assert [requests[0][2]["currency"], requests[1][2]["currency"], requests[2][2]] == ["EUR", "CHF", None]
    assert requests[0][2]["elements"][0]["price_components"][0] == {
        "type": "FLAT",
        "price": 0.5,
        "vat": 20,
        "step_size": 1,
    }


async def test_a_push_that_cannot_be_queued_leaves_the_change_stored(
    api: ApiClient,
    auth: dict[str, str],
    ctx: OcpiContext,
    fake_partner: FakePartner,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """When queueing the push fails, the operator's change is still stored and answered, and the failure is
    logged (`ocpi_publish_failed`)."""
    await add_partner(ctx, fake_partner.url)

    async def broken(entry: OutboxEntry) -> OutboxEntry:
        raise RuntimeError("outbox down")

    monkeypatch.setattr(ctx.store, "add_outbox", broken)
    with capture_logs() as logs:
        response = await api.post("/api/v1/tariffs", json=tariff_body(), headers=auth)
    assert response.status == 201, await response.text()
    assert await ctx.store.get_tariff("T-1") is not None
    [failed] = [line for line in logs if line["event"] == "ocpi_publish_failed"]
    assert (failed["what"], failed["tariff_id"], failed["log_level"]) == ("tariff", "T-1", "error")


async def test_pushes_reach_only_the_objects_organization(
    api: ApiClient, auth: dict[str, str], ctx: OcpiContext, stations: None
) -> None:
    """A location or tariff the default organization creates is queued for its own partners only, never
    for a partner of another organization (ADR 0012)."""
    own = await add_partner(ctx, "https://own.example", party_id="OWN")
    other = await add_partner(ctx, "https://other.example", party_id="OTH")
    other.org_id = "org-b"
    await ctx.store.save_partner(other)
    await create_location(api, auth, charge_point_ids=["CP-1"])
    response = await api.post("/api/v1/tariffs", json=tariff_body(), headers=auth)
    assert response.status == 201, await response.text()
    queued = await outbox(ctx)
    assert queued and {entry.partner_id for entry in queued} == {own.id}
    assert {entry.module for entry in queued} == {"locations", "tariffs"}
