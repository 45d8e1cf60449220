"""Two cluster nodes in one process on the real Redis: presence mirrored both ways, commands routed to the
node that holds the station and answered back, a gone node answered OFFLINE at once, a dead node's
stations dropped when its lease expires, and a station that moves closed on its old node."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest

from csms.cluster.node import ClusterNode
from csms.cluster.presence import CLOSE_REPLACED
from csms.config import Config, load_config
from csms.domain.clock import utcnow
from csms.domain.commands import (
    Command,
    CommandResult,
    CommandService,
    Outcome,
    StartSession,
    UnlockConnector,
)
from csms.domain.events import EventBus
from csms.domain.registry import ConnectionRegistry, LiveConnection
from tests.utils import MS, REDIS_URL, require_redis, until


def cluster_config(prefix: str, lease: float = 30.0) -> Config:
    return load_config(
        None,
        environ={
            "CSMS_CLUSTER_REDIS_URL": REDIS_URL,
            "CSMS_CLUSTER_KEY_PREFIX": prefix,
            "CSMS_CLUSTER_NODE_LEASE_SECONDS": str(lease),
            "CSMS_DATABASE_URL": "postgresql+asyncpg://unused/unused",
            "CSMS_OCPP_CALL_TIMEOUT": "5",
        },
    )


@dataclass
class Node:
    """A cluster node with its own registry and a fake station connection factory."""

    cluster: ClusterNode
    registry: ConnectionRegistry
    received: list[tuple[str, Command]] = field(default_factory=list)
    closed: list[tuple[str, int]] = field(default_factory=list)

    def connect(self, charge_point_id: str, version: str = "1.6") -> LiveConnection:
        async def execute(command: Command) -> CommandResult:
            self.received.append((charge_point_id, command))
            return CommandResult(Outcome.ANSWERED, "Accepted", {"served_by": self.cluster.node_id})

        async def close(code: int, reason: str) -> None:
            self.closed.append((charge_point_id, code))
            self.registry.unregister(live)

        live = LiveConnection(charge_point_id, version, utcnow(), close=close, execute=execute)
        self.registry.register(live)
        return live

    @property
    def commands(self) -> CommandService:
        return CommandService(self.cluster.gateway)


@pytest.fixture
async def prefix() -> AsyncIterator[str]:
    await require_redis()
    name = f"csms-test-{secrets.token_hex(4)}"
    yield name
    from redis.asyncio import Redis

    client = Redis.from_url(REDIS_URL)
    keys = [key async for key in client.scan_iter(f"{name}:*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


async def start_node(prefix: str, lease: float = 30.0) -> Node:
    registry = ConnectionRegistry(EventBus())
    events = registry._events  # the registry's own bus: the node subscribes to its connection changes
    cluster = ClusterNode(cluster_config(prefix, lease), registry, events)
    await cluster.start()
    return Node(cluster, registry)


@pytest.fixture
async def nodes(prefix: str) -> AsyncIterator[tuple[Node, Node]]:
    a, b = await start_node(prefix), await start_node(prefix)
    yield a, b
    for node in (a, b):
        await node.cluster.stop()


async def test_each_node_sees_the_others_stations(nodes: tuple[Node, Node]) -> None:
    a, b = nodes
    a.connect("CP-A", "2.0.1")
    b.connect("CP-B")
    await until(lambda: a.registry.find("CP-B") is not None and b.registry.find("CP-A") is not None)
    found = b.registry.find("CP-A")
    assert found is not None and found.node == a.cluster.node_id and found.ocpp_version == "2.0.1"
    assert b.registry.get("CP-A") is None  # not one of b's own sockets
    assert a.commands.ocpp_version("CP-B") == "1.6"
    # Offline on a: gone from b's view too.
    live = a.registry.get("CP-A")
    assert live is not None
    a.registry.unregister(live)
    await until(lambda: b.registry.find("CP-A") is None)


async def test_a_command_reaches_a_station_on_the_other_node_and_its_answer_comes_back(
    nodes: tuple[Node, Node],
) -> None:
    a, b = nodes
    b.connect("CP-B")
    await until(lambda: a.registry.find("CP-B") is not None)
    result = await a.commands.send("CP-B", UnlockConnector(1, 1))
    assert result.outcome is Outcome.ANSWERED and result.status == "Accepted"
    assert result.data == {"served_by": b.cluster.node_id}
    assert b.received == [("CP-B", UnlockConnector(1, 1))]
    assert a.received == []


async def test_a_routed_remote_start_is_handed_to_the_domain_of_the_station_node(
    nodes: tuple[Node, Node],
) -> None:
    a, b = nodes
    seen: list[Command] = []

    async def forwarded(cp: str, command: Command, deliver):  # type: ignore[no-untyped-def]
        seen.append(command)
        return await deliver(cp, command)

    b.cluster.gateway.forwarded = forwarded
    b.connect("CP-B")
    await until(lambda: a.registry.find("CP-B") is not None)
    start = StartSession("TOKEN", 77, evse_id=1)
    assert (await a.commands.send("CP-B", start)).accepted
    assert seen == [start]


async def test_commands_for_unknown_or_gone_stations_are_offline_at_once(prefix: str) -> None:
    a, b = await start_node(prefix), await start_node(prefix)
    try:
        assert (await a.commands.send("NOBODY", UnlockConnector(1))).outcome is Outcome.OFFLINE
        b.connect("CP-B")
        await until(lambda: a.registry.find("CP-B") is not None)
        # b stops listening without removing its entries (as if killed): nobody gets the call.
        listener = b.cluster._listener
        assert listener is not None
        listener.cancel()
        await until(listener.done)
        result = await a.commands.send("CP-B", UnlockConnector(1))
        assert result.outcome is Outcome.OFFLINE
        assert b.received == []
    finally:
        await a.cluster.stop()
        await b.cluster.stop()


async def test_a_dead_nodes_stations_are_dropped_when_its_lease_expires(prefix: str) -> None:
    a = await start_node(prefix, lease=1.0)
    b = await start_node(prefix, lease=1.0)
    try:
        b.connect("CP-B")
        await until(lambda: a.registry.find("CP-B") is not None)
        # b freezes (no lease renewal, no goodbye): its lease runs out and a forgets its stations.
        for task in b.cluster.presence._tasks:
            task.cancel()
        await until(lambda: a.registry.find("CP-B") is None, timeout=10_000 * MS)
        assert await b.cluster.redis.hget(f"{prefix}:presence", "CP-B") is None
        # A node that starts now does not mirror the dead node's stations either.
        c = await start_node(prefix, lease=1.0)
        assert c.registry.find("CP-B") is None
        await c.cluster.stop()
    finally:
        await a.cluster.stop()
        await b.cluster.stop()


async def test_a_node_that_starts_later_loads_the_live_stations(
    nodes: tuple[Node, Node], prefix: str
) -> None:
    a, _ = nodes
    a.connect("CP-1")
    a.connect("CP-2", "2.0.1")
    async with asyncio.timeout(5000 * MS):
        while await a.cluster.redis.hlen(f"{prefix}:presence") < 2:  # noqa: ASYNC110
            await asyncio.sleep(MS)
    late = await start_node(prefix)
    try:
        assert {cp for cp in ("CP-1", "CP-2") if late.registry.find(cp) is not None} == {"CP-1", "CP-2"}
    finally:
        await late.cluster.stop()


async def test_a_station_that_moves_is_closed_on_its_old_node(nodes: tuple[Node, Node], prefix: str) -> None:
    a, b = nodes
    old = a.connect("CP-X")
    await until(lambda: b.registry.find("CP-X") is not None)
    new = b.connect("CP-X")
    assert new.connected_at >= old.connected_at
    await until(lambda: a.closed == [("CP-X", CLOSE_REPLACED)])
    # a's goodbye for its old socket does not remove b's entry anywhere.
    await until(lambda: (f := a.registry.find("CP-X")) is not None and f.node == b.cluster.node_id)
    assert await a.cluster.redis.hget(f"{prefix}:presence", "CP-X") is not None


async def test_stopping_a_node_takes_its_stations_offline_everywhere(prefix: str) -> None:
    a, b = await start_node(prefix), await start_node(prefix)
    try:
        b.connect("CP-B")
        await until(lambda: a.registry.find("CP-B") is not None)
        await b.cluster.stop()
        await until(lambda: a.registry.find("CP-B") is None)
        assert not await a.cluster.redis.exists(b.cluster.presence.lease_key(b.cluster.node_id))
    finally:
        await a.cluster.stop()


async def test_changes_that_failed_to_reach_redis_are_written_at_the_next_flush(prefix: str) -> None:
    """A station that goes offline while Redis is failing is removed once Redis answers again: its change
    stays noted instead of being lost (which would leave it 'online' on the other nodes)."""
    a, b = await start_node(prefix), await start_node(prefix)
    try:
        live = b.connect("CP-B")
        await until(lambda: a.registry.find("CP-B") is not None)
        presence = b.cluster.presence
        real_write = presence._write
        failures: list[int] = []

        async def failing_write(on: list[list[str]], off: list[str]) -> None:
            if not failures:
                failures.append(1)
                raise ConnectionError("redis is down")
            await real_write(on, off)

        presence._write = failing_write  # type: ignore[method-assign]
        b.registry.unregister(live)  # noted by the hot-event subscriber
        await until(lambda: failures == [1])
        assert a.registry.find("CP-B") is not None  # not written yet
        await until(lambda: a.registry.find("CP-B") is None, timeout=10_000 * MS)
    finally:
        await a.cluster.stop()
        await b.cluster.stop()


async def test_a_call_the_node_cannot_read_is_answered_at_once(nodes: tuple[Node, Node]) -> None:
    """A routed call whose command does not decode (another version of the CSMS on the other node) gets a
    CALL_ERROR reply instead of leaving its caller waiting for the whole timeout."""
    import orjson

    a, b = nodes
    gateway = a.cluster.gateway
    waiter = asyncio.get_running_loop().create_future()
    gateway._waiting[999_999] = waiter
    bad = {"t": "call", "id": 999_999, "from": a.cluster.node_id, "cp": "CP-B", "cmd": {"type": "Shutdown"}}
    await a.cluster.redis.publish(b.cluster.gateway.channel(b.cluster.node_id), orjson.dumps(bad))
    async with asyncio.timeout(5000 * MS):
        result = await waiter
    assert result.outcome is Outcome.CALL_ERROR and "Shutdown" in result.description


async def test_a_stop_step_that_hangs_is_abandoned_and_the_node_still_stops(
    prefix: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A step of `ClusterNode.stop` that never ends (here the presence's, ignoring its cancellation as a
    stuck Redis call might) is abandoned after STOP_STEP_SECONDS and logged; the other steps still run."""
    from csms.cluster import node as node_module

    a = await start_node(prefix)
    release = asyncio.Event()

    async def stuck() -> None:
        while not release.is_set():  # shrugs off cancellation until the test lets it go
            try:
                await release.wait()
            except asyncio.CancelledError:
                continue

    monkeypatch.setattr(node_module, "STOP_STEP_SECONDS", 0.05)
    monkeypatch.setattr(a.cluster.presence, "stop", stuck)
    await a.cluster.stop()
    out = capsys.readouterr().out
    assert "cluster_stop_step_abandoned" in out and "step=presence" in out
    assert "cluster_node_stopped" in out
    assert a.cluster._listener is not None and a.cluster._listener.done()  # later steps ran
    release.set()
    await asyncio.sleep(0)
