"""The OCPI 2.2.1 HubClientInfo receiver (`ocpi.hubclientinfo`) over HTTP: a hub PUTs and GETs ClientInfo of
the parties it connects; we store it, on every OCPI store backend, and advertise the module."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from csms.config import Config
from csms.domain.core import Domain
from csms.domain.services import Services
from csms.store.writer import BatchedWriter
from ocpi import hubclientinfo, versions
from ocpi.context import OCPI, OcpiContext
from ocpi.models import ClientInfo, Partner, PartnerStatus
from ocpi.store import OcpiStore
from ocpi.transport import auth_middleware, encode_token, error_middleware, hash_token, parse_ocpi_datetime
from tests.fakes.memory_store import MemoryStore
from tests.ocpi.schemas import assert_valid

HUB_TOKEN_C = "token-c-of-the-hub"
EMSP_TOKEN_C = "token-c-of-an-emsp"

Client = TestClient[web.Request, web.Application]


def client_info(**fields: Any) -> dict[str, Any]:
    """A valid ClientInfo of NL/EMS, an eMSP connected through the hub (fields override)."""
    return {
        "party_id": "EMS",
        "country_code": "NL",
        "role": "EMSP",
        "status": "CONNECTED",
        "last_updated": "2025-01-01T10:00:00Z",
        **fields,
    }


@pytest.fixture
async def hub(ocpi_store: OcpiStore) -> Partner:
    """A registered hub (its credentials role HUB) and a registered eMSP."""
    await ocpi_store.add_partner(
        Partner(
            id=0,
            name="eMSP",
            country_code="DE",
            party_id="EMP",
            status=PartnerStatus.REGISTERED,
            token_c_hash=hash_token(EMSP_TOKEN_C),
            token_b="b2",
            role="EMSP",
        )
    )
    return await ocpi_store.add_partner(
        Partner(
            id=0,
            name="Hub",
            country_code="DE",
            party_id="HUB",
            status=PartnerStatus.REGISTERED,
            token_c_hash=hash_token(HUB_TOKEN_C),
            token_b="b",
            role="HUB",
            roles=[
                {"role": "HUB", "business_details": {"name": "Hub"}, "country_code": "DE", "party_id": "HUB"}
            ],
        )
    )


@pytest.fixture
async def client(ocpi_store: OcpiStore, hub: Partner) -> AsyncIterator[Client]:
    """An HTTP client on the OCPI sub-application with the HubClientInfo and versions modules; it calls as
    the hub unless a request sets its own Authorization header."""
    store = MemoryStore()
    writer = BatchedWriter(store, max_items=1000, interval=60.0)
    domain = Domain(Services(config=Config(), store=store, writer=writer))
    ctx = OcpiContext(domain=domain, store=ocpi_store, config=Config().ocpi, base_url="http://127.0.0.1")
    sub = web.Application(middlewares=[error_middleware, auth_middleware(ocpi_store)])
    sub[OCPI] = ctx
    hubclientinfo.register(sub)
    versions.register(sub)
    root = web.Application()
    root.add_subapp("/ocpi", sub)
    async with TestClient(TestServer(root), headers={"Authorization": encode_token(HUB_TOKEN_C)}) as client:
        yield client


async def call(client: Client, method: str, path: str, body: Any = None, **kwargs: Any) -> tuple[int, Any]:
    """Request /ocpi/2.2.1/hubclientinfo/<path>; returns (HTTP status, envelope)."""
    resp = await client.request(method, f"/ocpi/2.2.1/hubclientinfo/{path}", json=body, **kwargs)
    return resp.status, await resp.json()


async def test_put_stores_and_get_answers_the_client_info(
    client: Client, ocpi_store: OcpiStore, hub: Partner
) -> None:
    """A first PUT answers 201 and stores the ClientInfo with the hub that sent it; a second replaces it
    (200); GET answers it as a valid ClientInfo."""
    status, answer = await call(client, "PUT", "NL/EMS", client_info())
    assert (status, answer["status_code"]) == (201, 1000)
    offline = client_info(status="OFFLINE", last_updated="2025-01-01T11:00:00Z")
    status, answer = await call(client, "PUT", "nl/ems", offline)
    assert (status, answer["status_code"]) == (200, 1000)
    assert await ocpi_store.get_client_info("NL", "EMS") == ClientInfo(
        "NL",
        "EMS",
        "EMSP",
        "OFFLINE",
        partner_id=hub.id,
        last_updated=parse_ocpi_datetime("2025-01-01T11:00:00Z"),
    )
    status, answer = await call(client, "GET", "NL/EMS")
    assert (status, answer["status_code"]) == (200, 1000)
    assert answer["data"] == offline
    assert_valid("ClientInfo", answer["data"])


async def test_get_of_an_unknown_party_is_404(client: Client) -> None:
    """GET of a party we have no ClientInfo of is HTTP 404 with status 2000."""
    status, answer = await call(client, "GET", "NL/XXX")
    assert (status, answer["status_code"]) == (404, 2000)


@pytest.mark.parametrize(
    ("path", "body", "reason"),
    [
        ("NL/EMS", client_info(status="ONLINE"), "status"),
        ("NL/EMS", client_info(role="DRIVER"), "role"),
        ("NL/EMS", client_info(last_updated="yesterday"), "last_updated"),
        ("NL/EMS", {k: v for k, v in client_info().items() if k != "role"}, "role"),
        ("NL/OTH", client_info(), "differ"),
        ("NLD/EMS", client_info(), "country_code"),
    ],
)
async def test_invalid_client_info_is_2001(
    client: Client, ocpi_store: OcpiStore, path: str, body: dict[str, Any], reason: str
) -> None:
    """An invalid ClientInfo, or one naming another party than the URL, is answered HTTP 200 / 2001 naming
    the problem, and nothing is stored."""
    status, answer = await call(client, "PUT", path, body)
    assert (status, answer["status_code"]) == (200, 2001)
    assert reason in answer["status_message"]
    assert await ocpi_store.list_client_infos() == []


async def test_only_a_hub_sends_client_info(client: Client, ocpi_store: OcpiStore) -> None:
    """A partner that is not a hub is answered 2000 and nothing is stored."""
    headers = {"Authorization": encode_token(EMSP_TOKEN_C)}
    status, answer = await call(client, "PUT", "NL/EMS", client_info(), headers=headers)
    assert (status, answer["status_code"]) == (200, 2000)
    assert await ocpi_store.list_client_infos() == []


async def test_version_details_advertise_the_receiver(client: Client) -> None:
    """Our 2.2.1 version details list hubclientinfo as a RECEIVER endpoint at its URL."""
    resp = await client.get("/ocpi/2.2.1")
    details = (await resp.json())["data"]
    [entry] = [e for e in details["endpoints"] if e["identifier"] == "hubclientinfo"]
    assert entry["role"] == "RECEIVER" and entry["url"].endswith("/ocpi/2.2.1/hubclientinfo")
