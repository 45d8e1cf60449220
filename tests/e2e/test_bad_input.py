"""Bad input over a real socket: each gets the CALLERROR or close code the spec asks for, is logged,
and nothing already stored is lost."""

from __future__ import annotations

import asyncio
import base64
from typing import Any

import orjson
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from csms.app import Csms
from tests.e2e.conftest import Api, StartCsms, ocpp_url
from tests.utils import MS

BOOT = {
    "ocpp1.6": ["BootNotification", {"chargePointVendor": "V", "chargePointModel": "M"}],
    "ocpp2.0.1": [
        "BootNotification",
        {"chargingStation": {"vendorName": "V", "model": "M"}, "reason": "PowerUp"},
    ],
}
VERSIONS = ["ocpp1.6", "ocpp2.0.1"]


async def exchange(ws: ClientConnection, frame: str | list[Any]) -> list[Any]:
    """Send one frame, return the parsed reply."""
    await ws.send(frame if isinstance(frame, str) else orjson.dumps(frame).decode())
    return orjson.loads(await asyncio.wait_for(ws.recv(), 2000 * MS))  # type: ignore[no-any-return]


async def booted(csms: Csms, cp_id: str, version: str) -> ClientConnection:
    ws = await connect(f"{ocpp_url(csms)}/{cp_id}", subprotocols=[version])  # type: ignore[list-item]
    reply = await exchange(ws, [2, "boot", *BOOT[version]])
    assert reply[2]["status"] == "Accepted"
    return ws


@pytest.mark.parametrize(
    ("version", "code"), [("ocpp1.6", "FormationViolation"), ("ocpp2.0.1", "RpcFrameworkError")]
)
async def test_malformed_json_gets_format_error(csms: Csms, version: str, code: str) -> None:
    """A frame that is not JSON is answered with a CALLERROR (id "-1") and the connection stays usable."""
    ws = await booted(csms, "BAD1", version)
    reply = await exchange(ws, '[2, "x", "Heartbeat", {')
    assert reply[0] == 4 and reply[1] == "-1" and reply[2] == code
    assert (await exchange(ws, [2, "hb", "Heartbeat", {}]))[0] == 3
    await ws.close()


@pytest.mark.parametrize(
    ("version", "code"), [("ocpp1.6", "FormationViolation"), ("ocpp2.0.1", "RpcFrameworkError")]
)
async def test_non_array_frame_gets_format_error(csms: Csms, version: str, code: str) -> None:
    """A JSON object instead of an OCPP-J array is a format error."""
    ws = await booted(csms, "BAD2", version)
    reply = await exchange(ws, {"not": "an array"})  # type: ignore[arg-type]
    assert reply[0] == 4 and reply[2] == code
    await ws.close()


async def test_unknown_message_type_201_gets_message_type_not_supported(csms: Csms) -> None:
    """2.0.1 answers an unknown MessageTypeId with MessageTypeNotSupported (OCPP 2.0.1 Part 4 §4.3)."""
    ws = await booted(csms, "BAD3", "ocpp2.0.1")
    reply = await exchange(ws, [7, "m1", "Heartbeat", {}])
    assert reply[:3] == [4, "m1", "MessageTypeNotSupported"]
    await ws.close()


async def test_unknown_message_type_16_is_ignored(csms: Csms) -> None:
    """1.6 ignores an unknown MessageTypeId (OCPP-J 1.6): no reply, the next CALL is answered normally."""
    ws = await booted(csms, "BAD4", "ocpp1.6")
    await ws.send(orjson.dumps([7, "m1", "Heartbeat", {}]).decode())
    reply = await exchange(ws, [2, "hb", "Heartbeat", {}])
    assert reply[:2] == [3, "hb"]
    await ws.close()


@pytest.mark.parametrize("version", VERSIONS)
async def test_unknown_action_gets_not_implemented(csms: Csms, version: str) -> None:
    """An action no OCPP version defines is NotImplemented."""
    ws = await booted(csms, "BAD5", version)
    reply = await exchange(ws, [2, "u1", "MakeCoffee", {}])
    assert reply[:3] == [4, "u1", "NotImplemented"]
    await ws.close()


@pytest.mark.parametrize(
    ("version", "frame", "code"),
    [
        (
            "ocpp1.6",
            [2, "s1", "StatusNotification", {"connectorId": 1, "status": "Available"}],
            "OccurenceConstraintViolation",
        ),
        (
            "ocpp1.6",
            [
                2,
                "s2",
                "StatusNotification",
                {"connectorId": "one", "errorCode": "NoError", "status": "Available"},
            ],
            "TypeConstraintViolation",
        ),
        (
            "ocpp1.6",
            [2, "s3", "StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": "Sleeping"}],
            "PropertyConstraintViolation",
        ),
        (
            "ocpp2.0.1",
            [
                2,
                "s4",
                "StatusNotification",
                {"timestamp": "2026-01-01T00:00:00Z", "evseId": 1, "connectorId": 1},
            ],
            "OccurrenceConstraintViolation",
        ),
        ("ocpp2.0.1", [2, "s5", "Heartbeat", {"extra": 1}], "OccurrenceConstraintViolation"),
    ],
)
async def test_schema_violation_gets_the_mapped_error(
    csms: Csms, version: str, frame: list[Any], code: str
) -> None:
    """A payload that breaks the official schema is answered with the matching constraint error."""
    ws = await booted(csms, "BAD6", version)
    reply = await exchange(ws, frame)
    assert reply[0] == 4 and reply[1] == frame[1] and reply[2] == code
    assert len(reply[3]) <= 255 and reply[4] == {}
    await ws.close()


@pytest.mark.parametrize("version", VERSIONS)
async def test_message_before_boot_gets_security_error(csms: Csms, version: str) -> None:
    """Any CALL but BootNotification before the first accepted boot is a SecurityError."""
    ws = await connect(f"{ocpp_url(csms)}/NEWBORN", subprotocols=[version])  # type: ignore[list-item]
    reply = await exchange(ws, [2, "h1", "Heartbeat", {}])
    assert reply[:3] == [4, "h1", "SecurityError"]
    await ws.close()


async def test_frame_over_size_limit_closes_1009(start_csms: StartCsms) -> None:
    """A frame larger than `max_frame_bytes` closes the connection with 1009 (message too big)."""
    csms = await start_csms(max_frame_bytes=1024)
    ws = await booted(csms, "BIG", "ocpp1.6")
    await ws.send(orjson.dumps([2, "d1", "DataTransfer", {"vendorId": "V", "data": "x" * 4000}]).decode())
    with pytest.raises(ConnectionClosed):
        await asyncio.wait_for(ws.recv(), 2000 * MS)
    assert ws.close_code == 1009


async def test_flood_is_rate_limited_then_closed(start_csms: StartCsms) -> None:
    """CALLs over the rate limit get GenericError unprocessed; a sustained flood closes with 1008."""
    csms = await start_csms(rate_limit_per_second=1.0, rate_limit_burst=3)
    ws = await booted(csms, "FLOOD", "ocpp1.6")
    codes = []
    with pytest.raises(ConnectionClosed):
        for i in range(20):
            reply = await exchange(ws, [2, f"f{i}", "Heartbeat", {}])
            codes.append(reply[2] if reply[0] == 4 else "ok")
    assert "GenericError" in codes
    assert ws.close_code == 1008


async def test_binary_frame_closes_1003(csms: Csms) -> None:
    """OCPP-J runs on text frames; a binary frame closes the connection with 1003."""
    ws = await booted(csms, "BIN", "ocpp1.6")
    await ws.send(b'[2,"b","Heartbeat",{}]')
    with pytest.raises(ConnectionClosed):
        await asyncio.wait_for(ws.recv(), 2000 * MS)
    assert ws.close_code == 1003


async def test_bad_input_loses_nothing_stored(csms: Csms, api: Api) -> None:
    """After a run of bad frames, a transaction stored before is intact and the station still works."""
    ws = await booted(csms, "KEEP", "ocpp1.6")
    start = await exchange(
        ws,
        [
            2,
            "t1",
            "StartTransaction",
            {"connectorId": 1, "idTag": "X", "meterStart": 100, "timestamp": "2026-01-01T10:00:00Z"},
        ],
    )
    tx_id = start[2]["transactionId"]
    for bad in [
        "{",
        "[]",
        "[2]",
        '[2, 5, "Heartbeat", {}]',
        '[2, "a", "StopTransaction", {"transactionId": "x"}]',
        '[2, "b", "MeterValues", {"connectorId": 1, "meterValue": [{"timestamp": "2026-01-01T10:00:00Z",'
        ' "sampledValue": [{"value": "NaNx"}]}]}]',
    ]:
        reply = await exchange(ws, bad)
        assert reply[0] == 4
    stop = await exchange(
        ws,
        [
            2,
            "t2",
            "StopTransaction",
            {"transactionId": tx_id, "meterStop": 600, "timestamp": "2026-01-01T11:00:00Z"},
        ],
    )
    assert stop[0] == 3
    await ws.close()
    status, session = await api.get(f"/api/v1/sessions/{tx_id}")
    assert status == 200 and session["energy_wh"] == 500


async def test_frames_are_logged_and_readable_through_the_api(csms: Csms, api: Api) -> None:
    """Every frame in and out, including refused ones, is in the charge point's message log."""
    ws = await booted(csms, "LOGGED", "ocpp2.0.1")
    await exchange(ws, [2, "u1", "MakeCoffee", {}])
    await ws.close()
    status, page = await api.get("/api/v1/charge-points/LOGGED/messages")
    assert status == 200
    seen = [(m["direction"], m["message_type"], m["message_id"]) for m in page["items"]]
    assert ("in", 2, "boot") in seen and ("out", 3, "boot") in seen
    assert ("in", 2, "u1") in seen and ("out", 4, "u1") in seen


# -- handshake ---------------------------------------------------------------------------------


async def test_client_offering_no_ocpp_subprotocol_is_refused(csms: Csms) -> None:
    """A client offering neither ocpp1.6 nor ocpp2.0.1 gets no subprotocol and is closed (1002)."""
    ws = await connect(f"{ocpp_url(csms)}/NOPROTO", subprotocols=["ocpp1.5"])  # type: ignore[list-item]
    assert ws.subprotocol is None
    with pytest.raises(ConnectionClosed):
        await asyncio.wait_for(ws.recv(), 2000 * MS)
    assert ws.close_code == 1002
    assert await csms.services.store.get_charge_point("NOPROTO") is None


@pytest.mark.parametrize(
    ("offered", "chosen"),
    [
        (["ocpp1.6", "ocpp2.0.1"], "ocpp1.6"),
        (["ocpp2.0.1", "ocpp1.6"], "ocpp2.0.1"),
        (["ocpp1.5", "ocpp2.0.1"], "ocpp2.0.1"),
    ],
)
async def test_subprotocol_follows_client_preference(csms: Csms, offered: list[str], chosen: str) -> None:
    """The first subprotocol in the client's list that the CSMS speaks is chosen."""
    async with connect(f"{ocpp_url(csms)}/PREF", subprotocols=offered) as ws:  # type: ignore[arg-type]
        assert ws.subprotocol == chosen


@pytest.mark.parametrize("path", ["/BAD%3AID", "/" + "x" * 49, "/a/b", "/", "/%FF%FE", "/sp%20ace"])
async def test_malformed_charge_point_id_is_refused_400(csms: Csms, path: str) -> None:
    """An id that is empty, too long, nested, or has characters outside the allowed set gets HTTP 400."""
    with pytest.raises(InvalidStatus) as info:
        await connect(ocpp_url(csms) + path, subprotocols=["ocpp1.6"])  # type: ignore[list-item]
    assert info.value.response.status_code == 400


async def test_percent_encoded_id_is_decoded(csms: Csms) -> None:
    """A percent-encoded id is decoded before it is used (CP%2D1 is CP-1)."""
    ws = await booted(csms, "CP%2D1", "ocpp1.6")
    await ws.close()
    assert await csms.services.store.get_charge_point("CP-1") is not None


async def test_unknown_charge_point_refused_404_with_reject_policy(start_csms: StartCsms) -> None:
    """With `unknown_charge_points = "reject"` an unknown id is refused at the handshake (404)."""
    csms = await start_csms(unknown_charge_points="reject")
    with pytest.raises(InvalidStatus) as info:
        await connect(f"{ocpp_url(csms)}/STRANGER", subprotocols=["ocpp1.6"])  # type: ignore[list-item]
    assert info.value.response.status_code == 404
    assert await csms.services.store.get_charge_point("STRANGER") is None


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


async def test_basic_auth_security_profile_1(csms: Csms, api: Api) -> None:
    """A charge point with a password needs HTTP Basic with its id as username; anything else is 401."""
    status, _ = await api.post(
        "/api/v1/charge-points", {"charge_point_id": "SECURE", "password": "s3cret-password-16"}
    )
    assert status == 201
    url = f"{ocpp_url(csms)}/SECURE"
    for headers in ({}, basic("SECURE", "wrong-password-0000"), basic("OTHER", "s3cret-password-16")):
        with pytest.raises(InvalidStatus) as info:
            await connect(url, subprotocols=["ocpp1.6"], additional_headers=headers)  # type: ignore[list-item]
        assert info.value.response.status_code == 401
    async with connect(
        url,
        subprotocols=["ocpp1.6"],  # type: ignore[list-item]
        additional_headers=basic("SECURE", "s3cret-password-16"),
    ) as ws:
        reply = await exchange(ws, [2, "boot", *BOOT["ocpp1.6"]])
        assert reply[2]["status"] == "Accepted"


async def test_second_connection_replaces_the_first(csms: Csms, api: Api) -> None:
    """A new connection for a connected id closes the old one (4000) and the new one keeps working."""
    first = await booted(csms, "TWICE", "ocpp1.6")
    second = await connect(f"{ocpp_url(csms)}/TWICE", subprotocols=["ocpp2.0.1"])  # type: ignore[list-item]
    with pytest.raises(ConnectionClosed):
        await asyncio.wait_for(first.recv(), 2000 * MS)
    assert first.close_code == 4000
    reply = await exchange(second, [2, "hb", "Heartbeat", {}])  # registered already: no new boot needed
    assert reply[0] == 3
    status, cp = await api.get("/api/v1/charge-points/TWICE")
    assert status == 200 and cp["connected"] is True
    await second.close()
