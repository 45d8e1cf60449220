"""`POST /api/v1/charge-points/{id}/<command>`: each body becomes the right version-neutral command, and
every outcome becomes the documented HTTP answer."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from csms.domain.commands import (
    ChangeAvailability,
    ClearCache,
    Command,
    CommandResult,
    DataTransfer,
    GetBaseReport,
    Outcome,
    Reset,
    ResetKind,
    TriggerMessage,
    UnlockConnector,
)
from tests.api.conftest import ApiClient, StationFactory, call_error_result, error_of, timeout_result

CP = "/api/v1/charge-points/CP-1"


@pytest.mark.parametrize(
    ("path", "request_body", "expected"),
    [
        ("reset", {"type": "soft"}, Reset(ResetKind.SOFT)),
        ("reset", {"type": "hard"}, Reset(ResetKind.HARD)),
        ("reset", {"type": "on_idle", "evse_id": 2}, Reset(ResetKind.ON_IDLE, 2)),
        ("reset", {"type": "immediate"}, Reset(ResetKind.IMMEDIATE)),
        ("unlock", {"connector_id": 2}, UnlockConnector(2, 1)),
        ("unlock", {"evse_id": 1, "connector_id": 2}, UnlockConnector(1, 2)),
        ("unlock", {"evse_id": 3}, UnlockConnector(3, 1)),
        ("availability", {"operative": False}, ChangeAvailability(False, 0, None)),
        ("availability", {"type": "Inoperative", "connector_id": 2}, ChangeAvailability(False, 2, None)),
        ("availability", {"type": "Operative", "operative": True, "evse_id": 1}, ChangeAvailability(True, 1)),
        (
            "availability",
            {"operative": True, "evse_id": 1, "connector_id": 2},
            ChangeAvailability(True, 1, 2),
        ),
        ("availability", {"operative": True, "evse_id": 0}, ChangeAvailability(True, 0, None)),
        ("trigger", {"message": "StatusNotification"}, TriggerMessage("StatusNotification")),
        ("trigger", {"message": "MeterValues", "connector_id": 2}, TriggerMessage("MeterValues", 2)),
        (
            "trigger",
            {"message": "Heartbeat", "evse_id": 1, "connector_id": 1},
            TriggerMessage("Heartbeat", 1, 1),
        ),
        ("data-transfer", {"vendor_id": "acme"}, DataTransfer("acme")),
        (
            "data-transfer",
            {"vendor_id": "acme", "message_id": "m", "data": {"a": [1, "b"]}},
            DataTransfer("acme", "m", {"a": [1, "b"]}),
        ),
        ("clear-cache", None, ClearCache()),
    ],
)
async def test_command_body_becomes_the_neutral_command(
    client: ApiClient,
    auth: dict[str, str],
    connect_station: StationFactory,
    path: str,
    request_body: dict[str, Any] | None,
    expected: Command,
) -> None:
    """Each command endpoint sends the matching domain command and answers 200 with the station's word."""
    station = await connect_station()
    response = await client.post(f"{CP}/{path}", json=request_body, headers=auth)
    assert response.status == 200, await response.text()
    assert await response.json() == {"command": {"outcome": "answered", "status": "Accepted", "data": {}}}
    assert station.commands == [expected]


async def test_any_answer_is_200_with_the_station_word_and_data(
    client: ApiClient, auth: dict[str, str], connect_station: StationFactory
) -> None:
    """Whatever the station says (Rejected, Scheduled, UnknownVendorId with data) is a 200 carrying it."""
    station = await connect_station()
    station.answer(
        "Rejected",
        "Scheduled",
        CommandResult(Outcome.ANSWERED, "Accepted", {"data": "pong", "amount": Decimal("1.50")}),
    )
    answer = await (await client.post(f"{CP}/reset", json={"type": "soft"}, headers=auth)).json()
    assert answer["command"]["status"] == "Rejected"
    answer = await (await client.post(f"{CP}/availability", json={"operative": False}, headers=auth)).json()
    assert answer["command"]["status"] == "Scheduled"
    answer = await (await client.post(f"{CP}/data-transfer", json={"vendor_id": "v"}, headers=auth)).json()
    assert answer["command"] == {
        "outcome": "answered",
        "status": "Accepted",
        "data": {"data": "pong", "amount": "1.50"},
    }


async def test_report_sends_get_base_report_with_a_request_id(
    client: ApiClient, auth: dict[str, str], connect_station: StationFactory
) -> None:
    """`/report` sends GetBaseReport (default FullInventory, body optional) and returns its request id."""
    station = await connect_station()
    response = await client.post(f"{CP}/report", headers=auth)
    assert response.status == 200
    answer = await response.json()
    response = await client.post(f"{CP}/report", json={"report_base": "ConfigurationInventory"}, headers=auth)
    second = await response.json()
    first_command, second_command = station.commands
    assert first_command == GetBaseReport(answer["request_id"], "FullInventory")
    assert second_command == GetBaseReport(second["request_id"], "ConfigurationInventory")
    assert answer["command"]["status"] == "Accepted"


@pytest.mark.parametrize(
    ("result", "http_status", "code", "details"),
    [
        (CommandResult(Outcome.TIMEOUT), 504, "station_timeout", {"outcome": "timeout"}),
        (CommandResult(Outcome.DISCONNECTED), 504, "station_timeout", {"outcome": "disconnected"}),
        (
            call_error_result("NotImplemented", "not here"),
            502,
            "station_error",
            {"outcome": "call_error", "error_code": "NotImplemented", "description": "not here"},
        ),
        (
            CommandResult(Outcome.NOT_SUPPORTED, description="OCPP 1.6 cannot reset one EVSE"),
            409,
            "not_supported",
            {"outcome": "not_supported", "description": "OCPP 1.6 cannot reset one EVSE"},
        ),
        (CommandResult(Outcome.OFFLINE), 409, "charge_point_offline", {"outcome": "offline"}),
    ],
)
async def test_outcomes_without_an_answer_are_errors(
    client: ApiClient,
    auth: dict[str, str],
    connect_station: StationFactory,
    result: CommandResult,
    http_status: int,
    code: str,
    details: dict[str, Any],
) -> None:
    """Timeout/disconnect → 504, CALLERROR → 502 with its code, inexpressible → 409, offline → 409."""
    station = await connect_station()
    station.answer(result)
    error = await error_of(await client.post(f"{CP}/reset", json={"type": "hard"}, headers=auth), http_status)
    assert error["code"] == code
    assert error["details"] == details


@pytest.mark.parametrize(
    ("path", "request_body"),
    [
        ("reset", {"type": "soft"}),
        ("unlock", {"connector_id": 1}),
        ("availability", {"operative": True}),
        ("trigger", {"message": "Heartbeat"}),
        ("data-transfer", {"vendor_id": "v"}),
        ("clear-cache", None),
        ("report", None),
    ],
)
async def test_commands_to_an_offline_charge_point(
    client: ApiClient,
    auth: dict[str, str],
    connect_station: StationFactory,
    path: str,
    request_body: dict[str, Any] | None,
) -> None:
    """Every command to a registered charge point without a connection is 409 `charge_point_offline`."""
    station = await connect_station()
    station.disconnect()
    response = await client.post(f"{CP}/{path}", json=request_body, headers=auth)
    error = await error_of(response, 409)
    assert error["code"] == "charge_point_offline"
    assert "CP-1" in error["message"]


async def test_commands_to_an_unknown_charge_point(client: ApiClient, auth: dict[str, str]) -> None:
    """A command to a charge point that is not registered is a 404."""
    for path, request_body in [("reset", {"type": "soft"}), ("clear-cache", None), ("report", None)]:
        response = await client.post(f"/api/v1/charge-points/NOPE/{path}", json=request_body, headers=auth)
        assert (await error_of(response, 404))["code"] == "not_found"


async def test_command_timeout_from_a_slow_station(
    client: ApiClient, auth: dict[str, str], connect_station: StationFactory
) -> None:
    """The station's silence, as the command service reports it, is a 504 naming the charge point."""
    station = await connect_station()
    station.answer(timeout_result())
    error = await error_of(await client.post(f"{CP}/clear-cache", headers=auth), 504)
    assert error["message"] == "charge point 'CP-1' did not answer in time"


@pytest.mark.parametrize(
    ("path", "request_body", "field"),
    [
        ("reset", {}, "type"),
        ("reset", {"type": "Sideways"}, "type"),
        ("reset", {"type": "soft", "evse_id": 0}, "evse_id"),
        ("unlock", {}, "connector_id"),
        ("unlock", {"connector_id": 0}, "connector_id"),
        ("availability", {}, "operative"),
        ("availability", {"operative": "yes please"}, "operative"),
        ("availability", {"operative": True, "type": "Inoperative"}, "type"),
        ("availability", {"type": "Broken"}, "type"),
        ("trigger", {"message": "Coffee"}, "message"),
        ("trigger", {}, "message"),
        ("data-transfer", {}, "vendor_id"),
        ("data-transfer", {"vendor_id": ""}, "vendor_id"),
        ("data-transfer", {"vendor_id": "v", "message_id": "m" * 51}, "message_id"),
        ("report", {"report_base": "Everything"}, "report_base"),
        ("report", {"surprise": 1}, "surprise"),
    ],
)
async def test_invalid_command_body_names_the_field(
    client: ApiClient,
    auth: dict[str, str],
    connect_station: StationFactory,
    path: str,
    request_body: dict[str, Any],
    field: str,
) -> None:
    """A bad command body is a 400 `invalid_request` naming the field; nothing reaches the station."""
    station = await connect_station()
    error = await error_of(await client.post(f"{CP}/{path}", json=request_body, headers=auth), 400)
    assert error["code"] == "invalid_request"
    assert field in [d["field"] for d in error["details"]]
    assert station.commands == []


async def test_command_body_must_be_a_json_object(
    client: ApiClient, auth: dict[str, str], connect_station: StationFactory
) -> None:
    """An empty or non-JSON body for a command that needs one is a 400 `invalid_json`."""
    await connect_station()
    for data in (b"", b"not json"):
        response = await client.post(f"{CP}/reset", data=data, headers=auth)
        assert (await error_of(response, 400))["code"] == "invalid_json"


@pytest.mark.parametrize(
    ("path", "request_body"),
    [("reset", {"type": "soft"}), ("unlock", {"connector_id": 1}), ("clear-cache", None), ("report", None)],
)
async def test_commands_need_role_member(
    client: ApiClient,
    role_headers: dict[str, dict[str, str]],
    connect_station: StationFactory,
    path: str,
    request_body: dict[str, Any] | None,
) -> None:
    """A viewer may not send commands (403, nothing sent); a member may; no key is a 401."""
    station = await connect_station()
    response = await client.post(f"{CP}/{path}", json=request_body, headers=role_headers["viewer"])
    error = await error_of(response, 403)
    assert error["details"] == {"role": "viewer", "required_role": "member"}
    assert (await error_of(await client.post(f"{CP}/{path}", json=request_body), 401))[
        "code"
    ] == "unauthorized"
    assert station.commands == []
    response = await client.post(f"{CP}/{path}", json=request_body, headers=role_headers["member"])
    assert response.status == 200
