"""A client that is not ours — the mobilityhouse `ocpp` library, which validates every answer against the
official schemas — runs the core flows of both versions without a schema complaint."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from ocpp.v16 import ChargePoint as ChargePoint16
from ocpp.v16 import call as call16
from ocpp.v201 import ChargePoint as ChargePoint201
from ocpp.v201 import call as call201
from websockets.asyncio.client import connect

from csms.app import Csms
from csms.domain.models import IdToken
from tests.e2e.conftest import Api, ocpp_url


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


async def test_ocpp_library_runs_the_16_flows(csms: Csms, api: Api) -> None:
    """Boot, status, authorize, a transaction with meter values and heartbeat pass the library's checks."""
    await csms.services.store.add_id_token(IdToken("TAG16"))
    async with connect(ocpp_url(csms) + "/LIB16", subprotocols=["ocpp1.6"]) as ws:  # type: ignore[list-item]
        cp = ChargePoint16("LIB16", ws)
        reader = asyncio.create_task(cp.start())
        boot = await cp.call(
            call16.BootNotification(charge_point_model="M", charge_point_vendor="V"), suppress=False
        )
        assert boot.status == "Accepted" and boot.interval == 300
        await cp.call(
            call16.StatusNotification(connector_id=1, error_code="NoError", status="Available"),
            suppress=False,
        )
        auth = await cp.call(call16.Authorize(id_tag="TAG16"), suppress=False)
        assert auth.id_tag_info["status"] == "Accepted"
        start = await cp.call(
            call16.StartTransaction(connector_id=1, id_tag="TAG16", meter_start=1000, timestamp=now()),
            suppress=False,
        )
        assert isinstance(start.transaction_id, int)
        await cp.call(
            call16.MeterValues(
                connector_id=1,
                transaction_id=start.transaction_id,
                meter_value=[
                    {
                        "timestamp": now(),
                        "sampledValue": [
                            {"value": "1500", "measurand": "Energy.Active.Import.Register", "unit": "Wh"}
                        ],
                    }
                ],
            ),
            suppress=False,
        )
        stop = await cp.call(
            call16.StopTransaction(
                meter_stop=4000,
                timestamp=now(),
                transaction_id=start.transaction_id,
                id_tag="TAG16",
                reason="Local",
            ),
            suppress=False,
        )
        assert stop.id_tag_info["status"] == "Accepted"
        hb = await cp.call(call16.Heartbeat(), suppress=False)
        assert hb.current_time.endswith("Z")
        reader.cancel()
    status, session = await api.get(f"/api/v1/sessions/{start.transaction_id}")
    assert status == 200
    assert session["energy_wh"] == 3000 and session["status"] == "completed"


async def test_ocpp_library_runs_the_201_flows(csms: Csms, api: Api) -> None:
    """Boot, status, authorize, TransactionEvent Started/Updated/Ended, heartbeat pass the library checks."""
    await csms.services.store.add_id_token(IdToken("TAG201", group_id_token="GROUP"))
    async with connect(ocpp_url(csms) + "/LIB201", subprotocols=["ocpp2.0.1"]) as ws:  # type: ignore[list-item]
        cp = ChargePoint201("LIB201", ws)
        reader = asyncio.create_task(cp.start())
        boot = await cp.call(
            call201.BootNotification(charging_station={"model": "M", "vendorName": "V"}, reason="PowerUp"),
            suppress=False,
        )
        assert boot.status == "Accepted"
        await cp.call(
            call201.StatusNotification(
                timestamp=now(), connector_status="Occupied", evse_id=1, connector_id=1
            ),
            suppress=False,
        )
        token = {"idToken": "TAG201", "type": "ISO14443"}
        auth = await cp.call(call201.Authorize(id_token=token), suppress=False)
        assert auth.id_token_info["status"] == "Accepted"
        assert auth.id_token_info["group_id_token"]["id_token"] == "GROUP"

        def event(kind: str, seq: int, wh: float, trigger: str, **extra: object) -> call201.TransactionEvent:
            return call201.TransactionEvent(
                event_type=kind,
                timestamp=now(),
                trigger_reason=trigger,
                seq_no=seq,
                transaction_info={"transactionId": "lib-tx-1", **extra},
                meter_value=[
                    {
                        "timestamp": now(),
                        "sampledValue": [
                            {
                                "value": wh,
                                "measurand": "Energy.Active.Import.Register",
                                "unitOfMeasure": {"unit": "kWh"},
                            }
                        ],
                    }
                ],
                evse={"id": 1, "connectorId": 1},
                id_token=token,
            )

        started = await cp.call(
            event("Started", 0, 10.0, "Authorized", chargingState="Charging"), suppress=False
        )
        assert started.id_token_info["status"] == "Accepted"
        await cp.call(event("Updated", 1, 11.5, "MeterValuePeriodic"), suppress=False)
        await cp.call(event("Ended", 2, 12.25, "StopAuthorized", stoppedReason="Local"), suppress=False)
        hb = await cp.call(call201.Heartbeat(), suppress=False)
        assert hb.current_time.endswith("Z")
        reader.cancel()
    status, page = await api.get("/api/v1/sessions", charge_point_id="LIB201")
    assert status == 200 and len(page["items"]) == 1
    session = page["items"][0]
    assert session["transaction_id"] == "lib-tx-1"
    assert session["energy_wh"] == 2250 and session["status"] == "completed"


@pytest.mark.parametrize("version", ["ocpp1.6", "ocpp2.0.1"])
async def test_ocpp_library_gets_a_spec_error_for_an_unsupported_action(csms: Csms, version: str) -> None:
    """A station-to-CSMS call we do not take (a CSMS-to-station action) gets NotSupported, not a crash."""
    module = call16 if version == "ocpp1.6" else call201
    cls = ChargePoint16 if version == "ocpp1.6" else ChargePoint201
    async with connect(ocpp_url(csms) + "/LIBX", subprotocols=[version]) as ws:  # type: ignore[list-item]
        cp = cls("LIBX", ws)
        reader = asyncio.create_task(cp.start())
        if version == "ocpp1.6":
            await cp.call(module.BootNotification(charge_point_model="M", charge_point_vendor="V"))
            request = module.ClearCache()
        else:
            await cp.call(
                module.BootNotification(charging_station={"model": "M", "vendorName": "V"}, reason="PowerUp")
            )
            request = module.ClearCache()
        with pytest.raises(Exception) as info:
            await cp.call(request, suppress=False)
        assert type(info.value).__name__ == "NotSupportedError"
        reader.cancel()
