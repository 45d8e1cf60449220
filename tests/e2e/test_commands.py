"""Version-neutral commands end to end: `csms.domain.commands.send` on the real server, the bundled
simulator answering over a real socket, for OCPP 1.6 and 2.0.1 — what the station received, what it
answered, and what the CSMS made of it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any, TypeVar

import orjson
import pytest
from websockets.asyncio.client import connect

from csms.app import Csms
from csms.domain import commands as c
from csms.domain.commands import CommandResult, Outcome
from csms.domain.models import IdToken, ReservationStatus, Transaction, TransactionStatus
from simulators.chargepoint import ChargePointSimulator, JsonDict, SimulatorConfig
from tests.e2e.conftest import StartCsms, ocpp_url
from tests.utils import MS

VERSIONS = ["1.6", "2.0.1"]
WAIT = 5000 * MS
MakeSim = Callable[..., Awaitable[ChargePointSimulator]]
T = TypeVar("T")


@pytest.fixture
async def make_sim(csms: Csms) -> AsyncIterator[MakeSim]:
    """Connected, booted simulators of the `csms` fixture; every one is closed after the test."""
    sims: list[ChargePointSimulator] = []

    async def make(cp_id: str, version: str, **kw: Any) -> ChargePointSimulator:
        config = SimulatorConfig(charge_point_id=cp_id, url=ocpp_url(csms), ocpp_version=version, **kw)
        sim = ChargePointSimulator(config)
        sims.append(sim)
        await sim.connect()
        assert (await sim.boot())["status"] == "Accepted"
        await sim.send_all_statuses()
        return sim

    yield make
    for sim in sims:
        assert not sim.violations, sim.violations  # every CALL the CSMS sent met the official schema
        await sim.close()


async def send(csms: Csms, charge_point_id: str, command: c.Command) -> CommandResult:
    """Send one command through the domain's command service."""
    return await csms.domain.commands.send(charge_point_id, command)


def last_call(sim: ChargePointSimulator, action: str) -> JsonDict:
    """The payload of the newest CSMS CALL `action` the simulator received."""
    return next(p for a, p in reversed(sim.calls_received) if a == action)


async def eventually(probe: Callable[[], Awaitable[T | None]], timeout: float = WAIT) -> T:  # noqa: ASYNC109
    """Poll `probe` until it returns something other than None (or fail after `timeout` seconds)."""
    async with asyncio.timeout(timeout):
        while True:
            found = await probe()
            if found is not None:
                return found
            await asyncio.sleep(20 * MS)


async def transaction_of(csms: Csms, charge_point_id: str, status: TransactionStatus) -> Transaction:
    """Wait for the station's newest transaction to be in `status`."""

    async def probe() -> Transaction | None:
        page, _ = await csms.services.store.list_transactions(charge_point_id=charge_point_id, limit=10)
        return page[0] if page and page[0].status is status else None

    return await eventually(probe)


@pytest.mark.parametrize("version", VERSIONS)
async def test_station_control_round_trip(csms: Csms, make_sim: MakeSim, version: str) -> None:
    """Clear cache, trigger, availability, unlock and data transfer reach the station in its words."""
    cp = f"CTRL-{version}"
    sim = await make_sim(cp, version, connectors=2)

    result = await send(csms, cp, c.ClearCache())
    assert result.outcome is Outcome.ANSWERED and result.status == "Accepted" and result.accepted
    assert last_call(sim, "ClearCache") == {}

    result = await send(csms, cp, c.TriggerMessage("StatusNotification", evse_id=2))
    assert result.status == "Accepted"
    trigger = last_call(sim, "TriggerMessage")
    assert trigger == (
        {"requestedMessage": "StatusNotification", "connectorId": 2}
        if version == "1.6"
        else {"requestedMessage": "StatusNotification", "evse": {"id": 2}}
    )

    result = await send(csms, cp, c.ChangeAvailability(False, evse_id=1))
    assert result.status == "Accepted"
    assert last_call(sim, "ChangeAvailability") == (
        {"connectorId": 1, "type": "Inoperative"}
        if version == "1.6"
        else {"operationalStatus": "Inoperative", "evse": {"id": 1}}
    )
    await sim.settle(WAIT)
    assert 1 in sim.inoperative
    result = await send(csms, cp, c.ChangeAvailability(True))
    assert result.status == "Accepted"
    assert last_call(sim, "ChangeAvailability") == (
        {"connectorId": 0, "type": "Operative"} if version == "1.6" else {"operationalStatus": "Operative"}
    )

    result = await send(csms, cp, c.UnlockConnector(2))
    assert result.status == "Unlocked" and result.accepted
    assert last_call(sim, "UnlockConnector") == (
        {"connectorId": 2} if version == "1.6" else {"evseId": 2, "connectorId": 1}
    )

    result = await send(
        csms, cp, c.DataTransfer("com.example", message_id="Ping", data={"n": Decimal("1.5")})
    )
    assert result.status == "UnknownVendorId" and not result.accepted
    sent = last_call(sim, "DataTransfer")
    assert sent["vendorId"] == "com.example" and sent["messageId"] == "Ping"
    assert (orjson.loads(sent["data"]) if version == "1.6" else sent["data"]) == {"n": 1.5}


@pytest.mark.parametrize("version", VERSIONS)
async def test_configuration_round_trip(csms: Csms, make_sim: MakeSim, version: str) -> None:
    """Read keys (known, unknown), write one, read it back; a read-only key is refused."""
    cp = f"CONF-{version}"
    sim = await make_sim(cp, version)
    if version == "1.6":
        writable, readonly, unknown = "ConnectionTimeOut", "NumberOfConnectors", ["NoSuchKey"]
    else:
        writable, readonly = "TxCtrlr.EVConnectionTimeOut", "SecurityCtrlr.Identity"
        unknown = ["NoSuchCtrlr.Anything", "TxCtrlr.NoSuchVariable"]

    result = await send(csms, cp, c.GetConfiguration([writable, readonly, *unknown]))
    assert result.outcome is Outcome.ANSWERED and result.status == "Accepted"
    values = {item["key"]: item["value"] for item in result.data["configuration"]}
    assert values[writable] == "60"
    assert values[readonly] == ("1" if version == "1.6" else cp)
    assert sorted(result.data["unknown_keys"]) == sorted(unknown)
    if version == "1.6":
        assert last_call(sim, "GetConfiguration") == {"key": [writable, readonly, *unknown]}
        readonly_flags = {item["key"]: item["readonly"] for item in result.data["configuration"]}
        assert readonly_flags == {writable: False, readonly: True}
    else:
        sent = last_call(sim, "GetVariables")["getVariableData"]
        assert sent[0] == {"component": {"name": "TxCtrlr"}, "variable": {"name": "EVConnectionTimeOut"}}
        assert result.data["statuses"][unknown[0]] == "UnknownComponent"
        assert result.data["statuses"][unknown[1]] == "UnknownVariable"

    result = await send(csms, cp, c.ChangeConfiguration(writable, "90"))
    assert result.status == "Accepted" and result.accepted
    if version == "1.6":
        assert last_call(sim, "ChangeConfiguration") == {"key": writable, "value": "90"}
    else:
        assert last_call(sim, "SetVariables") == {
            "setVariableData": [
                {
                    "attributeValue": "90",
                    "component": {"name": "TxCtrlr"},
                    "variable": {"name": "EVConnectionTimeOut"},
                }
            ]
        }
    await sim.settle(WAIT)
    result = await send(csms, cp, c.GetConfiguration([writable]))
    assert result.data["configuration"][0]["value"] == "90"

    result = await send(csms, cp, c.ChangeConfiguration(readonly, "3"))
    assert result.outcome is Outcome.ANSWERED and result.status == "Rejected" and not result.accepted


async def test_1_6_configuration_is_stored_as_device_model(csms: Csms, make_sim: MakeSim) -> None:
    """A 1.6 GetConfiguration answer is kept as the station's device model (keys without component)."""
    await make_sim("CONF-DM", "1.6")
    result = await send(csms, "CONF-DM", c.GetConfiguration(["NumberOfConnectors", "ConnectionTimeOut"]))
    assert result.accepted
    rows = await csms.services.store.list_device_variables("CONF-DM")
    stored = {(r.component, r.variable): (r.value, r.readonly) for r in rows}
    assert stored == {(None, "NumberOfConnectors"): ("1", True), (None, "ConnectionTimeOut"): ("60", False)}


@pytest.mark.parametrize("version", VERSIONS)
async def test_reservation_round_trip(csms: Csms, make_sim: MakeSim, version: str) -> None:
    """Reserve (accepted, then occupied for another id), cancel (accepted, then rejected as unknown)."""
    cp = f"RES-{version}"
    sim = await make_sim(cp, version)
    expiry = csms.services.clock() + timedelta(minutes=10)

    result = await send(csms, cp, c.ReserveNow(101, expiry, "DRIVER", evse_id=1, group_id_token="FLEET"))
    assert result.status == "Accepted" and result.accepted
    sent = last_call(sim, "ReserveNow")
    if version == "1.6":
        assert sent["connectorId"] == 1 and sent["reservationId"] == 101 and sent["idTag"] == "DRIVER"
        assert sent["parentIdTag"] == "FLEET" and sent["expiryDate"].endswith("Z")
    else:
        assert sent["evseId"] == 1 and sent["id"] == 101
        assert sent["idToken"] == {"idToken": "DRIVER", "type": "Central"}
        assert sent["groupIdToken"] == {"idToken": "FLEET", "type": "Central"}
        assert sent["expiryDateTime"].endswith("Z")
    await sim.settle(WAIT)
    assert 101 in sim.reservations

    result = await send(csms, cp, c.ReserveNow(102, expiry, "OTHER", evse_id=1))
    assert result.outcome is Outcome.ANSWERED and result.status == "Occupied" and not result.accepted

    result = await send(csms, cp, c.CancelReservation(101))
    assert result.status == "Accepted"
    assert last_call(sim, "CancelReservation") == {"reservationId": 101}
    await sim.settle(WAIT)
    assert 101 not in sim.reservations
    result = await send(csms, cp, c.CancelReservation(101))
    assert result.status == "Rejected"


@pytest.mark.parametrize("version", VERSIONS)
async def test_remote_start_is_tied_to_its_transaction_and_stops(
    csms: Csms, make_sim: MakeSim, version: str
) -> None:
    """A remote start is accepted; the transaction that follows carries its remote_start_id (2.0.1
    remoteStartId, 1.6 matched by token and connector); a remote stop ends it."""
    cp = f"REMOTE-{version}"
    await csms.services.store.add_id_token(IdToken("DRIVER"))
    sim = await make_sim(cp, version)

    started = await csms.domain.sessions.start(cp, "DRIVER", evse_id=1)
    assert started.result.outcome is Outcome.ANSWERED and started.result.status == "Accepted"
    sent = last_call(sim, "RemoteStartTransaction" if version == "1.6" else "RequestStartTransaction")
    if version == "1.6":
        assert sent == {"idTag": "DRIVER", "connectorId": 1}
    else:
        assert sent == {
            "idToken": {"idToken": "DRIVER", "type": "Central"},
            "remoteStartId": started.remote_start_id,
            "evseId": 1,
        }
    tx = await transaction_of(csms, cp, TransactionStatus.ACTIVE)
    assert tx.remote_start_id == started.remote_start_id
    assert tx.id_token == "DRIVER" and tx.evse_id == 1
    # The station learns its 1.6 transaction id from the answer the CSMS sends after storing it.
    await sim.wait_until(lambda: sim.transactions.get(1) == tx.ocpp_transaction_id, WAIT)

    result = await csms.domain.sessions.stop(tx)
    assert result.status == "Accepted"
    stop = last_call(sim, "RemoteStopTransaction" if version == "1.6" else "RequestStopTransaction")
    assert stop == {
        "transactionId": int(tx.ocpp_transaction_id) if version == "1.6" else tx.ocpp_transaction_id
    }
    stopped = await transaction_of(csms, cp, TransactionStatus.COMPLETED)
    assert stopped.id == tx.id and stopped.stop_reason == "Remote"


@pytest.mark.parametrize("version", VERSIONS)
async def test_remote_start_refused_when_occupied(csms: Csms, make_sim: MakeSim, version: str) -> None:
    """A station with its only connector busy answers Rejected, and no second transaction appears."""
    cp = f"BUSY-{version}"
    sim = await make_sim(cp, version)
    await sim.start_transaction(1, "LOCAL")
    started = await csms.domain.sessions.start(cp, "DRIVER", evse_id=1)
    assert started.result.outcome is Outcome.ANSWERED and started.result.status == "Rejected"
    assert not started.result.accepted and started.transaction is None
    page, _ = await csms.services.store.list_transactions(charge_point_id=cp, limit=10)
    assert len(page) == 1


@pytest.mark.parametrize("version", VERSIONS)
async def test_reset_reboots_the_station(csms: Csms, make_sim: MakeSim, version: str) -> None:
    """A soft reset is accepted (1.6 Soft, 2.0.1 OnIdle) and the station boots again."""
    cp = f"RESET-{version}"
    sim = await make_sim(cp, version)
    result = await send(csms, cp, c.Reset(c.ResetKind.SOFT))
    assert result.status == "Accepted"
    assert last_call(sim, "Reset") == {"type": "Soft" if version == "1.6" else "OnIdle"}
    await sim.settle(WAIT)
    assert sim.sent["BootNotification"] == 2 and sim.connected
    assert csms.domain.commands.ocpp_version(cp) == version


@pytest.mark.parametrize("version", VERSIONS)
async def test_base_report_is_stored_as_device_model(csms: Csms, make_sim: MakeSim, version: str) -> None:
    """GetBaseReport is accepted and the station's configuration ends up stored as its device model
    (2.0.1: from the NotifyReport stream; 1.6: a GetConfiguration of every key)."""
    cp = f"REPORT-{version}"
    sim = await make_sim(cp, version)
    result = await send(csms, cp, c.GetBaseReport(17, "FullInventory"))
    assert result.outcome is Outcome.ANSWERED and result.status == "Accepted", result
    assert result.data["request_id"] == 17
    if version == "1.6":
        assert last_call(sim, "GetConfiguration") == {}
        keys = {item["key"] for item in result.data["configuration"]}
        assert {"HeartbeatInterval", "NumberOfConnectors"} <= keys
        expected: tuple[str | None, str] = (None, "NumberOfConnectors")
    else:
        assert last_call(sim, "GetBaseReport") == {"requestId": 17, "reportBase": "FullInventory"}
        expected = ("SecurityCtrlr", "Identity")

    async def probe() -> dict[tuple[str | None, str], Any] | None:
        rows = await csms.services.store.list_device_variables(cp)
        stored = {(r.component, r.variable): r for r in rows}
        return stored if expected in stored else None

    stored = await eventually(probe)
    assert stored[expected].readonly is True
    assert stored[expected].value == ("1" if version == "1.6" else cp)
    # Write-only secrets are never revealed by the station, so never stored with a value.
    secret = (None, "AuthorizationKey") if version == "1.6" else ("SecurityCtrlr", "BasicAuthPassword")
    assert secret not in stored or stored[secret].value is None


@pytest.mark.parametrize("version", VERSIONS)
async def test_charging_profile_set_and_cleared(csms: Csms, make_sim: MakeSim, version: str) -> None:
    """A TxDefaultProfile with a fractional limit is installed on EVSE 1 and cleared again by id."""
    cp = f"PROFILE-{version}"
    sim = await make_sim(cp, version)
    profile = c.ChargingProfile(
        id=31,
        stack_level=0,
        purpose="TxDefaultProfile",
        kind="Absolute",
        rate_unit="A",
        periods=[c.ChargingSchedulePeriod(0, Decimal("16.05")), c.ChargingSchedulePeriod(3600, Decimal("8"))],
        start_schedule=csms.services.clock(),
    )
    result = await send(csms, cp, c.SetChargingProfile(1, profile))
    assert result.outcome is Outcome.ANSWERED and result.status == "Accepted", result
    sent = last_call(sim, "SetChargingProfile")
    if version == "1.6":
        assert sent["connectorId"] == 1
        schedule = sent["csChargingProfiles"]["chargingSchedule"]
    else:
        assert sent["evseId"] == 1
        schedule = sent["chargingProfile"]["chargingSchedule"][0]
    assert [p["limit"] for p in schedule["chargingSchedulePeriod"]] == [16.0, 8]

    result = await send(csms, cp, c.ClearChargingProfile(profile_id=31))
    assert result.status == "Accepted"
    assert last_call(sim, "ClearChargingProfile") == (
        {"id": 31} if version == "1.6" else {"chargingProfileId": 31}
    )


@pytest.mark.parametrize("version", VERSIONS)
async def test_commands_the_version_cannot_express(csms: Csms, make_sim: MakeSim, version: str) -> None:
    """NOT_SUPPORTED comes back without anything sent: 1.6 per-EVSE reset and over-long parentIdTag (an
    over-long idTag goes as its alias instead), 2.0.1 configuration read without keys or with a malformed
    key."""
    cp = f"NOPE-{version}"
    sim = await make_sim(cp, version)
    before = len(sim.calls_received)
    if version == "1.6":
        expiry = csms.services.clock() + timedelta(minutes=10)
        commands: list[c.Command] = [
            c.Reset(c.ResetKind.HARD, evse_id=1),
            c.ReserveNow(5, expiry, "DRIVER", evse_id=1, group_id_token="G" * 21),
        ]
    else:
        commands = [c.GetConfiguration(), c.GetConfiguration(["not a key"])]
    for command in commands:
        result = await send(csms, cp, command)
        assert result.outcome is Outcome.NOT_SUPPORTED and result.description, result
        assert not result.accepted
    assert len(sim.calls_received) == before


@pytest.mark.parametrize("version", VERSIONS)
async def test_a_long_id_token_goes_to_a_16_station_as_its_alias(
    csms: Csms, make_sim: MakeSim, version: str
) -> None:
    """A remote start (REST and OCPI alike) with a 30-character id token sends a 1.6 station the token's
    stored 20-character alias (a 2.0.1 station the token), and the transaction the station starts with it
    is the token's."""
    cp = f"LONGTOKEN-{version}"
    sim = await make_sim(cp, version)
    await csms.services.store.add_id_token(IdToken("LONG-ID-TOKEN-OF-THIRTY-CHARS1"))
    result = await send(csms, cp, c.StartSession("LONG-ID-TOKEN-OF-THIRTY-CHARS1", 7, evse_id=1))
    assert result.accepted, result
    if version == "1.6":
        alias = await csms.domain.id_token_aliases.shorten("LONG-ID-TOKEN-OF-THIRTY-CHARS1", 20)
        assert len(alias) == 20 and last_call(sim, "RemoteStartTransaction")["idTag"] == alias
    else:
        sent = last_call(sim, "RequestStartTransaction")["idToken"]["idToken"]
        assert sent == "LONG-ID-TOKEN-OF-THIRTY-CHARS1"
    tx = await transaction_of(csms, cp, TransactionStatus.ACTIVE)
    assert tx.id_token == "LONG-ID-TOKEN-OF-THIRTY-CHARS1"


async def test_offline_station(csms: Csms) -> None:
    """A command to a station without a live connection comes back OFFLINE at once."""
    result = await send(csms, "NOT-CONNECTED", c.ClearCache())
    assert result.outcome is Outcome.OFFLINE and result.status is None
    assert csms.domain.commands.ocpp_version("NOT-CONNECTED") is None


async def test_call_error_timeout_and_disconnect(start_csms: StartCsms) -> None:
    """A CALLERROR becomes CALL_ERROR with the station's code, silence TIMEOUT, a closed socket
    DISCONNECTED."""
    csms = await start_csms(call_timeout=0.3)
    boot = [
        2,
        "b",
        "BootNotification",
        {"chargingStation": {"vendorName": "V", "model": "M"}, "reason": "PowerUp"},
    ]
    async with connect(f"{ocpp_url(csms)}/RAW", subprotocols=["ocpp2.0.1"]) as ws:  # type: ignore[list-item]
        await ws.send(orjson.dumps(boot).decode())
        await ws.recv()

        pending = asyncio.create_task(send(csms, "RAW", c.UnlockConnector(1)))
        frame = orjson.loads(await ws.recv())
        assert frame[2] == "UnlockConnector" and frame[3] == {"evseId": 1, "connectorId": 1}
        await ws.send(orjson.dumps([4, frame[1], "NotImplemented", "no unlocking here", {}]).decode())
        result = await pending
        assert result.outcome is Outcome.CALL_ERROR and result.error_code == "NotImplemented"
        assert result.description == "no unlocking here"

        pending = asyncio.create_task(send(csms, "RAW", c.ClearCache()))
        await ws.recv()  # never answered
        result = await pending
        assert result.outcome is Outcome.TIMEOUT

        pending = asyncio.create_task(send(csms, "RAW", c.ClearCache()))
        await ws.recv()
    result = await asyncio.wait_for(pending, WAIT)
    assert result.outcome is Outcome.DISCONNECTED


async def test_reservation_status_update_ends_the_reservation(csms: Csms, make_sim: MakeSim) -> None:
    """A 2.0.1 ReservationStatusUpdate (Removed) is answered with {} and ends the stored reservation."""
    sim = await make_sim("RSU", "2.0.1")
    expiry = csms.services.clock() + timedelta(minutes=10)
    reservation = await csms.domain.reservations.create(
        charge_point_id="RSU", evse_id=1, id_token="DRIVER", expiry_date=expiry
    )
    assert reservation.status is ReservationStatus.ACTIVE
    update = {"reservationId": reservation.id, "reservationUpdateStatus": "Removed"}
    assert await sim.call("ReservationStatusUpdate", update) == {}
    stored = await csms.services.store.get_reservation(reservation.id)
    assert stored is not None and stored.status is ReservationStatus.CANCELLED
