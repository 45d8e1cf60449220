"""Which charge points are connected right now, over which OCPP version, and where.

The OCPP server registers a connection after the handshake and unregisters it when the socket closes. A
second connection for the same id replaces the first: `register` returns the previous connection so the
server can close it (the newest socket is the station's truth). `get` answers for this process only: the
connections it can send to.

In a cluster (csms.cluster) the other processes' stations are mirrored here as *remote* connections
(`LiveConnection.node` set, no `execute`): `find` answers for the whole cluster, and the REST API and OCPI
read it for `connected`, the OCPP version and EVSE status, whichever process they run in.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from csms.domain.events import EventBus, StationConnectionChanged


@dataclass(slots=True, eq=False)
class LiveConnection:
    """One open websocket of one charge point."""

    charge_point_id: str
    ocpp_version: str  # "1.6" or "2.0.1" (the subprotocol is the OCPP server's business)
    connected_at: datetime
    remote_address: str | None = None
    last_seen_at: datetime | None = None
    # Closes the websocket with a code and reason; set by the server.
    close: Callable[[int, str], Awaitable[None]] | None = field(default=None, repr=False)
    # Sends a version-neutral command (csms.domain.commands.Command) and returns its CommandResult;
    # set by the server to the session's version adapter.
    execute: Callable[[Any], Awaitable[Any]] | None = field(default=None, repr=False)
    # The cluster node that holds the socket when it is another process's (a remote entry); None: ours.
    node: str | None = None


class ConnectionRegistry:
    """Live connections by charge point id; emits `StationConnectionChanged` when a charge point comes
    online or goes offline (the OCPI bridge pushes its EVSEs as UNKNOWN while it is offline)."""

    def __init__(self, events: EventBus) -> None:
        self._by_id: dict[str, LiveConnection] = {}
        self._remote: dict[str, LiveConnection] = {}  # other nodes' stations (csms.cluster keeps it)
        self._events = events

    def register(self, connection: LiveConnection) -> LiveConnection | None:
        """Make `connection` the current one for its id; returns the replaced one, which the caller closes."""
        previous = self._by_id.get(connection.charge_point_id)
        self._by_id[connection.charge_point_id] = connection
        if previous is None:
            self._events.emit(StationConnectionChanged(connection.charge_point_id, online=True))
        return previous

    def unregister(self, connection: LiveConnection) -> None:
        """Forget `connection` unless a newer one already replaced it."""
        if self._by_id.get(connection.charge_point_id) is connection:
            del self._by_id[connection.charge_point_id]
            self._events.emit(StationConnectionChanged(connection.charge_point_id, online=False))

    def get(self, charge_point_id: str) -> LiveConnection | None:
        """The current connection of that charge point in this process, or None (offline, or another
        node's)."""
        return self._by_id.get(charge_point_id)

    def find(self, charge_point_id: str) -> LiveConnection | None:
        """The charge point's connection anywhere in the cluster (ours first), or None when it is offline."""
        return self._by_id.get(charge_point_id) or self._remote.get(charge_point_id)

    # -- the cluster's mirror of other nodes' connections ------------------------------------------------

    def set_remote(self, connection: LiveConnection) -> None:
        """Note that another node (`connection.node`) now holds that charge point's socket."""
        self._remote[connection.charge_point_id] = connection

    def drop_remote(self, charge_point_id: str, node: str) -> None:
        """Forget the remote entry of that charge point if `node` still holds it (a later connection on
        another node stays)."""
        current = self._remote.get(charge_point_id)
        if current is not None and current.node == node:
            del self._remote[charge_point_id]

    def drop_node(self, node: str) -> list[str]:
        """Forget every remote entry of a node that died; returns their charge point ids."""
        gone = [cp for cp, c in self._remote.items() if c.node == node]
        for cp in gone:
            del self._remote[cp]
        return gone

    def remote_count(self) -> int:
        """How many charge points other nodes hold."""
        return len(self._remote)

    def remote_nodes(self) -> set[str]:
        """The nodes that hold at least one mirrored connection."""
        return {c.node for c in self._remote.values() if c.node is not None}

    def __len__(self) -> int:
        """Connections of this process (remote entries are not counted)."""
        return len(self._by_id)

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(list(self._by_id.values()))
