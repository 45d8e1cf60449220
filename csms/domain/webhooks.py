"""Webhooks: an organization's HTTP endpoints and the events delivered to them (ADR 0011).

The domain part: which event types exist, the records (`Webhook`, `WebhookDelivery`), the store port and
the one function that says which organization an event belongs to. Turning domain events into deliveries
and sending them over HTTP is the edge `csms.webhooks`.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from csms.domain.tenancy import DEFAULT_ORG_ID

SESSION_STARTED = "session.started"
SESSION_UPDATED = "session.updated"
SESSION_COMPLETED = "session.completed"
CHARGE_POINT_CONNECTED = "charge_point.connected"
CHARGE_POINT_DISCONNECTED = "charge_point.disconnected"
CHARGE_POINT_STATUS_CHANGED = "charge_point.status_changed"
RESERVATION_CREATED = "reservation.created"
RESERVATION_UPDATED = "reservation.updated"  # replaced by its owner (an OCPI partner) with new terms
RESERVATION_CANCELLED = "reservation.cancelled"
RESERVATION_EXPIRED = "reservation.expired"
RESERVATION_USED = "reservation.used"
DISPUTE_CREATED = "dispute.created"  # a driver filed a dispute (csms.api.drivers)
DISPUTE_UPDATED = "dispute.updated"  # an operator moved it on (ocpi.admin_api.portal)

# Every event type a webhook may subscribe to, in the order the API documents them.
EVENT_TYPES: tuple[str, ...] = (
    SESSION_STARTED,
    SESSION_UPDATED,
    SESSION_COMPLETED,
    CHARGE_POINT_CONNECTED,
    CHARGE_POINT_DISCONNECTED,
    CHARGE_POINT_STATUS_CHANGED,
    RESERVATION_CREATED,
    RESERVATION_UPDATED,
    RESERVATION_CANCELLED,
    RESERVATION_EXPIRED,
    RESERVATION_USED,
    DISPUTE_CREATED,
    DISPUTE_UPDATED,
)


def organization_of_charge_point(charge_point_id: str | None) -> str:
    """The organization of an event about a charge point the store does not know (deleted, or never
    registered): the default one. Known charge points' events carry their owner's (`WebhookFeeder`)."""
    return DEFAULT_ORG_ID


@dataclass(frozen=True, slots=True)
class Webhook:
    """An endpoint of an organization and the event types it receives.

    `secret` is kept as given (not hashed): every delivery is signed with it (HMAC-SHA256), so the CSMS
    needs the secret itself. The API never shows it again after creation, only masked.
    """

    id: int
    organization_id: str
    url: str
    events: tuple[str, ...]
    secret: str
    created_at: datetime


class DeliveryStatus(StrEnum):
    """Where a delivery stands: waiting (or retrying), delivered (2xx), or given up after max attempts."""

    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


@dataclass(slots=True)
class WebhookDelivery:
    """One event for one webhook, kept until delivered or given up; delivered in id order per
    (webhook, object_key)."""

    webhook_id: int
    event_id: str
    event_type: str
    object_key: str  # "session:12", "charge_point:CP-1", "reservation:3": events of one object go in order
    organization_id: str
    payload: dict[str, Any]  # the `data` of the body
    created_at: datetime
    id: int | None = None  # None until stored
    status: DeliveryStatus = DeliveryStatus.PENDING
    attempts: int = 0
    next_attempt_at: datetime | None = None
    last_attempt_at: datetime | None = None
    delivered_at: datetime | None = None
    last_error: str | None = None
    response_code: int | None = None
    claimed_by: str | None = field(default=None, compare=False)
    claimed_until: datetime | None = field(default=None, compare=False)


class WebhookStore(Protocol):
    """Webhooks and their delivery outbox (`csms.store.sql.webhooks`; the tests' memory fake)."""

    async def add_webhook(
        self, organization_id: str, url: str, events: Collection[str], secret: str, created_at: datetime
    ) -> Webhook:
        """Store a new webhook; returns it with its id."""
        ...

    async def get_webhook(self, webhook_id: int) -> Webhook | None: ...

    async def list_webhooks(self, organization_id: str | None = None) -> list[Webhook]:
        """The organization's webhooks (None: every organization's), oldest first."""
        ...

    async def delete_webhook(self, webhook_id: int) -> None:
        """Delete a webhook and its deliveries; raises NotFound."""
        ...

    async def add_deliveries(self, deliveries: Collection[WebhookDelivery]) -> None:
        """Store new deliveries in one transaction, ids ascending in the given order (the event order)."""
        ...

    async def list_deliveries(self, webhook_id: int, limit: int) -> list[WebhookDelivery]:
        """A webhook's deliveries, newest first, at most `limit`."""
        ...

    async def claim_deliveries(
        self, now: datetime, limit: int, *, node_id: str, until: datetime
    ) -> list[WebhookDelivery]:
        """Take up to `limit` due deliveries for `node_id` until `until`, oldest first: pending, their retry
        time come, unclaimed (or the claim ran out), and the oldest pending one of their (webhook,
        object_key). Atomic across processes (a delivery is claimed by one of them)."""
        ...

    async def save_delivery(self, delivery: WebhookDelivery) -> None:
        """Overwrite the status, attempts and times of the delivery with this id and release its claim."""
        ...
