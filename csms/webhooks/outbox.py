"""From domain events to signed POSTs, through the `webhook_deliveries` outbox (ADR 0011).

Two halves, so that the OCPP hot path never waits on HTTP (nor on the database for this):

- `WebhookFeeder` subscribes to the domain event bus at `Order.PUBLISH`. Its handlers only turn the event
  into a small JSON snapshot (taken now: the transaction object changes later) and append it to an
  in-memory queue. Its task drains the queue: each round it reads the webhooks (cached for
  `[webhooks] poll_seconds`, dropped at once when the API changes one), makes one `WebhookDelivery` per
  (subscribed webhook of the event's organization, event) and stores the round in one transaction, in event
  order. `stop()` drains what is left, so a clean shutdown loses nothing; a crash loses the events of the
  last few milliseconds that were not yet stored (at most one round).
- `WebhookWorker` delivers due deliveries with aiohttp: in order per (webhook, object) — a store claim
  takes only the oldest pending delivery of each — retried with exponential back-off, given up after
  `max_attempts` (the next event of the object goes then). Several nodes on one database each run a worker;
  a claim (`claimed_by`/`claimed_until`, SKIP LOCKED on PostgreSQL) gives each delivery to one of them.
  Delivery is at least once: a receiver drops repeats by `X-Webhook-Id`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import socket
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import aiohttp
import orjson
import structlog

from csms.config import WebhooksConfig
from csms.domain.clock import Clock, isoformat_z
from csms.domain.events import (
    ConnectorStatusChanged,
    DisputeChanged,
    EventBus,
    Order,
    ReservationChanged,
    StationConnectionChanged,
    TransactionMeterAdvanced,
    TransactionStarted,
    TransactionStopped,
)
from csms.domain.models import Reservation, Transaction
from csms.domain.portal import Dispute
from csms.domain.ports import NotFound
from csms.domain.webhooks import (
    CHARGE_POINT_CONNECTED,
    CHARGE_POINT_DISCONNECTED,
    CHARGE_POINT_STATUS_CHANGED,
    DISPUTE_CREATED,
    DISPUTE_UPDATED,
    SESSION_COMPLETED,
    SESSION_STARTED,
    SESSION_UPDATED,
    DeliveryStatus,
    Webhook,
    WebhookDelivery,
    WebhookStore,
    organization_of_charge_point,
)
from csms.webhooks.addresses import connector_options, refuse_literal
from csms.webhooks.signing import signature

log = structlog.get_logger("csms.webhooks")

CLAIM_LIMIT = 100  # deliveries claimed per round
CONCURRENCY = 16  # POSTs in flight per worker
MAX_ERROR_TEXT = 500


@dataclass(frozen=True, slots=True)
class OutgoingEvent:
    """An event as webhooks see it, snapshotted when it happened."""

    id: str
    type: str
    object_key: str
    charge_point_id: str | None  # None: of no charge point (a dispute; it carries its organization)
    organization_id: str | None  # None: the charge point's, looked up when the event is stored
    created_at: datetime
    data: dict[str, Any]


def _time(value: datetime | None) -> str | None:
    return None if value is None else isoformat_z(value)


def session_data(tx: Transaction) -> dict[str, Any]:
    """The `data` of a session event: the session as the API names its fields (energy in Wh)."""
    energy = None
    if tx.meter_start_wh is not None:
        end = tx.meter_stop_wh if tx.meter_stop_wh is not None else tx.last_meter_wh
        energy = None if end is None else max(end - tx.meter_start_wh, 0)
    return {
        "id": tx.id,
        "charge_point_id": tx.charge_point_id,
        "evse_id": tx.evse_id,
        "connector_id": tx.connector_id,
        "status": str(tx.status),
        "id_token": tx.id_token,
        "started_at": _time(tx.started_at),
        "stopped_at": _time(tx.stopped_at),
        "stop_reason": tx.stop_reason,
        "meter_start_wh": tx.meter_start_wh,
        "meter_stop_wh": tx.meter_stop_wh,
        "energy_wh": energy,
        "reservation_id": tx.reservation_id,
        "remote_start_id": tx.remote_start_id,
    }


def dispute_data(d: Dispute) -> dict[str, Any]:
    """The `data` of a dispute event: the dispute as the API names its fields."""
    return {
        "id": d.id,
        "session_id": d.session_id,
        "driver_id": d.driver_id,
        "description": d.description,
        "expected_cost": format(d.expected_cost, "f"),
        "status": d.status.value,
        "resolution": d.resolution,
        "credit_cdr_id": d.credit_cdr_id,
        "replacement_cdr_id": d.replacement_cdr_id,
        "created_at": _time(d.created_at),
        "updated_at": _time(d.updated_at),
    }


def reservation_data(r: Reservation) -> dict[str, Any]:
    """The `data` of a reservation event: the reservation as the API names its fields."""
    return {
        "id": r.id,
        "charge_point_id": r.charge_point_id,
        "evse_id": r.evse_id,
        "id_token": r.id_token,
        "expiry_date": _time(r.expiry_date),
        "status": str(r.status),
        "session_id": r.transaction_pk,
        "reason": r.reason,
    }


class WebhookFeeder:
    """Notes domain events (never waiting) and stores them as deliveries from its own task.

    Usage: `feeder.subscribe(bus)`, `await feeder.start()`; `await feeder.flush()` stores everything noted
    so far (tests); `await feeder.stop()` at shutdown, before the store closes.
    """

    def __init__(
        self,
        store: WebhookStore,
        config: WebhooksConfig,
        clock: Clock,
        charge_point_org: Callable[[str], Awaitable[str | None]] | None = None,
    ) -> None:
        """`charge_point_org` answers a charge point's organization (None: unknown, the default one's);
        without it every station event is the default organization's."""
        self._store = store
        self._charge_point_org = charge_point_org
        self._config = config
        self._clock = clock
        self._queue: deque[OutgoingEvent] = deque()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()  # one round at a time, so rounds are stored in event order
        self._webhooks: list[Webhook] | None = None
        self._webhooks_read = 0.0  # time.monotonic() of the read
        self._session_updated: dict[int, float] = {}  # transaction id -> monotonic time of the last one

    def subscribe(self, bus: EventBus) -> None:
        """Listen to the events webhooks carry, after every other subscriber (`Order.PUBLISH`)."""
        bus.subscribe(TransactionStarted, self.on_transaction_started, order=Order.PUBLISH)
        bus.subscribe(TransactionStopped, self.on_transaction_stopped, order=Order.PUBLISH)
        bus.subscribe_hot(TransactionMeterAdvanced, self.on_meter_advanced, order=Order.PUBLISH)
        bus.subscribe_hot(ConnectorStatusChanged, self.on_status_changed, order=Order.PUBLISH)
        bus.subscribe_hot(StationConnectionChanged, self.on_connection_changed, order=Order.PUBLISH)
        bus.subscribe(ReservationChanged, self.on_reservation_changed, order=Order.PUBLISH)
        bus.subscribe(DisputeChanged, self.on_dispute_changed, order=Order.PUBLISH)

    def webhooks_changed(self) -> None:
        """A webhook was created or deleted here: read them again before the next round."""
        self._webhooks = None

    def _note(
        self,
        event_type: str,
        object_key: str,
        charge_point_id: str | None,
        data: dict[str, Any],
        org_id: str | None = None,
    ) -> None:
        self._queue.append(
            OutgoingEvent(
                id="evt_" + uuid.uuid4().hex,
                type=event_type,
                object_key=object_key,
                charge_point_id=charge_point_id,
                organization_id=org_id,
                created_at=self._clock(),
                data=data,
            )
        )
        self._wake.set()

    def _note_session(self, event_type: str, tx: Transaction) -> None:
        self._note(event_type, f"session:{tx.id}", tx.charge_point_id, session_data(tx), tx.org_id)

    async def on_transaction_started(self, event: TransactionStarted) -> None:
        """session.started."""
        self._session_updated[event.transaction.id] = time.monotonic()
        self._note_session(SESSION_STARTED, event.transaction)

    async def on_transaction_stopped(self, event: TransactionStopped) -> None:
        """session.completed."""
        self._session_updated.pop(event.transaction.id, None)
        self._note_session(SESSION_COMPLETED, event.transaction)

    def on_meter_advanced(self, event: TransactionMeterAdvanced) -> None:
        """session.updated, at most once per session every `session_update_seconds`, never before its
        session.started."""
        tx = event.transaction
        now = time.monotonic()
        last = self._session_updated.get(tx.id)
        if last is None:
            # Not started here yet: a 2.0.1 TransactionEvent Started advances the meter before the start is
            # published, and session.updated must not precede session.started. (After a restart, a running
            # session's updates resume from its next advance.)
            self._session_updated[tx.id] = now
            return
        if now - last < self._config.session_update_seconds:
            return
        self._session_updated[tx.id] = now
        self._note_session(SESSION_UPDATED, tx)

    def on_status_changed(self, event: ConnectorStatusChanged) -> None:
        """charge_point.status_changed (evse_id 0: the station as a whole)."""
        change = event.change
        data = {
            "charge_point_id": change.charge_point_id,
            "evse_id": change.evse_id,
            "connector_id": change.connector_id,
            "status": str(change.status),
            "error_code": change.error_code,
            "timestamp": _time(change.timestamp),
        }
        key = f"charge_point:{change.charge_point_id}"
        self._note(CHARGE_POINT_STATUS_CHANGED, key, change.charge_point_id, data)

    def on_connection_changed(self, event: StationConnectionChanged) -> None:
        """charge_point.connected / charge_point.disconnected."""
        kind = CHARGE_POINT_CONNECTED if event.online else CHARGE_POINT_DISCONNECTED
        data = {"charge_point_id": event.charge_point_id, "online": event.online}
        self._note(kind, f"charge_point:{event.charge_point_id}", event.charge_point_id, data)

    async def on_reservation_changed(self, event: ReservationChanged) -> None:
        """reservation.created / updated / cancelled / expired / used."""
        r = event.reservation
        key = f"reservation:{r.id}"
        self._note(f"reservation.{event.change}", key, r.charge_point_id, reservation_data(r), r.org_id)

    async def on_dispute_changed(self, event: DisputeChanged) -> None:
        """dispute.created / dispute.updated, in the dispute's organization."""
        d = event.dispute
        event_type = DISPUTE_CREATED if event.change == "created" else DISPUTE_UPDATED
        self._note(event_type, f"dispute:{d.id}", None, dispute_data(d), org_id=d.org_id)

    async def start(self) -> None:
        """Start the task that stores what the handlers note."""
        self._task = asyncio.create_task(self._run(), name="webhook-feeder")

    async def stop(self) -> None:
        """Stop the task and store what is still queued."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.flush()

    async def flush(self) -> None:
        """Store every event noted so far as deliveries (one transaction per round)."""
        while self._queue:
            await self._round()

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            try:
                await self.flush()
            except asyncio.CancelledError:
                raise
            except Exception:
                # The events stay queued (a round takes them only once stored); try again shortly.
                log.exception("webhook_enqueue_failed", queued=len(self._queue))
                await asyncio.sleep(self._config.poll_seconds)
                self._wake.set()

    async def _current_webhooks(self) -> list[Webhook]:
        stale = time.monotonic() - self._webhooks_read >= self._config.poll_seconds
        if self._webhooks is None or stale:
            self._webhooks = await self._store.list_webhooks()
            self._webhooks_read = time.monotonic()
        return self._webhooks

    async def _round(self) -> None:
        async with self._lock:
            events = list(self._queue)
            if not events:
                return
            webhooks = await self._current_webhooks()
            orgs = await self._organizations(events)
            deliveries = [
                WebhookDelivery(
                    webhook_id=webhook.id,
                    event_id=event.id,
                    event_type=event.type,
                    object_key=event.object_key,
                    organization_id=org,
                    payload=event.data,
                    created_at=event.created_at,
                )
                for event, org in zip(events, orgs, strict=True)
                for webhook in webhooks
                if webhook.organization_id == org and event.type in webhook.events
            ]
            await self._store.add_deliveries(deliveries)
            for _ in events:  # taken only once stored: a failed round is tried again with the same events
                self._queue.popleft()


    async def _organizations(self, events: list[OutgoingEvent]) -> list[str]:
        """Each event's organization (tenancy, ADR 0012): its session's or reservation's, else its charge
        point's, read once per charge point and round (a station may move to another organization)."""
        looked_up: dict[str, str] = {}
        orgs: list[str] = []
        for event in events:
            org = event.organization_id
            cp = event.charge_point_id
            if org is None and cp is None:
                org = organization_of_charge_point(None)
            elif org is None and cp is not None:
                if cp not in looked_up:
                    found = None if self._charge_point_org is None else await self._charge_point_org(cp)
                    looked_up[cp] = found or organization_of_charge_point(cp)
                org = looked_up[cp]
            orgs.append(org or organization_of_charge_point(cp))
        return orgs


def default_node_id() -> str:
    """A claimer id for this process: <hostname>-<pid>-<random>, new at every start."""
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"


def backoff_seconds(config: WebhooksConfig, attempts: int) -> float:
    """The wait after the `attempts`-th failed attempt: base * 2^(attempts - 1), at most the maximum."""
    exponent = min(max(attempts - 1, 0), 32)
    return float(min(config.backoff_base_seconds * 2**exponent, config.backoff_max_seconds))


def body_of(delivery: WebhookDelivery) -> bytes:
    """The JSON body of a delivery: {id, type, created_at, organization_id, data}."""
    return orjson.dumps(
        {
            "id": delivery.event_id,
            "type": delivery.event_type,
            "created_at": isoformat_z(delivery.created_at),
            "organization_id": delivery.organization_id,
            "data": delivery.payload,
        }
    )


class WebhookWorker:
    """Delivers due deliveries (see the module docstring).

    Usage: `await worker.start()`, `await worker.stop()`; `await worker.deliver_due()` runs one round
    (tests).
    """

    def __init__(
        self, store: WebhookStore, config: WebhooksConfig, clock: Clock, *, node_id: str | None = None
    ) -> None:
        self._store = store
        self._config = config
        self._clock = clock
        self.node_id = node_id or default_node_id()
        self._session: aiohttp.ClientSession | None = None
        self._task: asyncio.Task[None] | None = None
        self._limit = asyncio.Semaphore(CONCURRENCY)

    async def start(self) -> None:
        """Open the HTTP client session and start delivering."""
        timeout = aiohttp.ClientTimeout(total=self._config.timeout_seconds)
        connector = aiohttp.TCPConnector(**connector_options(self._config.allow_private_addresses))
        self._session = aiohttp.ClientSession(timeout=timeout, connector=connector)
        self._task = asyncio.create_task(self._run(), name="webhook-worker")

    async def stop(self) -> None:
        """Stop delivering (an attempt in flight is abandoned; its claim runs out) and close the client."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _run(self) -> None:
        while True:
            try:
                delivered = await self.deliver_due()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("webhook_round_failed")
                delivered = 0
            if not delivered:
                await asyncio.sleep(self._config.poll_seconds)

    async def deliver_due(self) -> int:
        """Claim the due deliveries and attempt each once; returns how many were attempted."""
        # A read first: without webhooks (most servers) no claim, which is a write, is attempted.
        webhooks = {w.id: w for w in await self._store.list_webhooks()}
        if not webhooks:
            return 0
        now = self._clock()
        until = now + timedelta(seconds=self._config.claim_seconds)
        claimed = await self._store.claim_deliveries(now, CLAIM_LIMIT, node_id=self.node_id, until=until)
        if not claimed:
            return 0
        await asyncio.gather(*(self._attempt(webhooks.get(d.webhook_id), d) for d in claimed))
        return len(claimed)

    async def _attempt(self, webhook: Webhook | None, delivery: WebhookDelivery) -> None:
        if webhook is None:  # deleted since: its deliveries went with it
            return
        async with self._limit:
            code, error = await self._post(webhook, delivery)
        now = self._clock()
        attempts = delivery.attempts + 1
        bound = log.bind(webhook_id=webhook.id, delivery_id=delivery.id, event_type=delivery.event_type)
        if error is None:
            settled = replace(
                delivery,
                status=DeliveryStatus.DELIVERED,
                attempts=attempts,
                last_attempt_at=now,
                delivered_at=now,
                response_code=code,
                last_error=None,
                next_attempt_at=None,
            )
            bound.debug("webhook_delivered", attempts=attempts)
        elif attempts >= self._config.max_attempts:
            settled = replace(
                delivery,
                status=DeliveryStatus.FAILED,
                attempts=attempts,
                last_attempt_at=now,
                response_code=code,
                last_error=error,
                next_attempt_at=None,
            )
            bound.warning("webhook_gave_up", attempts=attempts, error=error)
        else:
            wait = backoff_seconds(self._config, attempts)
            settled = replace(
                delivery,
                attempts=attempts,
                last_attempt_at=now,
                response_code=code,
                last_error=error,
                next_attempt_at=now + timedelta(seconds=wait),
            )
            bound.info("webhook_retry", attempts=attempts, error=error, retry_in=wait)
        with contextlib.suppress(NotFound):  # the webhook was deleted meanwhile
            await self._store.save_delivery(settled)

    async def _post(self, webhook: Webhook, delivery: WebhookDelivery) -> tuple[int | None, str | None]:
        """POST the delivery; (HTTP status or None, None when delivered else what went wrong)."""
        assert self._session is not None, "start() the worker first"
        body = body_of(delivery)
        timestamp = int(self._clock().timestamp())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "csms-webhooks/1",
            "X-Webhook-Id": delivery.event_id,
            "X-Webhook-Timestamp": str(timestamp),
            "X-Webhook-Signature": signature(webhook.secret, timestamp, body),
        }
        try:
            if not self._config.allow_private_addresses:
                refuse_literal(webhook.url)
            # Redirects are not followed: a receiver answers 2xx itself, and a redirect could lead to an
            # address the guard refuses.
            async with self._session.post(
                webhook.url, data=body, headers=headers, allow_redirects=False
            ) as response:
                await response.read()
                if 200 <= response.status < 300:
                    return response.status, None
                return response.status, f"HTTP {response.status}"
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            return None, (repr(exc) or type(exc).__name__)[:MAX_ERROR_TEXT]
