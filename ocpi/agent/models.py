"""The Agent API's records: client accounts and bookings (`ocpi.agent.store` keeps them)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from ocpi.transport import ocpi_datetime


class BookingStatus(StrEnum):
    """Where a booking is (ADR 0024 lists what moves it):

    REQUESTED (stored; RESERVE_NOW not sent yet) → PENDING (the CPO answered the command ACCEPTED) →
    CONFIRMED (its CommandResult ACCEPTED) → ACTIVE (the driver's session started at that EVSE) →
    COMPLETED (the session ended; the price follows its CDR). FAILED: the CPO could not make the
    reservation (unreachable, a failing result, no result in time). REJECTED: the CPO refused the command.
    EXPIRED: the window ended before the reservation was confirmed. NO_SHOW: it was confirmed and the window
    ended without the driver's session (or the CPO cancelled it when it lapsed). CANCELLED: the client
    cancelled it.
    """

    REQUESTED = "REQUESTED"
    PENDING = "PENDING"
    CONFIRMED = "CONFIRMED"
    FAILED = "FAILED"
    REJECTED = "REJECTED"
    ACTIVE = "ACTIVE"
    COMPLETED = "COMPLETED"
    EXPIRED = "EXPIRED"
    NO_SHOW = "NO_SHOW"
    CANCELLED = "CANCELLED"


FINAL = frozenset(
    {
        BookingStatus.FAILED,
        BookingStatus.REJECTED,
        BookingStatus.COMPLETED,
        BookingStatus.EXPIRED,
        BookingStatus.NO_SHOW,
        BookingStatus.CANCELLED,
    }
)
# A REQUESTED booking's `command_id` while its RESERVE_NOW is being sent (`SqlAgentStore.claim_reservation`):
# "claim:" and 24 hex digits, within the column's 36 characters; the CPO's command id replaces it.
CLAIM_PREFIX = "claim:"
# Cancelling costs nothing before the CPO confirmed the reservation (the FAQ: REQUESTED and PENDING).
FREE_CANCELLATION = frozenset({BookingStatus.REQUESTED, BookingStatus.PENDING})


@dataclass(slots=True)
class AgentClient:
    """A client application's account. Its key is shown once (`csms agent client add`) and kept only as a
    bcrypt hash, found by `key_prefix`; rotating it replaces both at once."""

    id: int
    name: str
    key_prefix: str
    key_hash: str
    reservation_fee: Decimal = Decimal("0")  # EUR per booking
    commission_percent: Decimal = Decimal("0")  # of the CPO's cost
    monthly_quota: int | None = None  # requests per calendar month (UTC); None: no quota
    webhook_url: str | None = None  # booking status changes are POSTed here
    # Signs each POST (`csms.webhooks.signing`); None: unsigned. Never printed nor listed (repr=False).
    webhook_secret: str | None = field(default=None, repr=False)
    created_at: datetime | None = None
    rotated_at: datetime | None = None


@dataclass(slots=True)
class Booking:
    """One booking of one EVSE. `id` is also the OCPI `reservation_id` (36 characters at most).

    `price` is `ocpi.agent.pricing.ClientPrice.json()`: the estimate at booking time, replaced by the
    CDR's figures (`final: true`) when the session's CDR arrives, or by the cancellation fee.
    """

    id: str
    client_id: int
    cpo_id: int
    cpo_party_id: str
    location_id: str
    evse_uid: str
    driver_token: str
    start: datetime
    end: datetime
    status: BookingStatus = BookingStatus.REQUESTED
    reason: str | None = None
    command_id: str | None = None  # the RESERVE_NOW's (a CLAIM_PREFIX one while it is being sent)
    session_id: str | None = None
    price: dict[str, Any] = field(default_factory=dict)
    created_at: datetime | None = None
    updated_at: datetime | None = None


class DeliveryStatus(StrEnum):
    """Where a webhook delivery is: pending (to be tried, maybe again), sent (a 2xx answer), failed (given
    up: the attempts ran out or the address was refused)."""

    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


@dataclass(slots=True)
class WebhookDelivery:
    """One booking move for its client's webhook: `body` is `booking_json` at that move (stored as sent)."""

    id: int
    event_id: str  # X-Webhook-Id: the same on every attempt, so the client drops repeats
    booking_id: str
    client_id: int
    body: bytes
    status: DeliveryStatus = DeliveryStatus.PENDING
    attempts: int = 0
    next_attempt_at: datetime | None = None
    last_error: str | None = None


def booking_json(booking: Booking) -> dict[str, Any]:
    """A booking as clients see it."""
    return {
        "id": booking.id,
        "status": str(booking.status),
        "reason": booking.reason,
        "cpo_party_id": booking.cpo_party_id,
        "location_id": booking.location_id,
        "evse_uid": booking.evse_uid,
        "driver_token": booking.driver_token,
        "start": ocpi_datetime(booking.start),
        "end": ocpi_datetime(booking.end),
        "duration_minutes": int((booking.end - booking.start).total_seconds() // 60),
        "session_id": booking.session_id,
        "client_price": booking.price,
        "created_at": ocpi_datetime(booking.created_at) if booking.created_at else None,
        "updated_at": ocpi_datetime(booking.updated_at) if booking.updated_at else None,
    }
