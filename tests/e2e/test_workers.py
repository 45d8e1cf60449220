"""`[server] workers = 2`: `csms run` supervises two forked workers on shared ports (csms/workers.py).

Needs PostgreSQL (`CSMS_TEST_POSTGRES_URL`, default `postgresql+asyncpg://postgres@127.0.0.1:5432/test`;
each test gets a database of its own, dropped afterwards) and Redis (`CSMS_TEST_REDIS_URL`, default
`redis://127.0.0.1:6379/0`): a cluster of workers needs both. Without them the tests skip, except under CI
(env `CI` set), where they fail.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import os
import signal
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
from websockets.asyncio.client import ClientConnection, connect

from tests.e2e.test_sigterm import read_ports, spawn_csms
from tests.utils import MS, REDIS_URL, fresh_database, require_redis, until

STATIONS = 20  # per batch of connections


@pytest.fixture
async def cluster_env() -> AsyncIterator[dict[str, str]]:
    """CSMS_* overrides for two workers on a fresh PostgreSQL database (dropped after) and a Redis key
    prefix of their own."""
    await require_redis()
    async with fresh_database() as url:
        prefix = f"csms-test-{uuid.uuid4().hex[:16]}"
        yield {
            "CSMS_DATABASE_URL": url,
            "CSMS_CLUSTER_REDIS_URL": REDIS_URL,
            "CSMS_CLUSTER_KEY_PREFIX": prefix,
            "CSMS_SERVER_WORKERS": "2",
            "CSMS_SECURITY_BCRYPT_ROUNDS": "4",
        }


class LogEvents:
    """Every JSON log line the process writes to stderr from now on, parsed, as it comes."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        assert proc.stderr is not None
        self.stream = proc.stderr
        self.events: list[dict[str, Any]] = []
        self.task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        while line := await self.stream.readline():
            with contextlib.suppress(ValueError):
                event = json.loads(line)
                if isinstance(event, dict):
                    self.events.append(event)

    def named(self, name: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e.get("event") == name]

    def live_workers(self) -> dict[int, int]:
        """pid -> index of the workers started and not (yet) logged as exited or stopped."""
        gone = {e["pid"] for e in self.events if e.get("event") in ("worker_exited", "worker_stopped")}
        return {e["pid"]: e["worker"] for e in self.named("worker_started") if e["pid"] not in gone}

    def serves(self, charge_point_ids: list[str]) -> bool:
        """Whether every one of these stations was logged as connected."""
        served = self.served_by()
        return all(cp in served for cp in charge_point_ids)

    def served_by(self) -> dict[str, int]:
        """charge point id -> pid of the worker its latest connection was served by."""
        return {e["charge_point_id"]: e["pid"] for e in self.named("connected")}


async def boot(url: str) -> ClientConnection:
    """Connect as an OCPP 1.6 station and have its BootNotification accepted; the socket stays open."""
    async with asyncio.timeout(20000 * MS):  # a step that hangs fails with the log tail (see the test)
        ws = await connect(url, subprotocols=["ocpp1.6"])  # type: ignore[list-item]
        payload = {"chargePointVendor": "V", "chargePointModel": "M"}
        await ws.send(orjson.dumps([2, "b", "BootNotification", payload]).decode())
        reply = orjson.loads(await ws.recv())
    assert reply[0] == 3 and reply[2]["status"] == "Accepted", reply
    return ws


class Stations:
    """Stations connected in batches, each with an id of its own, all closed at the end."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.sockets: list[ClientConnection] = []
        self.count = 0

    async def batch(self) -> list[str]:
        ids = [f"CP{self.count + i}" for i in range(STATIONS)]
        self.count += STATIONS
        self.sockets += await asyncio.gather(*(boot(f"{self.base}/{cp}") for cp in ids))
        return ids

    async def until_served(self, logs: LogEvents, enough: Any) -> None:
        """Connect batches until `enough(pids)` holds for the workers (pids) that served their stations.

        Each new connection goes to whichever worker accepts it first, so which one serves a given batch is
        up to the kernel and the schedulers; batches repeat until the condition is seen."""
        async with asyncio.timeout(30000 * MS):
            while True:
                await until(functools.partial(logs.serves, await self.batch()))
                if enough(set(logs.served_by().values())):
                    return

    async def close(self) -> None:
        """Close every socket at once, each bounded (a worker that died never answers the close frame)."""

        async def close(ws: ClientConnection) -> None:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(5000 * MS):
                    await ws.close()

        sockets, self.sockets = self.sockets, []
        await asyncio.gather(*(close(ws) for ws in sockets))


async def test_two_workers_share_the_ports_restart_and_stop(
    tmp_path: Path, cluster_env: dict[str, str]
) -> None:
    """Stations are served by both workers, HTTP answers on the shared port, a SIGKILLed worker is logged and
    replaced by one that serves, and SIGTERM to the supervisor stops every worker, exit code 0."""
    proc = await spawn_csms(tmp_path, **cluster_env)
    logs: LogEvents | None = None
    stations: Stations | None = None
    try:
        async with asyncio.timeout(100_000 * MS):  # fail before pytest-timeout does, showing the log tail
            ports = await read_ports(proc)
            logs = LogEvents(proc)
            await until(lambda: len(logs.live_workers()) == 2, 20000 * MS)
            first = logs.live_workers()
            assert sorted(first.values()) == [0, 1]
            assert os.getpid() not in first and proc.pid not in first

            stations = Stations(f"ws://127.0.0.1:{ports['ocpp_listening']}/ocpp")
            await stations.until_served(logs, lambda pids: set(first) <= pids)
            assert set(logs.served_by().values()) == set(first)  # only workers serve, never the supervisor

            async with aiohttp.ClientSession() as http:
                for _ in range(10):
                    async with http.get(f"http://127.0.0.1:{ports['http_listening']}/health") as resp:
                        assert resp.status == 200
                        assert (await resp.json())["status"] == "ok"

            victim, victim_index = next(iter(first.items()))
            os.kill(victim, signal.SIGKILL)
            await until(lambda: any(e["pid"] == victim for e in logs.named("worker_exited")), 20000 * MS)
            exited = next(e for e in logs.named("worker_exited") if e["pid"] == victim)
            assert exited["exit_code"] == -signal.SIGKILL and exited["worker"] == victim_index
            await until(lambda: len(logs.live_workers()) == 2, 20000 * MS)
            replacement = next(pid for pid in logs.live_workers() if pid not in first)
            assert logs.live_workers()[replacement] == victim_index
            await stations.until_served(logs, lambda pids: replacement in pids)

            await stations.close()
            workers = set(logs.live_workers())
            proc.send_signal(signal.SIGTERM)
            assert await asyncio.wait_for(proc.wait(), 30000 * MS) == 0
            await asyncio.wait_for(logs.task, 10000 * MS)  # stderr ends once every process is gone
            stopped = {e["pid"]: e["exit_code"] for e in logs.named("worker_stopped")}
            assert stopped == dict.fromkeys(workers, 0)  # each stopped cleanly (Csms.stop ran)
            assert len([e for e in logs.named("stopped") if e.get("pid") in workers]) == 2
            for pid in {*first, *workers}:  # every worker is gone (and reaped: not even a zombie)
                with pytest.raises(ProcessLookupError):
                    os.kill(pid, 0)
    except TimeoutError:
        tail = logs.events[-40:] if logs is not None else []
        pytest.fail("a step hung; the last log events:\n" + "\n".join(json.dumps(e) for e in tail))
    finally:
        if stations is not None:
            await stations.close()
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        if logs is not None:
            for pid in logs.live_workers():  # never leave a worker behind a failed test
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            logs.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await logs.task
