"""The domain event bus: typed subscriptions, explicit order, failures contained."""

from __future__ import annotations

import pytest
from structlog.testing import capture_logs

from csms.domain.events import (
    ConnectorStatusChanged,
    EventBus,
    Order,
    StationConnectionChanged,
    TransactionStarted,
    TransactionStopped,
)
from csms.domain.models import ConnectorStatus, StatusChange, Transaction, TransactionStatus
from csms.domain.registry import ConnectionRegistry, LiveConnection
from tests.domain.conftest import NOW


def _tx() -> Transaction:
    return Transaction(1, "CP", 1, 1, "1", TransactionStatus.ACTIVE, NOW)


async def test_subscribers_run_by_order_then_by_subscription() -> None:
    """A lower Order runs first whatever the subscription order; equal orders keep subscription order."""
    bus = EventBus()
    seen: list[str] = []

    def make(name: str):  # type: ignore[no-untyped-def]
        async def handler(event: TransactionStarted) -> None:
            seen.append(name)

        return handler

    bus.subscribe(TransactionStarted, make("publish"), order=Order.PUBLISH)
    bus.subscribe(TransactionStarted, make("record-1"), order=Order.RECORD)
    bus.subscribe(TransactionStarted, make("command"), order=Order.COMMAND)
    bus.subscribe(TransactionStarted, make("record-2"), order=Order.RECORD)
    await bus.publish(TransactionStarted(_tx()))
    assert seen == ["command", "record-1", "record-2", "publish"]


async def test_events_go_only_to_subscribers_of_their_type() -> None:
    """A TransactionStopped subscriber is not told about starts."""
    bus = EventBus()
    stopped: list[Transaction] = []

    async def on_stop(event: TransactionStopped) -> None:
        stopped.append(event.transaction)

    bus.subscribe(TransactionStopped, on_stop, order=Order.PUBLISH)
    await bus.publish(TransactionStarted(_tx()))
    assert stopped == []
    await bus.publish(TransactionStopped(_tx()))
    assert [tx.id for tx in stopped] == [1]


async def test_a_failing_subscriber_is_logged_and_the_others_still_run() -> None:
    """An exception in one subscriber never reaches the publisher and does not stop later subscribers."""
    bus = EventBus()
    ran: list[str] = []

    async def broken(event: TransactionStarted) -> None:
        raise KeyError("boom")

    async def later(event: TransactionStarted) -> None:
        ran.append("later")

    bus.subscribe(TransactionStarted, broken, order=Order.COMMAND)
    bus.subscribe(TransactionStarted, later, order=Order.PUBLISH)
    with capture_logs() as logs:
        await bus.publish(TransactionStarted(_tx()))
    assert ran == ["later"]
    assert [e["event"] for e in logs] == ["event_subscriber_failed"]
    assert logs[0]["event_type"] == "TransactionStarted"


def test_hot_events_are_delivered_synchronously_and_failures_contained() -> None:
    """emit() calls plain subscribers at once; one raising does not stop the next."""
    bus = EventBus()
    seen: list[int] = []

    def broken(event: ConnectorStatusChanged) -> None:
        raise RuntimeError("boom")

    bus.subscribe_hot(ConnectorStatusChanged, broken, order=Order.RECORD)
    bus.subscribe_hot(ConnectorStatusChanged, lambda e: seen.append(e.change.evse_id), order=Order.PUBLISH)
    with capture_logs():
        bus.emit(ConnectorStatusChanged(StatusChange("CP", 2, 1, ConnectorStatus.AVAILABLE, NOW)))
    assert seen == [2]


def test_subscriptions_are_checked_against_the_kind_of_event() -> None:
    """A coroutine cannot subscribe to a hot event, a plain function cannot subscribe to an awaited one,
    and neither kind can be subscribed with the other method."""
    bus = EventBus()

    async def coro(event: ConnectorStatusChanged) -> None: ...

    def plain(event: TransactionStarted) -> None: ...

    with pytest.raises(TypeError):
        bus.subscribe_hot(ConnectorStatusChanged, coro, order=Order.PUBLISH)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        bus.subscribe(TransactionStarted, plain, order=Order.PUBLISH)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        bus.subscribe(ConnectorStatusChanged, coro, order=Order.PUBLISH)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        bus.subscribe_hot(TransactionStarted, plain, order=Order.PUBLISH)  # type: ignore[arg-type]


def test_unsubscribe_stops_delivery() -> None:
    """After unsubscribe a handler is no longer listed nor called."""
    bus = EventBus()
    seen: list[str] = []

    def handler(event: StationConnectionChanged) -> None:
        seen.append(event.charge_point_id)

    bus.subscribe_hot(StationConnectionChanged, handler, order=Order.PUBLISH)
    assert bus.subscribers(StationConnectionChanged) == [handler]
    bus.unsubscribe(StationConnectionChanged, handler)
    bus.emit(StationConnectionChanged("CP", online=True))
    assert seen == [] and bus.subscribers(StationConnectionChanged) == []


def test_registry_emits_online_and_offline_once_per_station() -> None:
    """The first connection of a station emits online; a replacing one emits nothing; the last one
    closing emits offline."""
    bus = EventBus()
    seen: list[tuple[str, bool]] = []
    bus.subscribe_hot(
        StationConnectionChanged, lambda e: seen.append((e.charge_point_id, e.online)), order=Order.PUBLISH
    )
    registry = ConnectionRegistry(bus)
    first = LiveConnection("CP", "1.6", NOW)
    second = LiveConnection("CP", "1.6", NOW)
    registry.register(first)
    assert registry.register(second) is first
    registry.unregister(first)  # already replaced: nothing changes
    registry.unregister(second)
    assert seen == [("CP", True), ("CP", False)]
