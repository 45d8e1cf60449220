"""The OCPI bridge's tables, declared on the CSMS metadata (one database, one Alembic chain: revision 0003
in `csms/store/migrations/` creates them; `tests/store/test_migrations.py` checks both packages' tables
against the migrated schema). JSON columns are Text written by `ocpi.store.json_columns.dump_json` (orjson;
Decimals keep their exact digits).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from csms.store.tables import Base, BigIntPk, OrgOwned, UtcDateTime

# Column types several OCPI tables share (SQLAlchemy's Annotated mapping: a column of one of these needs only
# `name: Mapped[Type]`, or `Mapped[Type | None]` when nullable; a `mapped_column(...)` beside it adds to it).
CountryCode = Annotated[str, mapped_column(String(2))]  # ISO 3166-1 alpha-2 (OCPI country_code)
PartyId = Annotated[str, mapped_column(String(3))]  # OCPI party_id
ChargePointId = Annotated[str, mapped_column(String(64))]  # the OCPP charge point identity
OcpiId = Annotated[str, mapped_column(String(36))]  # OCPI ids and uids: CiString(36)
TokenHash = Annotated[str, mapped_column(String(64))]  # SHA-256 hex of a token we issued
PartnerRef = Annotated[int, mapped_column(Integer)]  # an `ocpi_partners.id`
JsonText = Annotated[str, mapped_column(Text)]  # written by `ocpi.store.json_columns.dump_json`
LastUpdated = Annotated[datetime, mapped_column(UtcDateTime())]  # OCPI last_updated, in UTC


class OcpiPartnerRow(OrgOwned, Base):
    """A roaming partner and its credentials; tokens we issued are stored only as SHA-256 hex hashes."""

    __tablename__ = "ocpi_partners"
    __table_args__ = (
        UniqueConstraint("token_a_hash", name="uq_ocpi_partners_token_a_hash"),
        UniqueConstraint("token_c_hash", name="uq_ocpi_partners_token_c_hash"),
        # AUTOINCREMENT: outbox entries and logs name partners by id; a deleted partner's id is never reused.
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100))
    country_code: Mapped[CountryCode]
    party_id: Mapped[PartyId]
    status: Mapped[str] = mapped_column(String(16))
    role: Mapped[str] = mapped_column(String(16))
    token_a_hash: Mapped[TokenHash | None]
    token_c_hash: Mapped[TokenHash | None]
    token_b: Mapped[str | None] = mapped_column(String(255))
    versions_url: Mapped[str | None] = mapped_column(String(255))
    version: Mapped[str | None] = mapped_column(String(16))
    endpoints: Mapped[JsonText]
    roles: Mapped[JsonText]
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class OcpiLocationRow(OrgOwned, Base):
    """An operator-defined location (OCPI Location without EVSEs); its charge points are linked below."""

    __tablename__ = "ocpi_locations"
    __table_args__ = (Index("ix_ocpi_locations_last_updated", "last_updated"),)

    id: Mapped[OcpiId] = mapped_column(primary_key=True)
    name: Mapped[str | None] = mapped_column(String(255))
    address: Mapped[str] = mapped_column(String(255))
    city: Mapped[str] = mapped_column(String(255))
    postal_code: Mapped[str | None] = mapped_column(String(32))
    state: Mapped[str | None] = mapped_column(String(64))
    country: Mapped[str] = mapped_column(String(3))
    latitude: Mapped[str] = mapped_column(String(16))
    longitude: Mapped[str] = mapped_column(String(16))
    time_zone: Mapped[str] = mapped_column(String(255))
    country_code: Mapped[CountryCode]
    party_id: Mapped[PartyId]
    publish: Mapped[bool] = mapped_column(Boolean)
    parking_type: Mapped[str | None] = mapped_column(String(32))
    facilities: Mapped[JsonText]
    opening_times: Mapped[JsonText | None]
    operator: Mapped[JsonText | None]
    charging_when_closed: Mapped[bool | None] = mapped_column(Boolean)
    last_updated: Mapped[LastUpdated]
    # JSON list of tariff ids; NULL (a location from before revision 0005) reads as none.
    tariff_ids: Mapped[JsonText | None]


class OcpiLocationChargePointRow(Base):
    """Which location a charge point is in (at most one: the charge point is the key)."""

    __tablename__ = "ocpi_location_charge_points"
    __table_args__ = (Index("ix_ocpi_location_charge_points_location_id", "location_id"),)

    charge_point_id: Mapped[ChargePointId] = mapped_column(primary_key=True)
    location_id: Mapped[str] = mapped_column(
        String(36),
        ForeignKey(
            "ocpi_locations.id",
            ondelete="CASCADE",
            name="fk_ocpi_location_charge_points_location_id_ocpi_locations",
        ),
    )


class OcpiConnectorSpecRow(Base):
    """Operator-configured OCPI facts of one connector; `tariff_ids` is a JSON list."""

    __tablename__ = "ocpi_connector_specs"

    charge_point_id: Mapped[ChargePointId] = mapped_column(primary_key=True)
    evse_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    connector_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    standard: Mapped[str] = mapped_column(String(64))
    format: Mapped[str] = mapped_column(String(16))
    power_type: Mapped[str] = mapped_column(String(16))
    max_voltage: Mapped[int] = mapped_column(Integer)
    max_amperage: Mapped[int] = mapped_column(Integer)
    max_electric_power: Mapped[int | None] = mapped_column(Integer)
    tariff_ids: Mapped[JsonText]
    last_updated: Mapped[LastUpdated]


class OcpiEvseUidRow(Base):
    """The OCPI EVSE uid of a (charge point, EVSE): created once, never changed or reused."""

    __tablename__ = "ocpi_evse_uids"
    __table_args__ = (
        UniqueConstraint("charge_point_id", "evse_id", name="uq_ocpi_evse_uids_charge_point_id_evse_id"),
    )

    uid: Mapped[OcpiId] = mapped_column(primary_key=True)
    charge_point_id: Mapped[ChargePointId]
    evse_id: Mapped[int] = mapped_column(Integer)


class OcpiTariffRow(OrgOwned, Base):
    """A tariff: the full OCPI Tariff object as JSON text."""

    __tablename__ = "ocpi_tariffs"
    __table_args__ = (Index("ix_ocpi_tariffs_last_updated", "last_updated"),)

    id: Mapped[OcpiId] = mapped_column(primary_key=True)
    currency: Mapped[str] = mapped_column(String(3))
    data: Mapped[JsonText]
    last_updated: Mapped[LastUpdated]


class OcpiPartnerTokenRow(Base):
    """A token a partner pushed (OCPI Tokens receiver); `uid` is indexed for OCPP authorization lookups."""

    __tablename__ = "ocpi_partner_tokens"
    __table_args__ = (Index("ix_ocpi_partner_tokens_uid", "uid"),)

    country_code: Mapped[CountryCode] = mapped_column(primary_key=True)
    party_id: Mapped[PartyId] = mapped_column(primary_key=True)
    uid: Mapped[OcpiId] = mapped_column(primary_key=True)
    type: Mapped[str] = mapped_column(String(16), primary_key=True)
    contract_id: Mapped[str] = mapped_column(String(64))
    issuer: Mapped[str] = mapped_column(String(64))
    valid: Mapped[bool] = mapped_column(Boolean)
    whitelist: Mapped[str] = mapped_column(String(16))
    group_id: Mapped[str | None] = mapped_column(String(64))
    partner_id: Mapped[PartnerRef | None]
    data: Mapped[JsonText]
    last_updated: Mapped[LastUpdated]


class OcpiSessionLinkRow(Base):
    """What OCPI knows about a transaction or reservation beyond OCPP (who asked, how, which tariff)."""

    __tablename__ = "ocpi_session_links"
    __table_args__ = (
        Index("ix_ocpi_session_links_transaction_pk", "transaction_pk", unique=True),
        Index("ix_ocpi_session_links_reservation_id", "reservation_id"),
        Index(
            "ix_ocpi_session_links_token_country_code_token_party_id", "token_country_code", "token_party_id"
        ),
        Index("ix_ocpi_session_links_partner_id", "partner_id"),
    )

    session_id: Mapped[OcpiId] = mapped_column(primary_key=True)
    partner_id: Mapped[PartnerRef | None]
    transaction_pk: Mapped[int | None] = mapped_column(Integer)
    reservation_id: Mapped[int | None] = mapped_column(Integer)
    auth_method: Mapped[str] = mapped_column(String(16))
    authorization_reference: Mapped[OcpiId | None]
    cdr_token: Mapped[JsonText | None]
    tariff_id: Mapped[OcpiId | None]
    # The party of `cdr_token` in upper case (`ocpi.models.token_party`), kept by the store so that a
    # partner's sessions and CDRs are found by index (`ocpi.models.PartyScope`; revision 0004).
    token_country_code: Mapped[str | None] = mapped_column(String(2))
    token_party_id: Mapped[str | None] = mapped_column(String(3))
    last_updated: Mapped[LastUpdated]


class OcpiPendingStartRow(Base):
    """A START_SESSION waiting for its transaction (ocpi.models.PendingStart)."""

    __tablename__ = "ocpi_pending_starts"
    __table_args__ = (Index("ix_ocpi_pending_starts_uid", "uid"),)

    remote_start_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    partner_id: Mapped[PartnerRef]
    charge_point_id: Mapped[str] = mapped_column(String(64))
    uid: Mapped[OcpiId]
    cdr_token: Mapped[JsonText]
    authorization_reference: Mapped[OcpiId | None]
    until: Mapped[datetime] = mapped_column(UtcDateTime())
    evse_id: Mapped[int | None] = mapped_column(Integer)  # revision 0004


class OcpiCommandPromiseRow(Base):
    """A CommandResult still owed to a partner, or a watched RESERVE_NOW reservation
    (ocpi.models.CommandPromise; revision 0004)."""

    __tablename__ = "ocpi_command_promises"
    __table_args__ = (Index("ix_ocpi_command_promises_settled_at", "settled_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    partner_id: Mapped[PartnerRef]
    command: Mapped[str] = mapped_column(String(32))
    response_url: Mapped[str] = mapped_column(String(255))
    deadline: Mapped[datetime | None] = mapped_column(UtcDateTime())
    reservation_id: Mapped[int | None] = mapped_column(Integer)
    external_id: Mapped[OcpiId | None]
    correlation_id: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    settled_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    result: Mapped[str | None] = mapped_column(String(32))


class OcpiCdrRow(OrgOwned, Base):
    """A frozen CDR (OCPI CDR as JSON text); `total_cost_excl_vat` is `str(Decimal)`, exact.

    A transaction has one CDR, plus a credit CDR and a replacement per correction (`ocpi.corrections`;
    revision 0006 made `transaction_pk` a plain index)."""

    __tablename__ = "ocpi_cdrs"
    __table_args__ = (
        Index("ix_ocpi_cdrs_transaction_pk", "transaction_pk"),
        Index("ix_ocpi_cdrs_last_updated", "last_updated"),
    )

    id: Mapped[str] = mapped_column(String(39), primary_key=True)
    transaction_pk: Mapped[int] = mapped_column(Integer)
    data: Mapped[JsonText]
    total_cost_excl_vat: Mapped[str] = mapped_column(String(40))
    last_updated: Mapped[LastUpdated]


class OcpiOutboxRow(Base):
    """One push to one partner, kept until delivered (or given up); delivered in id order per object."""

    __tablename__ = "ocpi_outbox"
    __table_args__ = (
        Index("ix_ocpi_outbox_status_next_attempt_at", "status", "next_attempt_at"),
        Index("ix_ocpi_outbox_partner_id_object_key_id", "partner_id", "object_key", "id"),
    )

    id: Mapped[int] = mapped_column(BigIntPk, primary_key=True, autoincrement=True)
    partner_id: Mapped[PartnerRef]
    module: Mapped[str] = mapped_column(String(32))
    object_key: Mapped[str] = mapped_column(String(128))
    method: Mapped[str] = mapped_column(String(8))
    url: Mapped[str] = mapped_column(String(1024))
    body: Mapped[JsonText | None]
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    # Which process is delivering it (`ocpi.outbox.Outbox.node_id`) and until when; others leave it alone
    # until then (revision 0004).
    claimed_by: Mapped[str | None] = mapped_column(String(128))
    claimed_until: Mapped[datetime | None] = mapped_column(UtcDateTime())


class OcpiTokenPullRow(Base):
    """When we last pulled a partner's token list (OCPI 2.2.1 Tokens, sender GET; `ocpi.token_pull`): the
    next pull asks only for tokens changed since (`date_from`). Revision 0004."""

    __tablename__ = "ocpi_token_pulls"

    partner_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    pulled_at: Mapped[datetime] = mapped_column(UtcDateTime())


class OcpiClientInfoRow(Base):
    """A party a hub connects and its connection status (OCPI 2.2.1 HubClientInfo, `ocpi.hubclientinfo`).
    Revision 0004."""

    __tablename__ = "ocpi_client_infos"

    country_code: Mapped[CountryCode] = mapped_column(primary_key=True)
    party_id: Mapped[PartyId] = mapped_column(primary_key=True)
    role: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    partner_id: Mapped[PartnerRef | None]
    last_updated: Mapped[LastUpdated]


# The eMSP role's tables share this metadata (revision 0019_emsp).
# The Agent API's tables (revision 0020_agent).
import ocpi.store.agent_tables  # noqa: E402, F401
import ocpi.store.emsp_tables  # noqa: E402, F401
