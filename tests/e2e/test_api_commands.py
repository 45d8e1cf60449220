"""The operator API's commands, sessions and reservations end to end, for both OCPP versions: the real
server on free ports, the bundled simulators (or a raw websocket client) over real sockets, results read
back through the API. Every exchange is checked against the OpenAPI document (`CheckedApi`)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from typing import Any

import aiohttp
import orjson
import pytest
from websockets.asyncio.client import ClientConnection, connect

from csms.app import Csms
from csms.domain.clock import isoformat_z, utcnow
from csms.domain.secrets import hash_secret, new_api_key
from simulators.chargepoint import ChargePointSimulator, SimulatorConfig
from tests.api.openapi_check import CheckedApi
from tests.e2e.conftest import StartCsms, ocpp_url
from tests.utils import MS

VERSIONS = ["1.6", "2.0.1"]
WAIT = 5000 * MS  # how long a station-driven change may take to show in the API

MakeSim = Callable[..., Awaitable[ChargePointSimulator]]
MakeClient = Callable[[Csms], Awaitable[CheckedApi]]


@pytest.fixture
async def make_client() -> AsyncIterator[MakeClient]:
    """REST clients with an admin key for any started CSMS; each must see only documented exchanges."""
    clients: list[tuple[CheckedApi, aiohttp.ClientSession]] = []

    async def make(csms: Csms) -> CheckedApi:
        key, prefix = new_api_key()
        await csms.services.store.add_api_key("e2e", prefix, hash_secret(key, rounds=4), "admin")
        session = aiohttp.ClientSession(headers={"Authorization": f"Bearer {key}"})
        client = CheckedApi(session, f"http://127.0.0.1:{csms.http_port}")
        clients.append((client, session))
        return client

    yield make
    failures = [f for client, _ in clients for f in client.failures]
    for _, session in clients:
        await session.close()
    assert not failures, "exchanges that do not match the OpenAPI document:\n" + "\n".join(failures)


@pytest.fixture
async def client(csms: Csms, make_client: MakeClient) -> CheckedApi:
    """An admin REST client of the `csms` fixture, checked against the OpenAPI document."""
    return await make_client(csms)


@pytest.fixture
async def make_sim() -> AsyncIterator[MakeSim]:
    """Connected, booted simulators; every one is closed after the test."""
    sims: list[ChargePointSimulator] = []

    async def make(csms: Csms, cp_id: str, version: str, **config: Any) -> ChargePointSimulator:
        sim = ChargePointSimulator(
            SimulatorConfig(charge_point_id=cp_id, url=ocpp_url(csms), ocpp_version=version, **config)
        )
        sims.append(sim)
        await sim.connect()
        assert (await sim.boot())["status"] == "Accepted"
        for connector in sim.connector_ids:
            await sim.send_status(connector, "Available")
        return sim

    yield make
    for sim in sims:
        await sim.close()


async def eventually(check: Callable[[], Awaitable[bool]]) -> None:
    """Poll `check()` (an API read: nothing to wait on but time) until it is true, or fail after WAIT."""
    poll = 20 * MS
    for _ in range(int(WAIT / poll)):
        if await check():
            return
        await asyncio.sleep(poll)
    assert await check(), "the API did not show the change in time"


def expiry(seconds: float = 3600) -> str:
    """An expiry date `seconds` from now, as the API takes it."""
    return isoformat_z(utcnow() + timedelta(seconds=seconds))


async def reserve(client: CheckedApi, cp_id: str, evse_id: int, id_tag: str, **extra: Any) -> tuple[int, Any]:
    """POST /reservations for one EVSE (with `connector_id`, the 1.6 word, on even EVSEs for variety)."""
    where = {"connector_id": evse_id} if evse_id % 2 == 0 else {"evse_id": evse_id}
    body = {"charge_point_id": cp_id, **where, "expiry_date": expiry(), "id_tag": id_tag, **extra}
    return await client.post("/reservations", body)


# -- reservations ------------------------------------------------------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
async def test_reservation_used_by_the_right_token_and_refused_to_others(
    csms: Csms, client: CheckedApi, make_sim: MakeSim, version: str
) -> None:
    """An accepted reservation holds the EVSE: a remote start by another token is 409, the holder's
    start uses it, the API shows it `used` by that session, and it can no longer be cancelled."""
    cp = f"RES-USE-{version}"
    sim = await make_sim(csms, cp, version, connectors=2)
    status, reservation = await reserve(client, cp, 2, "HOLDER")
    assert status == 201, reservation
    assert reservation["status"] == "active" and reservation["station_status"] == "Accepted"
    assert reservation["id"] in sim.reservations
    await sim.wait_until(lambda: sim.connector_status[2] == "Reserved", WAIT)

    status, error = await client.post(
        "/sessions", {"charge_point_id": cp, "evse_id": 2, "id_tag": "INTRUDER"}
    )
    assert status == 409 and error["error"]["code"] == "connector_reserved"
    assert error["error"]["details"]["reservation_id"] == reservation["id"]

    await sim.start_transaction(2, "HOLDER")

    async def used() -> bool:
        _, shown = await client.get(f"/reservations/{reservation['id']}")
        return bool(shown["status"] == "used")

    await eventually(used)
    _, shown = await client.get(f"/reservations/{reservation['id']}")
    status, session = await client.get(f"/sessions/{shown['session_id']}")
    assert (
        status == 200 and session["reservation_id"] == reservation["id"] and session["id_token"] == "HOLDER"
    )
    status, listed = await client.get("/reservations", charge_point_id=cp, status="used")
    assert [r["id"] for r in listed["items"]] == [reservation["id"]]
    status, error = await client.delete(f"/reservations/{reservation['id']}")
    assert status == 409 and error["error"]["details"]["reservation_status"] == "used"


@pytest.mark.parametrize("version", VERSIONS)
async def test_remote_start_by_the_holder_uses_the_reservation(
    csms: Csms, client: CheckedApi, make_sim: MakeSim, version: str
) -> None:
    """The reserved token may start remotely on its EVSE; the session that follows uses the reservation."""
    cp = f"RES-REMOTE-{version}"
    await make_sim(csms, cp, version)
    _, reservation = await reserve(client, cp, 1, "HOLDER")
    status, started = await client.post(
        "/sessions", {"charge_point_id": cp, "connector_id": 1, "id_tag": "HOLDER"}
    )
    assert status == 202, started

    async def used() -> bool:
        _, shown = await client.get(f"/reservations/{reservation['id']}")
        return bool(shown["status"] == "used")

    await eventually(used)


@pytest.mark.parametrize(
    ("version", "prepare", "code", "station_status"),
    [
        ("1.6", "plug", "evse_occupied", "Occupied"),
        ("2.0.1", "plug", "evse_occupied", "Occupied"),
        ("1.6", "fault", "evse_faulted", "Faulted"),
        ("2.0.1", "fault", "evse_faulted", "Faulted"),
        ("1.6", "inoperative", "evse_unavailable", "Unavailable"),
        ("2.0.1", "inoperative", "evse_unavailable", "Unavailable"),
    ],
)
async def test_station_refusal_leaves_no_active_reservation(
    csms: Csms,
    client: CheckedApi,
    make_sim: MakeSim,
    version: str,
    prepare: str,
    code: str,
    station_status: str,
) -> None:
    """An occupied, faulted or unavailable EVSE refuses ReserveNow: 409 with the station's word, and the
    record is `rejected`, never active."""
    cp = f"RES-NO-{prepare}-{version}"
    sim = await make_sim(csms, cp, version)
    if prepare == "plug":
        await sim.plug_in(1)
    elif prepare == "fault":
        await sim.send_status(1, "Faulted", error_code="GroundFailure" if version == "1.6" else "NoError")
    else:
        status, answer = await client.post(
            f"/charge-points/{cp}/availability", {"operative": False, "evse_id": 1}
        )
        assert status == 200 and answer["command"]["status"] == "Accepted"
    status, error = await reserve(client, cp, 1, "TAG")
    assert status == 409, error
    assert error["error"]["code"] == code
    assert error["error"]["details"]["station_status"] == station_status
    status, active = await client.get("/reservations", charge_point_id=cp, status="active")
    assert active["items"] == []
    _, rejected = await client.get(f"/reservations/{error['error']['details']['reservation_id']}")
    assert rejected["status"] == "rejected" and rejected["station_status"] == station_status


@pytest.mark.parametrize("version", VERSIONS)
async def test_cancel_reservation(csms: Csms, client: CheckedApi, make_sim: MakeSim, version: str) -> None:
    """DELETE cancels at the station (204) and frees the EVSE; a second DELETE is 409 not active."""
    cp = f"RES-CANCEL-{version}"
    sim = await make_sim(csms, cp, version)
    _, reservation = await reserve(client, cp, 1, "TAG")
    status, body = await client.delete(f"/reservations/{reservation['id']}")
    assert (status, body) == (204, None)
    assert sim.reservations == {}
    assert ("CancelReservation", {"reservationId": reservation["id"]}) in sim.calls_received
    _, shown = await client.get(f"/reservations/{reservation['id']}")
    assert shown["status"] == "cancelled"
    status, error = await client.delete(f"/reservations/{reservation['id']}")
    assert status == 409 and error["error"]["code"] == "reservation_not_active"
    status, started = await client.post("/sessions", {"charge_point_id": cp, "evse_id": 1, "id_tag": "OTHER"})
    assert status == 202, started


@pytest.mark.parametrize("version", VERSIONS)
async def test_reservation_expires_while_the_station_is_offline(
    start_csms: StartCsms, make_client: MakeClient, make_sim: MakeSim, version: str
) -> None:
    """The CSMS expires a reservation at its expiry date by itself, with the station offline."""
    csms = await start_csms(reservation_check_interval=50 * MS)
    client = await make_client(csms)
    cp = f"RES-EXPIRE-{version}"
    sim = await make_sim(csms, cp, version)
    body = {"charge_point_id": cp, "evse_id": 1, "expiry_date": expiry(1.0), "id_tag": "TAG"}
    status, reservation = await client.post("/reservations", body)
    assert status == 201, reservation
    await sim.go_offline()

    async def expired() -> bool:
        _, shown = await client.get(f"/reservations/{reservation['id']}")
        return bool(shown["status"] == "expired")

    await eventually(expired)
    _, charge_point = await client.get(f"/charge-points/{cp}")
    assert charge_point["connected"] is False


@pytest.mark.parametrize("version", VERSIONS)
async def test_reservation_the_station_does_not_answer_is_504_and_not_kept(
    start_csms: StartCsms, make_client: MakeClient, make_sim: MakeSim, version: str
) -> None:
    """ReserveNow without an answer within `call_timeout` is 504 `station_timeout`; no reservation is
    active afterwards (the record is `failed`)."""
    csms = await start_csms(call_timeout=300 * MS)
    client = await make_client(csms)
    cp = f"RES-SILENT-{version}"
    await make_sim(csms, cp, version, silent={"ReserveNow", "CancelReservation"})
    status, error = await reserve(client, cp, 1, "TAG")
    assert status == 504, error
    assert error["error"]["code"] == "station_timeout"
    _, active = await client.get("/reservations", charge_point_id=cp, status="active")
    assert active["items"] == []
    _, failed = await client.get(f"/reservations/{error['error']['details']['reservation_id']}")
    assert failed["status"] == "failed"


async def test_reservation_on_an_offline_charge_point(client: CheckedApi) -> None:
    """A registered charge point that is not connected cannot take a reservation: 409 offline."""
    status, _ = await client.post("/charge-points", {"charge_point_id": "RES-OFFLINE"})
    assert status == 201
    status, error = await reserve(client, "RES-OFFLINE", 1, "TAG")
    assert status == 409 and error["error"]["code"] == "charge_point_offline"


# -- sessions ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
async def test_remote_start_and_stop_round_trip(
    csms: Csms, client: CheckedApi, make_sim: MakeSim, version: str
) -> None:
    """A remote start is 202; the session it leads to is found by `remote_start_id`; a remote stop
    completes it; stopping again is 409."""
    cp = f"SESSION-{version}"
    sim = await make_sim(csms, cp, version)
    status, started = await client.post(
        "/sessions", {"charge_point_id": cp, "connector_id": 1, "id_tag": "DRIVER"}
    )
    assert status == 202, started
    assert started["command"]["status"] == "Accepted"
    remote_start_id = started["remote_start_id"]

    async def session_started() -> bool:
        _, page = await client.get("/sessions", remote_start_id=str(remote_start_id), charge_point_id=cp)
        return len(page["items"]) == 1

    await eventually(session_started)
    _, page = await client.get("/sessions", remote_start_id=str(remote_start_id))
    [session] = page["items"]
    assert session["status"] == "active" and session["id_token"] == "DRIVER"
    # The CSMS stores the transaction before it answers; the station learns its id from that answer, later.
    await sim.wait_until(lambda: bool(sim.transactions), WAIT)

    status, stopped = await client.post(f"/sessions/{session['id']}/stop")
    assert status == 202 and stopped["command"]["status"] == "Accepted"

    async def completed() -> bool:
        _, shown = await client.get(f"/sessions/{session['id']}")
        return bool(shown["status"] == "completed")

    await eventually(completed)
    status, error = await client.post(f"/sessions/{session['id']}/stop")
    assert status == 409 and error["error"]["code"] == "session_completed"


@pytest.mark.parametrize("version", VERSIONS)
async def test_remote_start_on_a_busy_station_is_rejected(
    csms: Csms, client: CheckedApi, make_sim: MakeSim, version: str
) -> None:
    """A station whose only connector is charging answers Rejected: 409 `command_rejected` with it."""
    cp = f"SESSION-BUSY-{version}"
    sim = await make_sim(csms, cp, version)
    await sim.start_transaction(1, "FIRST")
    status, error = await client.post("/sessions", {"charge_point_id": cp, "evse_id": 1, "id_tag": "SECOND"})
    assert status == 409, error
    assert error["error"]["code"] == "command_rejected"
    assert error["error"]["details"]["command"]["status"] == "Rejected"


# -- charge point commands ---------------------------------------------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
async def test_station_commands_round_trip(
    csms: Csms, client: CheckedApi, make_sim: MakeSim, version: str
) -> None:
    """Unlock, availability, trigger, data transfer, clear cache and reset reach the station in its
    version's words and come back with its answer."""
    cp = f"CMD-{version}"
    sim = await make_sim(csms, cp, version, connectors=2)
    base = f"/charge-points/{cp}"

    status, answer = await client.post(f"{base}/unlock", {"connector_id": 1})
    assert (status, answer["command"]["status"]) == (200, "Unlocked")
    status, answer = await client.post(f"{base}/availability", {"type": "Inoperative", "connector_id": 2})
    assert (status, answer["command"]["status"]) == (200, "Accepted")
    await sim.wait_until(lambda: 2 in sim.inoperative, WAIT)
    status, answer = await client.post(f"{base}/availability", {"operative": True, "evse_id": 2})
    assert answer["command"]["status"] == "Accepted"
    status, answer = await client.post(
        f"{base}/trigger", {"message": "StatusNotification", "connector_id": 1}
    )
    assert (status, answer["command"]["status"]) == (200, "Accepted")
    status, answer = await client.post(f"{base}/data-transfer", {"vendor_id": "com.example", "data": "ping"})
    assert (status, answer["command"]["status"]) == (200, "UnknownVendorId")
    status, answer = await client.post(f"{base}/clear-cache")
    assert (status, answer["command"]["status"]) == (200, "Accepted")

    actions = [action for action, _ in sim.calls_received]
    assert actions == [
        "UnlockConnector",
        "ChangeAvailability",
        "ChangeAvailability",
        "TriggerMessage",
        "DataTransfer",
        "ClearCache",
    ]
    if version == "1.6":
        assert sim.calls_received[0][1] == {"connectorId": 1}
        assert sim.calls_received[1][1] == {"connectorId": 2, "type": "Inoperative"}
    else:
        assert sim.calls_received[0][1] == {"evseId": 1, "connectorId": 1}
        assert sim.calls_received[1][1] == {"operationalStatus": "Inoperative", "evse": {"id": 2}}

    boots = sim.sent["BootNotification"]
    status, answer = await client.post(f"{base}/reset", {"type": "soft"})
    assert (status, answer["command"]["status"]) == (200, "Accepted")
    assert sim.calls_received[-1] == ("Reset", {"type": "Soft"} if version == "1.6" else {"type": "OnIdle"})
    await sim.wait_until(lambda: sim.sent["BootNotification"] > boots and sim.connected, WAIT)


async def test_command_the_version_cannot_express_is_not_supported(
    csms: Csms, client: CheckedApi, make_sim: MakeSim
) -> None:
    """Resetting one EVSE of a 1.6 station is 409 `not_supported`, and nothing is sent."""
    sim = await make_sim(csms, "CMD-NOT-SUPPORTED", "1.6")
    status, error = await client.post(
        "/charge-points/CMD-NOT-SUPPORTED/reset", {"type": "hard", "evse_id": 1}
    )
    assert status == 409 and error["error"]["code"] == "not_supported"
    assert [a for a, _ in sim.calls_received if a == "Reset"] == []


async def test_commands_to_offline_and_unknown_charge_points(client: CheckedApi) -> None:
    """A registered but disconnected charge point is 409 offline; an unknown one 404."""
    assert (await client.post("/charge-points", {"charge_point_id": "CMD-OFFLINE"}))[0] == 201
    status, error = await client.post("/charge-points/CMD-OFFLINE/clear-cache")
    assert status == 409 and error["error"]["code"] == "charge_point_offline"
    status, error = await client.post("/charge-points/CMD-NOWHERE/reset", {"type": "soft"})
    assert status == 404 and error["error"]["code"] == "not_found"


async def _silent_station(csms: Csms, cp_id: str) -> ClientConnection:
    """A raw 1.6 websocket client that boots, then never answers a CALL."""
    ws = await connect(f"{ocpp_url(csms)}/{cp_id}", subprotocols=["ocpp1.6"])  # type: ignore[list-item]
    boot = [2, "boot-1", "BootNotification", {"chargePointVendor": "Raw", "chargePointModel": "Silent"}]
    await ws.send(orjson.dumps(boot).decode())
    reply = orjson.loads(await ws.recv())
    assert reply[0] == 3 and reply[2]["status"] == "Accepted"
    return ws


async def test_station_that_never_answers_is_a_gateway_timeout(
    start_csms: StartCsms, make_client: MakeClient
) -> None:
    """Commands, reservations and remote starts to a station that never answers are 504 `station_timeout`
    after `call_timeout`; no reservation stays active."""
    csms = await start_csms(call_timeout=300 * MS)
    client = await make_client(csms)
    ws = await _silent_station(csms, "SILENT")
    try:
        status, error = await client.post("/charge-points/SILENT/reset", {"type": "hard"})
        assert status == 504 and error["error"]["code"] == "station_timeout"
        assert error["error"]["details"] == {"outcome": "timeout"}
        status, error = await reserve(client, "SILENT", 1, "TAG")
        assert status == 504 and error["error"]["code"] == "station_timeout"
        status, error = await client.post("/sessions", {"charge_point_id": "SILENT", "id_tag": "TAG"})
        assert status == 504 and error["error"]["code"] == "station_timeout"
        _, active = await client.get("/reservations", charge_point_id="SILENT", status="active")
        assert active["items"] == []
    finally:
        await ws.close()


async def test_call_error_is_a_bad_gateway(csms: Csms, client: CheckedApi) -> None:
    """A station answering a command with a CALLERROR is 502 `station_error` with its code and text."""
    ws = await _silent_station(csms, "ERRORS")
    try:
        request = asyncio.create_task(client.post("/charge-points/ERRORS/clear-cache"))
        call = orjson.loads(await asyncio.wait_for(ws.recv(), WAIT))
        assert call[2] == "ClearCache"
        await ws.send(orjson.dumps([4, call[1], "InternalError", "cache on fire", {}]).decode())
        status, error = await request
        assert status == 502
        assert error["error"]["code"] == "station_error"
        assert error["error"]["details"] == {
            "outcome": "call_error",
            "error_code": "InternalError",
            "description": "cache on fire",
        }
    finally:
        await ws.close()


# -- configuration and charging profiles -------------------------------------------------------------


async def test_configuration_round_trip_16(csms: Csms, client: CheckedApi, make_sim: MakeSim) -> None:
    """1.6: a refresh reads GetConfiguration into the stored model; PATCH changes keys one by one."""
    sim = await make_sim(csms, "CONF-16", "1.6")
    base = "/charge-points/CONF-16/configuration"
    status, model = await client.get(base)
    assert (status, model["variables"], model["command"]) == (200, [], None)
    status, model = await client.request("GET", base, params={"refresh": "true"})
    assert status == 200 and model["command"]["status"] == "Accepted"
    keys = {v["key"]: v for v in model["variables"]}
    assert keys["HeartbeatInterval"]["component"] is None
    assert "AuthorizationKey" not in keys  # write-only: never reported

    status, changed = await client.request(
        "PATCH", base, {"values": {"HeartbeatInterval": "60", "NoSuchKey": "1"}}
    )
    assert status == 200
    assert {k: v["status"] for k, v in changed["results"].items()} == {
        "HeartbeatInterval": "Accepted",
        "NoSuchKey": "NotSupported",
    }
    assert sim.settings["HeartbeatInterval"].value == "60"
    status, model = await client.request("GET", base, params={"refresh": "true", "keys": "HeartbeatInterval"})
    assert [v["value"] for v in model["variables"]] == ["60"]


async def test_configuration_round_trip_201(csms: Csms, client: CheckedApi, make_sim: MakeSim) -> None:
    """2.0.1: GetBaseReport fills the stored device model; PATCH uses SetVariables; a refresh without
    keys is 409 `not_supported` (2.0.1 reads by key)."""
    await make_sim(csms, "CONF-201", "2.0.1")
    base = "/charge-points/CONF-201"
    status, report = await client.post(f"{base}/report", {"report_base": "FullInventory"})
    assert status == 200 and report["command"]["status"] == "Accepted"

    async def reported() -> bool:
        _, model = await client.get(f"{base}/configuration")
        return any(v["key"] == "OCPPCommCtrlr.HeartbeatInterval" for v in model["variables"])

    await eventually(reported)
    key = "OCPPCommCtrlr.HeartbeatInterval"
    status, changed = await client.request("PATCH", f"{base}/configuration", {"key": key, "value": "120"})
    assert status == 200 and changed["results"][key]["status"] == "Accepted"
    status, model = await client.request(
        "GET", f"{base}/configuration", params={"refresh": "true", "keys": key}
    )
    assert status == 200
    assert model["command"]["data"]["configuration"] == [{"key": key, "value": "120", "readonly": None}]
    status, error = await client.request("GET", f"{base}/configuration", params={"refresh": "true"})
    assert status == 409 and error["error"]["code"] == "not_supported"


@pytest.mark.parametrize("version", VERSIONS)
async def test_charging_profile_round_trip(
    csms: Csms, client: CheckedApi, make_sim: MakeSim, version: str
) -> None:
    """PUT installs a profile the station accepts and stores it; DELETE clears it at the station and in
    the store."""
    cp = f"PROFILE-{version}"
    sim = await make_sim(csms, cp, version)
    base = f"/charge-points/{cp}/charging-profile"
    profile = {
        "evse_id": 0,
        "id": 11,
        "stack_level": 1,
        "purpose": "ChargingStationMaxProfile",
        "kind": "Absolute",
        "rate_unit": "A",
        "start_schedule": expiry(0),
        "periods": [{"start_period": 0, "limit": "16.5"}],
    }
    status, answer = await client.request("PUT", base, profile)
    assert status == 200, answer
    assert answer["command"]["status"] == "Accepted"
    assert answer["profile"]["profile"]["periods"] == [{"start_period": 0, "limit": "16.5"}]
    assert 11 in sim.charging_profiles.get(0, {})
    _, listed = await client.get(base)
    assert [p["profile_id"] for p in listed["items"]] == [11]

    status, cleared = await client.delete(base, profile_id="11")
    assert status == 200 and cleared["command"]["status"] == "Accepted" and cleared["deleted"] == 1
    assert 11 not in sim.charging_profiles.get(0, {})
    _, listed = await client.get(base)
    assert listed["items"] == []


@pytest.mark.parametrize("version", VERSIONS)
async def test_composite_schedule(csms: Csms, client: CheckedApi, make_sim: MakeSim, version: str) -> None:
    """GET composite-schedule asks the station (GetCompositeSchedule) and shows its schedule, capped by the
    profile the CSMS installed, in the unit asked for; an unknown EVSE is the station's Rejected, no
    schedule."""
    cp = f"COMPOSITE-{version}"
    await make_sim(csms, cp, version)
    profile = {
        "evse_id": 0,
        "id": 12,
        "stack_level": 1,
        "purpose": "ChargingStationMaxProfile",
        "kind": "Absolute",
        "rate_unit": "W",
        "start_schedule": expiry(-60),
        "periods": [{"start_period": 0, "limit": "7400"}],
    }
    status, answer = await client.request("PUT", f"/charge-points/{cp}/charging-profile", profile)
    assert status == 200 and answer["command"]["status"] == "Accepted", answer
    base = f"/charge-points/{cp}/composite-schedule"
    status, answer = await client.get(base, evse_id="1", duration="600", rate_unit="W")
    assert status == 200, answer
    assert answer["command"]["status"] == "Accepted"
    schedule = answer["schedule"]
    assert schedule["evse_id"] == 1 and schedule["rate_unit"] == "W" and schedule["start"].endswith("Z")
    assert schedule["periods"] == [{"start_period": 0, "limit": "7400", "number_phases": None}]
    status, answer = await client.get(base, evse_id="1", duration="600", rate_unit="A")
    assert status == 200
    assert answer["schedule"]["periods"] == [{"start_period": 0, "limit": "10.7", "number_phases": 3}]
    status, answer = await client.get(base, evse_id="9", duration="60")
    assert status == 200 and answer["command"]["status"] == "Rejected" and answer["schedule"] is None
    status, error = await client.get(base, duration="0")
    assert status == 400 and error["error"]["code"] == "invalid_request"


async def test_charging_profile_reports_and_external_limits(
    csms: Csms, client: CheckedApi, make_sim: MakeSim
) -> None:
    """2.0.1: POST charging-profile/report sends GetChargingProfiles and the station's
    ReportChargingProfiles show up under charging-profile/reports; NotifyChargingLimit shows an external
    limit under charging-limits until ClearedChargingLimit; a 1.6 station is not_supported."""
    cp = "REPORT-2.0.1"
    sim = await make_sim(csms, cp, "2.0.1")
    status, answer = await client.post(f"/charge-points/{cp}/charging-profile/report")
    assert status == 200 and answer["command"]["status"] == "NoProfiles"
    profile = {
        "evse_id": 1,
        "id": 21,
        "stack_level": 0,
        "purpose": "TxDefaultProfile",
        "kind": "Relative",
        "rate_unit": "A",
        "periods": [{"start_period": 0, "limit": "10"}],
    }
    status, answer = await client.request("PUT", f"/charge-points/{cp}/charging-profile", profile)
    assert status == 200 and answer["command"]["status"] == "Accepted"
    status, answer = await client.post(f"/charge-points/{cp}/charging-profile/report")
    assert status == 200 and answer["command"]["status"] == "Accepted"
    request_id = answer["request_id"]
    assert answer["command"]["data"] == {"request_id": request_id}

    async def reported() -> bool:
        _, reports = await client.get(f"/charge-points/{cp}/charging-profile/reports")
        return any(r["request_id"] == request_id and r["complete"] for r in reports["items"])

    await eventually(reported)
    _, reports = await client.get(f"/charge-points/{cp}/charging-profile/reports")
    [report] = [r for r in reports["items"] if r["request_id"] == request_id]
    [held] = report["profiles"]
    assert held["evse_id"] == 1 and held["source"] == "CSO" and held["profile"]["id"] == 21

    assert await sim.notify_charging_limit("EMS", evse_id=1, grid_critical=True) == {}
    assert await sim.notify_charging_limit("SO") == {}
    _, limits = await client.get(f"/charge-points/{cp}/charging-limits")
    assert [(x["evse_id"], x["source"], x["grid_critical"]) for x in limits["items"]] == [
        (0, "SO", None),
        (1, "EMS", True),
    ]
    assert await sim.cleared_charging_limit("EMS") == {}
    _, limits = await client.get(f"/charge-points/{cp}/charging-limits")
    assert [x["source"] for x in limits["items"]] == ["SO"]

    await make_sim(csms, "REPORT-1.6", "1.6")
    status, error = await client.post("/charge-points/REPORT-1.6/charging-profile/report")
    assert status == 409 and error["error"]["code"] == "not_supported"
