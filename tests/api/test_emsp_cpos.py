"""`/api/v1/emsp/cpos`: the eMSP role's CPOs through the operator API (the REST counterpart of `csms emsp cpo
list|invite`). Organization scoping is in `test_tenancy.py`; the registration that follows an invitation in
`tests/ocpi/emsp/test_emsp_credentials_server.py`."""

from __future__ import annotations

from typing import Any

import pytest

from ocpi.emsp.role import EmspRole
from ocpi.transport import hash_token
from tests.api.conftest import ApiClient, error_of

PATH = "/api/v1/emsp/cpos"
INVITE = f"{PATH}/invitations"


async def test_an_invitation_answers_our_versions_url_and_a_token_a_once(
    emsp_client: ApiClient, auth: dict[str, str], emsp: EmspRole
) -> None:
    """201: an INVITED CPO with its terms, our versions URL and a token A that the eMSP role accepts (only
    its hash is stored); the list and the item show the CPO, never the token."""
    body = {"name": "Alpha Charging", "max_reservation_minutes": 90, "cancellation_fee": 2.5}
    response = await emsp_client.post(INVITE, json=body, headers=auth)
    assert response.status == 201, await response.text()
    answer = await response.json()
    cpo = answer["cpo"]
    assert response.headers["Location"] == f"{PATH}/{cpo['id']}"
    assert answer["versions_url"] == "https://csms.example/emsp/ocpi/versions"
    assert cpo == {
        "id": 1, "name": "Alpha Charging", "country_code": None, "party_id": None, "status": "INVITED",
        "versions_url": None, "endpoints": {}, "max_reservation_minutes": 90, "cancellation_fee": "2.5",
        "locations_pulled_at": None, "tariffs_pulled_at": None,
    }  # fmt: skip
    stored = await emsp.store.cpo_by_token_hash(hash_token(answer["token_a"]))
    assert stored is not None and stored.id == cpo["id"]
    listed = await emsp_client.get(PATH, headers=auth)
    item = await emsp_client.get(f"{PATH}/{cpo['id']}", headers=auth)
    assert (await listed.json())["items"] == [cpo] and await item.json() == cpo
    for shown in (listed, item):
        assert answer["token_a"] not in await shown.text()


async def test_an_invitation_without_a_body_takes_the_defaults(
    emsp_client: ApiClient, auth: dict[str, str]
) -> None:
    response = await emsp_client.post(INVITE, headers=auth)
    assert response.status == 201, await response.text()
    cpo = (await response.json())["cpo"]
    assert (cpo["name"], cpo["max_reservation_minutes"], cpo["cancellation_fee"]) == (None, 240, "0")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "x" * 101}, "name"),
        ({"max_reservation_minutes": 0}, "max_reservation_minutes"),
        ({"cancellation_fee": "1.234"}, "cancellation_fee"),
        ({"token_a": "chosen"}, "token_a"),
    ],
)
async def test_bad_invitations_are_400_naming_the_field(
    emsp_client: ApiClient, auth: dict[str, str], emsp: EmspRole, body: dict[str, Any], field: str
) -> None:
    error = await error_of(await emsp_client.post(INVITE, json=body, headers=auth), 400)
    assert [d["field"] for d in error["details"]] == [field]
    assert await emsp.store.list_cpos() == []


async def test_unknown_cpo_is_404_and_viewers_cannot_invite(
    emsp_client: ApiClient, auth: dict[str, str], role_headers: dict[str, dict[str, str]]
) -> None:
    assert (await error_of(await emsp_client.get(f"{PATH}/7", headers=auth), 404))["code"] == "not_found"
    bad_id = await error_of(await emsp_client.get(f"{PATH}/x", headers=auth), 400)
    assert bad_id["details"][0]["field"] == "cpo_id"
    for role in ("viewer", "member"):
        headers = role_headers[role]
        assert (await emsp_client.get(PATH, headers=headers)).status == 200
        error = await error_of(await emsp_client.post(INVITE, headers=headers), 403)
        assert error["code"] == "forbidden"


async def test_without_the_emsp_role_every_route_is_503(client: ApiClient, auth: dict[str, str]) -> None:
    for method, path in (("GET", PATH), ("GET", f"{PATH}/1"), ("POST", INVITE)):
        response = await client.request(method, path, headers=auth)
        assert (await error_of(response, 503))["code"] == "emsp_disabled"
