"""`SqlOcpiStore`: the `OcpiStore` protocol on SQLAlchemy async, in the CSMS database (SQLite or PostgreSQL).

It shares the engine of the CSMS `SqlStore` (`SqlOcpiStore(sql_store.engine)`): the OCPI tables are part of
the CSMS schema (`ocpi/store/tables.py` on the CSMS metadata, Alembic revision 0003), so `open_store` has
already migrated them. It never disposes of the engine; the CSMS store's `close()` does. Every method runs
in its own short session.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, delete, exists, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased

from csms.domain.clock import Clock, to_utc, to_utc_or_none, utcnow
from csms.domain.ports import AlreadyExists, NotFound
from csms.store.sql import dialect_insert
from csms.store.sql.rows import record_of, values_of
from ocpi.models import (
    Cdr,
    ConnectorSpec,
    EvseUid,
    Location,
    OutboxEntry,
    OutboxStatus,
    Partner,
    PartnerStatus,
    PartnerToken,
    SessionLink,
    Tariff,
)
from ocpi.store.json_columns import dump_json, load_json
from ocpi.store.tables import (
    OcpiCdrRow,
    OcpiConnectorSpecRow,
    OcpiEvseUidRow,
    OcpiLocationChargePointRow,
    OcpiLocationRow,
    OcpiOutboxRow,
    OcpiPartnerRow,
    OcpiPartnerTokenRow,
    OcpiSessionLinkRow,
    OcpiTariffRow,
)

__all__ = ["SqlOcpiStore"]

R = TypeVar("R", bound=Any)


_utc = to_utc_or_none


def _opt_json(text: str | None) -> Any:
    return None if text is None else load_json(text)


def _opt_dump(value: Any) -> str | None:
    return None if value is None else dump_json(value)


def _window(column: Any, date_from: datetime | None, date_to: datetime | None) -> list[ColumnElement[bool]]:
    """OCPI pagination window: date_from ≤ last_updated < date_to (OCPI 2.2.1 Locations/Sessions GET)."""
    conditions: list[ColumnElement[bool]] = []
    if date_from is not None:
        conditions.append(column >= to_utc(date_from))
    if date_to is not None:
        conditions.append(column < to_utc(date_to))
    return conditions


# -- row <-> model ---------------------------------------------------------------------------------------


def _partner(row: OcpiPartnerRow) -> Partner:
    return record_of(
        Partner,
        row,
        status=PartnerStatus(row.status),
        endpoints=load_json(row.endpoints),
        roles=load_json(row.roles),
    )


_PARTNER_COLUMNS = (
    "name",
    "country_code",
    "party_id",
    "role",
    "token_a_hash",
    "token_c_hash",
    "token_b",
    "versions_url",
    "version",
)


def _partner_values(partner: Partner) -> dict[str, Any]:
    return values_of(
        partner,
        _PARTNER_COLUMNS,
        status=str(partner.status),
        endpoints=dump_json(partner.endpoints),
        roles=dump_json(partner.roles),
    )


def _location(row: OcpiLocationRow, charge_point_ids: list[str]) -> Location:
    return record_of(
        Location,
        row,
        facilities=load_json(row.facilities),
        opening_times=_opt_json(row.opening_times),
        operator=_opt_json(row.operator),
        charge_point_ids=charge_point_ids,
    )


def _spec(row: OcpiConnectorSpecRow) -> ConnectorSpec:
    return record_of(ConnectorSpec, row, tariff_ids=load_json(row.tariff_ids))


def _tariff(row: OcpiTariffRow) -> Tariff:
    return record_of(Tariff, row, data=load_json(row.data))


def _token(row: OcpiPartnerTokenRow) -> PartnerToken:
    return record_of(PartnerToken, row, data=load_json(row.data))


def _link(row: OcpiSessionLinkRow) -> SessionLink:
    return record_of(SessionLink, row, cdr_token=_opt_json(row.cdr_token))


def _cdr(row: OcpiCdrRow) -> Cdr:
    return record_of(Cdr, row, data=load_json(row.data), total_cost_excl_vat=Decimal(row.total_cost_excl_vat))


def _entry(row: OcpiOutboxRow) -> OutboxEntry:
    return record_of(OutboxEntry, row, body=_opt_json(row.body), status=OutboxStatus(row.status))


_ENTRY_COLUMNS = ("partner_id", "module", "object_key", "method", "url", "attempts", "next_attempt_at")


def _entry_values(entry: OutboxEntry) -> dict[str, Any]:
    return values_of(
        entry,
        (*_ENTRY_COLUMNS, "last_error", "sent_at"),
        body=_opt_dump(entry.body),
        status=str(entry.status),
    )


class SqlOcpiStore:
    """The OCPI tables of the CSMS database; see `ocpi.store.OcpiStore` for what each method promises.

    Args:
        engine: the CSMS store's engine (`SqlStore.engine`), already migrated to head; not owned (never
            disposed of here).
        clock: fills `last_updated`, `created_at` and `updated_at` when the caller leaves them None.
    """

    def __init__(self, engine: AsyncEngine, *, clock: Clock = utcnow) -> None:
        self._engine = engine
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)
        self._clock = clock
        self._insert = dialect_insert(engine)

    def _now(self) -> datetime:
        return to_utc(self._clock())

    async def _page(
        self, session: AsyncSession, stmt: Select[tuple[R]], order: Sequence[Any], offset: int, limit: int
    ) -> tuple[list[R], int]:
        total = await session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
        rows = await session.scalars(stmt.order_by(*order).offset(max(offset, 0)).limit(max(limit, 0)))
        return list(rows), int(total or 0)

    # -- partners ---------------------------------------------------------------------------------

    async def add_partner(self, partner: Partner) -> Partner:
        """Insert with a new id (the given id is ignored); returns the stored partner with its timestamps.

        Raises:
            AlreadyExists: another partner has the same token_a_hash or token_c_hash.
        """
        created = _utc(partner.created_at) or self._now()
        row = OcpiPartnerRow(
            **_partner_values(partner), created_at=created, updated_at=_utc(partner.updated_at) or created
        )
        try:
            async with self._sessions.begin() as session:
                session.add(row)
        except IntegrityError:
            raise AlreadyExists("a partner with this token hash exists") from None
        return _partner(row)

    async def save_partner(self, partner: Partner) -> None:
        """Overwrite every field but id (and created_at, kept as stored); updated_at becomes now.

        Raises:
            NotFound: no partner with this id.
            AlreadyExists: another partner has the same token_a_hash or token_c_hash.
        """
        stmt = (
            update(OcpiPartnerRow)
            .where(OcpiPartnerRow.id == partner.id)
            .values(**_partner_values(partner), updated_at=self._now())
        )
        try:
            async with self._sessions.begin() as session:
                result = await session.execute(stmt)
                if getattr(result, "rowcount", 0) == 0:
                    raise NotFound(f"partner {partner.id} not found")
        except IntegrityError:
            raise AlreadyExists("a partner with this token hash exists") from None

    async def get_partner(self, partner_id: int) -> Partner | None:
        """The partner, or None."""
        async with self._sessions() as session:
            row = await session.get(OcpiPartnerRow, partner_id)
            return None if row is None else _partner(row)

    async def find_partner_by_token_hash(self, token_hash: str) -> Partner | None:
        """The partner whose token_a_hash or token_c_hash equals `token_hash` (not UNREGISTERED), or None."""
        stmt = (
            select(OcpiPartnerRow)
            .where(
                (OcpiPartnerRow.token_a_hash == token_hash) | (OcpiPartnerRow.token_c_hash == token_hash),
                OcpiPartnerRow.status != str(PartnerStatus.UNREGISTERED),
            )
            .order_by(OcpiPartnerRow.id)
            .limit(1)
        )
        async with self._sessions() as session:
            row = await session.scalar(stmt)
            return None if row is None else _partner(row)

    async def list_partners(self) -> list[Partner]:
        """Every partner (also unregistered ones), by id."""
        async with self._sessions() as session:
            rows = await session.scalars(select(OcpiPartnerRow).order_by(OcpiPartnerRow.id))
            return [_partner(row) for row in rows]

    # -- locations --------------------------------------------------------------------------------

    async def _charge_points_of(self, session: AsyncSession, location_ids: list[str]) -> dict[str, list[str]]:
        result: dict[str, list[str]] = {location_id: [] for location_id in location_ids}
        if not location_ids:
            return result
        rows = await session.execute(
            select(OcpiLocationChargePointRow.location_id, OcpiLocationChargePointRow.charge_point_id)
            .where(OcpiLocationChargePointRow.location_id.in_(location_ids))
            .order_by(OcpiLocationChargePointRow.charge_point_id)
        )
        for location_id, charge_point_id in rows:
            result[location_id].append(charge_point_id)
        return result

    async def save_location(self, location: Location) -> None:
        """Insert or replace by id, with exactly its charge_point_ids (a charge point is in one location).

        A charge point listed here that was in another location moves: that location's `last_updated`
        becomes now too (its EVSE list changed). `last_updated` None becomes now. Charge point ids come
        back sorted.
        """
        now = self._now()
        values: dict[str, Any] = {
            "name": location.name,
            "address": location.address,
            "city": location.city,
            "postal_code": location.postal_code,
            "state": location.state,
            "country": location.country,
            "latitude": location.latitude,
            "longitude": location.longitude,
            "time_zone": location.time_zone,
            "country_code": location.country_code,
            "party_id": location.party_id,
            "publish": location.publish,
            "parking_type": location.parking_type,
            "facilities": dump_json(location.facilities),
            "opening_times": _opt_dump(location.opening_times),
            "operator": _opt_dump(location.operator),
            "charging_when_closed": location.charging_when_closed,
            "last_updated": _utc(location.last_updated) or now,
        }
        wanted = sorted(set(location.charge_point_ids))
        links = OcpiLocationChargePointRow
        async with self._sessions.begin() as session:
            await session.execute(
                self._insert(OcpiLocationRow)
                .values(id=location.id, **values)
                .on_conflict_do_update(index_elements=["id"], set_=values)
            )
            await session.execute(
                delete(links).where(links.location_id == location.id, links.charge_point_id.not_in(wanted))
            )
            if wanted:
                others = await session.scalars(
                    select(links.location_id)
                    .where(links.charge_point_id.in_(wanted), links.location_id != location.id)
                    .distinct()
                )
                moved_from = list(others)
                if moved_from:
                    await session.execute(
                        update(OcpiLocationRow)
                        .where(OcpiLocationRow.id.in_(moved_from))
                        .values(last_updated=now)
                    )
                await session.execute(
                    self._insert(links)
                    .values([{"charge_point_id": cp, "location_id": location.id} for cp in wanted])
                    .on_conflict_do_update(
                        index_elements=["charge_point_id"], set_={"location_id": location.id}
                    )
                )

    async def get_location(self, location_id: str) -> Location | None:
        """The location with its charge_point_ids, or None."""
        async with self._sessions() as session:
            row = await session.get(OcpiLocationRow, location_id)
            if row is None:
                return None
            charge_points = await self._charge_points_of(session, [row.id])
            return _location(row, charge_points[row.id])

    async def delete_location(self, location_id: str) -> None:
        """Delete the location and its charge point links; nothing happens for an unknown id."""
        async with self._sessions.begin() as session:
            # Explicit rather than relying on ON DELETE CASCADE alone (SQLite needs the pragma for that).
            await session.execute(
                delete(OcpiLocationChargePointRow).where(
                    OcpiLocationChargePointRow.location_id == location_id
                )
            )
            await session.execute(delete(OcpiLocationRow).where(OcpiLocationRow.id == location_id))

    async def list_locations(
        self,
        *,
        date_from: datetime | None = None,
        date_to: datetime | None = None,
        offset: int = 0,
        limit: int = 100,
        published_only: bool = False,
    ) -> tuple[list[Location], int]:
        """(page, total count) ordered by last_updated then id; date_from ≤ last_updated < date_to."""
        conditions = _window(OcpiLocationRow.last_updated, date_from, date_to)
        if published_only:
            conditions.append(OcpiLocationRow.publish.is_(True))
        stmt = select(OcpiLocationRow).where(*conditions)
        order = (OcpiLocationRow.last_updated, OcpiLocationRow.id)
        async with self._sessions() as session:
            rows, total = await self._page(session, stmt, order, offset, limit)
            charge_points = await self._charge_points_of(session, [row.id for row in rows])
            return [_location(row, charge_points[row.id]) for row in rows], total

    async def location_of(self, charge_point_id: str) -> Location | None:
        """The location the charge point belongs to, or None."""
        async with self._sessions() as session:
            location_id = await session.scalar(
                select(OcpiLocationChargePointRow.location_id).where(
                    OcpiLocationChargePointRow.charge_point_id == charge_point_id
                )
            )
        return None if location_id is None else await self.get_location(location_id)

    # -- connectors and EVSE uids -----------------------------------------------------------------

    async def save_connector_spec(self, spec: ConnectorSpec) -> None:
        """Insert or replace by (charge_point_id, evse_id, connector_id); last_updated None becomes now."""
        values: dict[str, Any] = {
            "standard": spec.standard,
            "format": spec.format,
            "power_type": spec.power_type,
            "max_voltage": spec.max_voltage,
            "max_amperage": spec.max_amperage,
            "max_electric_power": spec.max_electric_power,
            "tariff_ids": dump_json(spec.tariff_ids),
            "last_updated": _utc(spec.last_updated) or self._now(),
        }
        stmt = (
            self._insert(OcpiConnectorSpecRow)
            .values(
                charge_point_id=spec.charge_point_id,
                evse_id=spec.evse_id,
                connector_id=spec.connector_id,
                **values,
            )
            .on_conflict_do_update(index_elements=["charge_point_id", "evse_id", "connector_id"], set_=values)
        )
        async with self._sessions.begin() as session:
            await session.execute(stmt)

    async def list_connector_specs(self, charge_point_id: str) -> list[ConnectorSpec]:
        """The charge point's specs by evse_id then connector_id ([] if none)."""
        stmt = (
            select(OcpiConnectorSpecRow)
            .where(OcpiConnectorSpecRow.charge_point_id == charge_point_id)
            .order_by(OcpiConnectorSpecRow.evse_id, OcpiConnectorSpecRow.connector_id)
        )
        async with self._sessions() as session:
            return [_spec(row) for row in await session.scalars(stmt)]

    async def evse_uid(self, charge_point_id: str, evse_id: int) -> EvseUid:
        """The uid of that EVSE, created (uuid4) on first use; never reused.

        Insert-or-ignore then select, so two concurrent first uses agree on one uid.
        """
        key = (OcpiEvseUidRow.charge_point_id == charge_point_id, OcpiEvseUidRow.evse_id == evse_id)
        async with self._sessions() as session:
            row = await session.scalar(select(OcpiEvseUidRow).where(*key))
        if row is None:
            async with self._sessions.begin() as session:
                await session.execute(
                    self._insert(OcpiEvseUidRow)
                    .values(uid=str(uuid.uuid4()), charge_point_id=charge_point_id, evse_id=evse_id)
                    .on_conflict_do_nothing()
                )
            async with self._sessions() as session:
                row = await session.scalar(select(OcpiEvseUidRow).where(*key))
            assert row is not None  # inserted just now, or by whoever won the race
        return EvseUid(uid=row.uid, charge_point_id=row.charge_point_id, evse_id=row.evse_id)

    async def find_evse(self, uid: str) -> EvseUid | None:
        """The (charge point, EVSE) of a uid, or None."""
        async with self._sessions() as session:
            row = await session.get(OcpiEvseUidRow, uid)
            if row is None:
                return None
            return EvseUid(uid=row.uid, charge_point_id=row.charge_point_id, evse_id=row.evse_id)

    # -- tariffs ----------------------------------------------------------------------------------

    async def save_tariff(self, tariff: Tariff) -> None:
        """Insert or replace by id; last_updated None becomes now."""
        values: dict[str, Any] = {
            "currency": tariff.currency,
            "data": dump_json(tariff.data),
            "last_updated": _utc(tariff.last_updated) or self._now(),
        }
        stmt = (
            self._insert(OcpiTariffRow)
            .values(id=tariff.id, **values)
            .on_conflict_do_update(index_elements=["id"], set_=values)
        )
        async with self._sessions.begin() as session:
            await session.execute(stmt)

    async def get_tariff(self, tariff_id: str) -> Tariff | None:
        """The tariff, or None."""
        async with self._sessions() as session:
            row = await session.get(OcpiTariffRow, tariff_id)
            return None if row is None else _tariff(row)

    async def delete_tariff(self, tariff_id: str) -> None:
        """Delete the tariff; nothing happens for an unknown id."""
        async with self._sessions.begin() as session:
            await session.execute(delete(OcpiTariffRow).where(OcpiTariffRow.id == tariff_id))

    async def list_tariffs(
        self,
        *,
        date_from: datetime | None = None,
        date_to: datetime | None = None,
        offset: int = 0,
        limit: int = 100,
    ) -> tuple[list[Tariff], int]:
        """(page, total count) ordered by last_updated then id; date_from ≤ last_updated < date_to."""
        stmt = select(OcpiTariffRow).where(*_window(OcpiTariffRow.last_updated, date_from, date_to))
        order = (OcpiTariffRow.last_updated, OcpiTariffRow.id)
        async with self._sessions() as session:
            rows, total = await self._page(session, stmt, order, offset, limit)
            return [_tariff(row) for row in rows], total

    # -- partner tokens ---------------------------------------------------------------------------

    async def save_partner_token(self, token: PartnerToken) -> None:
        """Insert or replace by (country_code, party_id, uid, type); last_updated None becomes now."""
        values: dict[str, Any] = {
            "contract_id": token.contract_id,
            "issuer": token.issuer,
            "valid": token.valid,
            "whitelist": token.whitelist,
            "group_id": token.group_id,
            "partner_id": token.partner_id,
            "data": dump_json(token.data),
            "last_updated": _utc(token.last_updated) or self._now(),
        }
        stmt = (
            self._insert(OcpiPartnerTokenRow)
            .values(
                country_code=token.country_code,
                party_id=token.party_id,
                uid=token.uid,
                type=token.type,
                **values,
            )
            .on_conflict_do_update(index_elements=["country_code", "party_id", "uid", "type"], set_=values)
        )
        async with self._sessions.begin() as session:
            await session.execute(stmt)

    async def get_partner_token(
        self, country_code: str, party_id: str, uid: str, type: str = "RFID"
    ) -> PartnerToken | None:
        """The token, or None."""
        async with self._sessions() as session:
            row = await session.get(OcpiPartnerTokenRow, (country_code, party_id, uid, type))
            return None if row is None else _token(row)

    async def find_partner_token(self, uid: str) -> PartnerToken | None:
        """A token by uid alone; the newest (last_updated) if several parties or types use the uid."""
        t = OcpiPartnerTokenRow
        stmt = (
            select(t)
            .where(t.uid == uid)
            .order_by(t.last_updated.desc(), t.country_code.desc(), t.party_id.desc(), t.type.desc())
            .limit(1)
        )
        async with self._sessions() as session:
            row = await session.scalar(stmt)
            return None if row is None else _token(row)

    # -- session links and CDRs -------------------------------------------------------------------

    async def save_session_link(self, link: SessionLink) -> None:
        """Insert or replace by session_id; last_updated None becomes now.

        Raises:
            AlreadyExists: another session link has the same transaction_pk.
        """
        values: dict[str, Any] = {
            "partner_id": link.partner_id,
            "transaction_pk": link.transaction_pk,
            "reservation_id": link.reservation_id,
            "auth_method": link.auth_method,
            "authorization_reference": link.authorization_reference,
            "cdr_token": _opt_dump(link.cdr_token),
            "tariff_id": link.tariff_id,
            "last_updated": _utc(link.last_updated) or self._now(),
        }
        stmt = (
            self._insert(OcpiSessionLinkRow)
            .values(session_id=link.session_id, **values)
            .on_conflict_do_update(index_elements=["session_id"], set_=values)
        )
        try:
            async with self._sessions.begin() as session:
                await session.execute(stmt)
        except IntegrityError:
            raise AlreadyExists(f"transaction {link.transaction_pk} already has a session link") from None

    async def get_session_link(self, session_id: str) -> SessionLink | None:
        """The link, or None."""
        async with self._sessions() as session:
            row = await session.get(OcpiSessionLinkRow, session_id)
            return None if row is None else _link(row)

    async def find_session_link(
        self, *, transaction_pk: int | None = None, reservation_id: int | None = None
    ) -> SessionLink | None:
        """The link matching every criterion given (None if none is given); the newest if several match."""
        if transaction_pk is None and reservation_id is None:
            return None
        t = OcpiSessionLinkRow
        conditions: list[ColumnElement[bool]] = []
        if transaction_pk is not None:
            conditions.append(t.transaction_pk == transaction_pk)
        if reservation_id is not None:
            conditions.append(t.reservation_id == reservation_id)
        stmt = select(t).where(*conditions).order_by(t.last_updated.desc(), t.session_id.desc()).limit(1)
        async with self._sessions() as session:
            row = await session.scalar(stmt)
            return None if row is None else _link(row)

    async def save_cdr(self, cdr: Cdr) -> None:
        """Insert; last_updated None becomes now.

        Raises:
            AlreadyExists: a CDR with this id, or for this transaction_pk, is stored (CDRs are immutable).
        """
        row = OcpiCdrRow(
            id=cdr.id,
            transaction_pk=cdr.transaction_pk,
            data=dump_json(cdr.data),
            total_cost_excl_vat=str(cdr.total_cost_excl_vat),
            last_updated=_utc(cdr.last_updated) or self._now(),
        )
        try:
            async with self._sessions.begin() as session:
                session.add(row)
        except IntegrityError:
            raise AlreadyExists(f"CDR {cdr.id!r} (transaction {cdr.transaction_pk}) exists") from None

    async def get_cdr(self, cdr_id: str) -> Cdr | None:
        """The CDR, or None."""
        async with self._sessions() as session:
            row = await session.get(OcpiCdrRow, cdr_id)
            return None if row is None else _cdr(row)

    async def list_cdrs(
        self,
        *,
        date_from: datetime | None = None,
        date_to: datetime | None = None,
        offset: int = 0,
        limit: int = 100,
    ) -> tuple[list[Cdr], int]:
        """(page, total count) ordered by last_updated then id; date_from ≤ last_updated < date_to."""
        stmt = select(OcpiCdrRow).where(*_window(OcpiCdrRow.last_updated, date_from, date_to))
        order = (OcpiCdrRow.last_updated, OcpiCdrRow.id)
        async with self._sessions() as session:
            rows, total = await self._page(session, stmt, order, offset, limit)
            return [_cdr(row) for row in rows], total

    # -- push outbox ------------------------------------------------------------------------------

    async def add_outbox(self, entry: OutboxEntry) -> OutboxEntry:
        """Insert with a new increasing id (the given id is ignored); created_at None becomes now.

        Returns:
            The stored entry, with its id.
        """
        row = OcpiOutboxRow(**_entry_values(entry), created_at=_utc(entry.created_at) or self._now())
        async with self._sessions.begin() as session:
            session.add(row)
        return _entry(row)

    async def save_outbox(self, entry: OutboxEntry) -> None:
        """Overwrite every field of the entry with this id (status, attempts, next_attempt_at...).

        Raises:
            NotFound: no entry with this id.
        """
        values = _entry_values(entry)
        if entry.created_at is not None:
            values["created_at"] = entry.created_at
        stmt = update(OcpiOutboxRow).where(OcpiOutboxRow.id == entry.id).values(**values)
        async with self._sessions.begin() as session:
            result = await session.execute(stmt)
            if getattr(result, "rowcount", 0) == 0:
                raise NotFound(f"outbox entry {entry.id} not found")

    async def due_outbox(self, now: datetime, limit: int = 100) -> list[OutboxEntry]:
        """Pending entries that are due (next_attempt_at None or ≤ now) and are the oldest pending entry of
        their (partner_id, object_key), oldest (lowest id) first."""
        o = OcpiOutboxRow
        earlier = aliased(OcpiOutboxRow)
        pending = str(OutboxStatus.PENDING)
        blocked = exists().where(
            earlier.partner_id == o.partner_id,
            earlier.object_key == o.object_key,
            earlier.status == pending,
            earlier.id < o.id,
        )
        stmt = (
            select(o)
            .where(
                o.status == pending,
                o.next_attempt_at.is_(None) | (o.next_attempt_at <= to_utc(now)),
                ~blocked,
            )
            .order_by(o.id)
            .limit(max(limit, 0))
        )
        async with self._sessions() as session:
            return [_entry(row) for row in await session.scalars(stmt)]

    async def list_outbox(
        self, *, status: str | None = None, partner_id: int | None = None, limit: int = 100
    ) -> list[OutboxEntry]:
        """Entries with that status and/or partner, newest (highest id) first, at most `limit`."""
        conditions: list[ColumnElement[bool]] = []
        if status is not None:
            conditions.append(OcpiOutboxRow.status == str(status))
        if partner_id is not None:
            conditions.append(OcpiOutboxRow.partner_id == partner_id)
        stmt = select(OcpiOutboxRow).where(*conditions).order_by(OcpiOutboxRow.id.desc()).limit(max(limit, 0))
        async with self._sessions() as session:
            return [_entry(row) for row in await session.scalars(stmt)]
