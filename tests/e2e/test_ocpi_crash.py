"""Nothing promised to a roaming partner is lost when the CSMS dies (issue 10, "nothing lost across
restarts").

Sessions run while the eMSP is down, so their pushes wait in the outbox; a START_SESSION is accepted and
its station never answers; the last meter update is answered and the CSMS is killed with SIGKILL before
its push feeder queued it. After a restart the eMSP comes back up and receives every push, in order per
object, exactly once, ending in the committed state; the command is answered (TIMEOUT) once.
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import sys
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from simulators.chargepoint import ChargePointSimulator, SimulatorConfig
from simulators.emsp import EmspConfig, EmspSimulator, Push
from tests.e2e.conftest import location_body
from tests.e2e.test_multinode import start_node
from tests.utils import MS

EMSP_CC, EMSP_PID = "DE", "EMS"
WAIT = 60000 * MS


async def cli(env: dict[str, str], *args: str) -> str:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "csms", *args, env={**os.environ, **env},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    return out.decode()


def query(db: Path, sql: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db) as conn:
        return list(conn.execute(sql))


async def until_true(check: Any) -> None:
    async with asyncio.timeout(WAIT):
        while not check():  # noqa: ASYNC110 - the condition is in another process's database
            await asyncio.sleep(20 * MS)


def check_order(pushes: list[Push]) -> None:
    """Per session: a PUT first; status never goes back from COMPLETED; kWh never goes down; its CDR after
    its COMPLETED state."""
    state: dict[str, dict[str, Any]] = {}
    for push in pushes:
        if push.module == "sessions":
            session_id = push.path.rsplit("/", 1)[1]
            before = state.get(session_id)
            assert before is not None or push.method == "PUT", f"{session_id}: {push.method} before any PUT"
            after = dict(push.body) if push.method == "PUT" else {**(before or {}), **push.body}
            if before is not None:
                assert not (before["status"] == "COMPLETED" and after["status"] != "COMPLETED"), session_id
                assert after["kwh"] >= before["kwh"], f"{session_id}: kWh went down"
            state[session_id] = after
        elif push.module == "cdrs":
            session_id = str(push.body["session_id"])
            assert state[session_id]["status"] == "COMPLETED", f"CDR of {session_id} before its end"


async def test_a_crash_while_the_emsp_is_down_loses_and_repeats_nothing(tmp_path: Path) -> None:
    db = tmp_path / "csms.db"
    env = {
        "CSMS_DATABASE_URL": f"sqlite+aiosqlite:///{db}",
        "CSMS_DATABASE_BATCH_INTERVAL_MS": "20",
        "CSMS_SECURITY_BCRYPT_ROUNDS": "4",
        "CSMS_OCPI_PUSH_RETRY_SECONDS": "0.2",
        "CSMS_OCPP_CALL_TIMEOUT": "10",  # the START_SESSION's answer is owed until 10 s + margin after it
    }
    async with AsyncExitStack() as stack:
        first = await start_node(tmp_path, "first", env)
        stack.push_async_callback(first.stop)
        key = (await cli(env, "apikey", "create", "--name", "e2e")).strip()
        partner = json.loads(await cli(env, "ocpi", "partner", "add", "--name", "eMSP", "--country-code",
                                       EMSP_CC, "--party-id", EMSP_PID, "--json"))  # fmt: skip
        http = aiohttp.ClientSession(headers={"Authorization": f"Bearer {key}"})
        stack.push_async_callback(http.close)
        emsp = EmspSimulator(EmspConfig(country_code=EMSP_CC, party_id=EMSP_PID, timeout=WAIT))
        await emsp.start()
        stack.push_async_callback(emsp.close)
        sim = ChargePointSimulator(SimulatorConfig("CR-1", url=first.ocpp, ocpp_version="1.6", connectors=3))
        stack.push_async_callback(sim.close)
        await sim.connect()
        assert (await sim.boot())["status"] == "Accepted"
        for connector in (1, 2, 3):
            await sim.send_status(connector, "Available")
        body = location_body("LOC-CR", "CR-1", name="Crash", parking_type="PARKING_LOT")
        async with http.post(f"{first.http}/api/v1/locations", json=body) as resp:
            assert resp.status == 201, await resp.text()
        await emsp.register(f"{first.http}/ocpi/versions", partner["token_a"])
        await emsp.put_token("DRIVER1")

        # A session the eMSP hears of while it is up.
        sim.meter_wh[1] = 1000
        await sim.start_transaction(1, "DRIVER1", meter_start_wh=1000)
        async with asyncio.timeout(WAIT):
            await emsp.wait_for_push(lambda p: p.module == "sessions" and p.method == "PUT")

        # Down: what follows waits in the outbox.
        emsp.set_down(True)
        await sim.send_meter_values(1, energy_wh=3000)
        await sim.start_transaction(2, "DRIVER1", meter_start_wh=0)
        await sim.stop_transaction(1, meter_stop_wh=5000)
        # A START_SESSION the station never answers: its result is owed when the CSMS dies.
        sim.config.silent = {"RemoteStartTransaction"}
        response, _ = await emsp.send_command(
            "START_SESSION", {"token": emsp.make_token("DRIVER1"), "location_id": "LOC-CR"}
        )
        assert response.success and response.data["result"] == "ACCEPTED", response.data
        await sim.wait_for_call("RemoteStartTransaction", timeout=WAIT)
        # Answered (= stored), then killed before the feeder's ~2 s round queued its Session PATCH.
        await sim.send_meter_values(2, energy_wh=4200)
        await first.kill()
        await sim.close()
        assert query(db, "select count(*) from ocpi_outbox where status = 'pending'")[0][0] > 0

        second = await start_node(tmp_path, "second", env)
        stack.push_async_callback(second.stop)
        emsp.set_down(False)

        def settled() -> bool:
            pending = query(db, "select count(*) from ocpi_outbox where status = 'pending'")[0][0]
            return pending == 0 and len(emsp.command_results) >= 1

        await until_true(settled)
        sent = query(db, "select count(*) from ocpi_outbox where status = 'sent'")[0][0]
        assert query(db, "select count(*) from ocpi_outbox where status = 'failed'")[0][0] == 0
        received = [
            (p.method, p.path, orjson.dumps(p.body, option=orjson.OPT_SORT_KEYS)) for p in emsp.pushes
        ]
        assert len(received) == len(set(received)), "a push arrived twice"
        assert len(received) == sent
        check_order(emsp.pushes)

        # Both sessions end at the committed truth: the first COMPLETED at 4 kWh with its CDR; the second
        # ACTIVE at 4.2 kWh, the meter value the CSMS answered just before it died.
        final: dict[str, dict[str, Any]] = {}
        for p in emsp.pushes:
            if p.module == "sessions":
                sid = p.path.rsplit("/", 1)[1]
                final[sid] = dict(p.body) if p.method == "PUT" else {**final.get(sid, {}), **p.body}
        by_kwh = sorted((s["status"], s["kwh"]) for s in final.values())
        assert by_kwh == [("ACTIVE", 4.2), ("COMPLETED", 4)], final
        cdrs = [p.body for p in emsp.pushes if p.module == "cdrs"]
        assert len(cdrs) == 1 and cdrs[0]["total_energy"] == 4
        assert [body["result"] for _, _, body in emsp.command_results] == ["TIMEOUT"]
