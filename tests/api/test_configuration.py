"""`/api/v1/charge-points/{id}/configuration`: the stored device model, refreshed on request, and changes."""

from __future__ import annotations

from typing import Any

import pytest

from csms.domain.commands import ChangeConfiguration, CommandResult, GetConfiguration, Outcome
from csms.domain.models import DeviceVariable
from tests.api.conftest import NOW, ApiClient, StationFactory, call_error_result, error_of, timeout_result
from tests.fakes.memory_store import MemoryStore

URL = "/api/v1/charge-points/CP-1/configuration"


async def _model(store: MemoryStore) -> None:
    await store.upsert_device_variables(
        [
            DeviceVariable("CP-1", None, "HeartbeatInterval", "300", updated_at=NOW),
            DeviceVariable("CP-1", None, "NumberOfConnectors", "2", readonly=True, updated_at=NOW),
            DeviceVariable(
                "CP-1",
                "EVSE",
                "AvailabilityState",
                "Available",
                readonly=True,
                evse_id=1,
                data_type="OptionList",
                updated_at=NOW,
            ),
            DeviceVariable(
                "CP-1", "TokenReader", "Enabled", "true", component_instance="front", updated_at=NOW
            ),
        ]
    )


async def test_get_stored_device_model(
    client: ApiClient, auth: dict[str, str], connect_station: StationFactory, store: MemoryStore
) -> None:
    """Without refresh the stored model is returned as is, with each variable's key, and nothing is sent."""
    station = await connect_station()
    await _model(store)
    response = await client.get(URL, headers=auth)
    assert response.status == 200
    answer = await response.json()
    assert answer["charge_point_id"] == "CP-1" and answer["command"] is None
    by_key = {v["key"]: v for v in answer["variables"]}
    assert set(by_key) == {
        "HeartbeatInterval",
        "NumberOfConnectors",
        "EVSE@1.AvailabilityState",
        "TokenReader[front].Enabled",
    }
    assert by_key["NumberOfConnectors"]["readonly"] is True
    assert by_key["EVSE@1.AvailabilityState"] == {
        "key": "EVSE@1.AvailabilityState",
        "component": "EVSE",
        "component_instance": None,
        "evse_id": 1,
        "connector_id": None,
        "variable": "AvailabilityState",
        "variable_instance": None,
        "attribute_type": "Actual",
        "value": "Available",
        "readonly": True,
        "data_type": "OptionList",
        "updated_at": "2025-01-02T03:04:05.678Z",
    }
    assert station.commands == []


async def test_keys_select_variables(
    client: ApiClient, auth: dict[str, str], connect_station: StationFactory, store: MemoryStore
) -> None:
    """`keys` limits the answer to those variables (2.0.1 keys in the adapter's syntax); nothing is sent."""
    station = await connect_station()
    await _model(store)
    response = await client.get(
        URL, params={"keys": "TokenReader[front].Enabled,HeartbeatInterval"}, headers=auth
    )
    answer = await response.json()
    assert sorted(v["key"] for v in answer["variables"]) == [
        "HeartbeatInterval",
        "TokenReader[front].Enabled",
    ]
    assert station.commands == []


async def test_refresh_asks_the_station_first(
    client: ApiClient, auth: dict[str, str], connect_station: StationFactory, store: MemoryStore
) -> None:
    """`refresh=true&keys=` sends GetConfiguration of those keys and returns its result with the model."""
    station = await connect_station(ocpp_version="1.6")
    await _model(store)
    data = {
        "configuration": [{"key": "HeartbeatInterval", "value": "300", "readonly": False}],
        "unknown_keys": ["X"],
    }
    station.answer(CommandResult(Outcome.ANSWERED, "Accepted", data))
    response = await client.get(URL, params={"refresh": "true", "keys": "HeartbeatInterval, X"}, headers=auth)
    assert response.status == 200
    answer = await response.json()
    assert station.commands == [GetConfiguration(["HeartbeatInterval", "X"])]
    assert answer["command"] == {"outcome": "answered", "status": "Accepted", "data": data}
    assert [v["key"] for v in answer["variables"]] == ["HeartbeatInterval"]


@pytest.mark.parametrize(
    ("result", "http_status", "code"),
    [
        (timeout_result(), 504, "station_timeout"),
        (call_error_result(), 502, "station_error"),
        (CommandResult(Outcome.NOT_SUPPORTED, description="use GetBaseReport"), 409, "not_supported"),
    ],
)
async def test_refresh_without_an_answer(
    client: ApiClient,
    auth: dict[str, str],
    connect_station: StationFactory,
    result: CommandResult,
    http_status: int,
    code: str,
) -> None:
    """A refresh the station does not answer is the command's error, not a stale model."""
    station = await connect_station()
    station.answer(result)
    response = await client.get(URL, params={"refresh": "1"}, headers=auth)
    assert (await error_of(response, http_status))["code"] == code


async def test_refresh_of_an_offline_station(
    client: ApiClient, auth: dict[str, str], connect_station: StationFactory, store: MemoryStore
) -> None:
    """Refreshing an offline station is 409; reading its stored model still works."""
    station = await connect_station()
    station.disconnect()
    await _model(store)
    error = await error_of(await client.get(URL, params={"refresh": "true"}, headers=auth), 409)
    assert error["code"] == "charge_point_offline"
    answer = await (await client.get(URL, params={"keys": "NumberOfConnectors"}, headers=auth)).json()
    assert [v["value"] for v in answer["variables"]] == ["2"]


async def test_viewer_reads_the_model_but_may_not_refresh(
    client: ApiClient, role_headers: dict[str, dict[str, str]], connect_station: StationFactory
) -> None:
    """A viewer reads the stored model; `refresh=true` sends a command, so it is a 403 for a viewer."""
    station = await connect_station()
    assert (await client.get(URL, headers=role_headers["viewer"])).status == 200
    response = await client.get(URL, params={"refresh": "true"}, headers=role_headers["viewer"])
    assert (await error_of(response, 403))["code"] == "forbidden"
    assert station.commands == []
    assert (await client.get(URL, params={"refresh": "true"}, headers=role_headers["member"])).status == 200


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"refresh": "perhaps"}, "refresh"),
        ({"keys": "a,,b"}, "keys"),
        ({"keys": "k" * 201}, "keys"),
        ({"keys": ",".join(f"k{i}" for i in range(51))}, "keys"),
    ],
)
async def test_invalid_configuration_query(
    client: ApiClient,
    auth: dict[str, str],
    connect_station: StationFactory,
    query: dict[str, str],
    field: str,
) -> None:
    """A bad `refresh` or `keys` is a 400 naming it."""
    await connect_station()
    error = await error_of(await client.get(URL, params=query, headers=auth), 400)
    assert error["details"][0]["field"] == field


async def test_configuration_of_an_unknown_charge_point(client: ApiClient, auth: dict[str, str]) -> None:
    """Reading or changing the configuration of an unregistered charge point is a 404."""
    url = "/api/v1/charge-points/NOPE/configuration"
    assert (await error_of(await client.get(url, headers=auth), 404))["code"] == "not_found"
    response = await client.patch(url, json={"key": "a", "value": "b"}, headers=auth)
    assert (await error_of(response, 404))["code"] == "not_found"


async def test_change_one_key(
    client: ApiClient, auth: dict[str, str], connect_station: StationFactory
) -> None:
    """`{"key", "value"}` sends one ChangeConfiguration and returns that key's result."""
    station = await connect_station()
    station.answer("RebootRequired")
    response = await client.patch(URL, json={"key": "HeartbeatInterval", "value": "60"}, headers=auth)
    assert response.status == 200
    assert await response.json() == {
        "charge_point_id": "CP-1",
        "results": {"HeartbeatInterval": {"outcome": "answered", "status": "RebootRequired", "data": {}}},
    }
    assert station.commands == [ChangeConfiguration("HeartbeatInterval", "60")]


async def test_change_several_keys(
    client: ApiClient, auth: dict[str, str], connect_station: StationFactory
) -> None:
    """`{"values": {...}}` sends one ChangeConfiguration per key in order and returns each key's status."""
    station = await connect_station()
    station.answer("Accepted", "Rejected", "NotSupported")
    values = {"A": "1", "B": "2", "C": ""}
    answer = await (await client.patch(URL, json={"values": values}, headers=auth)).json()
    assert {k: v["status"] for k, v in answer["results"].items()} == {
        "A": "Accepted",
        "B": "Rejected",
        "C": "NotSupported",
    }
    assert station.commands == [ChangeConfiguration(k, v) for k, v in values.items()]


async def test_unanswered_key_stops_the_change(
    client: ApiClient, auth: dict[str, str], connect_station: StationFactory
) -> None:
    """When a key gets no answer, later keys are not sent and the error lists what was already answered."""
    station = await connect_station()
    station.answer("Accepted", timeout_result())
    response = await client.patch(URL, json={"values": {"A": "1", "B": "2", "C": "3"}}, headers=auth)
    error = await error_of(response, 504)
    assert error["code"] == "station_timeout"
    assert error["details"] == {
        "outcome": "timeout",
        "key": "B",
        "results": {"A": {"outcome": "answered", "status": "Accepted", "data": {}}},
    }
    assert [c.key for c in station.commands if isinstance(c, ChangeConfiguration)] == ["A", "B"]


@pytest.mark.parametrize(
    ("request_body", "field"),
    [
        ({}, "key"),
        ({"key": "A"}, "value"),
        ({"value": "1"}, "key"),
        ({"key": "A", "value": "1", "values": {"B": "2"}}, "values"),
        ({"values": {}}, "values"),
        ({"values": {"A": 1}}, "values.A"),
        ({"key": "", "value": "1"}, "key"),
        ({"key": "A", "value": "v" * 1001}, "value"),
        ({"key": "A", "value": "1", "other": 2}, "other"),
    ],
)
async def test_invalid_configuration_change(
    client: ApiClient,
    auth: dict[str, str],
    connect_station: StationFactory,
    request_body: dict[str, Any],
    field: str,
) -> None:
    """A change that is not `{key, value}` nor `{values}`, or has bad values, is a 400 naming the field."""
    station = await connect_station()
    error = await error_of(await client.patch(URL, json=request_body, headers=auth), 400)
    assert field in [d["field"] for d in error["details"]]
    assert station.commands == []


async def test_viewer_may_not_change_configuration(
    client: ApiClient, role_headers: dict[str, dict[str, str]], connect_station: StationFactory
) -> None:
    """Changing configuration needs role member."""
    await connect_station()
    response = await client.patch(URL, json={"key": "A", "value": "1"}, headers=role_headers["viewer"])
    assert (await error_of(response, 403))["code"] == "forbidden"
