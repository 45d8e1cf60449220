"""One node of a cluster inside a running CSMS: its Redis connection, presence and command routing.

`csms.app` builds a `ClusterNode` before the domain when `[cluster] redis_url` is set (the domain sends its
commands through `node.gateway`), starts it before the OCPP server accepts stations, and stops it after
the OCPP server closed them, so the other nodes see this node's stations offline at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import socket
from collections.abc import Awaitable, Callable

import structlog
from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError

from csms.cluster.presence import Presence
from csms.cluster.routing import ClusterGateway
from csms.config import Config
from csms.domain.events import EventBus, Order, StationConnectionChanged
from csms.domain.registry import ConnectionRegistry

log = structlog.get_logger("csms.cluster")

# Seconds a Redis read or connect may take before it fails with a RedisError (every caller handles those):
# without it, a connection that never answers would block a flush, a renewal or the shutdown forever.
REDIS_SOCKET_TIMEOUT = 10.0
# Seconds each step of `ClusterNode.stop` may take; a step still running then is abandoned (logged
# `cluster_stop_step_abandoned`), so a node always stops: its lease lapses and the others drop its stations.
STOP_STEP_SECONDS = 5.0


def new_node_id() -> str:
    """`<hostname>-<pid>-<random>`: unique per process start, readable in logs."""
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"


class ClusterNode:
    """Presence and routing for one process; see the package docstring for what lives in Redis."""

    def __init__(self, config: Config, registry: ConnectionRegistry, events: EventBus) -> None:
        cluster = config.cluster
        self.node_id = cluster.node_id or new_node_id()
        self.redis: Redis = Redis.from_url(
            cluster.redis_url,
            socket_timeout=REDIS_SOCKET_TIMEOUT,
            socket_connect_timeout=REDIS_SOCKET_TIMEOUT,
        )
        self.gateway = ClusterGateway(registry, self.node_id, config.ocpp.call_timeout)
        self.gateway.bind(self.redis, cluster.key_prefix)
        self.presence = Presence(
            self.redis, cluster.key_prefix, self.node_id, registry, cluster.node_lease_seconds
        )
        noted = self.presence.on_connection_changed
        events.subscribe_hot(StationConnectionChanged, noted, order=Order.PUBLISH)
        self._listener: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Subscribe to this node's channels, take the lease and load the presence map.

        Raises:
            RedisError, OSError: Redis is unreachable; the CSMS does not start without it.
        """
        pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
        await pubsub.subscribe(self.gateway.channel(self.node_id), self.presence.channel)
        await self.presence.start()
        self._listener = asyncio.create_task(self._listen(pubsub), name="cluster-listener")
        log.info("cluster_node_started", node=self.node_id)

    async def _listen(self, pubsub: PubSub) -> None:
        own = self.gateway.channel(self.node_id).encode()
        try:
            while True:
                try:
                    message = await pubsub.get_message(timeout=1.0)
                except (RedisError, OSError) as exc:  # redis-py reconnects and subscribes again
                    log.error("cluster_listener_failed", error=repr(exc))
                    await asyncio.sleep(1.0)
                    continue
                if message is None:
                    continue
                if message["channel"] == own:
                    self.gateway.handle(message["data"])
                else:
                    self._apply(message["data"])
        finally:
            with contextlib.suppress(RedisError, OSError):
                await pubsub.aclose()

    def _apply(self, data: bytes) -> None:
        try:
            self.presence.apply(data)
        except (ValueError, TypeError, KeyError) as exc:
            log.error("cluster_presence_invalid", error=repr(exc))

    async def stop(self) -> None:
        """Remove this node's presence and lease, stop listening, close Redis.

        Each step gets `STOP_STEP_SECONDS`; one that takes longer (Redis not answering) is abandoned and
        logged, and the next runs: the shutdown never hangs on Redis. What an abandoned step did not remove
        (this node's entries, its lease) lapses with the lease on the other nodes."""
        steps: tuple[tuple[str, Callable[[], Awaitable[None]]], ...] = (
            ("presence", self.presence.stop),
            ("routing", self.gateway.close),
            ("listener", self._stop_listener),
            ("redis", self.redis.aclose),
        )
        for step, run in steps:
            task = asyncio.ensure_future(run())
            done, _ = await asyncio.wait({task}, timeout=STOP_STEP_SECONDS)
            if not done:
                task.cancel()  # not awaited: a step that ignores its cancellation must not hang the stop
                log.error("cluster_stop_step_abandoned", node=self.node_id, step=step)
            elif (error := task.exception()) is not None:
                log.error("cluster_stop_step_failed", node=self.node_id, step=step, error=repr(error))
        log.info("cluster_node_stopped", node=self.node_id)

    async def _stop_listener(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
