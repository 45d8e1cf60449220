"""Two CSMS nodes on one PostgreSQL and one Redis (issue 9, "several processes and nodes").

Both nodes are `csms run` child processes. Stations connect to each; REST and OCPI commands sent to node A
reach a station on node B (and back); node B is killed with SIGKILL while stations send MeterValues as
fast as they are answered; then every answered sample is in the database, no OCPI push was delivered
twice, and a station of the dead node carries on its transaction on node A.

Needs PostgreSQL and Redis: skipped when either is down, failed instead under CI (env `CI` set).
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import sys
import warnings
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import orjson
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from simulators.chargepoint import ChargePointSimulator, SimulatorConfig
from simulators.emsp import EmspConfig, EmspSimulator, Push
from tests.e2e.conftest import location_body
from tests.e2e.test_sigterm import read_ports, spawn_csms
from tests.utils import MS, REDIS_URL, asyncpg_dsn, fresh_database, require_redis

LOADED = 10  # stations on node B in a closed loop of MeterValues when it is killed
ANSWERED_BEFORE_KILL = 30  # per loaded station
EMSP_CC, EMSP_PID = "DE", "EMS"
WAIT = 30000 * MS


class Node:
    """One `csms run` child process, its ports and its log (JSON lines on stderr, kept for diagnosis)."""

    def __init__(self, name: str, proc: asyncio.subprocess.Process, ports: dict[str, int]) -> None:
        self.name = name
        self.proc = proc
        self.ocpp = f"ws://127.0.0.1:{ports['ocpp_listening']}/ocpp"
        self.http = f"http://127.0.0.1:{ports['http_listening']}"
        self.log: list[bytes] = []
        self._drain = asyncio.create_task(self._read_log())  # keep the pipe from filling up

    async def _read_log(self) -> None:
        assert self.proc.stderr is not None
        async for line in self.proc.stderr:
            self.log.append(line)

    async def kill(self) -> None:
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGKILL)
        await self.proc.wait()
        await self._drain

    async def stop(self) -> None:
        """SIGTERM (teardown, after the test's checks). A node that has not exited after a grace period is
        killed, its log printed and a warning raised: a clean stop is `tests/e2e/test_sigterm.py`'s subject,
        and a slow one here must not hide what this test checked."""
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            async with asyncio.timeout(WAIT):
                await self.proc.wait()
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()
            print(f"node {self.name} did not stop on SIGTERM; its log:")
            print(b"".join(self.log[-200:]).decode(errors="replace"))
            warnings.warn(f"node {self.name} did not stop within {WAIT:.0f} s of SIGTERM", stacklevel=1)
        finally:
            await self._drain


async def start_node(tmp_path: Path, name: str, env: dict[str, str]) -> Node:
    home = tmp_path / name
    home.mkdir()
    proc = await spawn_csms(home, **env)
    try:
        return Node(name, proc, await read_ports(proc))
    except BaseException:
        proc.kill()
        await proc.wait()
        raise


async def cli(env: dict[str, str], *args: str) -> str:
    """`csms ARGS` against the shared database (configured by `env` alone); its stdout."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "csms", *args,
        env={**os.environ, **env}, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    return out.decode()


async def ocpp_call(ws: ClientConnection, mid: str, action: str, payload: dict[str, Any]) -> dict[str, Any]:
    await ws.send(orjson.dumps([2, mid, action, payload]).decode())
    reply: list[Any] = orjson.loads(await ws.recv())
    assert reply[0] == 3, reply
    answer: dict[str, Any] = reply[2]
    return answer


def meter_values(tx_id: int, value: int) -> dict[str, Any]:
    meter = {"timestamp": "2026-01-01T00:01:00Z", "sampledValue": [{"value": str(value)}]}
    return {"connectorId": 1, "transactionId": tx_id, "meterValue": [meter]}


async def loaded_station(
    url: str, index: int, answered: set[int], enough: asyncio.Event, tx_ids: dict[int, int]
) -> None:
    """Boot, start a transaction, then send MeterValues as fast as they are answered (each with a value of
    its own, recorded once answered) until the connection drops."""
    async with connect(f"{url}/MN-K{index}", subprotocols=["ocpp1.6"]) as ws:  # type: ignore[list-item]
        await ocpp_call(ws, "b", "BootNotification", {"chargePointVendor": "V", "chargePointModel": "M"})
        start = {"connectorId": 1, "idTag": "LOCAL1", "meterStart": 0, "timestamp": "2026-01-01T00:00:00Z"}
        tx_ids[index] = (await ocpp_call(ws, "s", "StartTransaction", start))["transactionId"]
        n = 0
        try:
            while True:
                n += 1
                value = index * 1_000_000 + n
                await ocpp_call(ws, f"m{n}", "MeterValues", meter_values(tx_ids[index], value))
                answered.add(value)
                if n == ANSWERED_BEFORE_KILL:
                    enough.set()
        except ConnectionClosed:
            return


@pytest.fixture
async def cluster_env(tmp_path: Path) -> AsyncIterator[dict[str, str]]:
    """CSMS_* settings of a two-node cluster on a fresh database and its own Redis key prefix."""
    await require_redis()
    async with fresh_database() as url:
        prefix = f"csms-mn-{secrets.token_hex(4)}"
        yield {
            "CSMS_DATABASE_URL": url,
            "CSMS_DATABASE_BATCH_INTERVAL_MS": "20",
            "CSMS_CLUSTER_REDIS_URL": REDIS_URL,
            "CSMS_CLUSTER_KEY_PREFIX": prefix,
            "CSMS_CLUSTER_NODE_LEASE_SECONDS": "2",
            "CSMS_SECURITY_BCRYPT_ROUNDS": "4",
            "CSMS_OCPP_RATE_LIMIT_BURST": "100000",
            "CSMS_OCPP_RATE_LIMIT_PER_SECOND": "100000",
            "CSMS_OCPP_UNKNOWN_ID_TOKENS": "Accepted",  # the loaded stations charge with a local token
            # The loaded raw stations answer no CSMS call: the local list sync's GetLocalListVersion (a
            # second after boot) would arrive where a MeterValues answer is awaited on a slow machine.
            "CSMS_OCPP_LOCAL_LIST_SYNC": "false",
        }
        from redis.asyncio import Redis

        client = Redis.from_url(REDIS_URL)
        keys = [key async for key in client.scan_iter(f"{prefix}:*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()


async def test_two_nodes_route_commands_survive_a_kill_and_push_once(
    tmp_path: Path, cluster_env: dict[str, str]
) -> None:
    async with AsyncExitStack() as stack:
        # Node A first: it migrates the empty database; B finds it migrated.
        a = await start_node(tmp_path, "a", cluster_env)
        stack.push_async_callback(a.stop)
        b = await start_node(tmp_path, "b", cluster_env)
        stack.push_async_callback(b.stop)
        key = (await cli(cluster_env, "apikey", "create", "--name", "e2e")).strip()
        partner = json.loads(
            await cli(cluster_env, "ocpi", "partner", "add", "--name", "eMSP", "--country-code", EMSP_CC,
                      "--party-id", EMSP_PID, "--json")
        )  # fmt: skip
        http = aiohttp.ClientSession(headers={"Authorization": f"Bearer {key}"})
        stack.push_async_callback(http.close)
        emsp = EmspSimulator(EmspConfig(country_code=EMSP_CC, party_id=EMSP_PID, timeout=WAIT))
        await emsp.start()
        stack.push_async_callback(emsp.close)

        # -- stations on both nodes; each node sees the other's ---------------------------------------
        on_a = ChargePointSimulator(SimulatorConfig("MN-A1", url=a.ocpp, ocpp_version="2.0.1"))
        on_b = ChargePointSimulator(SimulatorConfig("MN-B1", url=b.ocpp, ocpp_version="1.6"))
        for sim in (on_a, on_b):
            stack.push_async_callback(sim.close)
            await sim.connect()
            assert (await sim.boot())["status"] == "Accepted"
            await sim.send_status(1, "Available")

        async def connected(base: str, cp: str) -> dict[str, Any]:
            async with http.get(f"{base}/api/v1/charge-points/{cp}") as resp:
                body: dict[str, Any] = await resp.json()
                return body

        async with asyncio.timeout(WAIT):
            while not (await connected(a.http, "MN-B1")).get("connected"):  # noqa: ASYNC110
                await asyncio.sleep(10 * MS)
        assert (await connected(a.http, "MN-B1"))["ocpp_version"] == "1.6"
        assert (await connected(b.http, "MN-A1"))["ocpp_version"] == "2.0.1"

        # -- REST commands cross nodes, both ways -------------------------------------------------------
        unlock = {"connector_id": 1}
        async with http.post(f"{a.http}/api/v1/charge-points/MN-B1/unlock", json=unlock) as resp:
            answer = await resp.json()
        assert resp.status == 200, answer
        assert answer["command"]["outcome"] == "answered" and answer["command"]["status"] == "Unlocked"
        assert "UnlockConnector" in {action for action, _ in on_b.calls_received}
        async with http.post(
            f"{b.http}/api/v1/charge-points/MN-A1/unlock", json={"evse_id": 1, "connector_id": 1}
        ) as resp:
            answer = await resp.json()
        assert answer["command"]["status"] == "Unlocked", answer
        assert "UnlockConnector" in {action for action, _ in on_a.calls_received}

        # -- OCPI: the eMSP talks to node A; its START_SESSION reaches the station on node B -----------
        body = location_body("LOC-MN", "MN-B1", name="Two nodes", parking_type="PARKING_LOT")
        async with http.post(f"{a.http}/api/v1/locations", json=body) as resp:
            assert resp.status == 201, await resp.text()
        await emsp.register(f"{a.http}/ocpi/versions", partner["token_a"])
        driver = emsp.make_token("APPDRIVER1", type="APP_USER")
        response, result = await emsp.send_command(
            "START_SESSION", {"token": driver, "location_id": "LOC-MN", "authorization_reference": "MN-1"}
        )
        assert response.success and response.data["result"] == "ACCEPTED", response.data
        async with asyncio.timeout(WAIT):
            assert (await result)["result"] == "ACCEPTED"
        # The transaction starts on node B and is the eMSP's session: node B pushes it.
        def active_session(p: Push) -> bool:
            return p.module == "sessions" and p.method == "PUT" and p.body.get("status") == "ACTIVE"

        async with asyncio.timeout(WAIT):
            put = (await emsp.wait_for_push(active_session))[0]
        assert put.body["authorization_reference"] == "MN-1" and put.body["auth_method"] == "COMMAND"
        session_id = put.body["id"]
        response, result = await emsp.send_command("STOP_SESSION", {"session_id": session_id})
        assert response.success and response.data["result"] == "ACCEPTED", response.data
        async with asyncio.timeout(WAIT):
            assert (await result)["result"] == "ACCEPTED"
        async with asyncio.timeout(WAIT):
            await emsp.wait_for_push(lambda p: p.module == "cdrs" and p.method == "POST")

        # -- load on node B, then SIGKILL --------------------------------------------------------------
        db = await asyncpg.connect(asyncpg_dsn(cluster_env["CSMS_DATABASE_URL"]))
        stack.push_async_callback(db.close)

        async def outbox_settled() -> bool:
            pending = await db.fetchval("select count(*) from ocpi_outbox where status = 'pending'")
            return bool(pending == 0)

        async with asyncio.timeout(WAIT):
            while not await outbox_settled():  # noqa: ASYNC110 - no push in flight when B dies
                await asyncio.sleep(10 * MS)
        answered: list[set[int]] = [set() for _ in range(LOADED)]
        tx_ids: dict[int, int] = {}
        ready = [asyncio.Event() for _ in range(LOADED)]
        tasks = [
            asyncio.create_task(loaded_station(b.ocpp, i, answered[i], ready[i], tx_ids))
            for i in range(LOADED)
        ]
        async with asyncio.timeout(WAIT):
            await asyncio.gather(*(event.wait() for event in ready))
        await b.kill()
        await asyncio.gather(*tasks, return_exceptions=True)

        stored = {int(row["value"]) for row in await db.fetch("select value from meter_samples")}
        for index, values in enumerate(answered):
            assert len(values) >= ANSWERED_BEFORE_KILL
            missing = values - stored
            assert not missing, f"MN-K{index}: {len(missing)} answered samples lost"

        # -- a station of the dead node carries on its transaction on node A ---------------------------
        tx = tx_ids[0]
        async with connect(f"{a.ocpp}/MN-K0", subprotocols=["ocpp1.6"]) as ws:  # type: ignore[list-item]
            boot = {"chargePointVendor": "V", "chargePointModel": "M"}
            assert (await ocpp_call(ws, "b2", "BootNotification", boot))["status"] == "Accepted"
            await ocpp_call(ws, "m-after", "MeterValues", meter_values(tx, 9_000_001))
            stop = {
                "transactionId": tx, "meterStop": 9_000_002, "timestamp": "2026-01-01T00:02:00Z",
                "idTag": "LOCAL1",
            }  # fmt: skip
            assert (await ocpp_call(ws, "stop", "StopTransaction", stop))["idTagInfo"]["status"] == "Accepted"
            row = await db.fetchrow("select status, meter_stop_wh from transactions where id = $1", tx)
            assert row is not None and row["status"] == "completed" and row["meter_stop_wh"] == 9_000_002
            assert 9_000_001 in {int(r["value"]) for r in await db.fetch("select value from meter_samples")}
            # Node A's REST says the station is connected again.
            async with asyncio.timeout(WAIT):
                while not (await connected(a.http, "MN-K0")).get("connected"):  # noqa: ASYNC110
                    await asyncio.sleep(10 * MS)

        # -- every OCPI push was delivered once ---------------------------------------------------------
        async with asyncio.timeout(WAIT):
            while not await outbox_settled():  # noqa: ASYNC110
                await asyncio.sleep(10 * MS)
        sent = await db.fetchval("select count(*) from ocpi_outbox where status = 'sent'")
        received = [
            (p.method, p.path, orjson.dumps(p.body, option=orjson.OPT_SORT_KEYS)) for p in emsp.pushes
        ]
        assert len(received) == len(set(received)), "a push arrived twice"
        assert len(received) == sent
