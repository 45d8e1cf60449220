"""SIGTERM loses nothing a station was answered for: batched writes are committed on shutdown."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import sys
from pathlib import Path

import orjson
from websockets.asyncio.client import connect

from tests.utils import MS


async def read_ports(proc: asyncio.subprocess.Process) -> dict[str, int]:
    """Read JSON log lines until both listening events name their ports."""
    ports: dict[str, int] = {}
    assert proc.stderr is not None
    while len(ports) < 2:
        line = await asyncio.wait_for(proc.stderr.readline(), 20000 * MS)
        assert line, "csms exited before listening"
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if event.get("event") in ("ocpp_listening", "http_listening"):
            ports[event["event"]] = event["port"]
    return ports


async def spawn_csms(tmp_path: Path, **env: str) -> asyncio.subprocess.Process:
    """`csms run` as a child process on free ports, its SQLite file `tmp_path/csms.db`, JSON logs on
    stderr (read its ports with `read_ports`); `env` adds CSMS_* overrides."""
    (tmp_path / "empty.toml").write_text("")
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "csms", "--config", str(tmp_path / "empty.toml"), "run",
        env={
            **os.environ,
            "CSMS_OCPP_PORT": "0",
            "CSMS_HTTP_PORT": "0",
            "CSMS_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'csms.db'}",
            "CSMS_LOG_FORMAT": "json",
            **env,
        },
        stderr=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.DEVNULL,
    )  # fmt: skip


async def test_sigterm_commits_every_acknowledged_batched_write(tmp_path: Path) -> None:
    """Meter values and heartbeats held in the batch queue are in the database after SIGTERM."""
    db = tmp_path / "csms.db"
    proc = await spawn_csms(
        tmp_path,
        # Hold non-durable batched writes (heartbeat, frames) in memory until a commit or shutdown.
        CSMS_DATABASE_BATCH_INTERVAL_MS="600000",
        CSMS_DATABASE_BATCH_MAX_ITEMS="1000000",
        CSMS_OCPP_RATE_LIMIT_BURST="10000",
    )
    try:
        ports = await read_ports(proc)
        drain = asyncio.create_task(proc.stderr.read())  # type: ignore[union-attr]
        url = f"ws://127.0.0.1:{ports['ocpp_listening']}/ocpp/DURABLE"
        async with connect(url, subprotocols=["ocpp1.6"]) as ws:  # type: ignore[list-item]

            async def call(mid: str, action: str, payload: dict[str, object]) -> list[object]:
                await ws.send(orjson.dumps([2, mid, action, payload]).decode())
                reply: list[object] = orjson.loads(await ws.recv())
                assert reply[0] == 3, reply
                return reply

            await call("b", "BootNotification", {"chargePointVendor": "V", "chargePointModel": "M"})
            start = await call(
                "s",
                "StartTransaction",
                {"connectorId": 1, "idTag": "T", "meterStart": 0, "timestamp": "2026-01-01T00:00:00Z"},
            )
            tx_id = start[2]["transactionId"]  # type: ignore[index]
            for i in range(100):
                await call(
                    f"m{i}",
                    "MeterValues",
                    {
                        "connectorId": 1,
                        "transactionId": tx_id,
                        "meterValue": [
                            {
                                "timestamp": "2026-01-01T00:01:00Z",
                                "sampledValue": [
                                    {"value": str(10 * (i + 1))},
                                    {"value": "230.1", "measurand": "Voltage", "unit": "V"},
                                ],
                            }
                        ],
                    },
                )
            await call("h", "Heartbeat", {})
            proc.send_signal(signal.SIGTERM)
            assert await asyncio.wait_for(proc.wait(), 20000 * MS) == 0
        await drain
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    with sqlite3.connect(db) as conn:
        samples = conn.execute(
            "select count(*) from meter_samples where transaction_id = ?", (tx_id,)
        ).fetchone()[0]
        heartbeat = conn.execute(
            "select last_heartbeat_at from charge_points where charge_point_id='DURABLE'"
        ).fetchone()
        last_meter = conn.execute("select last_meter_wh from transactions where id = ?", (tx_id,)).fetchone()[
            0
        ]
        frames = conn.execute("select count(*) from message_log where charge_point_id='DURABLE'").fetchone()[
            0
        ]
    assert samples == 200
    assert heartbeat[0] is not None
    assert last_meter == 1000
    assert frames == 2 * 103
