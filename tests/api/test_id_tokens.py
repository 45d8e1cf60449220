"""`/api/v1/id-tokens`: registering, listing and showing id tokens."""

from __future__ import annotations

from csms.domain.events import IdTokensChanged, Order
from csms.domain.services import Services
from csms.domain.tenancy import DEFAULT_ORG_ID
from tests.api.conftest import NOW_TEXT, ApiClient, error_of
from tests.fakes.memory_store import MemoryStore


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


async def test_patch_changes_only_given_fields(client: ApiClient, auth: dict[str, str]) -> None:
    """PATCH changes the given fields; `null` clears expiry and group; other fields stay."""
    body = {"id_token": "TAG-1", "expiry_date": "2030-01-01T00:00:00Z", "group_id_token": "G"}
    assert (await client.post("/api/v1/id-tokens", json=body, headers=auth)).status == 201
    response = await client.patch(
        "/api/v1/id-tokens/TAG-1", json={"status": "Blocked", "type": "eMAID"}, headers=auth
    )
    assert response.status == 200
    token = await response.json()
    assert (token["status"], token["type"], token["group_id_token"]) == ("Blocked", "eMAID", "G")
    assert token["expiry_date"] == "2030-01-01T00:00:00.000Z"
    response = await client.patch(
        "/api/v1/id-tokens/TAG-1", json={"expiry_date": None, "group_id_token": None}, headers=auth
    )
    token = await response.json()
    assert token["expiry_date"] is None and token["group_id_token"] is None and token["status"] == "Blocked"
    response = await client.patch(
        "/api/v1/id-tokens/TAG-1", json={"expiry_date": "2031-06-01T02:00:00+02:00"}, headers=auth
    )
    assert (await response.json())["expiry_date"] == "2031-06-01T00:00:00.000Z"
    shown = await (await client.get("/api/v1/id-tokens/TAG-1", headers=auth)).json()
    assert shown["expiry_date"] == "2031-06-01T00:00:00.000Z"


async def test_patch_rejects_bad_fields(client: ApiClient, auth: dict[str, str]) -> None:
    """A null type or status, an unknown status, a naive expiry or an unknown field is a 400 naming it."""
    assert (await client.post("/api/v1/id-tokens", json={"id_token": "TAG-1"}, headers=auth)).status == 201
    for body, field in [
        ({"type": None}, "type"),
        ({"status": None}, "status"),
        ({"status": "Sleepy"}, "status"),
        ({"expiry_date": "2030-01-01T00:00:00"}, "expiry_date"),
        ({"id_token": "OTHER"}, "id_token"),
    ]:
        error = await error_of(await client.patch("/api/v1/id-tokens/TAG-1", json=body, headers=auth), 400)
        assert field in [d["field"] for d in error["details"]], body


async def test_delete_id_token(client: ApiClient, auth: dict[str, str], store: MemoryStore) -> None:
    """DELETE answers 204 and the token is gone; unknown tokens are 404 for PATCH and DELETE."""
    assert (await client.post("/api/v1/id-tokens", json={"id_token": "TAG-1"}, headers=auth)).status == 201
    response = await client.delete("/api/v1/id-tokens/TAG-1", headers=auth)
    assert response.status == 204 and await response.read() == b""
    assert await store.get_id_token("TAG-1") is None
    assert (await error_of(await client.delete("/api/v1/id-tokens/TAG-1", headers=auth), 404))[
        "code"
    ] == "not_found"
    response = await client.patch("/api/v1/id-tokens/TAG-1", json={"status": "Accepted"}, headers=auth)
    assert (await error_of(response, 404))["code"] == "not_found"


async def test_members_manage_id_tokens_viewers_only_read(
    client: ApiClient, role_headers: dict[str, dict[str, str]]
) -> None:
    """A member creates, changes and deletes id tokens; a viewer may only read them (403 otherwise)."""
    member, viewer = role_headers["member"], role_headers["viewer"]
    assert (await client.post("/api/v1/id-tokens", json={"id_token": "TAG-1"}, headers=member)).status == 201
    assert (await client.get("/api/v1/id-tokens/TAG-1", headers=viewer)).status == 200
    for method, body in [("PATCH", {"status": "Blocked"}), ("DELETE", None)]:
        response = await client.request(method, "/api/v1/id-tokens/TAG-1", json=body, headers=viewer)
        assert (await error_of(response, 403))["code"] == "forbidden"
    response = await client.patch("/api/v1/id-tokens/TAG-1", json={"status": "Blocked"}, headers=member)
    assert response.status == 200
    assert (await client.delete("/api/v1/id-tokens/TAG-1", headers=member)).status == 204


async def test_every_change_tells_the_domain_the_organizations_tokens_changed(
    client: ApiClient, auth: dict[str, str], services: Services
) -> None:
    """Creating, changing and deleting a token each publish IdTokensChanged for the caller's organization
    (stations' local lists follow, ADR 0016); reading publishes nothing."""
    seen: list[str] = []

    async def note(event: IdTokensChanged) -> None:
        seen.append(event.org_id)

    services.events.subscribe(IdTokensChanged, note, order=Order.PUBLISH)
    assert (await client.post("/api/v1/id-tokens", json={"id_token": "T1"}, headers=auth)).status == 201
    assert (await client.get("/api/v1/id-tokens/T1", headers=auth)).status == 200
    patch = await client.patch("/api/v1/id-tokens/T1", json={"status": "Blocked"}, headers=auth)
    assert patch.status == 200
    assert (await client.delete("/api/v1/id-tokens/T1", headers=auth)).status == 204
    assert seen == [DEFAULT_ORG_ID] * 3
