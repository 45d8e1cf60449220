"""The eMSP role's tables (revision 0019_emsp, ADR 0023): CPOs we registered with, their cached objects
(locations, tariffs, sessions, CDRs as OCPI JSON) and the commands we sent them."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import Integer, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from csms.store.tables import Base, UtcDateTime


class EmspCpoRow(Base):
    """A CPO we registered with (`ocpi.emsp.store.CpoRecord`): our token B as its hash, its token C usable."""

    __tablename__ = "emsp_cpos"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100))
    versions_url: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16))
    token_b_hash: Mapped[str | None] = mapped_column(String(64))
    token_c: Mapped[str | None] = mapped_column(String(64))
    country_code: Mapped[str] = mapped_column(String(2))
    party_id: Mapped[str] = mapped_column(String(3))
    endpoints: Mapped[str] = mapped_column(Text)  # JSON {"identifier:ROLE": url}
    roles: Mapped[str] = mapped_column(Text)  # JSON list of CredentialsRole
    max_reservation_minutes: Mapped[int] = mapped_column(Integer)
    cancellation_fee: Mapped[Decimal] = mapped_column(Numeric(12, 4))
    locations_pulled_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    tariffs_pulled_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class EmspObjectRow(Base):
    """A CPO's object as it sent it: kind "location", "tariff", "session" or "cdr", by CPO and id; a
    location's coordinates are columns too (search by area)."""

    __tablename__ = "emsp_objects"

    cpo_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    object_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    body: Mapped[str] = mapped_column(Text)
    latitude: Mapped[Decimal | None] = mapped_column(Numeric(10, 7))
    longitude: Mapped[Decimal | None] = mapped_column(Numeric(10, 7))


class EmspCommandRow(Base):
    """A command we sent (`ocpi.emsp.store.StoredCommand`): a result arriving after a restart matches."""

    __tablename__ = "emsp_commands"

    command_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    cpo_id: Mapped[int] = mapped_column(Integer)
    command: Mapped[str] = mapped_column(String(32))
    deadline: Mapped[datetime] = mapped_column(UtcDateTime())
    result: Mapped[str | None] = mapped_column(String(32))
    reservation_id: Mapped[str | None] = mapped_column(String(36))
