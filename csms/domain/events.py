"""Typed domain events and the one small bus that delivers them (ADR 0006).

The domain publishes facts; edges (the OCPI bridge, later webhooks and the dashboard) subscribe by event type.
Two kinds of event exist, and the type says which:

- `Event`s are awaited: `await bus.publish(event)` runs each subscriber in turn, in the explicit `Order` it
  subscribed with (a subscriber that creates a record another one reads runs first). A transaction start or
  stop is one: the station's answer waits for them, so subscribers keep to quick bookkeeping and hand
  anything slow (HTTP calls, pricing) to their own tasks.
- `HotEvent`s happen thousands of times a second (meter values, status notifications, connections). They are
  delivered synchronously with `bus.emit(event)` from the OCPP hot path; their subscribers are plain functions
  that only note the fact and return (no awaiting, no I/O). Subscribing a coroutine function to one is a
  `TypeError` at subscription time, not a silent never-awaited coroutine at run time.

A subscriber's exception is logged (`event_subscriber_failed`) and never reaches the publisher: the station's
message has been handled and stored; a failing consumer must not turn it into an error.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, ClassVar, TypeVar

import structlog

from csms.domain.models import FrameRecord, Reservation, StatusChange, Transaction
from csms.domain.portal import Dispute

log = structlog.get_logger("csms.events")


class Order(IntEnum):
    """Where a subscriber runs among those of the same event: lower first, then in subscription order.

    The stages exist because some subscribers read what others write: the OCPI session link must exist
    before the CDR writer pins a tariff on it and before the push feeder builds the Session it pushes.
    """

    COMMAND = 10  # tie the event to a command we sent (OCPI START_SESSION's session link)
    AUTHORITY = 15  # tie it to the token authority that vouched for it (OCPI partner tokens)
    DOMAIN = 20  # domain bookkeeping (a reservation marked used by its transaction)
    RECORD = 30  # records derived from the above (tariff pinned for the CDR)
    PUBLISH = 40  # tell the outside world (OCPI pushes, webhooks)


class Event:
    """Base of the awaited events (`EventBus.publish`)."""

    hot: ClassVar[bool] = False


class HotEvent:
    """Base of the hot-path events (`EventBus.emit`): synchronous subscribers only."""

    hot: ClassVar[bool] = True


@dataclass(frozen=True, slots=True)
class TransactionStarted(Event):
    """A new transaction was stored (never for a repeated start). `remote_start_id` names the remote start
    it answers (csms.domain.remote_start), None for a local start."""

    transaction: Transaction
    remote_start_id: int | None = None


@dataclass(frozen=True, slots=True)
class TransactionStopped(Event):
    """A transaction was stopped and the stop stored (never for a repeated stop)."""

    transaction: Transaction


@dataclass(frozen=True, slots=True)
class ReservationChanged(Event):
    """A reservation became active (`created`), was replaced by its owner with new terms (`updated`), or
    ended: `cancelled` (by an operator, a partner or the station), `expired` or `used` by a transaction.
    `reservation` is a copy as stored after the change."""

    reservation: Reservation
    change: str  # created | updated | cancelled | expired | used


@dataclass(frozen=True, slots=True)
class DisputeChanged(Event):
    """A driver filed a dispute (`created`) or an operator moved it on (`updated`); `dispute` as stored
    after the change."""

    dispute: Dispute
    change: str  # created | updated


@dataclass(frozen=True, slots=True)
class IdTokensChanged(Event):
    """An organization's id tokens changed (one created, changed or deleted): its stations' local
    authorization lists are out of date (csms.domain.local_list_sync)."""

    org_id: str


@dataclass(frozen=True, slots=True)
class TransactionMeterAdvanced(HotEvent):
    """A running transaction's energy register advanced (`transaction.last_meter_wh`); queued, not yet
    committed. `power_w`: the Power.Active.Import the same meter value reported (None: not sent)."""

    transaction: Transaction
    power_w: int | None = None


@dataclass(frozen=True, slots=True)
class ConnectorStatusChanged(HotEvent):
    """A station reported a connector (or, with evse_id 0, station) status; queued, not yet committed."""

    change: StatusChange


@dataclass(frozen=True, slots=True)
class StationConnectionChanged(HotEvent):
    """A charge point's first connection opened (`online`) or its last one closed (not `online`)."""

    charge_point_id: str
    online: bool


@dataclass(frozen=True, slots=True)
class FrameLogged(HotEvent):
    """An OCPP-J frame was received from or sent to a station and queued for the message log (only with
    `[ocpp] message_log`); the dashboard shows it live on the station page."""

    frame: FrameRecord


AnyEvent = Event | HotEvent
E = TypeVar("E", bound=Event)
H = TypeVar("H", bound=HotEvent)


@dataclass(frozen=True, slots=True)
class _Subscription:
    order: int
    seq: int
    handler: Callable[[Any], Any]


class EventBus:
    """Subscribers by event type; one per running CSMS (made with its `Services`)."""

    def __init__(self) -> None:
        self._subscribers: dict[type[AnyEvent], list[_Subscription]] = {}
        self._seq = 0

    def subscribe(
        self, event_type: type[E], handler: Callable[[E], Awaitable[None]], *, order: Order
    ) -> None:
        """Await `handler(event)` for every published `event_type`, at stage `order`."""
        if event_type.hot:
            raise TypeError(f"{event_type.__name__} is a hot event: use subscribe_hot")
        if not inspect.iscoroutinefunction(handler):
            raise TypeError(f"subscribers of {event_type.__name__} must be coroutine functions")
        self._add(event_type, handler, order)

    def subscribe_hot(self, event_type: type[H], handler: Callable[[H], None], *, order: Order) -> None:
        """Call `handler(event)` synchronously for every emitted `event_type`, at stage `order`."""
        if not event_type.hot:
            raise TypeError(f"{event_type.__name__} is awaited: use subscribe")
        if inspect.iscoroutinefunction(handler):
            raise TypeError(f"{event_type.__name__} is a hot event: its subscribers must be plain functions")
        self._add(event_type, handler, order)

    def unsubscribe(self, event_type: type[AnyEvent], handler: Callable[[Any], Any]) -> None:
        """Stop delivering `event_type` to `handler` (no error if it was not subscribed)."""
        subs = self._subscribers.get(event_type, [])
        subs[:] = [s for s in subs if s.handler != handler]

    def subscribers(self, event_type: type[AnyEvent]) -> list[Callable[[Any], Any]]:
        """The handlers of `event_type` in delivery order (for tests and diagnostics)."""
        return [s.handler for s in self._subscribers.get(event_type, [])]

    async def publish(self, event: Event) -> None:
        """Deliver `event` to its subscribers one after the other, in order; return when all are done."""
        for sub in self._subscribers.get(type(event), ()):
            try:
                await sub.handler(event)
            except Exception:
                log.exception("event_subscriber_failed", event_type=type(event).__name__, handler=_name(sub))

    def emit(self, event: HotEvent) -> None:
        """Deliver a hot-path `event` to its (synchronous) subscribers, in order."""
        for sub in self._subscribers.get(type(event), ()):
            try:
                sub.handler(event)
            except Exception:
                log.exception("event_subscriber_failed", event_type=type(event).__name__, handler=_name(sub))

    def _add(self, event_type: type[AnyEvent], handler: Callable[[Any], Any], order: int) -> None:
        self._seq += 1
        subs = self._subscribers.setdefault(event_type, [])
        subs.append(_Subscription(int(order), self._seq, handler))
        subs.sort(key=lambda s: (s.order, s.seq))


def _name(sub: _Subscription) -> str:
    return getattr(sub.handler, "__qualname__", repr(sub.handler))
