"""Robustness against hostile or unusual (but schema-valid) input, found in review: every case stores what
it can and keeps the connection usable, or closes it the spec's way."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from csms.app import Csms
from csms.domain.clock import parse_datetime
from csms.domain.models import IdToken
from tests.e2e.conftest import Api, StartCsms, make_api, ocpp_url
from tests.utils import MS, until

BOOT16 = ["BootNotification", {"chargePointVendor": "V", "chargePointModel": "M"}]
BOOT201 = ["BootNotification", {"chargingStation": {"vendorName": "V", "model": "M"}, "reason": "PowerUp"}]
STATUS16 = {"connectorId": 1, "errorCode": "NoError", "status": "Available"}


async def exchange(ws: ClientConnection, frame: str | list[Any]) -> list[Any]:
    await ws.send(frame if isinstance(frame, str) else orjson.dumps(frame).decode())
    return orjson.loads(await asyncio.wait_for(ws.recv(), 5000 * MS))  # type: ignore[no-any-return]


async def open_booted(csms: Csms, cp_id: str, version: str) -> ClientConnection:
    ws = await connect(f"{ocpp_url(csms)}/{cp_id}", subprotocols=[version])  # type: ignore[list-item]
    assert (await exchange(ws, [2, "boot", *(BOOT16 if version == "ocpp1.6" else BOOT201)]))[0] == 3
    return ws


async def test_flood_of_malformed_frames_is_closed_and_not_all_logged(start_csms: StartCsms) -> None:
    """Broken frames count against the rate limit too: a flood of them closes 1008, and frames over the
    limit are not written to the message log."""
    csms = await start_csms(rate_limit_per_second=1.0, rate_limit_burst=5)
    client, session = await make_api(csms)
    try:
        ws = await open_booted(csms, "GARBAGE", "ocpp1.6")
        with pytest.raises(ConnectionClosed):
            for _ in range(50):
                await ws.send("{")
                await asyncio.wait_for(ws.recv(), 5000 * MS)
        assert ws.close_code == 1008
        _, page = await client.get("/api/v1/charge-points/GARBAGE/messages", limit=500)
        broken = [m for m in page["items"] if m["direction"] == "in" and m["message_type"] == 0]
        assert 1 <= len(broken) <= 5
    finally:
        await session.close()


async def test_backlog_makes_the_connection_wait_instead_of_refusing(start_csms: StartCsms) -> None:
    """With the write queue at its limit the database is only slow: the CALL waits for the queue to be
    written and is then answered (the socket is not read meanwhile), never refused."""
    csms = await start_csms()
    ws = await open_booted(csms, "BUSY", "ocpp1.6")
    session = csms.ocpp.session("BUSY")
    assert session is not None
    session._max_pending = 0
    reply = await exchange(ws, [2, "s", "StatusNotification", STATUS16])
    assert reply[:2] == [3, "s"]
    await ws.close()
    await csms.services.writer.sync()
    frames, _ = await csms.services.store.list_frames("BUSY", limit=50)
    assert "s" in {f.message_id for f in frames}


class Unreachable:
    """A batch sink in front of the store that fails like an unreachable database while `down` is set."""

    def __init__(self, sink: Any) -> None:
        self.sink = sink
        self.down = True

    async def apply_batch(self, items: Any) -> None:
        if self.down:
            raise OSError("connection refused")
        await self.sink.apply_batch(items)


async def test_calls_are_refused_only_while_the_database_is_unreachable(start_csms: StartCsms) -> None:
    """While writes fail because the database is down, CALLs get InternalError (unlogged) instead of an
    acknowledgement of something that would not be stored; once it is back they are answered again."""
    csms = await start_csms()
    ws = await open_booted(csms, "DOWN", "ocpp1.6")
    writer = csms.services.writer
    await writer.sync()
    sink = Unreachable(writer._sink)
    writer._sink = sink  # type: ignore[assignment]
    writer._retry_delay = 5 * MS
    assert (await exchange(ws, [2, "h1", "Heartbeat", {}]))[0] == 3  # answered: a heartbeat needs no commit
    await until(lambda: writer.outage)
    reply = await exchange(ws, [2, "h2", "Heartbeat", {}])
    assert reply[:3] == [4, "h2", "InternalError"]
    sink.down = False
    await until(lambda: not writer.outage, timeout=30000 * MS)  # the retry back-off doubles up to 5 s
    assert (await exchange(ws, [2, "h3", "Heartbeat", {}]))[0] == 3
    await ws.close()
    await writer.sync()
    frames, _ = await csms.services.store.list_frames("DOWN", limit=50)
    assert {"h1", "h3"} <= {f.message_id for f in frames} and "h2" not in {f.message_id for f in frames}


async def test_replacement_is_served_while_the_old_socket_hangs(csms: Csms) -> None:
    """A new connection is served at once even when the replaced socket never answers the close."""
    old = await open_booted(csms, "HALFOPEN", "ocpp1.6")
    old.transport.pause_reading()  # the old link is dead: it will never read our close frame
    new = await connect(f"{ocpp_url(csms)}/HALFOPEN", subprotocols=["ocpp1.6"])  # type: ignore[list-item]
    # websockets waits 10 s for a close handshake; the new station must not wait for that.
    reply = await exchange(new, [2, "hb", "Heartbeat", {}])
    assert reply[0] == 3
    await new.close()
    old.transport.abort()


async def test_long_group_id_is_left_out_of_16_answers(csms: Csms) -> None:
    """A group id longer than 1.6's 20 characters is omitted from idTagInfo, not an InternalError."""
    await csms.services.store.add_id_token(IdToken("MEMBER", group_id_token="G" * 30))
    ws = await open_booted(csms, "LONGGROUP", "ocpp1.6")
    reply = await exchange(ws, [2, "a", "Authorize", {"idTag": "MEMBER"}])
    assert reply[0] == 3 and reply[2]["idTagInfo"] == {"status": "Accepted"}
    await ws.close()


async def test_unusable_stop_samples_do_not_block_the_stop(csms: Csms, api: Api) -> None:
    """A 1.6 StopTransaction with a non-numeric or absurd sample is still stored; the samples are skipped."""
    ws = await open_booted(csms, "BADSTOP", "ocpp1.6")
    start = await exchange(
        ws,
        [
            2,
            "s",
            "StartTransaction",
            {"connectorId": 1, "idTag": "T", "meterStart": 10, "timestamp": "2026-01-01T00:00:00Z"},
        ],
    )
    tx_id = start[2]["transactionId"]
    stop = await exchange(
        ws,
        [
            2,
            "e",
            "StopTransaction",
            {
                "transactionId": tx_id,
                "meterStop": 60,
                "timestamp": "2026-01-01T01:00:00Z",
                "transactionData": [
                    {
                        "timestamp": "2026-01-01T01:00:00Z",
                        "sampledValue": [{"value": "abc"}, {"value": "1e30", "unit": "kWh"}, {"value": "55"}],
                    }
                ],
            },
        ],
    )
    assert stop[0] == 3
    _, session = await api.get(f"/api/v1/sessions/{tx_id}")
    assert session["status"] == "completed" and session["energy_wh"] == 50
    assert [s["value"] for s in session["meter_samples"]] == ["55"]
    await ws.close()


async def test_201_ended_with_absurd_multiplier_is_stored(csms: Csms, api: Api) -> None:
    """A 2.0.1 Ended event whose sample has a huge multiplier still ends the transaction."""
    ws = await open_booted(csms, "BADEND", "ocpp2.0.1")

    def event(kind: str, seq: int, sampled: list[dict[str, Any]], **info: Any) -> list[Any]:
        return [
            2,
            f"e{seq}",
            "TransactionEvent",
            {
                "eventType": kind,
                "timestamp": "2026-01-01T00:00:00Z",
                "triggerReason": "Authorized",
                "seqNo": seq,
                "transactionInfo": {"transactionId": "weird", **info},
                "evse": {"id": 1, "connectorId": 1},
                "meterValue": [{"timestamp": "2026-01-01T00:00:00Z", "sampledValue": sampled}],
            },
        ]

    assert (await exchange(ws, event("Started", 0, [{"value": 100}])))[0] == 3
    assert (await exchange(ws, event("Updated", 1, [{"value": 400}])))[0] == 3
    ended = await exchange(
        ws, event("Ended", 2, [{"value": 5, "unitOfMeasure": {"multiplier": 1000000}}], stoppedReason="Local")
    )
    assert ended[0] == 3
    _, page = await api.get("/api/v1/sessions", charge_point_id="BADEND")
    assert page["items"][0]["status"] == "completed" and page["items"][0]["energy_wh"] == 300
    await ws.close()


async def test_16_meter_start_out_of_range_is_a_property_violation(csms: Csms) -> None:
    """A meterStart no meter can read is refused with PropertyConstraintViolation, not a database error."""
    ws = await open_booted(csms, "HUGE", "ocpp1.6")
    reply = await exchange(
        ws,
        [
            2,
            "s",
            "StartTransaction",
            {"connectorId": 1, "idTag": "T", "meterStart": 10**18, "timestamp": "2026-01-01T00:00:00Z"},
        ],
    )
    assert reply[:3] == [4, "s", "PropertyConstraintViolation"]
    await ws.close()


def test_leap_second_timestamps_are_read() -> None:
    """RFC 3339 allows 23:59:60; it is read as the start of the next second."""
    assert parse_datetime("2016-12-31T23:59:60Z").isoformat() == "2017-01-01T00:00:00+00:00"


async def test_cancelled_csms_call_does_not_block_the_next(csms: Csms) -> None:
    """A CSMS CALL cancelled while waiting leaves the connection free for the next CALL."""
    ws = await open_booted(csms, "CANCEL", "ocpp1.6")
    session = csms.ocpp.session("CANCEL")
    assert session is not None
    first = asyncio.create_task(session.call("ClearCache", {}))
    frame = orjson.loads(await ws.recv())
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    second = asyncio.create_task(session.call("ClearCache", {}))
    frame2 = orjson.loads(await asyncio.wait_for(ws.recv(), 5000 * MS))
    assert frame2[1] != frame[1] and frame2[2] == "ClearCache"
    await ws.send(orjson.dumps([3, frame2[1], {"status": "Accepted"}]).decode())
    assert (await second).payload == {"status": "Accepted"}
    await ws.close()
