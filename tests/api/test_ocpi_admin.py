"""`/api/v1/ocpi/partners` and `/api/v1/ocpi/outbox`: what operators see of OCPI partners and pushes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from csms.api import create_app
from csms.domain.core import Domain
from ocpi import admin_api
from ocpi.models import ClientInfo, OutboxEntry, OutboxStatus, Partner, PartnerStatus
from tests.api.conftest import NOW, NOW_TEXT, ApiClient, error_of
from tests.api.openapi_check import OpenApiChecker
from tests.fakes.ocpi_memory_store import MemoryOcpiStore

TOKEN_B = "partner-token-b-for-calling-them"
TOKEN_A_HASH = "a" * 64
TOKEN_C_HASH = "c" * 64


@pytest.fixture
def ocpi_store() -> MemoryOcpiStore:
    """An empty in-memory OCPI store on the fixed clock."""
    return MemoryOcpiStore(clock=lambda: NOW)


@pytest.fixture
async def ocpi_client(domain: Domain, ocpi_store: MemoryOcpiStore) -> AsyncIterator[ApiClient]:
    """A client of the app with the OCPI routes and store; every response is checked against the OpenAPI
    document."""
    app: web.Application = create_app(domain, extra_routes=admin_api.ROUTES)
    admin_api.install(app, ocpi_store)
    failures: list[str] = []
    app.middlewares.append(OpenApiChecker.shared().middleware(failures))
    async with TestClient(TestServer(app)) as client:
        yield client
    assert not failures, "responses that do not match the OpenAPI document:\n" + "\n".join(failures)


@pytest.fixture
async def partners(ocpi_store: MemoryOcpiStore) -> list[Partner]:
    """Two partners: one registered with every token and endpoint, one pending with token A only."""
    registered = await ocpi_store.add_partner(
        Partner(
            id=0,
            name="Roaming eMSP",
            country_code="DE",
            party_id="EMS",
            status=PartnerStatus.REGISTERED,
            token_a_hash=None,
            token_c_hash=TOKEN_C_HASH,
            token_b=TOKEN_B,
            versions_url="https://emsp.example/ocpi/versions",
            version="2.2.1",
            endpoints={"sessions:RECEIVER": "https://emsp.example/ocpi/2.2.1/sessions"},
        )
    )
    pending = await ocpi_store.add_partner(
        Partner(id=0, name="Hub", country_code="NL", party_id="HUB", role="HUB", token_a_hash=TOKEN_A_HASH)
    )
    return [registered, pending]


def entry(partner_id: int, status: OutboxStatus, key: str = "session:1", **changes: object) -> OutboxEntry:
    """An outbox entry PUTting a session to `partner_id`."""
    created = OutboxEntry(
        id=0,
        partner_id=partner_id,
        module="sessions",
        object_key=key,
        method="PUT",
        url="https://emsp.example/ocpi/2.2.1/sessions/NL/CSM/1",
        body={"id": "1", "kwh": 1.5, "status": "ACTIVE"},
        status=status,
    )
    for name, value in changes.items():
        setattr(created, name, value)
    return created


async def test_partners_are_listed_without_tokens(
    ocpi_client: ApiClient, auth: dict[str, str], partners: list[Partner]
) -> None:
    """Partners list by id with their status and endpoints, and no token (issued or received) appears."""
    response = await ocpi_client.get("/api/v1/ocpi/partners", headers=auth)
    assert response.status == 200
    text = await response.text()
    for secret in (TOKEN_B, TOKEN_A_HASH, TOKEN_C_HASH, "token"):
        assert secret not in text
    page = await response.json()
    assert page["next_cursor"] is None
    assert page["items"] == [
        {
            "id": partners[0].id,
            "name": "Roaming eMSP",
            "country_code": "DE",
            "party_id": "EMS",
            "role": "EMSP",
            "status": "registered",
            "version": "2.2.1",
            "versions_url": "https://emsp.example/ocpi/versions",
            "endpoints": {"sessions:RECEIVER": "https://emsp.example/ocpi/2.2.1/sessions"},
            "created_at": NOW_TEXT,
            "updated_at": NOW_TEXT,
        },
        {
            "id": partners[1].id,
            "name": "Hub",
            "country_code": "NL",
            "party_id": "HUB",
            "role": "HUB",
            "status": "pending",
            "version": None,
            "versions_url": None,
            "endpoints": {},
            "created_at": NOW_TEXT,
            "updated_at": NOW_TEXT,
        },
    ]


async def test_partners_page(ocpi_client: ApiClient, auth: dict[str, str], partners: list[Partner]) -> None:
    """With `limit=1` the partners come one page each, linked by `next_cursor`; a bad cursor is 400."""
    first = await (await ocpi_client.get("/api/v1/ocpi/partners?limit=1", headers=auth)).json()
    assert [p["id"] for p in first["items"]] == [partners[0].id]
    assert first["next_cursor"] is not None
    second = await (
        await ocpi_client.get(f"/api/v1/ocpi/partners?limit=1&cursor={first['next_cursor']}", headers=auth)
    ).json()
    assert [p["id"] for p in second["items"]] == [partners[1].id]
    assert second["next_cursor"] is None
    response = await ocpi_client.get("/api/v1/ocpi/partners?cursor=zz", headers=auth)
    assert (await error_of(response, 400))["details"][0]["field"] == "cursor"


async def test_outbox_lists_newest_first_with_bodies(
    ocpi_client: ApiClient, auth: dict[str, str], partners: list[Partner], ocpi_store: MemoryOcpiStore
) -> None:
    """The outbox lists every push newest first, with its body, attempts and delivery times."""
    sent = await ocpi_store.add_outbox(entry(partners[0].id, OutboxStatus.SENT, sent_at=NOW))
    failed = await ocpi_store.add_outbox(
        entry(partners[0].id, OutboxStatus.FAILED, attempts=20, last_error="HTTP 503")
    )
    pending = await ocpi_store.add_outbox(
        entry(
            partners[1].id,
            OutboxStatus.PENDING,
            "cdr:7",
            attempts=2,
            next_attempt_at=NOW + timedelta(seconds=20),
        )
    )
    page = await (await ocpi_client.get("/api/v1/ocpi/outbox", headers=auth)).json()
    assert [e["id"] for e in page["items"]] == [pending.id, failed.id, sent.id]
    assert page["items"][0] == {
        "id": pending.id,
        "partner_id": partners[1].id,
        "module": "sessions",
        "object_key": "cdr:7",
        "method": "PUT",
        "url": "https://emsp.example/ocpi/2.2.1/sessions/NL/CSM/1",
        "body": {"id": "1", "kwh": 1.5, "status": "ACTIVE"},
        "status": "pending",
        "attempts": 2,
        "next_attempt_at": "2025-01-02T03:04:25.678Z",
        "last_error": None,
        "created_at": NOW_TEXT,
        "sent_at": None,
    }
    assert page["items"][1]["last_error"] == "HTTP 503"
    assert page["items"][2]["sent_at"] == NOW_TEXT


async def test_outbox_filters_and_pages(
    ocpi_client: ApiClient, auth: dict[str, str], partners: list[Partner], ocpi_store: MemoryOcpiStore
) -> None:
    """`status` and `partner_id` filter the outbox; `limit` and `cursor` page it; bad filters are 400."""
    ids = []
    for index in range(3):
        ids.append((await ocpi_store.add_outbox(entry(partners[0].id, OutboxStatus.FAILED, f"s:{index}"))).id)
    await ocpi_store.add_outbox(entry(partners[1].id, OutboxStatus.FAILED))
    await ocpi_store.add_outbox(entry(partners[0].id, OutboxStatus.PENDING))
    query = f"status=failed&partner_id={partners[0].id}&limit=2"
    first = await ocpi_client.get(f"/api/v1/ocpi/outbox?{query}", headers=auth)
    page = await first.json()
    assert [e["id"] for e in page["items"]] == [ids[2], ids[1]]
    assert page["next_cursor"] == "2"
    assert "cursor=2" in first.headers["Link"] and "status=failed" in first.headers["Link"]
    second = await (await ocpi_client.get(f"/api/v1/ocpi/outbox?{query}&cursor=2", headers=auth)).json()
    assert [e["id"] for e in second["items"]] == [ids[0]]
    assert second["next_cursor"] is None
    for bad, field in (("status=lost", "status"), ("partner_id=x", "partner_id"), ("cursor=-3", "cursor")):
        response = await ocpi_client.get(f"/api/v1/ocpi/outbox?{bad}", headers=auth)
        error = await error_of(response, 400)
        assert error["details"][0]["field"] == field


async def test_retry_makes_a_failed_push_pending(
    ocpi_client: ApiClient, auth: dict[str, str], partners: list[Partner], ocpi_store: MemoryOcpiStore
) -> None:
    """Retrying a failed push makes it pending with 0 attempts and due now, so the outbox sends it next."""
    failed = await ocpi_store.add_outbox(
        entry(partners[0].id, OutboxStatus.FAILED, attempts=20, next_attempt_at=NOW, last_error="timeout")
    )
    response = await ocpi_client.post(f"/api/v1/ocpi/outbox/{failed.id}/retry", headers=auth)
    assert response.status == 200, await response.text()
    got = await response.json()
    assert (got["status"], got["attempts"], got["next_attempt_at"]) == ("pending", 0, None)
    (due,) = await ocpi_store.due_outbox(NOW)
    assert (due.id, due.status, due.attempts) == (failed.id, OutboxStatus.PENDING, 0)


async def test_retry_of_a_push_that_did_not_fail(
    ocpi_client: ApiClient, auth: dict[str, str], partners: list[Partner], ocpi_store: MemoryOcpiStore
) -> None:
    """Only failed pushes are retried: a pending or sent one is 409, an unknown one 404, a bad id 400."""
    for status in (OutboxStatus.PENDING, OutboxStatus.SENT):
        stored = await ocpi_store.add_outbox(entry(partners[0].id, status))
        error = await error_of(
            await ocpi_client.post(f"/api/v1/ocpi/outbox/{stored.id}/retry", headers=auth), 409
        )
        assert error["code"] == "outbox_entry_not_failed"
        assert error["details"] == {"status": status.value}
    error = await error_of(await ocpi_client.post("/api/v1/ocpi/outbox/999/retry", headers=auth), 404)
    assert error["code"] == "not_found"
    error = await error_of(await ocpi_client.post("/api/v1/ocpi/outbox/x/retry", headers=auth), 400)
    assert error["details"][0]["field"] == "entry_id"


async def test_roles(
    ocpi_client: ApiClient,
    role_headers: dict[str, dict[str, str]],
    partners: list[Partner],
    ocpi_store: MemoryOcpiStore,
) -> None:
    """Viewers see partners and the outbox; only admins retry a push."""
    failed = await ocpi_store.add_outbox(entry(partners[0].id, OutboxStatus.FAILED))
    viewer = role_headers["viewer"]
    assert (await ocpi_client.get("/api/v1/ocpi/partners", headers=viewer)).status == 200
    assert (await ocpi_client.get("/api/v1/ocpi/outbox", headers=viewer)).status == 200
    for role in ("viewer", "member"):
        response = await ocpi_client.post(
            f"/api/v1/ocpi/outbox/{failed.id}/retry", headers=role_headers[role]
        )
        assert (await error_of(response, 403))["code"] == "forbidden"
    response = await ocpi_client.post(f"/api/v1/ocpi/outbox/{failed.id}/retry", headers=role_headers["admin"])
    assert response.status == 200
    assert (await ocpi_client.get("/api/v1/ocpi/partners")).status == 401


async def test_without_ocpi_store_the_endpoints_are_disabled(client: ApiClient, auth: dict[str, str]) -> None:
    """An app created without an OCPI store answers 503 `ocpi_disabled` on the partner and outbox routes."""
    for method, path in (
        ("GET", "/api/v1/ocpi/partners"),
        ("GET", "/api/v1/ocpi/outbox"),
        ("POST", "/api/v1/ocpi/outbox/1/retry"),
    ):
        response = await client.request(method, path, headers=auth)
        assert (await error_of(response, 503))["code"] == "ocpi_disabled"


async def test_client_infos_are_listed_by_party_and_paged(
    ocpi_client: ApiClient, auth: dict[str, str], ocpi_store: MemoryOcpiStore, partners: list[Partner]
) -> None:
    """`GET /ocpi/client-infos` lists what hubs told us (OCPI 2.2.1 HubClientInfo) by country code and party
    id, with the status and the hub's partner id, a page at a time."""
    assert partners[1].id == 2  # the hub: the caller's organization's (the default one), like its infos
    await ocpi_store.save_client_info(ClientInfo("NL", "EMS", "EMSP", "OFFLINE", partner_id=2))
    await ocpi_store.save_client_info(ClientInfo("DE", "CPO", "CPO", "CONNECTED", partner_id=2))
    response = await ocpi_client.get("/api/v1/ocpi/client-infos?limit=1", headers=auth)
    assert response.status == 200, await response.text()
    first = await response.json()
    assert first["items"] == [
        {
            "country_code": "DE",
            "party_id": "CPO",
            "role": "CPO",
            "status": "CONNECTED",
            "partner_id": 2,
            "last_updated": NOW_TEXT,
        }
    ]
    response = await ocpi_client.get(
        f"/api/v1/ocpi/client-infos?limit=1&cursor={first['next_cursor']}", headers=auth
    )
    second = await response.json()
    assert [(i["party_id"], i["status"]) for i in second["items"]] == [("EMS", "OFFLINE")]
    assert second["next_cursor"] is None
