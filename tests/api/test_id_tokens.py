"""`/api/v1/id-tokens`: registering, listing and showing id tokens."""

from __future__ import annotations

from csms.store.memory import MemoryStore
from tests.api.conftest import NOW_TEXT, ApiClient, error_of


async def test_create_with_defaults_then_get(client: ApiClient, auth: dict[str, str]) -> None:
    """A token registered with only its text gets type ISO14443 and status Accepted."""
    response = await client.post("/api/v1/id-tokens", json={"id_token": "04A1B2C3"}, headers=auth)
    assert response.status == 201
    assert response.headers["Location"] == "/api/v1/id-tokens/04A1B2C3"
    expected = {
        "id_token": "04A1B2C3",
        "type": "ISO14443",
        "status": "Accepted",
        "expiry_date": None,
        "group_id_token": None,
        "created_at": NOW_TEXT,
    }
    assert await response.json() == expected
    assert await (await client.get("/api/v1/id-tokens/04A1B2C3", headers=auth)).json() == expected


async def test_create_with_every_field(client: ApiClient, auth: dict[str, str], store: MemoryStore) -> None:
    """Type, status, expiry (converted to UTC) and group are stored as given."""
    response = await client.post(
        "/api/v1/id-tokens",
        json={
            "id_token": "EMA123",
            "type": "eMAID",
            "status": "Blocked",
            "expiry_date": "2026-06-30T12:00:00+02:00",
            "group_id_token": "FLEET",
        },
        headers=auth,
    )
    assert response.status == 201
    body = await response.json()
    assert body["type"] == "eMAID"
    assert body["status"] == "Blocked"
    assert body["expiry_date"] == "2026-06-30T10:00:00.000Z"
    assert body["group_id_token"] == "FLEET"
    stored = await store.get_id_token("EMA123")
    assert stored is not None and stored.group_id_token == "FLEET"


async def test_duplicate_is_conflict(client: ApiClient, auth: dict[str, str]) -> None:
    """Registering a token that exists is a 409 `conflict`."""
    assert (await client.post("/api/v1/id-tokens", json={"id_token": "T1"}, headers=auth)).status == 201
    error = await error_of(await client.post("/api/v1/id-tokens", json={"id_token": "T1"}, headers=auth), 409)
    assert error["code"] == "conflict"


async def test_invalid_body_lists_fields(client: ApiClient, auth: dict[str, str]) -> None:
    """Unknown type or status, a bad date, a too long token and extra fields are each listed in the 400."""
    response = await client.post(
        "/api/v1/id-tokens",
        json={"id_token": "x" * 37, "type": "RFID", "status": "Unknown", "expiry_date": "soon", "extra": 1},
        headers=auth,
    )
    error = await error_of(response, 400)
    assert error["code"] == "invalid_request"
    assert {d["field"] for d in error["details"]} == {"id_token", "type", "status", "expiry_date", "extra"}
    response = await client.post("/api/v1/id-tokens", json={}, headers=auth)
    assert (await error_of(response, 400))["details"][0]["field"] == "id_token"


async def test_unknown_is_not_found(client: ApiClient, auth: dict[str, str]) -> None:
    """GET of an unknown token is a 404 `not_found`."""
    error = await error_of(await client.get("/api/v1/id-tokens/NOPE", headers=auth), 404)
    assert error["code"] == "not_found"


async def test_list_pages_in_token_order(client: ApiClient, auth: dict[str, str]) -> None:
    """Tokens list in id order across pages linked by `Link: rel="next"`."""
    for token in ["C", "A", "B"]:
        assert (await client.post("/api/v1/id-tokens", json={"id_token": token}, headers=auth)).status == 201
    response = await client.get("/api/v1/id-tokens?limit=2", headers=auth)
    first = await response.json()
    assert [t["id_token"] for t in first["items"]] == ["A", "B"]
    link = response.headers["Link"]
    response = await client.get(link[1 : link.index(">")], headers=auth)
    second = await response.json()
    assert [t["id_token"] for t in second["items"]] == ["C"]
    assert second["next_cursor"] is None
    assert "Link" not in response.headers
