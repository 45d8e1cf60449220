"""Commands to stations on other nodes: a `StationGateway` that routes through Redis pub/sub.

A command for a station connected here goes straight to its session (`RegistryGateway`). For a station the
presence mirror places on another node, the command is published on that node's channel
`{prefix}:node:{node}` as `{"t": "call", "id", "from", "cp", "cmd"}`; that node delivers it to the station
and publishes `{"t": "reply", "id", "result"}` on the caller's channel. The caller waits for the reply at
most `[ocpp] call_timeout` plus `REPLY_MARGIN` seconds, then reports TIMEOUT (the station may still act on
it, as with a direct CALL that timed out).

A node that is gone has no subscriber: PUBLISH reaches nobody and the command is OFFLINE at once, without
waiting for that node's lease to expire.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError

from csms.cluster.codec import CodecError, decode_command, decode_result, encode_command, encode_result
from csms.domain.commands import Command, CommandResult, Outcome, RegistryGateway
from csms.domain.registry import ConnectionRegistry

log = structlog.get_logger("csms.cluster")

REPLY_MARGIN = 5.0  # seconds beyond the station's call timeout for the trip through Redis and back

Deliver = Callable[[str, Command], Awaitable[CommandResult]]
# How this node delivers a command another node routed here (csms.domain.sessions.SessionControl.forwarded)
Forwarded = Callable[[str, Command, Deliver], Awaitable[CommandResult]]


class ClusterGateway:
    """`StationGateway` for a cluster: local stations directly, the others through their node.

    Built before the `Domain` (which sends every command through it); `bind` gives it Redis and the
    channel names once the node starts; `handle` takes the messages of this node's channel.
    """

    def __init__(self, registry: ConnectionRegistry, node_id: str, call_timeout: float) -> None:
        self._registry = registry
        self._local = RegistryGateway(registry)
        self.node_id = node_id
        self._reply_timeout = call_timeout + REPLY_MARGIN
        self._redis: Redis | None = None
        self._prefix = ""
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[CommandResult]] = {}
        self._serving: set[asyncio.Task[None]] = set()
        # Set by the composition root to the domain's handling of routed commands (a remote start is
        # expected on the node whose station reports the transaction); plain delivery until then.
        self.forwarded: Forwarded | None = None

    def bind(self, redis: Redis, prefix: str) -> None:
        """Route through `redis`, on channels under `prefix`."""
        self._redis, self._prefix = redis, prefix

    def channel(self, node: str) -> str:
        """The channel `node` listens on for calls and replies."""
        return f"{self._prefix}:node:{node}"

    # -- StationGateway ----------------------------------------------------------------------------------

    def ocpp_version(self, charge_point_id: str) -> str | None:
        """ "1.6" / "2.0.1" for a station connected anywhere in the cluster, None when offline."""
        return self._local.ocpp_version(charge_point_id)

    async def execute(self, charge_point_id: str, command: Command) -> CommandResult:
        """Deliver here, or through the node that holds the station; OFFLINE when no node does."""
        live = self._registry.find(charge_point_id)
        if live is None or live.node is None or self._redis is None:
            return await self._local.execute(charge_point_id, command)
        return await self._route(live.node, charge_point_id, command)

    async def _route(self, node: str, charge_point_id: str, command: Command) -> CommandResult:
        assert self._redis is not None
        call_id = next(self._ids)
        waiter: asyncio.Future[CommandResult] = asyncio.get_running_loop().create_future()
        self._waiting[call_id] = waiter
        message = {
            "t": "call", "id": call_id, "from": self.node_id, "cp": charge_point_id,
            "cmd": encode_command(command),
        }  # fmt: skip
        try:
            receivers = await self._redis.publish(self.channel(node), orjson.dumps(message))
            if not receivers:
                return CommandResult(Outcome.OFFLINE, description=f"node {node} of {charge_point_id} is gone")
            async with asyncio.timeout(self._reply_timeout):
                return await waiter
        except TimeoutError:
            return CommandResult(Outcome.TIMEOUT, description=f"no answer through node {node}")
        finally:
            self._waiting.pop(call_id, None)

    # -- this node's channel -----------------------------------------------------------------------------

    def handle(self, raw: bytes) -> None:
        """Take one message of this node's channel: a reply wakes its caller, a call is served in a task
        (the listener never waits for a station)."""
        try:
            message: dict[str, Any] = orjson.loads(raw)
            if message.get("t") == "reply":
                self._reply(message)
            elif message.get("t") == "call":
                self._call(message)
            else:
                raise CodecError(f"unknown message type {message.get('t')!r}")
        except (CodecError, ValueError, KeyError) as exc:
            log.error("cluster_message_invalid", error=str(exc)[:300])

    def _call(self, message: dict[str, Any]) -> None:
        command: Command | None = None
        refusal: CommandResult | None = None
        try:
            command = decode_command(message.get("cmd"))
        except CodecError as exc:  # e.g. a node of another CSMS version: its caller hears it at once
            log.error("cluster_command_unreadable", error=str(exc)[:300], from_node=message.get("from"))
            refusal = CommandResult(Outcome.CALL_ERROR, error_code="NotSupported", description=str(exc)[:300])
        task = asyncio.create_task(self._serve(message, command, refusal))
        self._serving.add(task)
        task.add_done_callback(self._serving.discard)

    def _reply(self, message: dict[str, Any]) -> None:
        waiter = self._waiting.get(int(message["id"]))
        if waiter is not None and not waiter.done():
            waiter.set_result(decode_result(message.get("result")))

    async def _serve(
        self, message: dict[str, Any], command: Command | None, refusal: CommandResult | None = None
    ) -> None:
        charge_point_id = str(message["cp"])
        bound = log.bind(charge_point_id=charge_point_id, from_node=message.get("from"))
        try:
            if command is None:
                assert refusal is not None
                result = refusal
            elif self.forwarded is not None:
                result = await self.forwarded(charge_point_id, command, self._local.execute)
            else:
                result = await self._local.execute(charge_point_id, command)
        except Exception as exc:  # a bug must not leave the caller waiting for the whole timeout
            bound.exception("cluster_command_failed")
            result = CommandResult(Outcome.CALL_ERROR, error_code="InternalError", description=repr(exc))
        name = type(command).__name__ if command is not None else "unreadable"
        bound.info("cluster_command_served", command=name, outcome=result.outcome.value)
        reply = {"t": "reply", "id": message["id"], "result": encode_result(result)}
        assert self._redis is not None
        try:
            await self._redis.publish(self.channel(str(message["from"])), orjson.dumps(reply))
        except (RedisError, OSError) as exc:  # the caller reports TIMEOUT
            bound.error("cluster_reply_failed", error=repr(exc))

    async def close(self) -> None:
        """Stop serving routed calls; callers still waiting get DISCONNECTED."""
        for task in list(self._serving):
            task.cancel()
        await asyncio.gather(*self._serving, return_exceptions=True)
        for waiter in self._waiting.values():
            if not waiter.done():
                waiter.set_result(CommandResult(Outcome.DISCONNECTED, description="this node is stopping"))
