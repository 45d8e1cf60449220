"""`/api/v1/reservations`: create (only when the station accepts), list, show and cancel reservations."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from csms.domain.clock import isoformat_z
from csms.domain.commands import CancelReservation, CommandResult, Outcome, ReserveNow
from csms.domain.models import IdToken, Reservation, ReservationStatus
from tests.api.conftest import (
    NOW,
    ApiClient,
    StationFactory,
    call_error_result,
    error_of,
    timeout_result,
)
from tests.fakes.memory_store import MemoryStore

EXPIRY = NOW + timedelta(hours=1)
EXPIRY_TEXT = "2025-01-02T04:04:05.678Z"


def body(**overrides: Any) -> dict[str, Any]:
    """A valid reservation request for CP-1, EVSE 1, token TAG-1, expiring an hour from NOW."""
    return {
        "charge_point_id": "CP-1",
        "evse_id": 1,
        "expiry_date": EXPIRY_TEXT,
        "id_tag": "TAG-1",
        **overrides,
    }


async def test_create_reservation_when_station_accepts(
    client: ApiClient, auth: dict[str, str], connect_station: StationFactory, store: MemoryStore
) -> None:
    """An accepted ReserveNow answers 201 with the active reservation, its Location, and stores it."""
    station = await connect_station()
    response = await client.post("/api/v1/reservations", json=body(group_id_token="GROUP"), headers=auth)
    assert response.status == 201, await response.text()
    reservation = await response.json()
    assert reservation["status"] == "active"
    assert reservation["station_status"] == "Accepted"
    assert reservation["evse_id"] == 1 and reservation["id_token"] == "TAG-1"
    assert reservation["group_id_token"] == "GROUP"
    assert reservation["id_token_type"] == "Central"
    assert reservation["expiry_date"] == EXPIRY_TEXT
    assert response.headers["Location"] == f"/api/v1/reservations/{reservation['id']}"
    [command] = station.commands
    assert isinstance(command, ReserveNow)
    assert (command.reservation_id, command.evse_id, command.id_token) == (reservation["id"], 1, "TAG-1")
    assert command.expiry == EXPIRY and command.group_id_token == "GROUP"
    stored = await store.get_reservation(reservation["id"])
    assert stored is not None and stored.status is ReservationStatus.ACTIVE


async def test_connector_id_is_the_same_as_evse_id(
    client: ApiClient, auth: dict[str, str], connect_station: StationFactory
) -> None:
    """`connector_id` (the 1.6 word) reserves the same EVSE as `evse_id`; 0 reserves the whole station."""
    station = await connect_station(ocpp_version="1.6")
    request = body(connector_id=2)
    del request["evse_id"]
    assert (await client.post("/api/v1/reservations", json=request, headers=auth)).status == 201
    assert (await client.post("/api/v1/reservations", json=body(evse_id=0), headers=auth)).status == 201
    assert [c.evse_id for c in station.commands if isinstance(c, ReserveNow)] == [2, None]


async def test_token_type_defaults_to_the_registered_type(
    client: ApiClient, auth: dict[str, str], connect_station: StationFactory, store: MemoryStore
) -> None:
    """Without `id_token_type` a registered token's own type is sent; an explicit one wins."""
    station = await connect_station()
    await store.add_id_token(IdToken("TAG-1", type="ISO14443", created_at=NOW))
    assert (await client.post("/api/v1/reservations", json=body(), headers=auth)).status == 201
    explicit = body(id_token_type="eMAID")
    assert (await client.post("/api/v1/reservations", json=explicit, headers=auth)).status == 201
    assert [c.id_token_type for c in station.commands if isinstance(c, ReserveNow)] == ["ISO14443", "eMAID"]


@pytest.mark.parametrize(
    ("status", "code"),
    [
        ("Occupied", "evse_occupied"),
        ("Faulted", "evse_faulted"),
        ("Unavailable", "evse_unavailable"),
        ("Rejected", "reservation_rejected"),
    ],
)
async def test_station_refusal_is_a_conflict_and_nothing_active_remains(
    client: ApiClient,
    auth: dict[str, str],
    connect_station: StationFactory,
    store: MemoryStore,
    status: str,
    code: str,
) -> None:
    """A refused ReserveNow is a 409 naming the station's word and the `rejected` record; none is active."""
    station = await connect_station()
    station.answer(status)
    error = await error_of(await client.post("/api/v1/reservations", json=body(), headers=auth), 409)
    assert error["code"] == code
    assert error["details"]["station_status"] == status
    assert error["details"]["reservation_status"] == "rejected"
    stored = await store.get_reservation(error["details"]["reservation_id"])
    assert stored is not None and stored.status is ReservationStatus.REJECTED
    assert await store.find_active_reservations("CP-1") == []


@pytest.mark.parametrize(
    ("result", "http_status", "code"),
    [
        (timeout_result(), 504, "station_timeout"),
        (CommandResult(Outcome.DISCONNECTED), 504, "station_timeout"),
        (call_error_result(), 502, "station_error"),
        (call_error_result("NotImplemented", "no reservations"), 409, "not_supported"),
    ],
)
async def test_unanswered_reserve_now_fails_without_an_active_reservation(
    client: ApiClient,
    auth: dict[str, str],
    connect_station: StationFactory,
    store: MemoryStore,
    result: CommandResult,
    http_status: int,
    code: str,
) -> None:
    """No answer is 504, a CALLERROR 502 (NotImplemented: 409 not_supported); the record is `failed`."""
    station = await connect_station()
    station.answer(result)
    response = await client.post("/api/v1/reservations", json=body(), headers=auth)
    error = await error_of(response, http_status)
    assert error["code"] == code
    assert error["details"]["reservation_status"] == "failed"
    if code == "station_error":
        assert error["details"]["error_code"] == "InternalError"
        assert error["details"]["description"] == "boom"
    assert await store.find_active_reservations("CP-1") == []


async def test_offline_station_is_a_conflict(
    client: ApiClient, auth: dict[str, str], connect_station: StationFactory
) -> None:
    """A reservation on a registered but disconnected charge point is 409 `charge_point_offline`."""
    station = await connect_station()
    station.disconnect()
    error = await error_of(await client.post("/api/v1/reservations", json=body(), headers=auth), 409)
    assert error["code"] == "charge_point_offline"


async def test_unknown_charge_point_is_not_found(client: ApiClient, auth: dict[str, str]) -> None:
    """A reservation for a charge point never registered is a 404."""
    error = await error_of(await client.post("/api/v1/reservations", json=body(), headers=auth), 404)
    assert error["code"] == "not_found"


@pytest.mark.parametrize(
    ("request_body", "field"),
    [
        (body(expiry_date=isoformat_z(NOW - timedelta(seconds=1))), "expiry_date"),
        (body(expiry_date=isoformat_z(NOW)), "expiry_date"),
        (body(expiry_date="2025-01-02T04:04:05"), "expiry_date"),
        (body(expiry_date="tomorrow"), "expiry_date"),
        (body(evse_id=1, connector_id=2), "evse_id"),
        (body(evse_id=-1), "evse_id"),
        (body(id_tag=""), "id_tag"),
        (body(id_tag="X" * 37), "id_tag"),
        (body(id_token_type="Nonsense"), "id_token_type"),
        (body(charge_point_id="bad id"), "charge_point_id"),
        (body(surprise=1), "surprise"),
        ({k: v for k, v in body().items() if k != "id_tag"}, "id_tag"),
        ({k: v for k, v in body().items() if k != "expiry_date"}, "expiry_date"),
    ],
)
async def test_invalid_reservation_names_the_field(
    client: ApiClient,
    auth: dict[str, str],
    connect_station: StationFactory,
    request_body: dict[str, Any],
    field: str,
) -> None:
    """Each invalid request is a 400 `invalid_request` naming the offending field; nothing is sent."""
    station = await connect_station()
    response = await client.post("/api/v1/reservations", json=request_body, headers=auth)
    error = await error_of(response, 400)
    assert error["code"] == "invalid_request"
    assert field in [d["field"] for d in error["details"]]
    assert station.commands == []


async def test_get_and_list_reservations(
    client: ApiClient, auth: dict[str, str], connect_station: StationFactory
) -> None:
    """Reservations are listed newest first, filtered by charge point and status, and shown one by one."""
    await connect_station("CP-1")
    cp2 = await connect_station("CP-2")
    cp2.answer("Accepted", "Occupied")
    ids = []
    for request_body in (body(), body(charge_point_id="CP-2"), body(charge_point_id="CP-2", evse_id=2)):
        response = await client.post("/api/v1/reservations", json=request_body, headers=auth)
        ids.append(
            (await response.json()).get("id") or (await response.json())["error"]["details"]["reservation_id"]
        )

    everything = await (await client.get("/api/v1/reservations", headers=auth)).json()
    assert [r["id"] for r in everything["items"]] == ids[::-1]
    assert everything["next_cursor"] is None

    response = await client.get("/api/v1/reservations?charge_point_id=CP-2&status=active", headers=auth)
    assert [r["id"] for r in (await response.json())["items"]] == [ids[1]]
    response = await client.get("/api/v1/reservations?status=rejected", headers=auth)
    assert [r["id"] for r in (await response.json())["items"]] == [ids[2]]

    one = await client.get(f"/api/v1/reservations/{ids[0]}", headers=auth)
    assert one.status == 200
    assert (await one.json())["charge_point_id"] == "CP-1"


async def test_reservations_are_paginated(
    client: ApiClient, auth: dict[str, str], connect_station: StationFactory
) -> None:
    """`limit` pages through reservations with `next_cursor` and a Link header, keeping the filters."""
    await connect_station()
    for _ in range(3):
        assert (await client.post("/api/v1/reservations", json=body(), headers=auth)).status == 201
    first = await client.get("/api/v1/reservations?limit=2&charge_point_id=CP-1", headers=auth)
    page = await first.json()
    assert len(page["items"]) == 2 and page["next_cursor"]
    assert 'rel="next"' in first.headers["Link"] and "charge_point_id=CP-1" in first.headers["Link"]
    second = await client.get(
        "/api/v1/reservations", params={"limit": "2", "cursor": page["next_cursor"]}, headers=auth
    )
    rest = await second.json()
    assert len(rest["items"]) == 1 and rest["next_cursor"] is None
    assert "Link" not in second.headers


@pytest.mark.parametrize(
    ("query", "field"), [("status=maybe", "status"), ("limit=0", "limit"), ("cursor=nonsense", "cursor")]
)
async def test_invalid_list_query_names_the_parameter(
    client: ApiClient, auth: dict[str, str], query: str, field: str
) -> None:
    """A bad filter, limit or cursor is a 400 naming the query parameter."""
    error = await error_of(await client.get(f"/api/v1/reservations?{query}", headers=auth), 400)
    assert error["details"][0]["field"] == field


@pytest.mark.parametrize("reservation_id", ["12345", str(2**64)])
async def test_unknown_reservation_is_not_found(
    client: ApiClient, auth: dict[str, str], reservation_id: str
) -> None:
    """Showing or cancelling a reservation that does not exist is a 404 (also beyond 64-bit ids)."""
    assert (await error_of(await client.get(f"/api/v1/reservations/{reservation_id}", headers=auth), 404))[
        "code"
    ] == "not_found"
    response = await client.delete(f"/api/v1/reservations/{reservation_id}", headers=auth)
    assert (await error_of(response, 404))["code"] == "not_found"


async def test_non_numeric_reservation_id_is_invalid(client: ApiClient, auth: dict[str, str]) -> None:
    """A reservation id that is not a non-negative integer is a 400 naming `reservation_id`."""
    error = await error_of(await client.get("/api/v1/reservations/abc", headers=auth), 400)
    assert error["details"][0]["field"] == "reservation_id"


async def _reserve(client: ApiClient, auth: dict[str, str]) -> dict[str, Any]:
    response = await client.post("/api/v1/reservations", json=body(), headers=auth)
    assert response.status == 201, await response.text()
    return await response.json()  # type: ignore[no-any-return]


async def test_cancel_reservation(
    client: ApiClient, auth: dict[str, str], connect_station: StationFactory, store: MemoryStore
) -> None:
    """DELETE sends CancelReservation and answers 204 once the station confirmed; the record is cancelled."""
    station = await connect_station()
    reservation = await _reserve(client, auth)
    response = await client.delete(f"/api/v1/reservations/{reservation['id']}", headers=auth)
    assert response.status == 204
    assert await response.read() == b""
    assert isinstance(station.commands[-1], CancelReservation)
    assert station.commands[-1].reservation_id == reservation["id"]
    shown = await (await client.get(f"/api/v1/reservations/{reservation['id']}", headers=auth)).json()
    assert shown["status"] == "cancelled"


async def test_cancelling_twice_is_a_conflict(
    client: ApiClient, auth: dict[str, str], connect_station: StationFactory
) -> None:
    """A reservation that is no longer active (here: cancelled) cannot be cancelled: 409 with its status."""
    await connect_station()
    reservation = await _reserve(client, auth)
    assert (await client.delete(f"/api/v1/reservations/{reservation['id']}", headers=auth)).status == 204
    response = await client.delete(f"/api/v1/reservations/{reservation['id']}", headers=auth)
    error = await error_of(response, 409)
    assert error["code"] == "reservation_not_active"
    assert error["details"] == {"reservation_id": reservation["id"], "reservation_status": "cancelled"}


async def test_used_reservation_cannot_be_cancelled(
    client: ApiClient, auth: dict[str, str], connect_station: StationFactory, store: MemoryStore
) -> None:
    """A reservation a session used is a 409 `reservation_not_active` on DELETE."""
    await connect_station()
    reservation = await _reserve(client, auth)
    stored = await store.get_reservation(reservation["id"])
    assert stored is not None
    stored.status = ReservationStatus.USED
    await store.save_reservation(stored)
    error = await error_of(
        await client.delete(f"/api/v1/reservations/{reservation['id']}", headers=auth), 409
    )
    assert error["code"] == "reservation_not_active"
    assert error["details"]["reservation_status"] == "used"


@pytest.mark.parametrize(
    ("result", "http_status", "code"),
    [(timeout_result(), 504, "station_timeout"), (call_error_result(), 502, "station_error")],
)
async def test_cancel_without_an_answer_keeps_the_reservation(
    client: ApiClient,
    auth: dict[str, str],
    connect_station: StationFactory,
    store: MemoryStore,
    result: CommandResult,
    http_status: int,
    code: str,
) -> None:
    """A CancelReservation the station does not answer (or refuses with a CALLERROR) leaves it active."""
    station = await connect_station()
    reservation = await _reserve(client, auth)
    station.answer(result)
    response = await client.delete(f"/api/v1/reservations/{reservation['id']}", headers=auth)
    assert (await error_of(response, http_status))["code"] == code
    stored = await store.get_reservation(reservation["id"])
    assert stored is not None and stored.status is ReservationStatus.ACTIVE


async def test_cancel_while_offline_is_a_conflict(
    client: ApiClient, auth: dict[str, str], connect_station: StationFactory
) -> None:
    """Cancelling on a disconnected station is 409 `charge_point_offline`."""
    station = await connect_station()
    reservation = await _reserve(client, auth)
    station.disconnect()
    response = await client.delete(f"/api/v1/reservations/{reservation['id']}", headers=auth)
    assert (await error_of(response, 409))["code"] == "charge_point_offline"


async def test_viewer_may_read_but_not_reserve(
    client: ApiClient, role_headers: dict[str, dict[str, str]], connect_station: StationFactory
) -> None:
    """A viewer lists reservations but may neither create nor cancel one (403); a member may."""
    station = await connect_station()
    viewer, member = role_headers["viewer"], role_headers["member"]
    assert (await client.get("/api/v1/reservations", headers=viewer)).status == 200
    error = await error_of(await client.post("/api/v1/reservations", json=body(), headers=viewer), 403)
    assert error["code"] == "forbidden"
    reservation = await _reserve(client, member)
    response = await client.delete(f"/api/v1/reservations/{reservation['id']}", headers=viewer)
    assert (await error_of(response, 403))["code"] == "forbidden"
    assert (await client.delete(f"/api/v1/reservations/{reservation['id']}", headers=member)).status == 204
    assert len(station.commands) == 2


async def test_reservations_need_a_key(client: ApiClient) -> None:
    """Reservations without a key are a 401."""
    assert (await error_of(await client.get("/api/v1/reservations"), 401))["code"] == "unauthorized"
    assert (await error_of(await client.post("/api/v1/reservations", json=body()), 401))["code"] == (
        "unauthorized"
    )


async def test_reservation_json_shows_every_field(
    client: ApiClient, auth: dict[str, str], store: MemoryStore
) -> None:
    """A stored reservation is shown with every field, timestamps in UTC with `Z`."""
    stored = await store.add_reservation(
        Reservation(
            id=0,
            charge_point_id="CP-9",
            evse_id=None,
            id_token="TAG-9",
            expiry_date=EXPIRY,
            status=ReservationStatus.USED,
            id_token_type="ISO14443",
            group_id_token="G",
            connector_type="cType2",
            station_status="Accepted",
            transaction_pk=42,
            external_id="ext-1",
            owner="partner",
            created_at=NOW,
            updated_at=NOW,
        )
    )
    shown = await (await client.get(f"/api/v1/reservations/{stored.id}", headers=auth)).json()
    assert shown == {
        "id": stored.id,
        "charge_point_id": "CP-9",
        "evse_id": None,
        "id_token": "TAG-9",
        "id_token_type": "ISO14443",
        "group_id_token": "G",
        "connector_type": "cType2",
        "expiry_date": EXPIRY_TEXT,
        "status": "used",
        "station_status": "Accepted",
        "session_id": 42,
        "reason": None,
        "owner": "partner",
        "external_id": "ext-1",
        "created_at": shown["created_at"],
        "updated_at": shown["updated_at"],
    }
