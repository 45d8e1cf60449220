"""Which node holds which charge point: this node's lease, its stations in Redis, and the mirror of the
other nodes' stations in the `ConnectionRegistry`.

Redis holds (all names start with `[cluster] key_prefix`):

- `{prefix}:node:{node}`: the node's lease, set with an expiry of `node_lease_seconds` and renewed every
  third of it. A node that stops renewing (killed, frozen, cut off) is dead once it expires.
- `{prefix}:presence`: a hash charge point id → `{"node", "v" (OCPP version), "at" (connected at)}`.
- the channel `{prefix}:presence`: every change, as `{"node", "on": [[cp, v, at], ...], "off": [cp, ...]}`.

The OCPP hot path never waits on Redis: a connection change is noted (`on_connection_changed`, a hot-event
subscriber) and a background task writes and broadcasts the noted changes together, a few milliseconds
later. A command routed in that window to the previous node is answered OFFLINE by it, as if the station
had been offline a moment longer.

A charge point that reconnects to another node while its old socket is still open somewhere (a network
flap) is closed on the old node when the new node's change arrives: the newest connection is the station's
truth, across nodes as within one (`ConnectionRegistry.register`).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import orjson
import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError

from csms.domain.clock import isoformat_z, parse_datetime, utcnow
from csms.domain.events import StationConnectionChanged
from csms.domain.registry import ConnectionRegistry, LiveConnection

log = structlog.get_logger("csms.cluster")

# Close code for a socket replaced by a newer connection of the same station on another node; the same
# application code (4000-4999) the OCPP server uses when the newer connection is on the same node.
CLOSE_REPLACED = 4000
FLUSH_DELAY = 0.005  # seconds: changes noted within this window are written and broadcast together

# Delete hash fields only where this node still holds them (a station that moved on to another node keeps
# that node's entry). ARGV[1] is the node, the rest the charge point ids; returns how many were deleted.
_DELETE_OWN = """
local n = 0
for i = 2, #ARGV do
  local v = redis.call('HGET', KEYS[1], ARGV[i])
  if v and cjson.decode(v)['node'] == ARGV[1] then
    redis.call('HDEL', KEYS[1], ARGV[i])
    n = n + 1
  end
end
return n
"""


class Presence:
    """This node's lease and station entries, and the mirror of everyone else's.

    `start()` takes the lease, loads the live nodes' stations into the registry and starts renewing;
    `apply()` takes a message of the presence channel (the node's listener calls it); `stop()` removes this
    node's entries and its lease, so the others see its stations offline at once.
    """

    def __init__(
        self, redis: Redis, prefix: str, node_id: str, registry: ConnectionRegistry, lease_seconds: float
    ) -> None:
        self._redis = redis
        self.node_id = node_id
        self.channel = f"{prefix}:presence"
        self._hash = f"{prefix}:presence"
        self._prefix = prefix
        self._registry = registry
        self._lease_ms = max(int(lease_seconds * 1000), 1000)
        self._changes: dict[str, bool] = {}  # charge point id → online, noted and not yet written
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._delete_own = redis.register_script(_DELETE_OWN)
        self._closing: set[asyncio.Task[None]] = set()

    def lease_key(self, node: str) -> str:
        """The Redis key of `node`'s lease."""
        return f"{self._prefix}:node:{node}"

    # -- life cycle --------------------------------------------------------------------------------------

    async def start(self) -> None:
        """Take the lease, mirror the live nodes' stations, start renewing and writing changes.

        Raises:
            RedisError: Redis is unreachable (the CSMS does not start without its cluster).
        """
        await self._renew()
        await self._load()
        self._tasks = [
            asyncio.create_task(self._renew_loop(), name="cluster-lease"),
            asyncio.create_task(self._flush_loop(), name="cluster-presence"),
        ]
        log.info("cluster_presence_started", node=self.node_id, remote_stations=self._registry.remote_count())

    async def stop(self) -> None:
        """Write what is still noted, delete this node's entries and lease; stop the background tasks."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        # Every station of this node goes offline with it (their sockets are closed by now on a clean
        # shutdown; if not, they are about to be).
        leaving = [live.charge_point_id for live in self._registry] + [
            cp for cp, online in self._changes.items() if not online
        ]
        self._changes = {}
        with contextlib.suppress(RedisError, OSError):
            await self._write([], leaving)
            await self._redis.delete(self.lease_key(self.node_id))

    # -- this node's changes -----------------------------------------------------------------------------

    def on_connection_changed(self, event: StationConnectionChanged) -> None:
        """Hot-event subscriber: note the change; the flush task writes it."""
        self._changes[event.charge_point_id] = event.online
        self._wake.set()

    async def flush(self) -> None:
        """Write the noted changes to the hash and broadcast them (one round trip). If Redis fails, the
        changes stay noted (newer ones noted meanwhile win) for the next flush, and the error is raised."""
        if not self._changes:
            return
        changes, self._changes = self._changes, {}
        try:
            await self._write(*self._split(changes))
        except BaseException:
            self._changes = {**changes, **self._changes}
            raise

    def _split(self, changes: dict[str, bool]) -> tuple[list[list[str]], list[str]]:
        """The (online, offline) lists of what the registry says now of each changed station: a change
        that was undone before the flush (connected, then gone) is not written."""
        on: list[list[str]] = []
        off: list[str] = []
        for cp, online in changes.items():
            live = self._registry.get(cp)
            if online and live is not None:
                on.append([cp, live.ocpp_version, isoformat_z(live.connected_at)])
            elif not online and live is None:
                off.append(cp)
        return on, off

    async def _write(self, on: list[list[str]], off: list[str]) -> None:
        async with self._redis.pipeline(transaction=False) as pipe:
            if on:
                pipe.hset(self._hash, mapping={cp: _entry(self.node_id, v, at) for cp, v, at in on})
            if off:
                await self._delete_own(keys=[self._hash], args=[self.node_id, *off], client=pipe)
            pipe.publish(self.channel, orjson.dumps({"node": self.node_id, "on": on, "off": off}))
            await pipe.execute()

    async def _flush_loop(self) -> None:
        while True:
            await self._wake.wait()
            await asyncio.sleep(FLUSH_DELAY)  # let a burst of connections share one round trip
            self._wake.clear()
            try:
                await self.flush()
            except (RedisError, OSError) as exc:  # kept noted by `flush`: written at the next try
                log.error("cluster_presence_write_failed", error=repr(exc))
                await asyncio.sleep(1.0)
                self._wake.set()

    def _republish_own(self) -> None:
        """Note every station of this node again (after a failed write, or a lease that lapsed)."""
        for live in self._registry:  # iterating the registry yields this node's connections only
            self._changes.setdefault(live.charge_point_id, True)
        self._wake.set()

    # -- the lease ---------------------------------------------------------------------------------------

    async def _renew(self) -> None:
        """Set the lease; if it had lapsed (Redis restarted, or this node was cut off long enough for the
        others to drop its stations), write and broadcast every station of this node again."""
        previous = await self._redis.set(
            self.lease_key(self.node_id), isoformat_z(utcnow()), px=self._lease_ms, get=True
        )
        if previous is None and len(self._registry):
            log.warning("cluster_lease_lapsed", node=self.node_id)
            self._republish_own()

    async def _renew_loop(self) -> None:
        every = self._lease_ms / 3000
        while True:
            await asyncio.sleep(every)
            try:
                await self._renew()
                await self.drop_dead_nodes()
            except (RedisError, OSError) as exc:
                log.error("cluster_lease_renewal_failed", node=self.node_id, error=repr(exc))

    async def drop_dead_nodes(self) -> list[str]:
        """Forget the stations of mirrored nodes whose lease has expired (and remove their hash entries,
        where they still hold them); returns the dead nodes."""
        nodes = sorted(self._registry.remote_nodes())
        if not nodes:
            return []
        alive = await self._alive(nodes)
        dead = [node for node in nodes if node not in alive]
        for node in dead:
            gone = self._registry.drop_node(node)
            log.warning("cluster_node_dead", node=node, stations=len(gone))
            if gone:
                await self._delete_own(keys=[self._hash], args=[node, *gone])
        return dead

    async def _alive(self, nodes: list[str]) -> set[str]:
        async with self._redis.pipeline(transaction=False) as pipe:
            for node in nodes:
                pipe.exists(self.lease_key(node))
            answers = await pipe.execute()
        return {node for node, exists in zip(nodes, answers, strict=True) if exists}

    # -- the mirror --------------------------------------------------------------------------------------

    async def _load(self) -> None:
        """Mirror every station of a live node other than this one."""
        entries = await self._redis.hgetall(self._hash)
        parsed: list[tuple[str, dict[str, Any]]] = []
        for cp, raw in entries.items():
            with contextlib.suppress(ValueError):
                parsed.append((_text(cp), orjson.loads(raw)))
        nodes = sorted({str(e.get("node")) for _, e in parsed} - {self.node_id})
        alive = await self._alive(nodes) if nodes else set()
        for cp, e in parsed:
            if e.get("node") in alive:
                self._mirror(cp, str(e["node"]), str(e.get("v", "")), str(e.get("at", "")))

    def apply(self, message: bytes) -> None:
        """Apply a change broadcast by another node (this node's own broadcasts are skipped)."""
        change = orjson.loads(message)
        node = str(change.get("node"))
        if node == self.node_id:
            return
        for cp, version, at in change.get("on", ()):
            self._mirror(cp, node, version, at)
        for cp in change.get("off", ()):
            self._registry.drop_remote(cp, node)

    def _mirror(self, cp: str, node: str, version: str, at: str) -> None:
        try:
            connected_at = parse_datetime(at)
        except ValueError:
            connected_at = utcnow()
        self._registry.set_remote(LiveConnection(cp, version, connected_at, node=node))
        local = self._registry.get(cp)
        if local is not None and local.close is not None and local.connected_at <= connected_at:
            self._close_replaced(local, node)

    def _close_replaced(self, local: LiveConnection, node: str) -> None:
        log.info("connection_replaced", charge_point_id=local.charge_point_id, by_node=node)
        assert local.close is not None
        task = asyncio.ensure_future(local.close(CLOSE_REPLACED, "replaced by a new connection"))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)


def _entry(node: str, version: str, at: str) -> bytes:
    return orjson.dumps({"node": node, "v": version, "at": at})


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
