"""SIGKILL loses nothing a station was answered for (answered = stored): a CALLRESULT to MeterValues goes
out only once the batch holding its samples has committed."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
from pathlib import Path
from typing import Any

import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.e2e.test_sigterm import read_ports, spawn_csms
from tests.utils import MS

STATIONS = 20
ANSWERED_BEFORE_KILL = 40  # per station: the kill comes while every station is still sending


async def call(ws: ClientConnection, mid: str, action: str, payload: dict[str, Any]) -> list[Any]:
    await ws.send(orjson.dumps([2, mid, action, payload]).decode())
    reply: list[Any] = orjson.loads(await ws.recv())
    assert reply[0] == 3, reply
    return reply


async def station(url: str, index: int, answered: set[int], enough: asyncio.Event) -> None:
    """Boot, start a transaction, then send MeterValues as fast as they are answered, each with a value of
    its own, recording the values the CSMS acknowledged, until the connection drops."""
    async with connect(f"{url}/KILL{index}", subprotocols=["ocpp1.6"]) as ws:  # type: ignore[list-item]
        await call(ws, "b", "BootNotification", {"chargePointVendor": "V", "chargePointModel": "M"})
        start = await call(
            ws,
            "s",
            "StartTransaction",
            {"connectorId": 1, "idTag": "T", "meterStart": 0, "timestamp": "2026-01-01T00:00:00Z"},
        )
        tx_id = start[2]["transactionId"]
        n = 0
        try:
            while True:
                n += 1
                value = index * 1_000_000 + n
                meter = {"timestamp": "2026-01-01T00:01:00Z", "sampledValue": [{"value": str(value)}]}
                payload = {"connectorId": 1, "transactionId": tx_id, "meterValue": [meter]}
                await call(ws, f"m{n}", "MeterValues", payload)
                answered.add(value)
                if n == ANSWERED_BEFORE_KILL:
                    enough.set()
        except ConnectionClosed:
            return


async def test_sigkill_loses_no_answered_meter_value(tmp_path: Path) -> None:
    """20 stations in a closed loop of MeterValues; the CSMS is killed with SIGKILL mid-stream; every
    sample it answered for is in the database afterwards."""
    db = tmp_path / "csms.db"
    proc = await spawn_csms(
        tmp_path,
        CSMS_OCPP_RATE_LIMIT_BURST="100000",
        CSMS_OCPP_RATE_LIMIT_PER_SECOND="100000",
        # These raw stations answer no CSMS call: without this the local list sync's GetLocalListVersion
        # (a second after boot) would arrive where a MeterValues answer is awaited on a slow machine.
        CSMS_OCPP_LOCAL_LIST_SYNC="false",
    )
    answered: list[set[int]] = [set() for _ in range(STATIONS)]
    try:
        ports = await read_ports(proc)
        drain = asyncio.create_task(proc.stderr.read())  # type: ignore[union-attr]
        url = f"ws://127.0.0.1:{ports['ocpp_listening']}/ocpp"
        ready = [asyncio.Event() for _ in range(STATIONS)]
        tasks = [asyncio.create_task(station(url, i, answered[i], ready[i])) for i in range(STATIONS)]
        async with asyncio.timeout(60000 * MS):
            await asyncio.gather(*(event.wait() for event in ready))
        proc.send_signal(signal.SIGKILL)
        await proc.wait()
        await asyncio.gather(*tasks, return_exceptions=True)
        await drain
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    with sqlite3.connect(db) as conn:
        stored = {int(value) for (value,) in conn.execute("select value from meter_samples")}
    for index, values in enumerate(answered):
        assert len(values) >= ANSWERED_BEFORE_KILL
        missing = values - stored
        assert not missing, f"KILL{index}: {len(missing)} answered samples lost"
