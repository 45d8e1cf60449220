"""The OCPI 2.2.1 Tokens receiver (`ocpi.tokens`) over HTTP: PUT, PATCH and GET of a partner's tokens,
validation, and the rule that a partner only writes its own parties' tokens — on every OCPI store backend."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from structlog.testing import capture_logs

from csms.config import Config
from csms.domain.core import Domain
from csms.domain.services import Services
from csms.store.writer import BatchedWriter
from ocpi import tokens
from ocpi.context import OCPI, OcpiContext
from ocpi.models import Partner, PartnerStatus
from ocpi.store import OcpiStore
from ocpi.transport import auth_middleware, encode_token, error_middleware, hash_token
from tests.fakes.memory_store import MemoryStore
from tests.ocpi.schemas import assert_valid

EXAMPLES = Path("/work/shared/ocpi-examples")
TOKEN_C = "token-c-of-the-emsp"
OTHER_TOKEN_C = "token-c-of-another-emsp"

Client = TestClient[web.Request, web.Application]


def example(name: str) -> dict[str, Any]:
    """An official OCPI 2.2.1 JSON example."""
    data: dict[str, Any] = json.loads((EXAMPLES / name).read_text())
    return data


def token(uid: str = "CARD1", **fields: Any) -> dict[str, Any]:
    """A valid Token of party DE/EMS (fields override)."""
    body: dict[str, Any] = {
        "country_code": "DE",
        "party_id": "EMS",
        "uid": uid,
        "type": "RFID",
        "contract_id": "DE8EMS000001",
        "visual_number": "EMS-0001",
        "issuer": "Test eMSP",
        "group_id": "GROUP1",
        "valid": True,
        "whitelist": "ALWAYS",
        "last_updated": "2025-01-01T10:00:00Z",
    }
    body.update(fields)
    return body


@pytest.fixture
async def partner(ocpi_store: OcpiStore) -> Partner:
    """A registered eMSP, DE/EMS, that also speaks for NL/TNM (a second CredentialsRole)."""
    return await ocpi_store.add_partner(
        Partner(
            id=0,
            name="eMSP",
            country_code="DE",
            party_id="EMS",
            status=PartnerStatus.REGISTERED,
            token_c_hash=hash_token(TOKEN_C),
            token_b="b",
            roles=[
                {
                    "role": "EMSP",
                    "business_details": {"name": "EMS"},
                    "country_code": "DE",
                    "party_id": "EMS",
                },
                {
                    "role": "EMSP",
                    "business_details": {"name": "TNM"},
                    "country_code": "NL",
                    "party_id": "TNM",
                },
            ],
        )
    )


@pytest.fixture
async def other(ocpi_store: OcpiStore) -> Partner:
    """Another registered eMSP, FR/OTH."""
    return await ocpi_store.add_partner(
        Partner(
            id=0,
            name="other",
            country_code="FR",
            party_id="OTH",
            status=PartnerStatus.REGISTERED,
            token_c_hash=hash_token(OTHER_TOKEN_C),
            token_b="b2",
        )
    )


@pytest.fixture
async def client(ocpi_store: OcpiStore, partner: Partner, other: Partner) -> AsyncIterator[Client]:
    """An HTTP client on the OCPI sub-application with the tokens module (on a free loopback port); it
    calls as `partner` unless a request sets its own Authorization header."""
    store = MemoryStore()
    writer = BatchedWriter(store, max_items=1000, interval=60.0)
    domain = Domain(Services(config=Config(), store=store, writer=writer))
    ctx = OcpiContext(domain=domain, store=ocpi_store, config=Config().ocpi, base_url="http://127.0.0.1")
    sub = web.Application(middlewares=[error_middleware, auth_middleware(ocpi_store)])
    sub[OCPI] = ctx
    tokens.register(sub)
    root = web.Application()
    root.add_subapp("/ocpi", sub)
    async with TestClient(TestServer(root), headers={"Authorization": encode_token(TOKEN_C)}) as client:
        yield client


async def call(
    client: Client, method: str, path: str, body: Any = None, **kwargs: Any
) -> tuple[int, dict[str, Any]]:
    """Request /ocpi/2.2.1/tokens/<path>; returns (HTTP status, envelope)."""
    resp = await client.request(method, f"/ocpi/2.2.1/tokens/{path}", json=body, **kwargs)
    return resp.status, await resp.json()


# -- PUT / GET -----------------------------------------------------------------------------------------


async def test_put_creates_then_get_returns_the_token(
    client: Client, ocpi_store: OcpiStore, partner: Partner
) -> None:
    """A first PUT answers 201 and stores the token for the calling partner; GET returns it as sent."""
    body = token()
    status, answer = await call(client, "PUT", "DE/EMS/CARD1", body)
    assert status == 201 and answer["status_code"] == 1000
    assert "data" not in answer
    stored = await ocpi_store.get_partner_token("DE", "EMS", "CARD1")
    assert stored is not None and stored.partner_id == partner.id
    assert (stored.whitelist, stored.valid, stored.group_id) == ("ALWAYS", True, "GROUP1")
    status, answer = await call(client, "GET", "DE/EMS/CARD1")
    assert status == 200 and answer["status_code"] == 1000
    assert answer["data"] == body
    assert_valid("Token", answer["data"])


async def test_second_put_replaces_the_token(client: Client) -> None:
    """A PUT of an existing token answers 200 and replaces it entirely (omitted optional fields are gone)."""
    await call(client, "PUT", "DE/EMS/CARD1", token())
    replacement = token(whitelist="NEVER", last_updated="2025-01-02T10:00:00Z")
    del replacement["group_id"], replacement["visual_number"]
    status, answer = await call(client, "PUT", "DE/EMS/CARD1", replacement)
    assert status == 200 and answer["status_code"] == 1000
    _, answer = await call(client, "GET", "DE/EMS/CARD1")
    assert answer["data"] == replacement


@pytest.mark.parametrize(
    ("name", "path"),
    [
        ("token_put_example.json", "NL/TNM/012345678"),
        ("token_example_2_full_rfid.json", None),
        ("token_example_1_app_user.json", None),
    ],
)
async def test_official_examples_are_accepted(
    client: Client, ocpi_store: OcpiStore, name: str, path: str | None
) -> None:
    """The spec's Token examples are stored and returned unchanged, once the partner speaks for their party
    (NL/TNM through a CredentialsRole; DE/TNM added as a role here)."""
    body = example(name)
    if body["party_id"] == "TNM" and body["country_code"] == "DE":
        partner = await ocpi_store.find_partner_by_token_hash(hash_token(TOKEN_C))
        assert partner is not None
        partner.roles.append(
            {"role": "EMSP", "business_details": {"name": "x"}, "country_code": "DE", "party_id": "TNM"}
        )
        await ocpi_store.save_partner(partner)
    where = path or f"{body['country_code']}/{body['party_id']}/{body['uid']}"
    status, answer = await call(client, "PUT", where, body, params={"type": body["type"]})
    assert status == 201, answer
    status, answer = await call(client, "GET", where, params={"type": body["type"]})
    assert status == 200 and answer["data"] == body
    assert_valid("Token", answer["data"])


async def test_type_selects_the_token(client: Client) -> None:
    """Tokens are addressed by uid and type: without ?type= a GET looks for the RFID token (the default)."""
    await call(client, "PUT", "DE/EMS/APP1", token("APP1", type="APP_USER"), params={"type": "APP_USER"})
    status, answer = await call(client, "GET", "DE/EMS/APP1")
    assert status == 404 and answer["status_code"] == 2004
    status, answer = await call(client, "GET", "DE/EMS/APP1", params={"type": "APP_USER"})
    assert status == 200 and answer["data"]["type"] == "APP_USER"


async def test_put_without_type_parameter_takes_the_body_type(client: Client) -> None:
    """A PUT without ?type= stores the token under the body's type (lenient on what partners send)."""
    status, _ = await call(client, "PUT", "DE/EMS/APP2", token("APP2", type="APP_USER"))
    assert status == 201
    status, answer = await call(client, "GET", "DE/EMS/APP2", params={"type": "APP_USER"})
    assert status == 200 and answer["data"]["uid"] == "APP2"


async def test_country_code_and_party_id_are_case_insensitive(client: Client) -> None:
    """OCPI CiStrings: a URL in lower case addresses the partner's own party."""
    status, answer = await call(client, "PUT", "de/ems/CARD9", token("CARD9"))
    assert status == 201, answer


async def test_unknown_fields_are_not_kept(client: Client) -> None:
    """Fields the Token does not define are dropped, so GET returns a valid Token."""
    await call(client, "PUT", "DE/EMS/CARD1", token(nickname="Bob"))
    _, answer = await call(client, "GET", "DE/EMS/CARD1")
    assert "nickname" not in answer["data"]
    assert_valid("Token", answer["data"])


# -- PATCH ---------------------------------------------------------------------------------------------------


async def test_patch_merges_fields(client: Client, ocpi_store: OcpiStore) -> None:
    """The spec's PATCH example (valid=false + last_updated) changes only those fields."""
    await call(client, "PUT", "DE/EMS/CARD1", token())
    patch = example("token_patch_example.json")
    status, answer = await call(client, "PATCH", "DE/EMS/CARD1", patch)
    assert status == 200 and answer["status_code"] == 1000
    _, answer = await call(client, "GET", "DE/EMS/CARD1")
    assert answer["data"] == token(valid=False, last_updated=patch["last_updated"])
    stored = await ocpi_store.get_partner_token("DE", "EMS", "CARD1")
    assert stored is not None and stored.valid is False


async def test_patch_without_last_updated_is_refused(client: Client) -> None:
    """A PATCH without last_updated is 2001 and changes nothing."""
    await call(client, "PUT", "DE/EMS/CARD1", token())
    status, answer = await call(client, "PATCH", "DE/EMS/CARD1", {"valid": False})
    assert answer["status_code"] == 2001 and "last_updated" in answer["status_message"]
    _, answer = await call(client, "GET", "DE/EMS/CARD1")
    assert answer["data"]["valid"] is True


async def test_patch_of_an_unknown_token_is_404(client: Client) -> None:
    """A PATCH of a token we do not have is 404 / 2004 (the eMSP then PUTs it)."""
    status, answer = await call(
        client, "PATCH", "DE/EMS/NOPE", {"valid": False, "last_updated": "2025-01-01T00:00:00Z"}
    )
    assert status == 404 and answer["status_code"] == 2004


async def test_patch_cannot_change_the_identity(client: Client) -> None:
    """A PATCH naming another uid than the URL is 2001."""
    await call(client, "PUT", "DE/EMS/CARD1", token())
    status, answer = await call(
        client, "PATCH", "DE/EMS/CARD1", {"uid": "CARD2", "last_updated": "2025-01-02T00:00:00Z"}
    )
    assert answer["status_code"] == 2001


async def test_patch_with_an_invalid_value_is_refused(client: Client) -> None:
    """A PATCH whose merged token is invalid (whitelist not in the enum) is 2001 and changes nothing."""
    await call(client, "PUT", "DE/EMS/CARD1", token())
    status, answer = await call(
        client, "PATCH", "DE/EMS/CARD1", {"whitelist": "SOMETIMES", "last_updated": "2025-01-02T00:00:00Z"}
    )
    assert answer["status_code"] == 2001 and "whitelist" in answer["status_message"]
    _, answer = await call(client, "GET", "DE/EMS/CARD1")
    assert answer["data"]["whitelist"] == "ALWAYS"


# -- ownership -----------------------------------------------------------------------------------------------


async def test_put_for_another_party_is_refused(client: Client, ocpi_store: OcpiStore) -> None:
    """A partner cannot PUT a token of a party that is not its own: HTTP 404 (OCPI 2.2.1 transport, client
    owned objects) with status 2001, logged, nothing stored — nor is another partner's token replaced."""
    body = token(country_code="FR", party_id="OTH")
    with capture_logs() as logs:
        status, answer = await call(client, "PUT", "FR/OTH/CARD1", body)
    assert status == 404 and answer["status_code"] == 2001 and "FR/OTH" in answer["status_message"]
    assert await ocpi_store.get_partner_token("FR", "OTH", "CARD1") is None
    [refused] = [entry for entry in logs if entry["event"] == "token_of_another_party_refused"]
    assert refused["log_level"] == "warning" and refused["method"] == "PUT"
    assert (refused["country_code"], refused["party_id"], refused["uid"]) == ("FR", "OTH", "CARD1")
    headers = {"Authorization": encode_token(OTHER_TOKEN_C)}
    assert (await call(client, "PUT", "FR/OTH/CARD1", body, headers=headers))[0] == 201
    status, _ = await call(client, "PUT", "FR/OTH/CARD1", {**body, "valid": False})
    assert status == 404
    stored = await ocpi_store.get_partner_token("FR", "OTH", "CARD1")
    assert stored is not None and stored.valid is True


async def test_get_of_another_partners_token_is_404(client: Client) -> None:
    """A partner does not see another partner's token: GET answers 404 as if it did not exist."""
    headers = {"Authorization": encode_token(OTHER_TOKEN_C)}
    status, _ = await call(
        client, "PUT", "FR/OTH/CARD1", token(country_code="FR", party_id="OTH"), headers=headers
    )
    assert status == 201
    status, answer = await call(client, "GET", "FR/OTH/CARD1")
    assert status == 404 and answer["status_code"] == 2004


async def test_patch_of_another_partners_token_is_refused(client: Client) -> None:
    """A partner cannot PATCH a token of another party: HTTP 404 / 2001, logged, the token unchanged."""
    headers = {"Authorization": encode_token(OTHER_TOKEN_C)}
    await call(client, "PUT", "FR/OTH/CARD1", token(country_code="FR", party_id="OTH"), headers=headers)
    with capture_logs() as logs:
        status, answer = await call(
            client, "PATCH", "FR/OTH/CARD1", {"valid": False, "last_updated": "2025-01-02T00:00:00Z"}
        )
    assert status == 404 and answer["status_code"] == 2001
    refused = [entry["method"] for entry in logs if entry["event"] == "token_of_another_party_refused"]
    assert refused == ["PATCH"]
    _, answer = await call(client, "GET", "FR/OTH/CARD1", headers=headers)
    assert answer["data"]["valid"] is True


async def test_requests_without_a_valid_token_are_401(client: Client) -> None:
    """The tokens module needs the partner's credentials token."""
    status, _ = await call(client, "GET", "DE/EMS/CARD1", headers={"Authorization": encode_token("wrong")})
    assert status == 401


# -- validation ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"contract_id": None}, "contract_id"),
        ({"issuer": None}, "issuer"),
        ({"valid": "yes"}, "valid"),
        ({"whitelist": "SOMETIMES"}, "whitelist"),
        ({"type": "CARD"}, "type"),
        ({"visual_number": "x" * 65}, "visual_number"),
        ({"group_id": "g" * 37}, "group_id"),
        ({"contract_id": "Ç" * 5}, "contract_id"),
        ({"last_updated": "yesterday"}, "last_updated"),
        ({"energy_contract": {"contract_id": "1"}}, "energy_contract.supplier_name"),
        ({"default_profile_type": "SLOW"}, "default_profile_type"),
    ],
)
async def test_invalid_token_is_refused(
    client: Client, ocpi_store: OcpiStore, change: dict[str, Any], field: str
) -> None:
    """A Token with a missing required field, a wrong type, an unknown enum value or a too long string is
    2001 with a message naming the field, and is not stored."""
    body = {k: v for k, v in {**token(), **change}.items() if v is not None}
    status, answer = await call(client, "PUT", "DE/EMS/CARD1", body)
    assert answer["status_code"] == 2001, answer
    assert field in answer["status_message"]
    assert await ocpi_store.get_partner_token("DE", "EMS", "CARD1") is None


async def test_too_long_uid_is_refused(client: Client) -> None:
    """A uid longer than 36 characters is 2001."""
    uid = "U" * 37
    status, answer = await call(client, "PUT", f"DE/EMS/{uid}", token(uid))
    assert answer["status_code"] == 2001 and "uid" in answer["status_message"]


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("DE/EMS/OTHER", {}),  # uid
        ("NL/TNM/CARD1", {}),  # country code and party (the partner's, but not the body's)
        ("DE/EMS/CARD1", {"type": "APP_USER"}),  # type
    ],
)
async def test_url_must_name_the_body(client: Client, path: str, params: dict[str, str]) -> None:
    """The URL's country code, party id, uid and (given) type must be those of the body: else 2001."""
    status, answer = await call(client, "PUT", path, token(), params=params)
    assert answer["status_code"] == 2001, answer


async def test_unknown_type_parameter_is_refused(client: Client) -> None:
    """A ?type= outside TokenType is 2001."""
    status, answer = await call(client, "GET", "DE/EMS/CARD1", params={"type": "BADGE"})
    assert answer["status_code"] == 2001


async def test_invalid_json_is_400(client: Client) -> None:
    """A body that is not JSON is HTTP 400 / 2001."""
    resp = await client.put("/ocpi/2.2.1/tokens/DE/EMS/CARD1", data=b"{not json")
    assert resp.status == 400
    assert (await resp.json())["status_code"] == 2001


async def test_get_unknown_token_is_404(client: Client) -> None:
    """GET of a token nobody pushed is 404 / 2004."""
    status, answer = await call(client, "GET", "DE/EMS/NOBODY")
    assert status == 404 and answer["status_code"] == 2004
