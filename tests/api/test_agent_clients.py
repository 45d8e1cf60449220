"""`/api/v1/agent-clients`: the booking Agent API's client accounts through the operator API (issue 13: "an
admin endpoint does the same" as `csms agent client add|rotate`). Organization scoping is in
`test_tenancy.py`; the Agent API's own use of the keys in `tests/agent`."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from csms.config import AgentConfig
from csms.domain.secrets import SecretVerifier
from csms.domain.services import Services
from ocpi.agent.keys import key_prefix
from ocpi.agent.store import SqlAgentStore
from tests.api.conftest import NOW_TEXT, ApiClient, error_of

PATH = "/api/v1/agent-clients"


async def opens_the_agent_api(store: SqlAgentStore, key: str) -> int | None:
    """The id of the client `key` authenticates as at `/agent/v1` (the same lookup and check), or None."""
    prefix = key_prefix(key)
    client = None if prefix is None else await store.client_by_prefix(prefix)
    if client is None or not await SecretVerifier().verify(key, client.key_hash):
        return None
    return client.id


async def _create(client: ApiClient, auth: dict[str, str], **body: Any) -> dict[str, Any]:
    response = await client.post(PATH, json={"name": "Route planner", **body}, headers=auth)
    assert response.status == 201, await response.text()
    created: dict[str, Any] = await response.json()
    assert response.headers["Location"] == f"{PATH}/{created['id']}"
    return created


async def test_create_answers_the_key_once_and_stores_only_its_hash(
    emsp_client: ApiClient, auth: dict[str, str], agent_store: SqlAgentStore
) -> None:
    """201 with the account as given and a key that opens the Agent API; the store holds a bcrypt hash,
    and neither the list nor the item ever shows the key again."""
    created = await _create(
        emsp_client, auth, reservation_fee="1.50", commission_percent=10, monthly_quota=1000,
        webhook_url="https://planner.example/hooks", webhook_secret="whsec_planner_0123456789",
    )  # fmt: skip
    key = created.pop("key")
    assert created == {
        "id": 1,
        "name": "Route planner",
        "key_prefix": key_prefix(key),
        "reservation_fee": "1.50",
        "commission_percent": "10",
        "monthly_quota": 1000,
        "webhook_url": "https://planner.example/hooks",
        "webhook_signed": True,
        "created_at": NOW_TEXT,
        "rotated_at": None,
    }
    assert await opens_the_agent_api(agent_store, key) == 1
    stored = await agent_store.get_client(1)
    assert stored is not None and stored.key_hash.startswith("$2") and key not in stored.key_hash
    assert stored.webhook_secret == "whsec_planner_0123456789"
    listed = await emsp_client.get(PATH, headers=auth)
    item = await emsp_client.get(f"{PATH}/1", headers=auth)
    assert (await listed.json())["items"] == [created]
    assert await item.json() == created
    for response in (listed, item):
        assert key not in await response.text() and "whsec_planner" not in await response.text()


async def test_fees_are_exact_decimal_text(emsp_client: ApiClient, auth: dict[str, str]) -> None:
    """JSON numbers are read as decimals: the fee comes back in cents, the percent with its 4 decimals."""
    created = await _create(emsp_client, auth, reservation_fee=0.1, commission_percent=2.2345)
    assert (created["reservation_fee"], created["commission_percent"]) == ("0.10", "2.2345")


async def test_rotation_refuses_the_old_key_at_once(
    emsp_client: ApiClient, auth: dict[str, str], agent_store: SqlAgentStore
) -> None:
    """Rotating answers a new key (new prefix, `rotated_at` set); the old key no longer opens the Agent
    API, the new one does, and name, fees and quota stay."""
    created = await _create(emsp_client, auth, reservation_fee="2", monthly_quota=5)
    response = await emsp_client.post(f"{PATH}/{created['id']}/rotate", headers=auth)
    assert response.status == 200, await response.text()
    rotated = await response.json()
    assert rotated["key"] != created["key"]
    assert rotated["key_prefix"] == key_prefix(rotated["key"]) != created["key_prefix"]
    assert rotated["rotated_at"] == NOW_TEXT
    same = ("id", "name", "reservation_fee", "commission_percent", "monthly_quota", "webhook_url")
    assert {k: rotated[k] for k in same} == {k: created[k] for k in same}
    assert await opens_the_agent_api(agent_store, created["key"]) is None
    assert await opens_the_agent_api(agent_store, rotated["key"]) == created["id"]


async def test_unknown_client_is_404_and_a_bad_id_400(emsp_client: ApiClient, auth: dict[str, str]) -> None:
    for method, path in (("GET", f"{PATH}/7"), ("POST", f"{PATH}/7/rotate"), ("GET", f"{PATH}/99999999999")):
        response = await emsp_client.request(method, path, headers=auth)
        assert (await error_of(response, 404))["code"] == "not_found"
    response = await emsp_client.get(f"{PATH}/x", headers=auth)
    assert (await error_of(response, 400))["details"][0]["field"] == "client_id"


async def test_list_pages_by_id(emsp_client: ApiClient, auth: dict[str, str]) -> None:
    for name in ("A", "B", "C"):
        await _create(emsp_client, auth, name=name)
    first = await emsp_client.get(PATH, params={"limit": "2"}, headers=auth)
    page = await first.json()
    assert [c["name"] for c in page["items"]] == ["A", "B"]
    assert page["next_cursor"] == "2" and "Link" in first.headers
    second = await (await emsp_client.get(PATH, params={"limit": "2", "cursor": "2"}, headers=auth)).json()
    assert [c["name"] for c in second["items"]] == ["C"] and second["next_cursor"] is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "x" * 101}, "name"),
        ({"name": "P", "reservation_fee": "1.234"}, "reservation_fee"),
        ({"name": "P", "reservation_fee": -1}, "reservation_fee"),
        ({"name": "P", "reservation_fee": "10000.01"}, "reservation_fee"),
        ({"name": "P", "commission_percent": 100.5}, "commission_percent"),
        ({"name": "P", "commission_percent": "1.23456"}, "commission_percent"),
        ({"name": "P", "monthly_quota": -1}, "monthly_quota"),
        ({"name": "P", "webhook_url": "ftp://planner.example"}, "webhook_url"),
        ({"name": "P", "webhook_url": "http://127.0.0.1:5432/"}, "webhook_url"),
        ({"name": "P", "webhook_url": "https://[::1]/hooks"}, "webhook_url"),
        ({"name": "P", "webhook_secret": "short"}, "webhook_secret"),
        ({"name": "P", "key": "agk_00000000_chosen"}, "key"),
    ],
)
async def test_bad_bodies_are_400_naming_the_field(
    emsp_client: ApiClient,
    auth: dict[str, str],
    agent_store: SqlAgentStore,
    body: dict[str, Any],
    field: str,
) -> None:
    response = await emsp_client.post(PATH, json=body, headers=auth)
    error = await error_of(response, 400)
    assert error["code"] == "invalid_request"
    assert [d["field"] for d in error["details"]] == [field]
    assert await agent_store.list_clients() == []


async def test_a_blank_name_is_refused_by_the_accounts_too(
    emsp_client: ApiClient, auth: dict[str, str]
) -> None:
    """Whitespace passes the body's length check; the accounts' own check names the field."""
    error = await error_of(await emsp_client.post(PATH, json={"name": "   "}, headers=auth), 400)
    assert [d["field"] for d in error["details"]] == ["name"]


async def test_only_admins_create_and_rotate(
    emsp_client: ApiClient, auth: dict[str, str], role_headers: dict[str, dict[str, str]]
) -> None:
    """Viewers and members read the accounts; creating and rotating a key is 403 `forbidden` to them."""
    created = await _create(emsp_client, auth)
    for role in ("viewer", "member"):
        headers = role_headers[role]
        assert (await emsp_client.get(f"{PATH}/{created['id']}", headers=headers)).status == 200
        for path in (PATH, f"{PATH}/{created['id']}/rotate"):
            response = await emsp_client.post(path, json={"name": "X"}, headers=headers)
            assert (await error_of(response, 403))["code"] == "forbidden"


async def test_without_the_emsp_role_every_route_is_503(client: ApiClient, auth: dict[str, str]) -> None:
    """The server runs without `[emsp] enabled`: 503 `agent_disabled`."""
    for method, path in (("GET", PATH), ("POST", PATH), ("GET", f"{PATH}/1"), ("POST", f"{PATH}/1/rotate")):
        body = {"name": "P"} if method == "POST" else None
        response = await client.request(method, path, json=body, headers=auth)
        assert (await error_of(response, 503))["code"] == "agent_disabled"


async def test_private_webhook_addresses_when_the_operator_allows_them(
    emsp_client: ApiClient, auth: dict[str, str], services: Services
) -> None:
    """`[agent] allow_private_webhook_addresses` (a receiver inside the operator's network) lets a
    loopback webhook URL through, as it does for `csms agent client add`."""
    services.config = replace(services.config, agent=AgentConfig(allow_private_webhook_addresses=True))
    created = await _create(emsp_client, auth, webhook_url="http://127.0.0.1:8080/hooks")
    assert (created["webhook_url"], created["webhook_signed"]) == ("http://127.0.0.1:8080/hooks", False)
