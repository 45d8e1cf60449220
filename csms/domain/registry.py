"""Which charge points are connected right now, over which OCPP version (in memory, one process).

The OCPP server registers a connection after the handshake and unregisters it when the socket closes; the
REST API reads it for `connected`. A second connection for the same id replaces the first: `register`
returns the previous connection so the server can close it (the newest socket is the station's truth).
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


class ConnectionRegistry:
    """Live connections by charge point id; emits `StationConnectionChanged` when a charge point comes
    online or goes offline (the OCPI bridge pushes its EVSEs as UNKNOWN while it is offline)."""

    def __init__(self, events: EventBus) -> None:
        self._by_id: dict[str, LiveConnection] = {}
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
        """The current connection of that charge point, or None when it is offline."""
        return self._by_id.get(charge_point_id)

    def __len__(self) -> int:
        return len(self._by_id)

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(list(self._by_id.values()))
