"""`/api/v1/charge-points/{id}/charging-profile`: install, list and clear charging profiles."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from csms.domain.commands import (
    ChargingProfile,
    ChargingSchedulePeriod,
    ClearChargingProfile,
    CommandResult,
    Outcome,
    SetChargingProfile,
)
from csms.domain.models import ChargePoint, NewTransaction, TransactionStatus
from tests.api.conftest import NOW, ApiClient, StationFactory, call_error_result, error_of, timeout_result
from tests.fakes.memory_store import MemoryStore

URL = "/api/v1/charge-points/CP-1/charging-profile"


def profile(**overrides: Any) -> dict[str, Any]:
    """A station-wide maximum of 32 A, then 16.5 A after an hour."""
    return {
        "evse_id": 0,
        "id": 7,
        "stack_level": 0,
        "purpose": "ChargingStationMaxProfile",
        "kind": "Absolute",
        "rate_unit": "A",
        "periods": [
            {"start_period": 0, "limit": 32},
            {"start_period": 3600, "limit": "16.5", "number_phases": 3},
        ],
        **overrides,
    }


async def test_accepted_profile_is_sent_and_stored(
    client: ApiClient, auth: dict[str, str], connect_station: StationFactory, store: MemoryStore
) -> None:
    """An accepted SetChargingProfile answers 200 with the stored profile; limits stay exact decimals."""
    station = await connect_station()
    request = profile(
        start_schedule="2025-01-02T05:00:00+02:00",
        valid_to="2025-02-01T00:00:00Z",
        duration=7200,
        min_charging_rate="6.1",
    )
    response = await client.put(URL, json=request, headers=auth)
    assert response.status == 200, await response.text()
    answer = await response.json()
    assert answer["command"] == {"outcome": "answered", "status": "Accepted", "data": {}}
    [command] = station.commands
    assert command == SetChargingProfile(
        0,
        ChargingProfile(
            id=7,
            stack_level=0,
            purpose="ChargingStationMaxProfile",
            kind="Absolute",
            rate_unit="A",
            periods=[
                ChargingSchedulePeriod(0, Decimal("32")),
                ChargingSchedulePeriod(3600, Decimal("16.5"), 3),
            ],
            valid_to=datetime(2025, 2, 1, tzinfo=UTC),
            duration=7200,
            start_schedule=datetime(2025, 1, 2, 3, 0, tzinfo=UTC),
            min_charging_rate=Decimal("6.1"),
        ),
    )
    stored = answer["profile"]
    assert stored["profile_id"] == 7 and stored["evse_id"] == 0 and stored["session_id"] is None
    assert stored["profile"]["periods"][1] == {"start_period": 3600, "limit": "16.5", "number_phases": 3}
    assert stored["purpose"] == "ChargingStationMaxProfile"
    listed = await (await client.get(URL, headers=auth)).json()
    assert listed == {"items": [stored]}


async def test_the_16_purpose_word_is_taken(
    client: ApiClient, auth: dict[str, str], connect_station: StationFactory
) -> None:
    """`ChargePointMaxProfile` (OCPP 1.6) means ChargingStationMaxProfile."""
    station = await connect_station(ocpp_version="1.6")
    response = await client.put(URL, json=profile(purpose="ChargePointMaxProfile"), headers=auth)
    assert (await response.json())["profile"]["purpose"] == "ChargingStationMaxProfile"
    [command] = station.commands
    assert isinstance(command, SetChargingProfile)
    assert command.profile.purpose == "ChargingStationMaxProfile"


async def test_tx_profile_for_a_session(
    client: ApiClient, auth: dict[str, str], connect_station: StationFactory, store: MemoryStore
) -> None:
    """`session_id` sends that session's OCPP transaction id and is kept with the stored profile."""
    station = await connect_station()
    tx = await store.add_transaction(
        NewTransaction("CP-1", 1, 1, NOW, ocpp_transaction_id="uuid-5", id_token="T")
    )
    request = profile(evse_id=1, purpose="TxProfile", session_id=tx.id)
    answer = await (await client.put(URL, json=request, headers=auth)).json()
    [command] = station.commands
    assert isinstance(command, SetChargingProfile)
    assert command.profile.ocpp_transaction_id == "uuid-5"
    assert answer["profile"]["session_id"] == tx.id


async def test_session_of_another_station_or_completed(
    client: ApiClient, auth: dict[str, str], connect_station: StationFactory, store: MemoryStore
) -> None:
    """A session that is unknown or of another charge point is 404; a completed one 409; nothing is sent."""
    station = await connect_station()
    await store.add_charge_point(ChargePoint("CP-2", created_at=NOW))
    other = await store.add_transaction(NewTransaction("CP-2", 1, 1, NOW))
    done = await store.add_transaction(NewTransaction("CP-1", 1, 1, NOW))
    done.status = TransactionStatus.COMPLETED
    await store.save_transaction(done)
    for session_id in (other.id, 9999):
        response = await client.put(
            URL, json=profile(purpose="TxProfile", session_id=session_id), headers=auth
        )
        assert (await error_of(response, 404))["code"] == "not_found"
    response = await client.put(URL, json=profile(purpose="TxProfile", session_id=done.id), headers=auth)
    assert (await error_of(response, 409))["code"] == "session_completed"
    assert station.commands == []


async def test_refused_profile_is_not_stored(
    client: ApiClient, auth: dict[str, str], connect_station: StationFactory
) -> None:
    """A Rejected SetChargingProfile is still a 200 carrying the answer, but nothing is stored."""
    station = await connect_station()
    station.answer("Rejected")
    answer = await (await client.put(URL, json=profile(), headers=auth)).json()
    assert answer == {"command": {"outcome": "answered", "status": "Rejected", "data": {}}, "profile": None}
    assert await (await client.get(URL, headers=auth)).json() == {"items": []}


@pytest.mark.parametrize(
    ("result", "http_status"),
    [(timeout_result(), 504), (call_error_result(), 502), (CommandResult(Outcome.NOT_SUPPORTED), 409)],
)
async def test_unanswered_profile_is_an_error_and_not_stored(
    client: ApiClient,
    auth: dict[str, str],
    connect_station: StationFactory,
    result: CommandResult,
    http_status: int,
) -> None:
    """A SetChargingProfile without an answer is the command's error; nothing is stored."""
    station = await connect_station()
    station.answer(result)
    await error_of(await client.put(URL, json=profile(), headers=auth), http_status)
    assert await (await client.get(URL, headers=auth)).json() == {"items": []}


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"periods": []}, "periods"),
        ({"periods": [{"start_period": 0, "limit": "lots"}]}, "periods.0.limit"),
        ({"periods": [{"start_period": 0, "limit": -1}]}, "periods.0.limit"),
        ({"periods": [{"start_period": 0, "limit": "NaN"}]}, "periods.0.limit"),
        ({"periods": [{"start_period": 0, "limit": 1, "number_phases": 4}]}, "periods.0.number_phases"),
        ({"purpose": "Whatever"}, "purpose"),
        ({"kind": "Sometimes"}, "kind"),
        ({"rate_unit": "kW"}, "rate_unit"),
        ({"id": 0}, "id"),
        ({"evse_id": -1}, "evse_id"),
        ({"valid_from": "2025-01-01T00:00:00"}, "valid_from"),
        ({"recurrency_kind": "Hourly"}, "recurrency_kind"),
        ({"session_id": 0}, "session_id"),
    ],
)
async def test_invalid_profile_names_the_field(
    client: ApiClient,
    auth: dict[str, str],
    connect_station: StationFactory,
    overrides: dict[str, Any],
    field: str,
) -> None:
    """A bad profile is a 400 naming the field (path into the periods list included); nothing is sent."""
    station = await connect_station()
    error = await error_of(await client.put(URL, json=profile(**overrides), headers=auth), 400)
    assert field in [d["field"] for d in error["details"]]
    assert station.commands == []


async def test_clear_profiles_deletes_what_the_station_cleared(
    client: ApiClient, auth: dict[str, str], connect_station: StationFactory
) -> None:
    """DELETE sends ClearChargingProfile with the filters and deletes the stored profiles it cleared."""
    station = await connect_station()
    for profile_id, evse_id in ((1, 0), (2, 1), (3, 1)):
        assert (
            await client.put(URL, json=profile(id=profile_id, evse_id=evse_id), headers=auth)
        ).status == 200
    answer = await (await client.delete(URL, params={"profile_id": "1"}, headers=auth)).json()
    assert answer == {"command": {"outcome": "answered", "status": "Accepted", "data": {}}, "deleted": 1}
    station.answer("Unknown")
    answer = await (await client.delete(URL, params={"evse_id": "1"}, headers=auth)).json()
    assert answer["deleted"] == 2 and answer["command"]["status"] == "Unknown"
    assert station.commands[-2:] == [ClearChargingProfile(profile_id=1), ClearChargingProfile(evse_id=1)]
    assert await (await client.get(URL, headers=auth)).json() == {"items": []}


async def test_clear_everything_and_failures(
    client: ApiClient, auth: dict[str, str], connect_station: StationFactory
) -> None:
    """Without filters every profile is cleared; without an answer nothing stored is deleted."""
    station = await connect_station()
    assert (await client.put(URL, json=profile(), headers=auth)).status == 200
    station.answer(timeout_result())
    assert (await error_of(await client.delete(URL, headers=auth), 504))["code"] == "station_timeout"
    assert len((await (await client.get(URL, headers=auth)).json())["items"]) == 1
    answer = await (await client.delete(URL, headers=auth)).json()
    assert answer["deleted"] == 1
    assert station.commands[-1] == ClearChargingProfile()


@pytest.mark.parametrize(("query", "field"), [("profile_id=x", "profile_id"), ("evse_id=-1", "evse_id")])
async def test_invalid_clear_query(
    client: ApiClient, auth: dict[str, str], connect_station: StationFactory, query: str, field: str
) -> None:
    """A non-integer `profile_id` or `evse_id` is a 400 naming it."""
    await connect_station()
    error = await error_of(await client.delete(f"{URL}?{query}", headers=auth), 400)
    assert error["details"][0]["field"] == field


async def test_profiles_of_unknown_charge_point_and_roles(
    client: ApiClient, role_headers: dict[str, dict[str, str]], connect_station: StationFactory
) -> None:
    """Unknown charge points are 404; a viewer may list profiles but not set or clear them."""
    await connect_station()
    viewer = role_headers["viewer"]
    unknown = "/api/v1/charge-points/NOPE/charging-profile"
    assert (await error_of(await client.get(unknown, headers=viewer), 404))["code"] == "not_found"
    assert (await error_of(await client.delete(unknown, headers=role_headers["member"]), 404))[
        "code"
    ] == "not_found"
    assert (await client.get(URL, headers=viewer)).status == 200
    assert (await error_of(await client.put(URL, json=profile(), headers=viewer), 403))["code"] == "forbidden"
    assert (await error_of(await client.delete(URL, headers=viewer), 403))["code"] == "forbidden"
