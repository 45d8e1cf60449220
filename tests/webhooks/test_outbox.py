"""The webhook outbox: domain events become deliveries, delivered signed, in order per object, retried with
back-off until the receiver recovers, given up after max attempts; a receiver on a real socket checks."""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from csms.config import WebhooksConfig
from csms.domain.clock import utcnow
from csms.domain.events import (
    ConnectorStatusChanged,
    DisputeChanged,
    EventBus,
    ReservationChanged,
    StationConnectionChanged,
    TransactionMeterAdvanced,
    TransactionStarted,
    TransactionStopped,
)
from csms.domain.models import (
    ConnectorStatus,
    Reservation,
    ReservationStatus,
    StatusChange,
    Transaction,
    TransactionStatus,
)
from csms.domain.portal import Dispute, DisputeStatus
from csms.domain.tenancy import DEFAULT_ORG_ID
from csms.domain.webhooks import EVENT_TYPES, DeliveryStatus
from csms.webhooks.outbox import WebhookFeeder, WebhookWorker, backoff_seconds
from csms.webhooks.signing import signature, verify
from tests.fakes.memory_webhooks import MemoryWebhookStore
from tests.utils import until
from tests.webhooks.conftest import SECRET
from tests.webhooks.receiver import Receiver

FAST = WebhooksConfig(
    max_attempts=50, backoff_base_seconds=0.01, backoff_max_seconds=0.05, timeout_seconds=5.0,
    poll_seconds=0.01, session_update_seconds=0.0, allow_private_addresses=True,  # 127.0.0.1 receivers
)
T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


def transaction(tx_id: int = 7, **changes: object) -> Transaction:
    tx = Transaction(
        id=tx_id, charge_point_id="CP-1", evse_id=1, connector_id=1, ocpp_transaction_id=str(tx_id),
        status=TransactionStatus.ACTIVE, started_at=T0, id_token="TAG-1", meter_start_wh=1000,
    )
    return replace(tx, **changes)  # type: ignore[arg-type]


class Rig:
    """A bus, a memory store, a feeder subscribed to the bus and a worker, started with `config`."""

    def __init__(self, config: WebhooksConfig) -> None:
        self.bus = EventBus()
        self.store = MemoryWebhookStore()
        self.feeder = WebhookFeeder(self.store, config, utcnow)
        self.feeder.subscribe(self.bus)
        self.worker = WebhookWorker(self.store, config, utcnow, node_id="test-node")

    async def start(self) -> None:
        await self.feeder.start()
        await self.worker.start()

    async def stop(self) -> None:
        await self.worker.stop()
        await self.feeder.stop()

    async def session_events(self, tx_id: int = 7) -> None:
        """A session's life: started, one meter advance, completed."""
        await self.bus.publish(TransactionStarted(transaction(tx_id)))
        self.bus.emit(TransactionMeterAdvanced(transaction(tx_id, last_meter_wh=1500)))
        stopped = transaction(tx_id, status=TransactionStatus.COMPLETED, meter_stop_wh=2500, stopped_at=T0)
        await self.bus.publish(TransactionStopped(stopped))


def delivered(rig: Rig) -> int:
    """How many deliveries the store records as delivered."""
    return sum(d.status is DeliveryStatus.DELIVERED for d in rig.store.deliveries.values())


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    """A started rig with fast back-off."""
    rig = Rig(FAST)
    await rig.start()
    yield rig
    await rig.stop()


async def test_events_arrive_signed_in_order_with_the_documented_body_and_headers(
    rig: Rig, receiver: Receiver
) -> None:
    """Each delivery carries X-Webhook-Id/Timestamp/Signature (HMAC-SHA256 of "<ts>.<body>") and the body
    {id, type, created_at, organization_id, data}; a station's and a session's events arrive in order."""
    await rig.store.add_webhook(DEFAULT_ORG_ID, receiver.url, EVENT_TYPES, SECRET, T0)
    rig.bus.emit(StationConnectionChanged("CP-1", True))
    rig.bus.emit(
        ConnectorStatusChanged(StatusChange("CP-1", 1, 1, ConnectorStatus.OCCUPIED, T0, error_code="NoError"))
    )
    await rig.session_events()
    rig.bus.emit(StationConnectionChanged("CP-1", False))
    await until(lambda: len(receiver.accepted) == 6)
    assert all(r.signature_ok for r in receiver.accepted)
    session = [r.event["type"] for r in receiver.accepted if r.event["type"].startswith("session.")]
    assert session == ["session.started", "session.updated", "session.completed"]
    station = [r.event["type"] for r in receiver.accepted if r.event["type"].startswith("charge_point.")]
    assert station == ["charge_point.connected", "charge_point.status_changed", "charge_point.disconnected"]
    first = receiver.accepted[0]
    assert set(first.event) == {"id", "type", "created_at", "organization_id", "data"}
    assert first.event["organization_id"] == DEFAULT_ORG_ID
    assert first.headers["X-Webhook-Id"] == first.event["id"]
    assert first.headers["X-Webhook-Timestamp"].isdigit()
    completed = next(r.event for r in receiver.accepted if r.event["type"] == "session.completed")
    assert completed["data"]["energy_wh"] == 1500
    assert completed["data"]["status"] == "completed"


async def test_a_failing_receiver_gets_every_event_in_order_once_it_recovers(
    rig: Rig, receiver: Receiver
) -> None:
    """While the receiver answers 500 the first event is retried with back-off and the later ones of the
    same session wait behind it; once it answers 200 all arrive, in order, and the deliveries record it."""
    webhook = await rig.store.add_webhook(DEFAULT_ORG_ID, receiver.url, EVENT_TYPES, SECRET, T0)
    receiver.status = 500
    await rig.session_events()
    await until(lambda: len(receiver.received) >= 3)
    assert {r.event["type"] for r in receiver.received} == {"session.started"}  # the others waited
    failing = [d for d in await rig.store.list_deliveries(webhook.id, 10) if d.attempts]
    assert failing and failing[0].response_code == 500 and failing[0].last_error == "HTTP 500"
    assert failing[0].status is DeliveryStatus.PENDING and failing[0].next_attempt_at is not None
    receiver.status = 200
    await until(lambda: len(receiver.accepted) == 3)
    assert receiver.types() == ["session.started", "session.updated", "session.completed"]
    await until(lambda: delivered(rig) == 3)  # the worker records an answer after the receiver sent it
    deliveries = await rig.store.list_deliveries(webhook.id, 10)
    assert all(d.status is DeliveryStatus.DELIVERED and d.delivered_at is not None for d in deliveries)
    assert max(d.attempts for d in deliveries) >= 3


async def test_a_delivery_is_given_up_after_max_attempts_and_the_next_event_goes(receiver: Receiver) -> None:
    """After `max_attempts` failures a delivery is failed and the object's next event is delivered."""
    rig = Rig(replace(FAST, max_attempts=2))
    await rig.start()
    try:
        webhook = await rig.store.add_webhook(DEFAULT_ORG_ID, receiver.url, EVENT_TYPES, SECRET, T0)
        receiver.status = 500
        await rig.bus.publish(TransactionStarted(transaction()))
        await until(lambda: len(receiver.received) == 2)
        await until(lambda: rig.store.deliveries[1].status is DeliveryStatus.FAILED)
        receiver.status = 200
        await rig.bus.publish(TransactionStopped(transaction(status=TransactionStatus.COMPLETED)))
        await until(lambda: len(receiver.accepted) == 1)
        assert receiver.types() == ["session.completed"]
        await until(lambda: delivered(rig) == 1)  # recorded after the receiver answered
        [completed, failed] = await rig.store.list_deliveries(webhook.id, 10)
        assert (failed.status, failed.attempts, failed.response_code) == (DeliveryStatus.FAILED, 2, 500)
        assert completed.status is DeliveryStatus.DELIVERED
    finally:
        await rig.stop()


async def test_only_subscribed_event_types_of_the_webhooks_organization_are_delivered(
    rig: Rig, receiver: Receiver
) -> None:
    """A webhook receives only the event types it names, and only events of its own organization."""
    mine = await rig.store.add_webhook(DEFAULT_ORG_ID, receiver.url, ["session.completed"], SECRET, T0)
    other = await rig.store.add_webhook("other-org", receiver.url, EVENT_TYPES, SECRET, T0)
    await rig.session_events()
    rig.bus.emit(StationConnectionChanged("CP-1", True))
    await rig.feeder.flush()
    assert [d.event_type for d in await rig.store.list_deliveries(mine.id, 10)] == ["session.completed"]
    assert await rig.store.list_deliveries(other.id, 10) == []
    await until(lambda: len(receiver.accepted) == 1)


async def test_events_go_to_the_webhooks_of_their_charge_points_organization() -> None:
    """Tenancy: a station's events go to its organization's webhooks (looked up by charge point), a
    session's and a reservation's to the organization they carry; another organization's webhook gets none."""

    async def charge_point_org(charge_point_id: str) -> str | None:
        return {"CP-A": "org-a"}.get(charge_point_id)

    bus, store = EventBus(), MemoryWebhookStore()
    feeder = WebhookFeeder(store, FAST, utcnow, charge_point_org)
    feeder.subscribe(bus)
    hook_a = await store.add_webhook("org-a", "http://127.0.0.1:9/a", EVENT_TYPES, SECRET, T0)
    hook_b = await store.add_webhook("org-b", "http://127.0.0.1:9/b", EVENT_TYPES, SECRET, T0)
    hook_default = await store.add_webhook(DEFAULT_ORG_ID, "http://127.0.0.1:9/d", EVENT_TYPES, SECRET, T0)
    bus.emit(StationConnectionChanged("CP-A", True))
    bus.emit(StationConnectionChanged("CP-UNKNOWN", True))  # not in the store: the default organization's
    await bus.publish(TransactionStarted(transaction(8, charge_point_id="CP-A", org_id="org-b")))
    await feeder.flush()
    by_hook = {h.id: [d.event_type for d in await store.list_deliveries(h.id, 10)]
               for h in (hook_a, hook_b, hook_default)}
    assert by_hook == {
        hook_a.id: ["charge_point.connected"],
        hook_b.id: ["session.started"],
        hook_default.id: ["charge_point.connected"],
    }


async def test_dispute_events_go_to_the_disputes_organization() -> None:
    """`DisputeChanged` becomes dispute.created / dispute.updated for the webhooks of the dispute's own
    organization (not the default one), in order under the dispute's object key, with the dispute as data."""
    rig = Rig(FAST)
    mine = await rig.store.add_webhook("org_b", "http://127.0.0.1:9/", EVENT_TYPES, SECRET, T0)
    other = await rig.store.add_webhook(DEFAULT_ORG_ID, "http://127.0.0.1:9/", EVENT_TYPES, SECRET, T0)
    dispute = Dispute(5, "org_b", 7, 3, "too much", Decimal("1.70"), created_at=T0, updated_at=T0)
    await rig.bus.publish(DisputeChanged(dispute, "created"))
    await rig.bus.publish(DisputeChanged(replace(dispute, status=DisputeStatus.UNDER_REVIEW), "updated"))
    await rig.feeder.flush()
    deliveries = sorted(await rig.store.list_deliveries(mine.id, 10), key=lambda d: d.id or 0)
    assert [(d.event_type, d.object_key, d.organization_id) for d in deliveries] == [
        ("dispute.created", "dispute:5", "org_b"),
        ("dispute.updated", "dispute:5", "org_b"),
    ]
    assert deliveries[0].payload["expected_cost"] == "1.70"
    assert deliveries[1].payload["status"] == "under_review"
    assert await rig.store.list_deliveries(other.id, 10) == []


async def test_session_updated_is_sent_at_most_once_per_interval() -> None:
    """Meter advances of a session make no session.updated within `session_update_seconds` of the last
    event of that session (here: its start)."""
    rig = Rig(replace(FAST, session_update_seconds=3600.0))
    await rig.store.add_webhook(DEFAULT_ORG_ID, "http://127.0.0.1:9/", EVENT_TYPES, SECRET, T0)
    await rig.bus.publish(TransactionStarted(transaction()))
    rig.bus.emit(TransactionMeterAdvanced(transaction(last_meter_wh=1100)))
    rig.bus.emit(TransactionMeterAdvanced(transaction(last_meter_wh=1200)))
    await rig.feeder.flush()
    assert [d.event_type for d in rig.store.deliveries.values()] == ["session.started"]


async def test_session_updated_never_precedes_session_started() -> None:
    """A meter advance noted before the session's start (2.0.1 Started with meter values) sends nothing;
    the start, then later advances, do."""
    rig = Rig(FAST)
    await rig.store.add_webhook(DEFAULT_ORG_ID, "http://127.0.0.1:9/", EVENT_TYPES, SECRET, T0)
    rig.bus.emit(TransactionMeterAdvanced(transaction(last_meter_wh=1100)))
    await rig.bus.publish(TransactionStarted(transaction(last_meter_wh=1100)))
    rig.bus.emit(TransactionMeterAdvanced(transaction(last_meter_wh=1200)))
    await rig.feeder.flush()
    assert [d.event_type for d in rig.store.deliveries.values()] == ["session.started", "session.updated"]


async def test_events_noted_before_stop_are_stored_by_stop() -> None:
    """Stopping the feeder stores what it noted (a clean shutdown loses no event)."""
    rig = Rig(FAST)
    await rig.store.add_webhook(DEFAULT_ORG_ID, "http://127.0.0.1:9/", EVENT_TYPES, SECRET, T0)
    await rig.feeder.start()
    rig.bus.emit(StationConnectionChanged("CP-1", True))
    await rig.feeder.stop()
    assert [d.event_type for d in rig.store.deliveries.values()] == ["charge_point.connected"]


def test_back_off_doubles_from_the_base_up_to_the_maximum() -> None:
    """The wait after the n-th failure is base * 2^(n-1), capped at the maximum."""
    config = WebhooksConfig(backoff_base_seconds=5.0, backoff_max_seconds=60.0)
    assert [backoff_seconds(config, n) for n in (1, 2, 3, 4, 5, 100)] == [5.0, 10.0, 20.0, 40.0, 60.0, 60.0]


def test_signature_is_hmac_sha256_of_timestamp_dot_body() -> None:
    """`signature` follows the documented scheme and `verify` accepts only the exact body and time."""
    body = b'{"id":"evt_1"}'
    sig = signature("secret-secret-16", 1700000000, body)
    assert sig == "sha256=" + hmac.new(b"secret-secret-16", b"1700000000." + body, "sha256").hexdigest()
    assert verify("secret-secret-16", "1700000000", body, sig)
    assert not verify("secret-secret-16", "1700000001", body, sig)
    assert not verify("secret-secret-16", "1700000000", body + b" ", sig)
    assert not verify("secret-secret-16", "x", body, sig)


async def test_reservation_changes_become_reservation_events() -> None:
    """ReservationChanged becomes reservation.<change> with the reservation as data, keyed by reservation."""
    rig = Rig(FAST)
    await rig.store.add_webhook(DEFAULT_ORG_ID, "http://127.0.0.1:9/", EVENT_TYPES, SECRET, T0)
    r = Reservation(3, "CP-1", 1, "TAG-1", T0, ReservationStatus.ACTIVE)
    await rig.bus.publish(ReservationChanged(r, "created"))
    used = replace(r, status=ReservationStatus.USED, transaction_pk=7)
    await rig.bus.publish(ReservationChanged(used, "used"))
    await rig.feeder.flush()
    deliveries = list(rig.store.deliveries.values())
    assert [(d.event_type, d.object_key) for d in deliveries] == [
        ("reservation.created", "reservation:3"),
        ("reservation.used", "reservation:3"),
    ]
    assert deliveries[1].payload["session_id"] == 7 and deliveries[1].payload["status"] == "used"
