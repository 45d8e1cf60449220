"""Fuzzing the running server over real websockets, both OCPP versions: a bounded, derandomized set of
frames (the framing fuzzer's garbage plus schema-derived CALLs for every supported action) is sent to a
booted station's connection. Each frame gets exactly the answer the spec asks for (the one the framing core
predicts: a CALLRESULT or CALLERROR for a CALL, the framing CALLERROR, or nothing), the connection stays up
and a Heartbeat is still answered after every frame. Frames the transport refuses (binary, invalid UTF-8,
oversized) close the socket with the proper close code, and the station reconnects and is answered."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from csms.app import Csms
from csms.ocpp.framing import CallReceived, OcppConnection
from csms.ocpp.versions import OcppVersion
from tests.e2e.conftest import ocpp_url
from tests.ocpp.test_fuzz_framing import SPEC_CODES, texts
from tests.ocpp.test_fuzz_router import TABLES, payloads
from tests.utils import FUZZ_SCALE, MS

GARBAGE_FRAMES = 40 * FUZZ_SCALE
CALLS = 40 * FUZZ_SCALE
BOOT = {
    OcppVersion.V16: ["BootNotification", {"chargePointVendor": "V", "chargePointModel": "M"}],
    OcppVersion.V201: [
        "BootNotification",
        {"chargingStation": {"vendorName": "V", "model": "M"}, "reason": "PowerUp"},
    ],
}


def drawn(strategy: st.SearchStrategy[Any], count: int) -> list[Any]:
    """*count* examples of *strategy*, the same ones on every run (derandomized), for a socket test that
    cannot run inside Hypothesis' synchronous loop."""
    examples: list[Any] = []

    @settings(max_examples=count, derandomize=True, database=None, phases=[Phase.generate])
    @given(value=strategy)
    def collect(value: Any) -> None:
        examples.append(value)

    collect()
    return examples


def frames_for(version: OcppVersion) -> list[str | bytes]:
    """Garbage frames and fuzzed CALLs of every supported action, interleaved."""
    calls = st.sampled_from(sorted(TABLES[version])).flatmap(
        lambda action: st.tuples(st.text(min_size=1, max_size=36), st.just(action), payloads(version, action))
    )
    fuzzed = [orjson.dumps([2, *call]).decode() for call in drawn(calls, CALLS)]
    return [frame for pair in zip(drawn(texts, GARBAGE_FRAMES), fuzzed, strict=False) for frame in pair]


async def recv(ws: ClientConnection) -> list[Any]:
    """The next frame from the server, parsed."""
    return orjson.loads(await asyncio.wait_for(ws.recv(), 5000 * MS))  # type: ignore[no-any-return]


async def booted(csms: Csms, version: OcppVersion) -> ClientConnection:
    """A connection of station FUZZ whose BootNotification was accepted."""
    ws = await connect(f"{ocpp_url(csms)}/FUZZ", subprotocols=[version.value])  # type: ignore[list-item]
    await ws.send(orjson.dumps([2, "boot", *BOOT[version]]).decode())
    reply = await recv(ws)
    assert reply[0] == 3 and reply[2]["status"] == "Accepted", reply
    return ws


async def heartbeat_answered(ws: ClientConnection, message_id: str) -> list[list[Any]]:
    """Send a Heartbeat and return the frames that arrived before its CALLRESULT."""
    await ws.send(orjson.dumps([2, message_id, "Heartbeat", {}]).decode())
    before = []
    while (reply := await recv(ws))[1] != message_id:
        before.append(reply)
    assert reply[0] == 3 and "currentTime" in reply[2], reply
    return before


def expected_reply(version: OcppVersion, frame: str) -> tuple[str, str | None] | None:
    """What the server must answer *frame* with: (message id, CALLERROR code or None for any answer)."""
    conn = OcppConnection(version)
    [event] = conn.receive_text(frame)
    if isinstance(event, CallReceived):
        return event.message_id, None
    queued = conn.frames_to_send()
    if not queued:
        return None  # OCPP-J: not answered (a response to nothing, 1.6 unknown MessageTypeId)
    error = orjson.loads(queued[0])
    return error[1], error[2]


@pytest.mark.parametrize("version", [OcppVersion.V16, OcppVersion.V201])
async def test_fuzzed_frames_get_spec_answers_and_heartbeats_still_work(
    csms: Csms, version: OcppVersion
) -> None:
    """Every fuzzed frame gets the spec answer (or none), never closes the connection unless the transport
    refuses it with the proper close code, and a Heartbeat is answered after each one."""
    ws = await booted(csms, version)
    for i, frame in enumerate(frames_for(version)):
        if isinstance(frame, bytes):
            # OCPP-J runs on text frames only: the server closes with 1003 (unsupported data).
            await ws.send(frame)
            with pytest.raises(ConnectionClosed) as closed:
                await recv(ws)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1003
            ws = await booted(csms, version)
            continue
        await ws.send(frame)
        answers = await heartbeat_answered(ws, f"hb-{i}")
        expected = expected_reply(version, frame)
        if expected is None:
            assert answers == [], (frame, answers)
            continue
        assert len(answers) == 1, (frame, answers)
        [answer] = answers
        message_id, code = expected
        assert answer[1] == message_id, (frame, answer)
        if answer[0] == 4:
            assert answer[2] in SPEC_CODES[version] and answer[2] != "InternalError", (frame, answer)
            assert code is None or answer[2] == code, (frame, answer)
        else:
            assert answer[0] == 3 and code is None, (frame, answer)
    await ws.close()


@pytest.mark.parametrize("version", [OcppVersion.V16, OcppVersion.V201])
@pytest.mark.parametrize(
    ("frame", "close_code"),
    [
        (b"\xff\xfe[2]", 1007),  # a text frame that is not UTF-8 (RFC 6455 §8.1)
        ("[" + " " * 70_000 + "]", 1009),  # over [ocpp] max_frame_bytes (65536)
    ],
    ids=["invalid-utf8", "oversized"],
)
async def test_frames_the_transport_refuses_close_properly(
    csms: Csms, version: OcppVersion, frame: str | bytes, close_code: int
) -> None:
    """Invalid UTF-8 and oversized frames close the socket with the RFC 6455 close code; the station
    reconnects and its Heartbeat is answered."""
    ws = await booted(csms, version)
    await ws.send(frame, text=True)
    with pytest.raises(ConnectionClosed) as closed:
        await recv(ws)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == close_code
    ws = await booted(csms, version)
    assert await heartbeat_answered(ws, "hb") == []
    await ws.close()


@pytest.mark.parametrize("version", [OcppVersion.V16, OcppVersion.V201])
async def test_nul_in_a_string_is_refused_over_the_socket(csms: Csms, version: OcppVersion) -> None:
    """A CALL with U+0000 in a string is a PropertyConstraintViolation (PostgreSQL could not store it) and
    the connection goes on."""
    ws = await booted(csms, version)
    await ws.send(orjson.dumps([2, "nul", "DataTransfer", {"vendorId": "V\u0000"}]).decode())
    assert (await recv(ws))[:3] == [4, "nul", "PropertyConstraintViolation"]
    assert await heartbeat_answered(ws, "hb") == []
    await ws.close()
