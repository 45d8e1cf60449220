"""The Agent API's tables (revisions 0020_agent and 0022_agent_webhooks, ADR 0024): client accounts, their
bookings and the bookings' webhook deliveries."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import Index, Integer, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from csms.store.tables import Base, UtcDateTime


class AgentClientRow(Base):
    """A client application (`ocpi.agent.models.AgentClient`): its key only as a bcrypt hash."""

    __tablename__ = "agent_clients"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100))
    key_prefix: Mapped[str] = mapped_column(String(16), unique=True)
    key_hash: Mapped[str] = mapped_column(String(100))
    reservation_fee: Mapped[Decimal] = mapped_column(Numeric(12, 4))
    commission_percent: Mapped[Decimal] = mapped_column(Numeric(7, 4))
    monthly_quota: Mapped[int | None] = mapped_column(Integer)
    webhook_url: Mapped[str | None] = mapped_column(String(500))
    webhook_secret: Mapped[str | None] = mapped_column(String(200))  # signs its deliveries; None: unsigned
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    rotated_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class AgentBookingRow(Base):
    """A booking (`ocpi.agent.models.Booking`); `price` is its JSON."""

    __tablename__ = "agent_bookings"
    __table_args__ = (Index("ix_agent_bookings_client_status", "client_id", "status"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    client_id: Mapped[int] = mapped_column(Integer)
    cpo_id: Mapped[int] = mapped_column(Integer)
    cpo_party_id: Mapped[str] = mapped_column(String(3))
    location_id: Mapped[str] = mapped_column(String(36))
    evse_uid: Mapped[str] = mapped_column(String(36))
    driver_token: Mapped[str] = mapped_column(String(36))
    start: Mapped[datetime] = mapped_column(UtcDateTime())
    end: Mapped[datetime] = mapped_column(UtcDateTime())
    status: Mapped[str] = mapped_column(String(16), index=True)
    reason: Mapped[str | None] = mapped_column(Text)
    command_id: Mapped[str | None] = mapped_column(String(36), index=True)
    session_id: Mapped[str | None] = mapped_column(String(36))
    price: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class AgentUsageRow(Base):
    """How many requests a client made in a calendar month (UTC): its monthly quota's count."""

    __tablename__ = "agent_usage"

    client_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    month: Mapped[str] = mapped_column(String(7), primary_key=True)  # YYYY-MM
    count: Mapped[int] = mapped_column(Integer)


class AgentWebhookDeliveryRow(Base):
    """One booking move to POST to its client's webhook (`ocpi.agent.webhooks`): `body` is the booking's
    JSON at that move; a worker holds it while `claimed_until` lies ahead."""

    __tablename__ = "agent_webhook_deliveries"
    __table_args__ = (Index("ix_agent_webhook_deliveries_status_next", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(40), unique=True)  # X-Webhook-Id
    booking_id: Mapped[str] = mapped_column(String(36), index=True)
    client_id: Mapped[int] = mapped_column(Integer)
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))  # pending, sent, failed
    attempts: Mapped[int] = mapped_column(Integer)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    claimed_until: Mapped[datetime | None] = mapped_column(UtcDateTime())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
