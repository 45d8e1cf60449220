"""`/api/v1/charge-points`: registering, listing with pagination and showing charge points."""

from __future__ import annotations

from datetime import UTC, datetime

from structlog.testing import capture_logs

from csms.domain.models import BootInfo, ConnectorStatus, StatusChange
from csms.domain.ports import HeartbeatSeen, StationFieldsChanged
from csms.domain.registry import LiveConnection
from csms.domain.secrets import SecretVerifier
from csms.domain.services import Services
from csms.store.writer import BatchedWriter
from tests.api.conftest import NOW_TEXT, ApiClient, KeyFactory, error_of
from tests.fakes.memory_store import MemoryStore

T1 = datetime(2025, 1, 1, 10, 0, 0, tzinfo=UTC)


async def test_create_then_get(client: ApiClient, auth: dict[str, str]) -> None:
    """POST registers a charge point (201 with Location) and GET shows it with every field."""
    response = await client.post("/api/v1/charge-points", json={"charge_point_id": "CP-1"}, headers=auth)
    assert response.status == 201
    assert response.headers["Location"] == "/api/v1/charge-points/CP-1"
    created = await response.json()

    response = await client.get("/api/v1/charge-points/CP-1", headers=auth)
    assert response.status == 200
    body = await response.json()
    assert body == created
    assert body == {
        "charge_point_id": "CP-1",
        "registration_status": "Accepted",
        "ocpp_version": None,
        "connected": False,
        "connected_at": None,
        "last_heartbeat_at": None,
        "last_boot_at": None,
        "boot": {
            "vendor": None,
            "model": None,
            "serial_number": None,
            "firmware_version": None,
            "iccid": None,
            "imsi": None,
            "meter_type": None,
            "meter_serial_number": None,
            "reason": None,
        },
        "firmware_status": None,
        "diagnostics_status": None,
        "log_status": None,
        "has_password": False,
        "security_profile": 1,
        "station_status": None,
        "evses": [],
        "created_at": NOW_TEXT,
    }


async def test_security_profile_is_created_changed_and_validated(
    client: ApiClient, auth: dict[str, str], store: MemoryStore
) -> None:
    """`security_profile` is stored at creation, changed by PATCH, shown in the read model, and a value
    outside 1..3 is a 400."""
    response = await client.post(
        "/api/v1/charge-points", json={"charge_point_id": "CP-S", "security_profile": 3}, headers=auth
    )
    assert response.status == 201 and (await response.json())["security_profile"] == 3
    response = await client.patch(
        "/api/v1/charge-points/CP-S", json={"security_profile": 2}, headers=auth
    )
    assert response.status == 200 and (await response.json())["security_profile"] == 2
    stored = await store.get_charge_point("CP-S")
    assert stored is not None and stored.security_profile == 2
    for bad in (0, 4, "2"):
        response = await client.patch(
            "/api/v1/charge-points/CP-S", json={"security_profile": bad}, headers=auth
        )
        assert response.status == 400, bad


async def test_create_with_password_stores_only_a_hash(
    client: ApiClient, auth: dict[str, str], store: MemoryStore, services: Services
) -> None:
    """A password is stored as a bcrypt hash of the configured cost and shown only as `has_password`."""
    password = "correct-horse-battery"
    response = await client.post(
        "/api/v1/charge-points",
        json={"charge_point_id": "CP-1", "password": password, "registration_status": "Pending"},
        headers=auth,
    )
    assert response.status == 201
    body = await response.json()
    assert body["has_password"] is True
    assert body["registration_status"] == "Pending"
    assert password not in await response.text()

    stored = await store.get_charge_point("CP-1")
    assert stored is not None and stored.password_hash is not None
    assert stored.password_hash.startswith("$2b$04$")
    assert await SecretVerifier().verify(password, stored.password_hash)


async def test_duplicate_is_conflict(client: ApiClient, auth: dict[str, str]) -> None:
    """Registering an id that exists is a 409 `conflict`."""
    assert (
        await client.post("/api/v1/charge-points", json={"charge_point_id": "CP-1"}, headers=auth)
    ).status == 201
    response = await client.post(
        "/api/v1/charge-points", json={"charge_point_id": "CP-1", "password": "x" * 16}, headers=auth
    )
    error = await error_of(response, 409)
    assert error["code"] == "conflict"
    assert "CP-1" in error["message"]


async def test_invalid_body_lists_fields(client: ApiClient, auth: dict[str, str]) -> None:
    """A body breaking several rules is a 400 `invalid_request` listing each field and reason."""
    response = await client.post(
        "/api/v1/charge-points",
        json={
            "charge_point_id": "bad/id",
            "password": "short",
            "registration_status": "Maybe",
            "colour": "red",
        },
        headers=auth,
    )
    error = await error_of(response, 400)
    assert error["code"] == "invalid_request"
    fields = {d["field"] for d in error["details"]}
    assert fields == {"charge_point_id", "password", "registration_status", "colour"}
    assert all(isinstance(d["reason"], str) and d["reason"] for d in error["details"])
    assert "short" not in await response.text()  # rejected input values, passwords included, are not echoed


async def test_charge_point_id_rules(client: ApiClient, auth: dict[str, str]) -> None:
    """Ids are 1..48 URL-safe characters without ':'; the allowed punctuation is accepted."""
    for bad in ["", "a" * 49, "CP:1", "CP 1", "CP/1", "CP%1", "CPé"]:
        response = await client.post("/api/v1/charge-points", json={"charge_point_id": bad}, headers=auth)
        assert (await error_of(response, 400))["details"][0]["field"] == "charge_point_id", bad
    response = await client.post(
        "/api/v1/charge-points", json={"charge_point_id": "a-b_c.d~e*f+g|h@i" + "9" * 31}, headers=auth
    )
    assert response.status == 201


async def test_body_must_be_json_object(client: ApiClient, auth: dict[str, str]) -> None:
    """Malformed JSON or an empty body is `invalid_json`; JSON that is not an object is `invalid_request`."""
    for raw in [b"{not json", b""]:
        response = await client.post(
            "/api/v1/charge-points", data=raw, headers={**auth, "Content-Type": "application/json"}
        )
        assert (await error_of(response, 400))["code"] == "invalid_json"
    response = await client.post("/api/v1/charge-points", json=["CP-1"], headers=auth)
    assert (await error_of(response, 400))["code"] == "invalid_request"


async def test_unknown_is_not_found(client: ApiClient, auth: dict[str, str]) -> None:
    """GET of an unknown charge point is a 404 `not_found`."""
    error = await error_of(await client.get("/api/v1/charge-points/NOPE", headers=auth), 404)
    assert error["code"] == "not_found"


async def test_pagination_with_link_header(client: ApiClient, auth: dict[str, str]) -> None:
    """Listing pages through every charge point in id order, following the Link rel=next header."""
    ids = [f"CP-{n:02d}" for n in range(7)]
    for cp_id in reversed(ids):
        assert (
            await client.post("/api/v1/charge-points", json={"charge_point_id": cp_id}, headers=auth)
        ).status == 201

    seen: list[str] = []
    url: str | None = "/api/v1/charge-points?limit=3"
    pages = 0
    while url is not None:
        response = await client.get(url, headers=auth)
        assert response.status == 200
        body = await response.json()
        seen.extend(item["charge_point_id"] for item in body["items"])
        pages += 1
        if body["next_cursor"] is None:
            assert "Link" not in response.headers
            url = None
        else:
            link = response.headers["Link"]
            assert link.endswith('>; rel="next"')
            url = link[1 : link.index(">")]
            assert "limit=3" in url and "cursor=" in url
            assert (await client.get(url, headers=auth)).status == 200
    assert seen == ids
    assert pages == 3


async def test_default_limit_and_empty_list(client: ApiClient, auth: dict[str, str]) -> None:
    """With no charge points the list is empty and has no next cursor."""
    response = await client.get("/api/v1/charge-points", headers=auth)
    assert await response.json() == {"items": [], "next_cursor": None}
    assert "Link" not in response.headers


async def test_bad_pagination_params(client: ApiClient, auth: dict[str, str]) -> None:
    """A limit outside 1..500 or not an integer, or an empty cursor, is a 400 naming the parameter."""
    for query, field in [
        ("limit=0", "limit"),
        ("limit=501", "limit"),
        ("limit=ten", "limit"),
        ("cursor=", "cursor"),
    ]:
        error = await error_of(await client.get(f"/api/v1/charge-points?{query}", headers=auth), 400)
        assert error["code"] == "invalid_request"
        assert error["details"] == [{"field": field, "reason": error["details"][0]["reason"]}]
    assert (await client.get("/api/v1/charge-points?limit=500", headers=auth)).status == 200


async def test_shows_boot_connection_and_batched_state(
    client: ApiClient, auth: dict[str, str], store: MemoryStore, writer: BatchedWriter, services: Services
) -> None:
    """Boot data, the live connection and states still queued in the writer all show up at once."""
    assert (
        await client.post("/api/v1/charge-points", json={"charge_point_id": "CP-1"}, headers=auth)
    ).status == 201
    boot = BootInfo(vendor="ACME", model="Volt", serial_number="S1", firmware_version="1.2", reason="PowerUp")
    await store.record_boot("CP-1", "2.0.1", boot, T1)
    services.registry.register(LiveConnection("CP-1", "2.0.1", T1))
    writer.put(HeartbeatSeen("CP-1", T1))
    writer.put(StationFieldsChanged("CP-1", {"firmware_status": "Installed"}))
    writer.put(StatusChange("CP-1", 0, 0, ConnectorStatus.AVAILABLE, T1))
    writer.put(StatusChange("CP-1", 2, 1, ConnectorStatus.FAULTED, T1, error_code="GroundFailure"))
    writer.put(
        StatusChange("CP-1", 1, 1, ConnectorStatus.OCCUPIED, T1, status_detail="Charging", info="plugged")
    )

    body = await (await client.get("/api/v1/charge-points/CP-1", headers=auth)).json()
    assert body["ocpp_version"] == "2.0.1"
    assert body["connected"] is True
    assert body["connected_at"] == "2025-01-01T10:00:00.000Z"
    assert body["last_boot_at"] == "2025-01-01T10:00:00.000Z"
    assert body["last_heartbeat_at"] == "2025-01-01T10:00:00.000Z"
    assert body["firmware_status"] == "Installed"
    assert body["boot"]["vendor"] == "ACME"
    assert body["boot"]["reason"] == "PowerUp"
    assert body["station_status"] == {
        "status": "Available",
        "status_detail": None,
        "error_code": None,
        "info": None,
        "status_at": "2025-01-01T10:00:00.000Z",
        "last_status": "Available",
        "last_status_at": "2025-01-01T10:00:00.000Z",
    }
    assert body["evses"] == [
        {
            "evse_id": 1,
            "connectors": [
                {
                    "connector_id": 1,
                    "status": "Occupied",
                    "status_detail": "Charging",
                    "error_code": None,
                    "info": "plugged",
                    "status_at": "2025-01-01T10:00:00.000Z",
                    "last_status": "Occupied",
                    "last_status_at": "2025-01-01T10:00:00.000Z",
                }
            ],
        },
        {
            "evse_id": 2,
            "connectors": [
                {
                    "connector_id": 1,
                    "status": "Faulted",
                    "status_detail": None,
                    "error_code": "GroundFailure",
                    "info": None,
                    "status_at": "2025-01-01T10:00:00.000Z",
                    "last_status": "Faulted",
                    "last_status_at": "2025-01-01T10:00:00.000Z",
                }
            ],
        },
    ]
    listed = await (await client.get("/api/v1/charge-points", headers=auth)).json()
    assert listed["items"] == [body]


async def test_connectors_of_an_offline_station_are_unknown_with_the_last_report_kept(
    client: ApiClient, auth: dict[str, str], writer: BatchedWriter, services: Services
) -> None:
    """Offline, every connector (and the station status) shows `Unknown`; the last report stays in
    `last_status`/`last_status_at`; connected again, the last report is the status once more."""
    await client.post("/api/v1/charge-points", json={"charge_point_id": "CP-1"}, headers=auth)
    writer.put(StatusChange("CP-1", 0, 0, ConnectorStatus.AVAILABLE, T1))
    writer.put(StatusChange("CP-1", 1, 1, ConnectorStatus.OCCUPIED, T1, status_detail="Charging"))

    body = await (await client.get("/api/v1/charge-points/CP-1", headers=auth)).json()
    assert body["connected"] is False
    assert body["station_status"]["status"] == "Unknown"
    assert body["station_status"]["last_status"] == "Available"
    assert body["evses"][0]["connectors"] == [
        {
            "connector_id": 1,
            "status": "Unknown",
            "status_detail": None,
            "error_code": None,
            "info": None,
            "status_at": None,
            "last_status": "Occupied",
            "last_status_at": "2025-01-01T10:00:00.000Z",
        }
    ]
    services.registry.register(LiveConnection("CP-1", "1.6", T1))
    body = await (await client.get("/api/v1/charge-points/CP-1", headers=auth)).json()
    connector = body["evses"][0]["connectors"][0]
    assert (connector["status"], connector["status_detail"]) == ("Occupied", "Charging")


async def test_oversized_body_is_rejected(client: ApiClient, auth: dict[str, str]) -> None:
    """A body above 64 KiB is refused with 413 `request_too_large` before it is parsed."""
    response = await client.post(
        "/api/v1/charge-points",
        data=b"{" + b" " * 70_000 + b"}",
        headers={**auth, "Content-Type": "application/json"},
    )
    assert (await error_of(response, 413))["code"] == "request_too_large"


async def test_patch_registration_status_and_password(
    client: ApiClient, auth: dict[str, str], store: MemoryStore, services: Services
) -> None:
    """PATCH changes only the given fields; a password is stored as a bcrypt hash and `null` removes it."""
    assert (
        await client.post("/api/v1/charge-points", json={"charge_point_id": "CP-1"}, headers=auth)
    ).status == 201
    response = await client.patch(
        "/api/v1/charge-points/CP-1",
        json={"registration_status": "Pending", "password": "a-long-password-123"},
        headers=auth,
    )
    assert response.status == 200
    shown = await response.json()
    assert shown["registration_status"] == "Pending" and shown["has_password"] is True
    stored = await store.get_charge_point("CP-1")
    assert stored is not None and stored.password_hash is not None
    assert stored.password_hash != "a-long-password-123"
    assert await SecretVerifier().verify("a-long-password-123", stored.password_hash)

    response = await client.patch("/api/v1/charge-points/CP-1", json={"password": None}, headers=auth)
    shown = await response.json()
    assert shown["has_password"] is False and shown["registration_status"] == "Pending"
    response = await client.patch("/api/v1/charge-points/CP-1", json={}, headers=auth)
    assert (await response.json())["registration_status"] == "Pending"


async def test_patch_rejects_bad_fields(client: ApiClient, auth: dict[str, str]) -> None:
    """A null or unknown registration status, a short password or an unknown field is a 400 naming it."""
    assert (
        await client.post("/api/v1/charge-points", json={"charge_point_id": "CP-1"}, headers=auth)
    ).status == 201
    for body, field in [
        ({"registration_status": None}, "registration_status"),
        ({"registration_status": "Maybe"}, "registration_status"),
        ({"password": "short"}, "password"),
        ({"charge_point_id": "CP-2"}, "charge_point_id"),
    ]:
        error = await error_of(await client.patch("/api/v1/charge-points/CP-1", json=body, headers=auth), 400)
        assert field in [d["field"] for d in error["details"]], body


async def test_patch_and_delete_unknown_charge_point(client: ApiClient, auth: dict[str, str]) -> None:
    """Changing or deleting a charge point that does not exist is a 404."""
    response = await client.patch(
        "/api/v1/charge-points/NOPE", json={"registration_status": "Accepted"}, headers=auth
    )
    assert (await error_of(response, 404))["code"] == "not_found"
    assert (await error_of(await client.delete("/api/v1/charge-points/NOPE", headers=auth), 404))["code"] == (
        "not_found"
    )


async def test_delete_charge_point(client: ApiClient, auth: dict[str, str], services: Services) -> None:
    """DELETE answers 204 and the charge point is gone; while it is connected it is a 409."""
    assert (
        await client.post("/api/v1/charge-points", json={"charge_point_id": "CP-1"}, headers=auth)
    ).status == 201
    connection = LiveConnection("CP-1", "1.6", datetime(2025, 1, 1, tzinfo=UTC))
    services.registry.register(connection)
    error = await error_of(await client.delete("/api/v1/charge-points/CP-1", headers=auth), 409)
    assert error["code"] == "charge_point_connected"
    services.registry.unregister(connection)
    response = await client.delete("/api/v1/charge-points/CP-1", headers=auth)
    assert response.status == 204 and await response.read() == b""
    assert (await client.get("/api/v1/charge-points/CP-1", headers=auth)).status == 404


async def test_only_admins_manage_charge_points(
    client: ApiClient, auth: dict[str, str], make_api_key: KeyFactory
) -> None:
    """Creating, changing and deleting charge points needs role admin: a member gets 403; both may read."""
    assert (
        await client.post("/api/v1/charge-points", json={"charge_point_id": "CP-1"}, headers=auth)
    ).status == 201
    member = {"Authorization": f"Bearer {await make_api_key('member')}"}
    for method, url, body in [
        ("POST", "/api/v1/charge-points", {"charge_point_id": "CP-2"}),
        ("PATCH", "/api/v1/charge-points/CP-1", {"registration_status": "Rejected"}),
        ("DELETE", "/api/v1/charge-points/CP-1", None),
    ]:
        error = await error_of(await client.request(method, url, json=body, headers=member), 403)
        assert error["details"] == {"role": "member", "required_role": "admin"}
    assert (await client.get("/api/v1/charge-points/CP-1", headers=member)).status == 200


async def test_wrong_api_keys_are_throttled_and_success_resets(
    client: ApiClient, auth: dict[str, str]
) -> None:
    """Wrong bearer keys from one address are refused (401) ever more slowly, logged past the free
    failures; a request with a valid key clears the address's count."""
    bad = {"Authorization": "Bearer csms_wrongkeywrongkeywrongkey"}
    with capture_logs() as logs:
        for _ in range(6):
            assert (await client.get("/api/v1/charge-points", headers=bad)).status == 401
        assert (await client.get("/api/v1/charge-points", headers=auth)).status == 200
        assert (await client.get("/api/v1/charge-points", headers=bad)).status == 401
    throttled = [e for e in logs if e["event"] == "auth_failure_throttled"]
    assert [e["failures"] for e in throttled] == [6]  # 5 free, then one delayed; the 7th is free again
