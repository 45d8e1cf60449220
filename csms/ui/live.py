"""The dashboard's live channel: domain events turned into small JSON messages for server-sent events.

`LiveHub` subscribes to the domain event bus (ADR 0006) like the webhook feeder does, at `Order.PUBLISH`
(after every record is written). Hot events are only noted (a queue put per listener, no I/O, no
awaiting); each `/ui/events` stream then reads its own queue and drops what belongs to another
organization, which it learns from the station's organization (`StationService.org_of`, from memory).
A listener that does not keep up loses its oldest messages (bounded queue), never the station's time; while
no browser listens, the handlers return at once.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from csms.domain.clock import isoformat_z
from csms.domain.events import (
    ConnectorStatusChanged,
    EventBus,
    FrameLogged,
    Order,
    ReservationChanged,
    StationConnectionChanged,
    TransactionMeterAdvanced,
    TransactionStarted,
    TransactionStopped,
)
from csms.domain.models import Transaction

QUEUE_SIZE = 1000  # messages one browser may fall behind before the oldest are dropped


@dataclass(frozen=True, slots=True)
class LiveMessage:
    """One message for the browser: `kind` becomes the SSE `event:` name, `data` its JSON body."""

    kind: str
    charge_point_id: str
    data: dict[str, Any]


CLOSE = LiveMessage("close", "", {})  # tells a stream to end (app shutdown)


@dataclass(slots=True)
class _Meter:
    wh: int
    at: datetime


def session_energy_wh(tx: Transaction) -> int:
    """Energy delivered so far (Wh): the last register reading minus the start reading."""
    start = tx.meter_start_wh or 0
    last = tx.meter_stop_wh if tx.meter_stop_wh is not None else tx.last_meter_wh
    return max(0, (last if last is not None else start) - start)


@dataclass(slots=True)
class LiveHub:
    """Fans domain events out to every open `/ui/events` stream (`listen` / `forget`)."""

    clock: Any
    _listeners: set[asyncio.Queue[LiveMessage]] = field(default_factory=set)
    _meters: dict[int, _Meter] = field(default_factory=dict)  # last reading per session, for power

    def subscribe(self, bus: EventBus) -> None:
        """Listen to what the dashboard shows live, after every other subscriber."""
        bus.subscribe_hot(StationConnectionChanged, self.on_connection_changed, order=Order.PUBLISH)
        bus.subscribe_hot(ConnectorStatusChanged, self.on_status_changed, order=Order.PUBLISH)
        bus.subscribe_hot(TransactionMeterAdvanced, self.on_meter_advanced, order=Order.PUBLISH)
        bus.subscribe_hot(FrameLogged, self.on_frame, order=Order.PUBLISH)
        bus.subscribe(TransactionStarted, self.on_transaction_started, order=Order.PUBLISH)
        bus.subscribe(TransactionStopped, self.on_transaction_stopped, order=Order.PUBLISH)
        bus.subscribe(ReservationChanged, self.on_reservation_changed, order=Order.PUBLISH)

    def listen(self) -> asyncio.Queue[LiveMessage]:
        """A new queue receiving every message from now on; `forget` it when the stream closes."""
        queue: asyncio.Queue[LiveMessage] = asyncio.Queue(QUEUE_SIZE)
        self._listeners.add(queue)
        return queue

    def forget(self, queue: asyncio.Queue[LiveMessage]) -> None:
        """Stop feeding `queue`."""
        self._listeners.discard(queue)

    def close(self) -> None:
        """The app is shutting down: every stream gets `CLOSE` and ends (no request waits for a timeout)."""
        for queue in self._listeners:
            if queue.full():
                queue.get_nowait()
            queue.put_nowait(CLOSE)

    def _put(self, message: LiveMessage) -> None:
        for queue in self._listeners:
            if queue.full():
                queue.get_nowait()  # drop the oldest: the page catches up from the next message
            queue.put_nowait(message)

    def on_connection_changed(self, event: StationConnectionChanged) -> None:
        """A station connected or disconnected: `station` {charge_point_id, connected}."""
        if not self._listeners:
            return
        data = {"charge_point_id": event.charge_point_id, "connected": event.online}
        self._put(LiveMessage("station", event.charge_point_id, data))

    def on_status_changed(self, event: ConnectorStatusChanged) -> None:
        """A connector status: `status` {charge_point_id, evse_id, connector_id, status, error_code}."""
        if not self._listeners:
            return
        change = event.change
        data = {
            "charge_point_id": change.charge_point_id,
            "evse_id": change.evse_id,
            "connector_id": change.connector_id,
            "status": str(change.status),
            "error_code": change.error_code,
        }
        self._put(LiveMessage("status", change.charge_point_id, data))

    def on_meter_advanced(self, event: TransactionMeterAdvanced) -> None:
        """A running session's register advanced: `session` with energy and the power since the last one."""
        if not self._listeners:
            return
        self._put(self._session_message(event.transaction))

    async def on_transaction_started(self, event: TransactionStarted) -> None:
        """A session started: `session` (the sessions page adds its row)."""
        if not self._listeners:
            return
        self._put(self._session_message(event.transaction))

    async def on_transaction_stopped(self, event: TransactionStopped) -> None:
        """A session stopped: `session` with status completed."""
        self._meters.pop(event.transaction.id, None)
        if not self._listeners:
            return
        self._put(self._session_message(event.transaction))

    async def on_reservation_changed(self, event: ReservationChanged) -> None:
        """A reservation was created, updated or ended: `reservation` {reservation_id, status, change}."""
        if not self._listeners:
            return
        r = event.reservation
        data = {
            "reservation_id": r.id,
            "charge_point_id": r.charge_point_id,
            "evse_id": r.evse_id,
            "id_token": r.id_token,
            "status": str(r.status),
            "change": event.change,
            "expiry_date": isoformat_z(r.expiry_date),
        }
        self._put(LiveMessage("reservation", r.charge_point_id, data))

    def on_frame(self, event: FrameLogged) -> None:
        """A frame in or out: `frame` {charge_point_id, direction, action, message_id, frame, at}."""
        if not self._listeners:  # the OCPP hot path: nothing to build while no browser listens
            return
        f = event.frame
        data = {
            "charge_point_id": f.charge_point_id,
            "direction": str(f.direction),
            "message_type": f.message_type,
            "message_id": f.message_id,
            "action": f.action,
            "frame": f.frame,
            "at": isoformat_z(f.at),
        }
        self._put(LiveMessage("frame", f.charge_point_id, data))

    def _session_message(self, tx: Transaction) -> LiveMessage:
        energy = session_energy_wh(tx)
        now: datetime = self.clock()
        power_w: int | None = None
        previous = self._meters.get(tx.id)
        if previous is not None and now > previous.at and energy != previous.wh:
            power_w = round((energy - previous.wh) * 3600 / (now - previous.at).total_seconds())
        if energy != (previous.wh if previous else None):
            self._meters[tx.id] = _Meter(energy, now)
        data = {
            "session_id": tx.id,
            "charge_point_id": tx.charge_point_id,
            "evse_id": tx.evse_id,
            "status": str(tx.status),
            "energy_wh": energy,
            "power_w": power_w,
            "id_token": tx.id_token,
            "started_at": isoformat_z(tx.started_at),
        }
        return LiveMessage("session", tx.charge_point_id, data)
