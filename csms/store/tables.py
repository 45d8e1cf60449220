"""SQLAlchemy 2 declarative tables: the schema `SqlStore` reads and writes.

The schema itself is created and changed only by the Alembic migrations in `csms/store/migrations/`;
`tests/store/test_migrations.py` checks that migrating an empty database yields exactly this metadata, so a
change here needs a new migration next to it. Energy is integer Wh (BigInteger: a lifetime register can pass
2^31 Wh); measured values are `str(Decimal)` text, never float; every timestamp is stored in UTC.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from csms.domain.clock import to_utc
from csms.domain.tenancy import DEFAULT_ORG_ID

# Explicit constraint names so the hand-written migrations can name (and later drop) them identically on
# SQLite and PostgreSQL.
NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# Row ids of the high-volume append-only tables: BIGINT on PostgreSQL (billions of rows over years), but
# INTEGER on SQLite, where only an `INTEGER PRIMARY KEY` column autoincrements (it aliases the rowid).
BigIntPk = BigInteger().with_variant(Integer(), "sqlite")


class UtcDateTime(TypeDecorator[datetime]):
    """`DateTime(timezone=True)` that always binds UTC and always returns timezone-aware UTC datetimes.

    SQLite has no timezone type: SQLAlchemy stores the wall-clock text and drops the offset, and gives naive
    datetimes back. Converting every bound value (including those in WHERE clauses) to UTC first keeps
    stored text comparable and ordered; results are re-tagged as UTC. PostgreSQL's timestamptz does the same
    natively, so the conversions are no-ops there.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else to_utc(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        return None if value is None else to_utc(value)


class Base(DeclarativeBase):
    """Declarative base; `Base.metadata` is the schema the migrations must produce."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class CreatedAt:
    """Mixin: when the row was inserted (the store's clock, or what the record carried)."""

    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class UpdatedAt:
    """Mixin: when the row was last written (the store's clock, or what the record carried)."""

    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class OrgOwned:
    """Mixin: the organization the row belongs to (`csms.domain.tenancy`; revision 0010_tenancy). Rows from
    before organizations land in the default one; indexed, since every operator list filters by it."""

    org_id: Mapped[str] = mapped_column(String(64), server_default=DEFAULT_ORG_ID, index=True)


class StatusReport:
    """Mixin: the error and vendor details a StatusNotification may carry besides the status itself."""

    error_code: Mapped[str | None] = mapped_column(String(64))
    info: Mapped[str | None] = mapped_column(String(255))
    vendor_id: Mapped[str | None] = mapped_column(String(255))
    vendor_error_code: Mapped[str | None] = mapped_column(String(255))


class ChargePointRow(CreatedAt, UpdatedAt, OrgOwned, Base):
    """One registered charge point: registration, boot data and the statuses it last reported."""

    __tablename__ = "charge_points"

    charge_point_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    registration_status: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    ocpp_version: Mapped[str | None] = mapped_column(String(16))
    vendor: Mapped[str | None] = mapped_column(String(255))
    model: Mapped[str | None] = mapped_column(String(255))
    serial_number: Mapped[str | None] = mapped_column(String(255))
    firmware_version: Mapped[str | None] = mapped_column(String(255))
    iccid: Mapped[str | None] = mapped_column(String(64))
    imsi: Mapped[str | None] = mapped_column(String(64))
    meter_type: Mapped[str | None] = mapped_column(String(255))
    meter_serial_number: Mapped[str | None] = mapped_column(String(255))
    boot_reason: Mapped[str | None] = mapped_column(String(64))
    last_boot_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    last_heartbeat_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    firmware_status: Mapped[str | None] = mapped_column(String(64))
    diagnostics_status: Mapped[str | None] = mapped_column(String(64))
    log_status: Mapped[str | None] = mapped_column(String(64))
    security_profile: Mapped[int] = mapped_column(SmallInteger, server_default="1", default=1)


class ConnectorRow(StatusReport, Base):
    """Current state of one connector; upserted by every StatusChange."""

    __tablename__ = "connectors"

    charge_point_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("charge_points.charge_point_id", ondelete="CASCADE"), primary_key=True
    )
    evse_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    connector_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    status: Mapped[str] = mapped_column(String(16))
    status_detail: Mapped[str | None] = mapped_column(String(64))
    status_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class StatusHistoryRow(StatusReport, Base):
    """Append-only history of StatusChanges (no foreign key: it is written in bulk and never joined)."""

    __tablename__ = "status_history"
    __table_args__ = (Index("ix_status_history_charge_point_id_id", "charge_point_id", "id"),)

    id: Mapped[int] = mapped_column(BigIntPk, primary_key=True, autoincrement=True)
    charge_point_id: Mapped[str] = mapped_column(String(64))
    evse_id: Mapped[int] = mapped_column(Integer)
    connector_id: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    detail: Mapped[str | None] = mapped_column(String(64))
    timestamp: Mapped[datetime] = mapped_column(UtcDateTime())
    received_at: Mapped[datetime] = mapped_column(UtcDateTime())


class IdTokenRow(CreatedAt, UpdatedAt, OrgOwned, Base):
    """An id token registered by an operator."""

    __tablename__ = "id_tokens"

    id_token: Mapped[str] = mapped_column(String(64), primary_key=True)
    type: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    expiry_date: Mapped[datetime | None] = mapped_column(UtcDateTime())
    group_id_token: Mapped[str | None] = mapped_column(String(64))


class IdTokenAliasRow(CreatedAt, Base):
    """The short alias of an id token too long for OCPP 1.6 (`csms.domain.id_token_aliases`); never changed
    nor deleted. Both columns are unique: one alias per token, one token per alias."""

    __tablename__ = "id_token_aliases"

    alias: Mapped[str] = mapped_column(String(20), primary_key=True)
    id_token: Mapped[str] = mapped_column(String(64), unique=True)


class UiSignedOutRow(Base):
    """A dashboard session cookie signed out before its expiry (`csms.ui.signin`), by the SHA-256 hex digest
    of the cookie; shared so every worker and node refuses it. Rows past `expires_at` mean nothing and are
    deleted on the next sign-out."""

    __tablename__ = "ui_signed_out"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)


class TransactionRow(UpdatedAt, OrgOwned, Base):
    """A charging transaction; `id` is also the 1.6 transactionId, so it must stay a 32-bit integer."""

    __tablename__ = "transactions"
    __table_args__ = (
        UniqueConstraint(
            "charge_point_id",
            "ocpp_transaction_id",
            name="uq_transactions_charge_point_id_ocpp_transaction_id",
        ),
        Index(
            "ix_transactions_charge_point_id_evse_id_started_at", "charge_point_id", "evse_id", "started_at"
        ),
        Index("ix_transactions_status", "status"),
        # AUTOINCREMENT: SQLite must never hand out the id of a deleted newest row again, or a station could
        # see a 1.6 transactionId twice.
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    charge_point_id: Mapped[str] = mapped_column(String(64))
    evse_id: Mapped[int] = mapped_column(Integer)
    connector_id: Mapped[int] = mapped_column(Integer)
    # NULL for 1.6 (revision 0004), whose transactionId is `id`: the unique key then holds only the ids 2.0.1
    # stations chose, so a station moved from 1.6 to 2.0.1 may reuse "5" beside its 1.6 transaction 5.
    ocpp_transaction_id: Mapped[str | None] = mapped_column(String(36))
    status: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[datetime] = mapped_column(UtcDateTime())
    id_token: Mapped[str | None] = mapped_column(String(64))
    id_token_type: Mapped[str | None] = mapped_column(String(32))
    meter_start_wh: Mapped[int | None] = mapped_column(BigInteger)
    meter_stop_wh: Mapped[int | None] = mapped_column(BigInteger)
    last_meter_wh: Mapped[int | None] = mapped_column(BigInteger)
    stopped_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    stop_reason: Mapped[str | None] = mapped_column(String(64))
    stop_id_token: Mapped[str | None] = mapped_column(String(64))
    reservation_id: Mapped[int | None] = mapped_column(Integer)
    remote_start_id: Mapped[int | None] = mapped_column(Integer)
    charging_state: Mapped[str | None] = mapped_column(String(32))
    last_seq_no: Mapped[int | None] = mapped_column(Integer)
    offline: Mapped[bool] = mapped_column(Boolean)


class TransactionEventRow(Base):
    """A 2.0.1 TransactionEvent seqNo seen for a transaction; the unique pair detects duplicates."""

    __tablename__ = "transaction_events"
    __table_args__ = (
        UniqueConstraint("transaction_id", "seq_no", name="uq_transaction_events_transaction_id_seq_no"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    transaction_id: Mapped[int] = mapped_column(Integer, ForeignKey("transactions.id", ondelete="CASCADE"))
    seq_no: Mapped[int] = mapped_column(Integer)
    event_type: Mapped[str] = mapped_column(String(16))
    trigger_reason: Mapped[str | None] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UtcDateTime())


class MeterSampleRow(Base):
    """One sampled value; `value` is `str(Decimal)` so what the station sent round-trips exactly."""

    __tablename__ = "meter_samples"
    __table_args__ = (Index("ix_meter_samples_transaction_id_timestamp", "transaction_id", "timestamp"),)

    id: Mapped[int] = mapped_column(BigIntPk, primary_key=True, autoincrement=True)
    transaction_id: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("transactions.id", ondelete="CASCADE")
    )
    charge_point_id: Mapped[str] = mapped_column(String(64))
    evse_id: Mapped[int] = mapped_column(Integer)
    timestamp: Mapped[datetime] = mapped_column(UtcDateTime())
    measurand: Mapped[str] = mapped_column(String(64))
    phase: Mapped[str | None] = mapped_column(String(8))
    unit: Mapped[str] = mapped_column(String(16))
    multiplier: Mapped[int] = mapped_column(Integer)
    context: Mapped[str | None] = mapped_column(String(32))
    location: Mapped[str | None] = mapped_column(String(16))
    signed: Mapped[bool] = mapped_column(Boolean)
    value: Mapped[str] = mapped_column(String(40))
    # The signed form (JSON of a SignedMeterValue) when the station sent one; NULL otherwise (revision 0004).
    signed_data: Mapped[str | None] = mapped_column(Text)


class MessageLogRow(Base):
    """One OCPP-J frame in or out; purged by age (`at`), paged per charge point by `id`."""

    __tablename__ = "message_log"
    __table_args__ = (
        Index("ix_message_log_charge_point_id_id", "charge_point_id", "id"),
        Index("ix_message_log_at", "at"),
    )

    id: Mapped[int] = mapped_column(BigIntPk, primary_key=True, autoincrement=True)
    charge_point_id: Mapped[str] = mapped_column(String(64))
    direction: Mapped[str] = mapped_column(String(3))
    message_type: Mapped[int] = mapped_column(SmallInteger)
    message_id: Mapped[str] = mapped_column(String(36))
    action: Mapped[str | None] = mapped_column(String(64))
    frame: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UtcDateTime())


class StationEventRow(Base):
    """One event a station reported (SecurityEventNotification, NotifyEvent), append-only; paged per charge
    point by `id` (no foreign key: written in bulk, and kept as history like the status history)."""

    __tablename__ = "station_events"
    __table_args__ = (Index("ix_station_events_charge_point_id_id", "charge_point_id", "id"),)

    id: Mapped[int] = mapped_column(BigIntPk, primary_key=True, autoincrement=True)
    charge_point_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))
    type: Mapped[str] = mapped_column(String(64))
    timestamp: Mapped[datetime] = mapped_column(UtcDateTime())
    received_at: Mapped[datetime] = mapped_column(UtcDateTime())
    tech_info: Mapped[str | None] = mapped_column(Text)
    event_id: Mapped[int | None] = mapped_column(Integer)
    trigger: Mapped[str | None] = mapped_column(String(16))
    component: Mapped[str | None] = mapped_column(String(64))
    variable: Mapped[str | None] = mapped_column(String(64))
    actual_value: Mapped[str | None] = mapped_column(Text)
    cleared: Mapped[bool | None] = mapped_column(Boolean)
    details: Mapped[str] = mapped_column(Text)  # JSON object


class ApiKeyRow(CreatedAt, Base):
    """An operator API key: only the bcrypt hash is stored; `prefix` finds the row."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(32), unique=True)
    key_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    # Keys made before organizations existed belong to the default one (revision 0008).
    org_id: Mapped[str] = mapped_column(String(64), server_default="default")


class OrganizationRow(CreatedAt, Base):
    """A tenant and its settings (`csms.domain.identity.Organization`); `notifications` is a JSON object."""

    __tablename__ = "organizations"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    country: Mapped[str] = mapped_column(String(2))
    contact_email: Mapped[str] = mapped_column(String(320))
    currency: Mapped[str] = mapped_column(String(3))
    timezone: Mapped[str] = mapped_column(String(64))
    billing_email: Mapped[str | None] = mapped_column(String(320))
    notifications: Mapped[str] = mapped_column(Text)


class UserRow(CreatedAt, Base):
    """A person who signs in; `email_key` (lower-cased) makes the email unique case-insensitively."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    email: Mapped[str] = mapped_column(String(320))
    email_key: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(255))


class MembershipRow(CreatedAt, Base):
    """A user's role in one organization."""

    __tablename__ = "memberships"

    org_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    role: Mapped[str] = mapped_column(String(16))


class UserSessionRow(CreatedAt, Base):
    """One sign-in: SHA-256 digests of its current access and refresh tokens."""

    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(Integer, ForeignKey("users.id", ondelete="CASCADE"), index=True)
    access_digest: Mapped[str] = mapped_column(String(64), unique=True)
    access_expires_at: Mapped[datetime] = mapped_column(UtcDateTime())
    refresh_digest: Mapped[str] = mapped_column(String(64), unique=True)
    refresh_expires_at: Mapped[datetime] = mapped_column(UtcDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class InvitationRow(CreatedAt, Base):
    """An email invitation; `token_digest` is the SHA-256 of its single-use token."""

    __tablename__ = "invitations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    org_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    email: Mapped[str] = mapped_column(String(320))
    role: Mapped[str] = mapped_column(String(16))
    token_digest: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime())
    status: Mapped[str] = mapped_column(String(16))
    accepted_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    cancelled_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class ReservationRow(CreatedAt, UpdatedAt, OrgOwned, Base):
    """A reservation; `id` is the reservationId sent to stations, so it stays a 32-bit integer.

    No foreign key to charge_points: reservations are history and outlive a deleted charge point.
    """

    __tablename__ = "reservations"
    __table_args__ = (
        Index("ix_reservations_charge_point_id", "charge_point_id"),
        Index("ix_reservations_status_expiry_date", "status", "expiry_date"),
        Index("ix_reservations_owner_external_id", "owner", "external_id"),
        # AUTOINCREMENT: SQLite must never hand out the id of a deleted newest row again, or a station could
        # take a new reservation for an old one it still holds (an existing reservationId is replaced).
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    charge_point_id: Mapped[str] = mapped_column(String(64))
    evse_id: Mapped[int | None] = mapped_column(Integer)
    id_token: Mapped[str] = mapped_column(String(64))
    id_token_type: Mapped[str] = mapped_column(String(32))
    group_id_token: Mapped[str | None] = mapped_column(String(64))
    connector_type: Mapped[str | None] = mapped_column(String(32))
    expiry_date: Mapped[datetime] = mapped_column(UtcDateTime())
    status: Mapped[str] = mapped_column(String(16))
    station_status: Mapped[str | None] = mapped_column(String(32))
    transaction_pk: Mapped[int | None] = mapped_column(Integer)
    external_id: Mapped[str | None] = mapped_column(String(64))
    owner: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str | None] = mapped_column(String(255))


# Stored in place of NULL in the key columns of device_variables: NULLs are never equal in a unique key (on
# SQLite and on PostgreSQL before NULLS NOT DISTINCT), so the upsert would insert duplicates. The store maps
# them back to None; no real component name is empty and no real EVSE or connector id is negative.
NO_NAME = ""
NO_ID = -1


class DeviceVariableRow(UpdatedAt, Base):
    """One reported configuration value (1.6 key: component ''), keyed by everything that identifies it."""

    __tablename__ = "device_variables"

    charge_point_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    component: Mapped[str] = mapped_column(String(64), primary_key=True)
    component_instance: Mapped[str] = mapped_column(String(64), primary_key=True)
    evse_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    connector_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    variable: Mapped[str] = mapped_column(String(64), primary_key=True)
    variable_instance: Mapped[str] = mapped_column(String(64), primary_key=True)
    attribute_type: Mapped[str] = mapped_column(String(16), primary_key=True)
    value: Mapped[str | None] = mapped_column(Text)
    readonly: Mapped[bool] = mapped_column(Boolean)
    data_type: Mapped[str | None] = mapped_column(String(32))


class ChargingProfileRow(CreatedAt, Base):
    """A charging profile the CSMS installed; `profile` is the neutral profile as JSON text."""

    __tablename__ = "charging_profiles"

    charge_point_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    profile_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    evse_id: Mapped[int] = mapped_column(Integer)
    purpose: Mapped[str] = mapped_column(String(64))
    stack_level: Mapped[int] = mapped_column(Integer)
    profile: Mapped[str] = mapped_column(Text)
    transaction_pk: Mapped[int | None] = mapped_column(Integer)


class WebhookRow(CreatedAt, Base):
    """An organization's webhook endpoint (revision 0009). `secret` is stored as given, not hashed: each
    delivery is signed with it (HMAC-SHA256), so the CSMS needs the secret itself."""

    __tablename__ = "webhooks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    organization_id: Mapped[str] = mapped_column(String(64), index=True)
    url: Mapped[str] = mapped_column(String(2048))
    events: Mapped[str] = mapped_column(Text)  # JSON list of event types
    secret: Mapped[str] = mapped_column(String(255))


class WebhookDeliveryRow(CreatedAt, Base):
    """One event for one webhook, kept until delivered or given up; delivered in id order per (webhook,
    object_key). `claimed_by`/`claimed_until`: the node delivering it, as in the OCPI outbox (revision 0009).
    """

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        Index("ix_webhook_deliveries_status_next_attempt_at", "status", "next_attempt_at"),
        Index("ix_webhook_deliveries_webhook_id_object_key_id", "webhook_id", "object_key", "id"),
    )

    id: Mapped[int] = mapped_column(BigIntPk, primary_key=True, autoincrement=True)
    webhook_id: Mapped[int] = mapped_column(Integer, ForeignKey("webhooks.id", ondelete="CASCADE"))
    event_id: Mapped[str] = mapped_column(String(64))
    event_type: Mapped[str] = mapped_column(String(64))
    object_key: Mapped[str] = mapped_column(String(128))
    organization_id: Mapped[str] = mapped_column(String(64))
    payload: Mapped[str] = mapped_column(Text)  # JSON: the `data` of the body
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    last_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
    response_code: Mapped[int | None] = mapped_column(Integer)
    claimed_by: Mapped[str | None] = mapped_column(String(128))
    claimed_until: Mapped[datetime | None] = mapped_column(UtcDateTime())


class SiteOwnerRow(CreatedAt, Base):
    """A site owner of an organization (`csms.domain.portal.SiteOwner`); `token_digest` is the SHA-256 of
    their single-use invitation token; `profile`, `bank_details` and `location_ids` are JSON text."""

    __tablename__ = "site_owners"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    org_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    email: Mapped[str] = mapped_column(String(320))
    company: Mapped[str] = mapped_column(String(200))
    token_digest: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime())
    status: Mapped[str] = mapped_column(String(16))
    user_id: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("users.id", ondelete="SET NULL"), unique=True
    )
    revenue_share_percent: Mapped[str] = mapped_column(String(16))
    profile: Mapped[str | None] = mapped_column(Text)
    bank_details: Mapped[str | None] = mapped_column(Text)
    location_ids: Mapped[str] = mapped_column(Text)
    accepted_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    submitted_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    approved_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class SiteOwnerDocumentRow(CreatedAt, Base):
    """A document a site owner uploaded; `content` is base64 text."""

    __tablename__ = "site_owner_documents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    site_owner_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("site_owners.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(32))
    content: Mapped[str] = mapped_column(Text)
    size: Mapped[int] = mapped_column(Integer)


class DriverRow(CreatedAt, Base):
    """A driver of an organization, linked to their id tokens (`id_tokens`, JSON text)."""

    __tablename__ = "drivers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    org_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    email: Mapped[str] = mapped_column(String(320))
    name: Mapped[str] = mapped_column(String(200))
    id_tokens: Mapped[str] = mapped_column(Text)
    token_digest: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime())
    status: Mapped[str] = mapped_column(String(16))
    user_id: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("users.id", ondelete="SET NULL"), unique=True
    )
    accepted_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class DisputeRow(CreatedAt, UpdatedAt, Base):
    """A driver's dispute of a session; `expected_cost` is `str(Decimal)`."""

    __tablename__ = "disputes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    org_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    session_id: Mapped[int] = mapped_column(BigInteger)
    driver_id: Mapped[int] = mapped_column(Integer, ForeignKey("drivers.id", ondelete="CASCADE"), index=True)
    description: Mapped[str] = mapped_column(Text)
    expected_cost: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    resolution: Mapped[str | None] = mapped_column(Text)
    credit_cdr_id: Mapped[str | None] = mapped_column(String(39))
    replacement_cdr_id: Mapped[str | None] = mapped_column(String(39))


def _org_fk() -> Mapped[str]:
    return mapped_column(String(64), ForeignKey("organizations.id", ondelete="CASCADE"), index=True)


class FirmwareFileRow(CreatedAt, Base):
    """A firmware image (bytes in the files directory, named by id) or an external location
    (`csms.domain.firmware.FirmwareFile`); `token` is the secret of its download URL."""

    __tablename__ = "firmware_files"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    org_id: Mapped[str] = _org_fk()
    filename: Mapped[str] = mapped_column(String(255))
    token: Mapped[str] = mapped_column(String(64), unique=True)
    location: Mapped[str | None] = mapped_column(String(512))
    signing_certificate: Mapped[str | None] = mapped_column(Text)
    signature: Mapped[str | None] = mapped_column(Text)
    size: Mapped[int | None] = mapped_column(BigInteger)
    sha256: Mapped[str | None] = mapped_column(String(64))


class FirmwareCampaignRow(CreatedAt, Base):
    """A firmware update of many stations, at most `max_concurrent` at a time."""

    __tablename__ = "firmware_campaigns"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    org_id: Mapped[str] = _org_fk()
    firmware_id: Mapped[int] = mapped_column(Integer, ForeignKey("firmware_files.id", ondelete="CASCADE"))
    max_concurrent: Mapped[int] = mapped_column(Integer)


class FirmwareUpdateRow(CreatedAt, UpdatedAt, Base):
    """One station's firmware update; `id` is the requestId sent to the station."""

    __tablename__ = "firmware_updates"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    org_id: Mapped[str] = _org_fk()
    charge_point_id: Mapped[str] = mapped_column(String(64), index=True)
    firmware_id: Mapped[int] = mapped_column(Integer, ForeignKey("firmware_files.id", ondelete="CASCADE"))
    campaign_id: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("firmware_campaigns.id", ondelete="CASCADE"), index=True
    )
    state: Mapped[str] = mapped_column(String(16))
    status: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[str | None] = mapped_column(String(255))


class LogUploadRow(CreatedAt, UpdatedAt, Base):
    """A log the CSMS asked a station to upload; `id` is the requestId, `token` the secret of its upload
    URL; the bytes are in the files directory, named by id."""

    __tablename__ = "log_uploads"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    org_id: Mapped[str] = _org_fk()
    charge_point_id: Mapped[str] = mapped_column(String(64), index=True)
    log_type: Mapped[str] = mapped_column(String(32))
    token: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[str | None] = mapped_column(String(64))
    filename: Mapped[str | None] = mapped_column(String(255))
    size: Mapped[int | None] = mapped_column(BigInteger)
    content_type: Mapped[str | None] = mapped_column(String(255))
    uploaded_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class StationCertificateRow(CreatedAt, Base):
    """A certificate the CSMS CA issued to a station and the station accepted
    (`csms.domain.certificates.IssuedCertificate`): kept for the operator's list and renewal before expiry."""

    __tablename__ = "station_certificates"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    org_id: Mapped[str] = _org_fk()
    charge_point_id: Mapped[str] = mapped_column(String(64), index=True)
    certificate_type: Mapped[str] = mapped_column(String(32))
    serial_number: Mapped[str] = mapped_column(String(64))
    not_after: Mapped[datetime] = mapped_column(UtcDateTime())
    pem_chain: Mapped[str] = mapped_column(Text)


class EnergyForecastRow(UpdatedAt, Base):
    """A site's forecast in use (revision 0016_energy_forecasts; `csms.domain.energy.forecasts`): the OCPI
    location id, the prices' currency and both series as JSON text (`[[start, end, value], ...]`, RFC 3339
    UTC times, prices as decimal strings, carbon intensity as integers)."""

    __tablename__ = "energy_forecasts"

    location_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    currency: Mapped[str | None] = mapped_column(String(3))
    prices: Mapped[str] = mapped_column(Text)
    carbon: Mapped[str] = mapped_column(Text)


class EvNeedsRow(UpdatedAt, Base):
    """A session's stated needs (revision 0016_energy_forecasts; `csms.domain.energy.needs.EvNeeds`); deleted
    with its transaction, and by the planner when the transaction stops."""

    __tablename__ = "ev_needs"

    transaction_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("transactions.id", ondelete="CASCADE"), primary_key=True
    )
    energy_wh: Mapped[int | None] = mapped_column(BigInteger)
    departure: Mapped[datetime | None] = mapped_column(UtcDateTime())
    min_power_w: Mapped[int | None] = mapped_column(Integer)
    max_power_w: Mapped[int | None] = mapped_column(Integer)
    energy_transfer: Mapped[str | None] = mapped_column(String(20))
    profile_type: Mapped[str | None] = mapped_column(String(10))
    discharge_allowed: Mapped[bool] = mapped_column(Boolean)
    source: Mapped[str] = mapped_column(String(8))


class SiteLimitRow(UpdatedAt, Base):
    """A site's (OCPI location's) grid connection limit (revision 0015_site_limits); `max_current_a` and
    `min_current_a` are `str(Decimal)`, `schedule` JSON [{"start": "HH:MM", "max_power_w": W}]."""

    __tablename__ = "site_limits"

    org_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    location_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    max_power_w: Mapped[int | None] = mapped_column(Integer)
    max_current_a: Mapped[str | None] = mapped_column(String(16))
    phases: Mapped[int] = mapped_column(Integer)
    min_current_a: Mapped[str] = mapped_column(String(16))
    schedule: Mapped[str] = mapped_column(Text)


class LocalListRow(CreatedAt, UpdatedAt, Base):
    """A station's local authorization list as the station last accepted it
    (`csms.domain.local_list_sync.StationLocalList`); `entries` is a JSON list of entries."""

    __tablename__ = "local_lists"

    charge_point_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("charge_points.charge_point_id", ondelete="CASCADE"), primary_key=True
    )
    org_id: Mapped[str] = _org_fk()
    version: Mapped[int] = mapped_column(Integer)
    entries: Mapped[str] = mapped_column(Text)
    status: Mapped[str | None] = mapped_column(String(32))
    synced_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class SiteMeasurementRow(UpdatedAt, Base):
    """A site's (OCPI location's) latest PV production and own consumption (revision
    0018_site_measurements; `csms.domain.solar.SiteMeasurement`)."""

    __tablename__ = "site_measurements"

    org_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    location_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    production_w: Mapped[int] = mapped_column(Integer)
    consumption_w: Mapped[int] = mapped_column(Integer)
    measured_at: Mapped[datetime] = mapped_column(UtcDateTime())


class SessionSolarModeRow(UpdatedAt, Base):
    """A session's solar mode (revision 0018_site_measurements; `csms.domain.solar.SolarMode`), by the
    transaction's primary key."""

    __tablename__ = "session_solar_modes"

    transaction_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    mode: Mapped[str] = mapped_column(String(16))
