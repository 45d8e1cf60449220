"""`POST /api/v1/sessions` (remote start), `POST /api/v1/sessions/{id}/stop` (remote stop) and the
`remote_start_id` filter that finds the session a remote start led to."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from csms.api import sessions as sessions_api
from csms.domain.commands import CommandResult, Outcome, StartSession, StopSession
from csms.domain.models import (
    ChargePoint,
    IdToken,
    NewTransaction,
    Reservation,
    ReservationStatus,
    Transaction,
    TransactionStatus,
)
from tests.api.conftest import NOW, ApiClient, StationFactory, call_error_result, error_of, timeout_result
from tests.fakes.memory_store import MemoryStore


def start_body(**overrides: Any) -> dict[str, Any]:
    """A valid remote start on CP-1 for TAG-1 (the station picks the EVSE)."""
    return {"charge_point_id": "CP-1", "id_tag": "TAG-1", **overrides}


async def _transaction(store: MemoryStore, charge_point_id: str = "CP-1", **kwargs: Any) -> Transaction:
    if await store.get_charge_point(charge_point_id) is None:
        await store.add_charge_point(ChargePoint(charge_point_id, created_at=NOW))
    new = NewTransaction(charge_point_id=charge_point_id, evse_id=1, connector_id=1, started_at=NOW, **kwargs)
    return await store.add_transaction(new)


async def _reserve(store: MemoryStore, evse_id: int | None, id_token: str, group: str | None = None) -> None:
    await store.add_reservation(
        Reservation(
            id=0,
            charge_point_id="CP-1",
            evse_id=evse_id,
            id_token=id_token,
            expiry_date=NOW + timedelta(hours=1),
            status=ReservationStatus.ACTIVE,
            group_id_token=group,
        )
    )


async def test_remote_start_accepted_is_202_with_the_remote_start_id(
    client: ApiClient, auth: dict[str, str], connect_station: StationFactory
) -> None:
    """An accepted remote start answers 202 with the result, the remote start id and no session yet."""
    station = await connect_station()
    response = await client.post("/api/v1/sessions", json=start_body(evse_id=2), headers=auth)
    assert response.status == 202
    answer = await response.json()
    assert answer["command"] == {"outcome": "answered", "status": "Accepted", "data": {}}
    assert answer["session_id"] is None
    [command] = station.commands
    assert isinstance(command, StartSession)
    assert (command.id_token, command.evse_id, command.id_token_type) == ("TAG-1", 2, "Central")
    assert command.remote_start_id == answer["remote_start_id"]


async def test_remote_start_names_a_running_transaction(
    client: ApiClient, auth: dict[str, str], connect_station: StationFactory, store: MemoryStore
) -> None:
    """When the station answers with the transaction it already runs (2.0.1), its session id is returned."""
    station = await connect_station()
    tx = await _transaction(store, ocpp_transaction_id="uuid-1")
    station.answer(CommandResult(Outcome.ANSWERED, "Accepted", {"ocpp_transaction_id": "uuid-1"}))
    response = await client.post("/api/v1/sessions", json=start_body(connector_id=1), headers=auth)
    assert response.status == 202
    answer = await response.json()
    assert answer["session_id"] == tx.id
    assert answer["command"]["data"] == {"ocpp_transaction_id": "uuid-1"}


async def test_remote_start_uses_the_registered_token_type(
    client: ApiClient, auth: dict[str, str], connect_station: StationFactory, store: MemoryStore
) -> None:
    """Without `id_token_type` the registered token's type is sent; unknown tokens are sent as Central."""
    station = await connect_station()
    await store.add_id_token(IdToken("TAG-1", type="ISO15693", created_at=NOW))
    assert (await client.post("/api/v1/sessions", json=start_body(), headers=auth)).status == 202
    assert (
        await client.post("/api/v1/sessions", json=start_body(id_tag="OTHER"), headers=auth)
    ).status == 202
    assert [c.id_token_type for c in station.commands if isinstance(c, StartSession)] == [
        "ISO15693",
        "Central",
    ]


async def test_remote_start_rejected_is_a_conflict_with_the_result(
    client: ApiClient, auth: dict[str, str], connect_station: StationFactory
) -> None:
    """A station answering Rejected is 409 `command_rejected` carrying its result and the remote start id."""
    station = await connect_station()
    station.answer("Rejected")
    error = await error_of(await client.post("/api/v1/sessions", json=start_body(), headers=auth), 409)
    assert error["code"] == "command_rejected"
    assert error["details"]["command"] == {"outcome": "answered", "status": "Rejected", "data": {}}
    assert isinstance(error["details"]["remote_start_id"], int)


@pytest.mark.parametrize(
    ("result", "http_status", "code"),
    [
        (timeout_result(), 504, "station_timeout"),
        (CommandResult(Outcome.DISCONNECTED), 504, "station_timeout"),
        (call_error_result(), 502, "station_error"),
        (CommandResult(Outcome.NOT_SUPPORTED, description="no profiles"), 409, "not_supported"),
    ],
)
async def test_remote_start_without_an_answer(
    client: ApiClient,
    auth: dict[str, str],
    connect_station: StationFactory,
    result: CommandResult,
    http_status: int,
    code: str,
) -> None:
    """No answer is 504 `station_timeout`, a CALLERROR 502 `station_error`, inexpressible 409."""
    station = await connect_station()
    station.answer(result)
    response = await client.post("/api/v1/sessions", json=start_body(), headers=auth)
    assert (await error_of(response, http_status))["code"] == code


async def test_remote_start_on_offline_and_unknown_charge_points(
    client: ApiClient, auth: dict[str, str], connect_station: StationFactory
) -> None:
    """A disconnected charge point is 409 `charge_point_offline`; an unregistered one 404."""
    station = await connect_station()
    station.disconnect()
    error = await error_of(await client.post("/api/v1/sessions", json=start_body(), headers=auth), 409)
    assert error["code"] == "charge_point_offline"
    response = await client.post("/api/v1/sessions", json=start_body(charge_point_id="NOPE"), headers=auth)
    assert (await error_of(response, 404))["code"] == "not_found"


async def test_remote_start_on_an_evse_reserved_for_another_token(
    client: ApiClient, auth: dict[str, str], connect_station: StationFactory, store: MemoryStore
) -> None:
    """A start on an EVSE reserved for someone else is 409 `connector_reserved`; nothing is sent."""
    station = await connect_station()
    await _reserve(store, 1, "SOMEONE-ELSE")
    response = await client.post("/api/v1/sessions", json=start_body(evse_id=1), headers=auth)
    error = await error_of(response, 409)
    assert error["code"] == "connector_reserved"
    assert error["details"]["reservation_status"] == "active"
    assert station.commands == []


async def test_remote_start_by_the_reserved_token_or_its_group(
    client: ApiClient, auth: dict[str, str], connect_station: StationFactory, store: MemoryStore
) -> None:
    """The reserved token, or a token of the reserved group, may start on the reserved EVSE."""
    station = await connect_station()
    await _reserve(store, 1, "TAG-1", group="FLEET")
    assert (await client.post("/api/v1/sessions", json=start_body(evse_id=1), headers=auth)).status == 202
    await store.add_id_token(IdToken("DRIVER-2", group_id_token="FLEET", created_at=NOW))
    response = await client.post(
        "/api/v1/sessions", json=start_body(evse_id=1, id_tag="DRIVER-2"), headers=auth
    )
    assert response.status == 202
    assert len(station.commands) == 2


@pytest.mark.parametrize(
    ("request_body", "field"),
    [
        ({"charge_point_id": "CP-1"}, "id_tag"),
        (start_body(evse_id=1, connector_id=2), "evse_id"),
        (start_body(evse_id="one"), "evse_id"),
        (start_body(id_token_type="Bogus"), "id_token_type"),
        (start_body(extra=True), "extra"),
    ],
)
async def test_invalid_remote_start_names_the_field(
    client: ApiClient,
    auth: dict[str, str],
    connect_station: StationFactory,
    request_body: dict[str, Any],
    field: str,
) -> None:
    """A bad remote start request is a 400 naming the field; nothing is sent."""
    station = await connect_station()
    error = await error_of(await client.post("/api/v1/sessions", json=request_body, headers=auth), 400)
    assert field in [d["field"] for d in error["details"]]
    assert station.commands == []


async def test_invalid_json_is_a_bad_request(client: ApiClient, auth: dict[str, str]) -> None:
    """A body that is not JSON is a 400 `invalid_json`."""
    response = await client.post("/api/v1/sessions", data=b"{nope", headers=auth)
    assert (await error_of(response, 400))["code"] == "invalid_json"


async def test_remote_stop(
    client: ApiClient, auth: dict[str, str], connect_station: StationFactory, store: MemoryStore
) -> None:
    """Stopping an active session sends the station's transaction id and answers 202 with the result."""
    station = await connect_station()
    tx = await _transaction(store, ocpp_transaction_id="uuid-7")
    response = await client.post(f"/api/v1/sessions/{tx.id}/stop", headers=auth)
    assert response.status == 202
    assert await response.json() == {"command": {"outcome": "answered", "status": "Accepted", "data": {}}}
    assert station.commands == [StopSession("uuid-7")]


async def test_remote_stop_rejected_and_unanswered(
    client: ApiClient, auth: dict[str, str], connect_station: StationFactory, store: MemoryStore
) -> None:
    """A refused stop is 409 `command_rejected`; an unanswered one 504; an offline station 409."""
    station = await connect_station()
    tx = await _transaction(store)
    station.answer("Rejected", timeout_result())
    error = await error_of(await client.post(f"/api/v1/sessions/{tx.id}/stop", headers=auth), 409)
    assert error["code"] == "command_rejected"
    assert error["details"]["session_id"] == tx.id
    error = await error_of(await client.post(f"/api/v1/sessions/{tx.id}/stop", headers=auth), 504)
    assert error["code"] == "station_timeout"
    station.disconnect()
    error = await error_of(await client.post(f"/api/v1/sessions/{tx.id}/stop", headers=auth), 409)
    assert error["code"] == "charge_point_offline"


async def test_stopping_a_completed_or_unknown_session(
    client: ApiClient, auth: dict[str, str], connect_station: StationFactory, store: MemoryStore
) -> None:
    """A completed session is 409 `session_completed`; an unknown one 404; nothing is sent."""
    station = await connect_station()
    tx = await _transaction(store)
    tx.status = TransactionStatus.COMPLETED
    tx.stopped_at = NOW
    await store.save_transaction(tx)
    error = await error_of(await client.post(f"/api/v1/sessions/{tx.id}/stop", headers=auth), 409)
    assert error == {
        "code": "session_completed",
        "message": f"session {tx.id} is already completed",
        "details": {"session_id": tx.id},
    }
    assert (await error_of(await client.post("/api/v1/sessions/999/stop", headers=auth), 404))["code"] == (
        "not_found"
    )
    assert station.commands == []


async def test_viewer_may_not_start_or_stop(
    client: ApiClient,
    role_headers: dict[str, dict[str, str]],
    connect_station: StationFactory,
    store: MemoryStore,
) -> None:
    """Remote start and stop need role member: a viewer gets 403 and nothing is sent."""
    station = await connect_station()
    tx = await _transaction(store)
    viewer = role_headers["viewer"]
    assert (await error_of(await client.post("/api/v1/sessions", json=start_body(), headers=viewer), 403))[
        "code"
    ] == "forbidden"
    assert (await error_of(await client.post(f"/api/v1/sessions/{tx.id}/stop", headers=viewer), 403))[
        "code"
    ] == "forbidden"
    assert station.commands == []
    member = role_headers["member"]
    assert (await client.post("/api/v1/sessions", json=start_body(), headers=member)).status == 202


async def test_filter_by_remote_start_id(client: ApiClient, auth: dict[str, str], store: MemoryStore) -> None:
    """`remote_start_id` finds the session a remote start led to, with the other filters applied too."""
    wanted = await _transaction(store, remote_start_id=77)
    await _transaction(store, remote_start_id=78)
    await _transaction(store, "CP-2", remote_start_id=77)
    body = await (
        await client.get("/api/v1/sessions?remote_start_id=77&charge_point_id=CP-1", headers=auth)
    ).json()
    assert [s["id"] for s in body["items"]] == [wanted.id]
    assert body["next_cursor"] is None
    body = await (await client.get("/api/v1/sessions?remote_start_id=77", headers=auth)).json()
    assert len(body["items"]) == 2
    body = await (await client.get("/api/v1/sessions?remote_start_id=5", headers=auth)).json()
    assert body == {"items": [], "next_cursor": None}


async def test_remote_start_filter_pages_resume_after_the_last_match(
    client: ApiClient, auth: dict[str, str], store: MemoryStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With `limit`, the next page resumes right after the last match, even within a scanned store page."""
    monkeypatch.setattr(sessions_api, "SCAN_PAGE", 4)
    matches = []
    for i in range(9):
        tx = await _transaction(store, remote_start_id=5 if i % 3 == 0 else 6)
        if i % 3 == 0:
            matches.append(tx.id)
    seen: list[int] = []
    url = "/api/v1/sessions?remote_start_id=5&limit=1"
    for _ in range(5):
        response = await client.get(url, headers=auth)
        page = await response.json()
        seen += [s["id"] for s in page["items"]]
        if page["next_cursor"] is None:
            break
        url = response.headers["Link"][1 : response.headers["Link"].index(">")]
    assert seen == matches[::-1]


async def test_remote_start_filter_scans_a_bounded_number_of_sessions(
    client: ApiClient, auth: dict[str, str], store: MemoryStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A request reads at most SCAN_BUDGET sessions; a page may be empty with a cursor to continue from."""
    monkeypatch.setattr(sessions_api, "SCAN_PAGE", 2)
    monkeypatch.setattr(sessions_api, "SCAN_BUDGET", 4)
    old = await _transaction(store, remote_start_id=9)
    for _ in range(5):
        await _transaction(store, remote_start_id=1)
    first = await (await client.get("/api/v1/sessions?remote_start_id=9", headers=auth)).json()
    assert first["items"] == [] and first["next_cursor"] is not None
    second = await (
        await client.get(f"/api/v1/sessions?remote_start_id=9&cursor={first['next_cursor']}", headers=auth)
    ).json()
    assert [s["id"] for s in second["items"]] == [old.id]


async def test_bad_remote_start_id_is_invalid(client: ApiClient, auth: dict[str, str]) -> None:
    """A `remote_start_id` that is not a 32-bit non-negative integer is a 400 naming it."""
    for value in ("x", "-1", str(2**31)):
        error = await error_of(
            await client.get(f"/api/v1/sessions?remote_start_id={value}", headers=auth), 400
        )
        assert error["details"][0]["field"] == "remote_start_id"
