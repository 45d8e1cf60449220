"""`SqlOcpiStore`: the `OcpiStore` protocol on SQLAlchemy async, in the CSMS database (SQLite or PostgreSQL).

It shares the engine of the CSMS `SqlStore` (`SqlOcpiStore(sql_store.engine)`): the OCPI tables are part of
the CSMS schema (`ocpi/store/tables.py` on the CSMS metadata, Alembic revision 0003), so `open_store` has
already migrated them. It never disposes of the engine; the CSMS store's `close()` does. Every method runs
in its own short session.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Collection, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar

from sqlalchemy import (
    ColumnElement,
    Executable,
    Select,
    and_,
    delete,
    exists,
    false,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from csms.domain.clock import Clock, to_utc, to_utc_or_none, utcnow
from csms.domain.ports import AlreadyExists, NotFound, Pagination
from csms.store.sql import dialect_insert
from csms.store.sql.base import all_in, lease
from csms.store.sql.outbox import due
from csms.store.sql.rows import record_of, values_of
from ocpi.models import (
    Cdr,
    ClientInfo,
    CommandPromise,
    ConnectorSpec,
    EvseUid,
    Location,
    OutboxEntry,
    OutboxStatus,
    Partner,
    PartnerStatus,
    PartnerToken,
    PartyScope,
    PendingStart,
    SessionLink,
    Tariff,
    token_party,
)
from ocpi.store.json_columns import (
    dump_json,
    dump_optional_json,
    load_json,
    load_json_list,
    load_optional_json,
)
from ocpi.store.protocol import FIRST_PAGE
from ocpi.store.tables import (
    OcpiCdrRow,
    OcpiClientInfoRow,
    OcpiCommandPromiseRow,
    OcpiConnectorSpecRow,
    OcpiEvseUidRow,
    OcpiLocationChargePointRow,
    OcpiLocationRow,
    OcpiOutboxRow,
    OcpiPartnerRow,
    OcpiPartnerTokenRow,
    OcpiPendingStartRow,
    OcpiSessionLinkRow,
    OcpiTariffRow,
    OcpiTokenPullRow,
)

__all__ = ["SqlOcpiStore"]

T = TypeVar("T")


_utc = to_utc_or_none


def _window(column: Any, pagination: Pagination) -> list[ColumnElement[bool]]:
    """OCPI pagination window: date_from ≤ last_updated < date_to (OCPI 2.2.1 Locations/Sessions GET)."""
    conditions: list[ColumnElement[bool]] = []
    if pagination.date_from is not None:
        conditions.append(column >= to_utc(pagination.date_from))
    if pagination.date_to is not None:
        conditions.append(column < to_utc(pagination.date_to))
    return conditions


# -- row <-> model ---------------------------------------------------------------------------------------


def _reader(cls: type[T], **decoders: Callable[[Any], Any]) -> Callable[..., T]:
    """Row -> record: `record_of` with each named column passed through its decoder; the keyword arguments
    of a call give the fields the row has no column for."""

    def read(row: Any, **fields: Any) -> T:
        decoded = {name: decode(getattr(row, name)) for name, decode in decoders.items()}
        return record_of(cls, row, **decoded, **fields)

    return read


_partner = _reader(Partner, status=PartnerStatus, endpoints=load_json, roles=load_json)
_location = _reader(
    Location,
    facilities=load_json,
    opening_times=load_optional_json,
    operator=load_optional_json,
    tariff_ids=load_json_list,
)
_spec = _reader(ConnectorSpec, tariff_ids=load_json)
_evse = _reader(EvseUid)
_tariff = _reader(Tariff, data=load_json)
_token = _reader(PartnerToken, data=load_json)
_client_info = _reader(ClientInfo)
_link = _reader(SessionLink, cdr_token=load_optional_json)
_cdr = _reader(Cdr, data=load_json, total_cost_excl_vat=Decimal)
_pending = _reader(PendingStart, cdr_token=load_json)
_promise = _reader(CommandPromise)
_entry = _reader(OutboxEntry, body=load_optional_json, status=OutboxStatus)

_PARTNER_COLUMNS = (
    "name", "country_code", "party_id", "role", "token_a_hash", "token_c_hash", "token_b", "versions_url",
    "version", "org_id",
)  # fmt: skip


def _partner_values(partner: Partner) -> dict[str, Any]:
    return values_of(
        partner,
        _PARTNER_COLUMNS,
        status=str(partner.status),
        endpoints=dump_json(partner.endpoints),
        roles=dump_json(partner.roles),
    )


_ENTRY_COLUMNS = ("partner_id", "module", "object_key", "method", "url", "attempts", "next_attempt_at")


def _entry_values(entry: OutboxEntry) -> dict[str, Any]:
    return values_of(
        entry,
        (*_ENTRY_COLUMNS, "last_error", "sent_at"),
        body=dump_optional_json(entry.body),
        status=str(entry.status),
    )


_UNCLAIMED: dict[str, Any] = {"claimed_by": None, "claimed_until": None}


def _owned(link: Any, scope: PartyScope) -> ColumnElement[bool]:
    """The session link table (or alias) `link` is owned by `scope` (SQL of `PartyScope.owns`; the token
    party columns are stored in upper case)."""
    parties = [
        and_(link.token_country_code == cc, link.token_party_id == pid) for cc, pid in sorted(scope.parties)
    ]
    return or_(link.partner_id == scope.partner_id, *parties, false())


def _due(o: Any, now: datetime) -> list[ColumnElement[bool]]:
    """A due entry of the outbox table (or alias) `o`, in order per (partner, object)."""
    return due(OcpiOutboxRow, o, "partner_id", str(OutboxStatus.PENDING), now)


def _of_org(row_type: Any, org_id: str | None) -> list[ColumnElement[bool]]:
    """The condition "of organization `org_id`" on an owned table; none when `org_id` is None."""
    return [] if org_id is None else [row_type.org_id == org_id]


class SqlOcpiStore:
    """The OCPI tables of the CSMS database; see `ocpi.store.OcpiStore` for what each method promises.

    Every `save_*` of a record with `last_updated` is an upsert by primary key (`_upsert`) and sets a None
    `last_updated` to now; every `list_*` with a `Pagination` pages by (last_updated, id) (`_page`).

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

    def _upsert(
        self,
        row_type: type[Any],
        record: Any,
        now: datetime | None = None,
        *,
        derived: dict[str, Any] | None = None,
        **encoders: Callable[[Any], Any],
    ) -> Executable:
        """INSERT, or on a primary key conflict UPDATE every other column, from the record's attributes
        named as the columns (each through its encoder, if any) and the `derived` columns the record has no
        attribute for; `last_updated` None becomes `now` (default: now)."""
        table = row_type.__table__
        keys = [column.name for column in table.primary_key.columns]
        extra = derived or {}
        skip = {*keys, *extra}
        values = {c.name: getattr(record, c.name) for c in table.columns if c.name not in skip}
        values.update({name: encode(values[name]) for name, encode in encoders.items()})
        values.update(extra)
        values["last_updated"] = _utc(record.last_updated) or now or self._now()
        stmt: Executable = (
            self._insert(row_type)
            .values(**{key: getattr(record, key) for key in keys}, **values)
            .on_conflict_do_update(index_elements=keys, set_=values)
        )
        return stmt

    async def _execute(self, stmt: Executable) -> None:
        async with self._sessions.begin() as session:
            await session.execute(stmt)

    async def _get(self, row_type: type[Any], key: Any, read: Callable[[Any], T]) -> T | None:
        async with self._sessions() as session:
            row = await session.get(row_type, key)
            return None if row is None else read(row)

    async def _first(self, stmt: Select[Any], read: Callable[[Any], T]) -> T | None:
        async with self._sessions() as session:
            row = await session.scalar(stmt.limit(1))
            return None if row is None else read(row)

    async def _all(self, stmt: Select[Any], read: Callable[[Any], T]) -> list[T]:
        async with self._sessions() as session:
            return [read(row) for row in await session.scalars(stmt)]

    async def _page(
        self, session: AsyncSession, row_type: Any, pagination: Pagination, *conditions: ColumnElement[bool]
    ) -> tuple[list[Any], int]:
        """(rows, total count) of `row_type` meeting `conditions` in the pagination's last_updated window,
        ordered by last_updated then id."""
        stmt = select(row_type).where(*_window(row_type.last_updated, pagination), *conditions)
        total = await session.scalar(select(func.count()).select_from(stmt.subquery()))
        order = (row_type.last_updated, row_type.id)
        page = stmt.order_by(*order).offset(max(pagination.offset, 0)).limit(max(pagination.limit, 0))
        return list(await session.scalars(page)), int(total or 0)

    # -- partners ---------------------------------------------------------------------------------

    async def add_partner(self, partner: Partner) -> Partner:
        """Raises AlreadyExists when another partner has the same token_a_hash or token_c_hash."""
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
        """created_at is kept as stored; updated_at becomes now.

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
        return await self._get(OcpiPartnerRow, partner_id, _partner)

    async def find_partner_by_token_hash(self, token_hash: str) -> Partner | None:
        p = OcpiPartnerRow
        stmt = (
            select(p)
            .where(
                (p.token_a_hash == token_hash) | (p.token_c_hash == token_hash),
                p.status != str(PartnerStatus.UNREGISTERED),
            )
            .order_by(p.id)
        )
        return await self._first(stmt, _partner)

    async def list_partners(self, *, org_id: str | None = None) -> list[Partner]:
        """Every partner (also unregistered ones; only organization `org_id`'s when given), by id."""
        stmt = select(OcpiPartnerRow).where(*_of_org(OcpiPartnerRow, org_id))
        return await self._all(stmt.order_by(OcpiPartnerRow.id), _partner)

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
        """A charge point listed here that was in another location moves: that location's `last_updated`
        becomes now too (its EVSE list changed). Charge point ids come back sorted.
        """
        now = self._now()
        upsert = self._upsert(
            OcpiLocationRow,
            location,
            now,
            facilities=dump_json,
            opening_times=dump_optional_json,
            operator=dump_optional_json,
            tariff_ids=dump_json,
        )
        wanted = sorted(set(location.charge_point_ids))
        links = OcpiLocationChargePointRow
        async with self._sessions.begin() as session:
            await session.execute(upsert)
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

    async def get_location(self, location_id: str, *, org_id: str | None = None) -> Location | None:
        async with self._sessions() as session:
            row = await session.get(OcpiLocationRow, location_id)
            if row is None or (org_id is not None and row.org_id != org_id):
                return None
            charge_points = await self._charge_points_of(session, [row.id])
            return _location(row, charge_point_ids=charge_points[row.id])

    async def locations_of(self, charge_point_ids: Collection[str]) -> dict[str, Location]:
        links, ids = OcpiLocationChargePointRow, sorted(set(charge_point_ids))
        pairs = await all_in(
            self._sessions,
            select(links),
            links.charge_point_id,
            ids,
            lambda r: (r.charge_point_id, r.location_id),
        )
        location_ids = sorted({location_id for _, location_id in pairs})
        rows = await all_in(
            self._sessions, select(OcpiLocationRow), OcpiLocationRow.id, location_ids, lambda r: r
        )
        async with self._sessions() as session:
            charge_points = await self._charge_points_of(session, [row.id for row in rows])
        located = {row.id: _location(row, charge_point_ids=charge_points[row.id]) for row in rows}
        return {cp: located[location_id] for cp, location_id in pairs if location_id in located}

    async def delete_location(self, location_id: str) -> None:
        """Deletes its charge point links too; nothing happens for an unknown id."""
        async with self._sessions.begin() as session:
            # Explicit rather than relying on ON DELETE CASCADE alone (SQLite needs the pragma for that).
            await session.execute(
                delete(OcpiLocationChargePointRow).where(
                    OcpiLocationChargePointRow.location_id == location_id
                )
            )
            await session.execute(delete(OcpiLocationRow).where(OcpiLocationRow.id == location_id))

    async def list_locations(
        self, pagination: Pagination = FIRST_PAGE, *, published_only: bool = False, org_id: str | None = None
    ) -> tuple[list[Location], int]:
        published: list[ColumnElement[bool]] = [OcpiLocationRow.publish.is_(True)] if published_only else []
        published += _of_org(OcpiLocationRow, org_id)
        async with self._sessions() as session:
            rows, total = await self._page(session, OcpiLocationRow, pagination, *published)
            charge_points = await self._charge_points_of(session, [row.id for row in rows])
            return [_location(row, charge_point_ids=charge_points[row.id]) for row in rows], total

    async def location_of(self, charge_point_id: str) -> Location | None:
        async with self._sessions() as session:
            location_id = await session.scalar(
                select(OcpiLocationChargePointRow.location_id).where(
                    OcpiLocationChargePointRow.charge_point_id == charge_point_id
                )
            )
        return None if location_id is None else await self.get_location(location_id)

    # -- connectors and EVSE uids -----------------------------------------------------------------

    async def save_connector_spec(self, spec: ConnectorSpec) -> None:
        await self._execute(self._upsert(OcpiConnectorSpecRow, spec, tariff_ids=dump_json))

    async def list_connector_specs(self, charge_point_id: str) -> list[ConnectorSpec]:
        """The charge point's specs by evse_id then connector_id ([] if none)."""
        s = OcpiConnectorSpecRow
        return await self._all(
            select(s).where(s.charge_point_id == charge_point_id).order_by(s.evse_id, s.connector_id), _spec
        )

    async def list_connector_specs_of(self, charge_point_ids: Collection[str]) -> list[ConnectorSpec]:
        s = OcpiConnectorSpecRow
        ordered = select(s).order_by(s.charge_point_id, s.evse_id, s.connector_id)
        ids = sorted(set(charge_point_ids))
        return await all_in(self._sessions, ordered, s.charge_point_id, ids, _spec)

    async def _evse_uids_of(self, charge_point_ids: Collection[str]) -> dict[tuple[str, int], EvseUid]:
        """The uids already given to the EVSEs of these charge points, by (charge point, EVSE)."""
        u, ids = OcpiEvseUidRow, sorted(set(charge_point_ids))
        found = await all_in(self._sessions, select(u), u.charge_point_id, ids, _evse)
        return {(e.charge_point_id, e.evse_id): e for e in found}

    async def evse_uids_for(self, evses: Collection[tuple[str, int]]) -> list[EvseUid]:
        """Read the charge points' uids, insert-or-ignore the missing ones together, then read those again (so
        concurrent first uses agree on one uid, as in `evse_uid`)."""
        wanted = set(evses)
        found = await self._evse_uids_of({cp for cp, _ in wanted})
        missing = sorted(wanted - found.keys())  # in key order: concurrent batches lock alike, no deadlock
        if missing:
            rows = [{"uid": str(uuid.uuid4()), "charge_point_id": cp, "evse_id": e} for cp, e in missing]
            async with self._sessions.begin() as session:
                await session.execute(self._insert(OcpiEvseUidRow).on_conflict_do_nothing(), rows)
            found.update(await self._evse_uids_of({cp for cp, _ in missing}))
        return [found[key] for key in sorted(wanted)]

    async def evse_uid(self, charge_point_id: str, evse_id: int) -> EvseUid:
        """Insert-or-ignore then select, so two concurrent first uses agree on one uid."""
        key = (OcpiEvseUidRow.charge_point_id == charge_point_id, OcpiEvseUidRow.evse_id == evse_id)
        found = await self._first(select(OcpiEvseUidRow).where(*key), _evse)
        if found is None:
            await self._execute(
                self._insert(OcpiEvseUidRow)
                .values(uid=str(uuid.uuid4()), charge_point_id=charge_point_id, evse_id=evse_id)
                .on_conflict_do_nothing()
            )
            found = await self._first(select(OcpiEvseUidRow).where(*key), _evse)
            assert found is not None  # inserted just now, or by whoever won the race
        return found

    async def find_evse(self, uid: str) -> EvseUid | None:
        return await self._get(OcpiEvseUidRow, uid, _evse)

    # -- tariffs ----------------------------------------------------------------------------------

    async def save_tariff(self, tariff: Tariff) -> None:
        await self._execute(self._upsert(OcpiTariffRow, tariff, data=dump_json))

    async def get_tariff(self, tariff_id: str, *, org_id: str | None = None) -> Tariff | None:
        tariff = await self._get(OcpiTariffRow, tariff_id, _tariff)
        return None if tariff is None or (org_id is not None and tariff.org_id != org_id) else tariff

    async def delete_tariff(self, tariff_id: str) -> None:
        """Nothing happens for an unknown id."""
        await self._execute(delete(OcpiTariffRow).where(OcpiTariffRow.id == tariff_id))

    async def list_tariffs(
        self, pagination: Pagination = FIRST_PAGE, *, org_id: str | None = None
    ) -> tuple[list[Tariff], int]:
        async with self._sessions() as session:
            owned = _of_org(OcpiTariffRow, org_id)
            rows, total = await self._page(session, OcpiTariffRow, pagination, *owned)
            return [_tariff(row) for row in rows], total

    # -- partner tokens ---------------------------------------------------------------------------

    async def save_partner_token(self, token: PartnerToken) -> None:
        await self._execute(self._upsert(OcpiPartnerTokenRow, token, data=dump_json))

    async def get_partner_token(
        self, country_code: str, party_id: str, uid: str, type: str = "RFID"
    ) -> PartnerToken | None:
        return await self._get(OcpiPartnerTokenRow, (country_code, party_id, uid, type), _token)

    async def find_partner_token(self, uid: str) -> PartnerToken | None:
        """The newest (last_updated) if several parties or types use the uid."""
        t = OcpiPartnerTokenRow
        order = (t.last_updated.desc(), t.country_code.desc(), t.party_id.desc(), t.type.desc())
        return await self._first(select(t).where(t.uid == uid).order_by(*order), _token)

    async def tokens_pulled_at(self, partner_id: int) -> datetime | None:
        async with self._sessions() as session:
            row = await session.get(OcpiTokenPullRow, partner_id)
            return None if row is None else to_utc(row.pulled_at)

    async def set_tokens_pulled_at(self, partner_id: int, pulled_at: datetime) -> None:
        stmt = (
            self._insert(OcpiTokenPullRow)
            .values(partner_id=partner_id, pulled_at=to_utc(pulled_at))
            .on_conflict_do_update(index_elements=["partner_id"], set_={"pulled_at": to_utc(pulled_at)})
        )
        await self._execute(stmt)

    # -- hub client info --------------------------------------------------------------------------

    async def save_client_info(self, info: ClientInfo) -> None:
        await self._execute(self._upsert(OcpiClientInfoRow, info))

    async def get_client_info(self, country_code: str, party_id: str) -> ClientInfo | None:
        return await self._get(OcpiClientInfoRow, (country_code, party_id), _client_info)

    async def list_client_infos(self) -> list[ClientInfo]:
        c = OcpiClientInfoRow
        return await self._all(select(c).order_by(c.country_code, c.party_id), _client_info)

    # -- session links and CDRs -------------------------------------------------------------------

    async def save_session_link(self, link: SessionLink) -> None:
        """Raises AlreadyExists when another session link has the same transaction_pk."""
        party = token_party(link)
        derived = {
            "token_country_code": party[0] if party else None,
            "token_party_id": party[1] if party else None,
        }
        try:
            await self._execute(
                self._upsert(OcpiSessionLinkRow, link, derived=derived, cdr_token=dump_optional_json)
            )
        except IntegrityError:
            raise AlreadyExists(f"transaction {link.transaction_pk} already has a session link") from None

    async def get_session_link(self, session_id: str) -> SessionLink | None:
        return await self._get(OcpiSessionLinkRow, session_id, _link)

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
        return await self._first(
            select(t).where(*conditions).order_by(t.last_updated.desc(), t.session_id.desc()), _link
        )

    async def owned_session_transactions(self, scope: PartyScope) -> list[int]:
        t = OcpiSessionLinkRow
        stmt = select(t.transaction_pk).where(t.transaction_pk.is_not(None), _owned(t, scope))
        async with self._sessions() as session:
            return sorted(pk for pk in await session.scalars(stmt) if pk is not None)

    # -- START_SESSIONs waiting for their transaction -----------------------------------------------

    async def add_pending_start(self, pending: PendingStart) -> None:
        """Insert; the pending starts whose window passed are deleted in the same transaction."""
        t = OcpiPendingStartRow
        row = t(
            **values_of(pending, ("remote_start_id", "partner_id", "charge_point_id", "uid", "evse_id")),
            cdr_token=dump_json(pending.cdr_token),
            authorization_reference=pending.authorization_reference,
            until=to_utc(pending.until),
        )
        async with self._sessions.begin() as session:
            await session.execute(delete(t).where(t.until < self._now()))
            session.add(row)

    async def get_pending_start(self, remote_start_id: int) -> PendingStart | None:
        return await self._get(OcpiPendingStartRow, remote_start_id, _pending)

    async def delete_pending_start(self, remote_start_id: int) -> None:
        t = OcpiPendingStartRow
        await self._execute(delete(t).where(t.remote_start_id == remote_start_id))

    async def pending_start_for(self, uid: str, now: datetime, charge_point_id: str) -> PendingStart | None:
        t = OcpiPendingStartRow
        stmt = (
            select(t)
            .where(t.uid == uid, t.charge_point_id == charge_point_id, t.until > to_utc(now))
            .order_by(t.until.desc())
        )
        return await self._first(stmt, _pending)

    async def add_command_promise(self, promise: CommandPromise) -> CommandPromise:
        names = (
            "partner_id",
            "command",
            "response_url",
            "reservation_id",
            "external_id",
            "correlation_id",
            "result",
        )
        row = OcpiCommandPromiseRow(
            **values_of(promise, names),
            deadline=to_utc_or_none(promise.deadline),
            created_at=_utc(promise.created_at) or self._now(),
            settled_at=None,
        )
        async with self._sessions.begin() as session:
            session.add(row)
        return _promise(row)

    async def settle_command_promise(self, promise_id: int, result: str) -> bool:
        """One conditional UPDATE: of several processes settling the same promise, one changes the row."""
        t = OcpiCommandPromiseRow
        stmt = (
            update(t)
            .where(t.id == promise_id, t.settled_at.is_(None))
            .values(settled_at=self._now(), result=result)
        )
        async with self._sessions.begin() as session:
            outcome = await session.execute(stmt)
        return bool(getattr(outcome, "rowcount", 0) == 1)

    async def list_command_promises(self) -> list[CommandPromise]:
        t = OcpiCommandPromiseRow
        async with self._sessions() as session:
            rows = (await session.scalars(select(t).where(t.settled_at.is_(None)).order_by(t.id))).all()
        return [_promise(row) for row in rows]

    def _cdr_row(self, cdr: Cdr) -> OcpiCdrRow:
        return OcpiCdrRow(
            id=cdr.id,
            transaction_pk=cdr.transaction_pk,
            data=dump_json(cdr.data),
            total_cost_excl_vat=str(cdr.total_cost_excl_vat),
            last_updated=_utc(cdr.last_updated) or self._now(),
            org_id=cdr.org_id,
        )

    async def save_cdr(self, cdr: Cdr) -> None:
        """Raises AlreadyExists when a CDR with this id is stored."""
        await self.save_cdrs([cdr])

    async def save_cdrs(self, cdrs: Sequence[Cdr]) -> None:
        """One transaction: all stored, or (AlreadyExists) none."""
        try:
            async with self._sessions.begin() as session:
                session.add_all([self._cdr_row(cdr) for cdr in cdrs])
        except IntegrityError:
            ids = ", ".join(repr(cdr.id) for cdr in cdrs)
            raise AlreadyExists(f"CDR {ids} exists") from None

    async def get_cdr(self, cdr_id: str) -> Cdr | None:
        return await self._get(OcpiCdrRow, cdr_id, _cdr)

    async def list_transaction_cdrs(self, transaction_pk: int) -> list[Cdr]:
        t = OcpiCdrRow
        stmt = select(t).where(t.transaction_pk == transaction_pk).order_by(t.last_updated, t.id)
        async with self._sessions() as session:
            return [_cdr(row) for row in await session.scalars(stmt)]

    async def list_cdrs(
        self,
        pagination: Pagination = FIRST_PAGE,
        *,
        scope: PartyScope | None = None,
        org_id: str | None = None,
    ) -> tuple[list[Cdr], int]:
        conditions: list[ColumnElement[bool]] = _of_org(OcpiCdrRow, org_id)
        if scope is not None:
            link = OcpiSessionLinkRow
            # A transaction's CDR by the link of its transaction; an unused reservation's (transaction_pk
            # below zero, `ocpi.cdrs.reservation_cdr_pk`) by the link of its session, whose id it has.
            same_session = or_(
                link.transaction_pk == OcpiCdrRow.transaction_pk,
                and_(OcpiCdrRow.transaction_pk < 0, link.session_id == OcpiCdrRow.id),
            )
            owned = exists().where(same_session, _owned(link, scope))
            conditions.append(owned)
        async with self._sessions() as session:
            rows, total = await self._page(session, OcpiCdrRow, pagination, *conditions)
            return [_cdr(row) for row in rows], total

    # -- push outbox ------------------------------------------------------------------------------

    async def add_outbox(self, entry: OutboxEntry) -> OutboxEntry:
        """created_at None becomes now; unclaimed; returns the stored entry, with its id."""
        row = OcpiOutboxRow(
            **_entry_values(entry), **_UNCLAIMED, created_at=_utc(entry.created_at) or self._now()
        )
        async with self._sessions.begin() as session:
            session.add(row)
        return _entry(row)

    async def save_outbox(self, entry: OutboxEntry) -> None:
        """Overwrite every field of the entry with this id (status, attempts, next_attempt_at...) and release
        its claim: saving is how a delivery settles an entry (SENT, FAILED, or a retry time).

        Raises:
            NotFound: no entry with this id.
        """
        values = _entry_values(entry) | _UNCLAIMED
        if entry.created_at is not None:
            values["created_at"] = entry.created_at
        stmt = update(OcpiOutboxRow).where(OcpiOutboxRow.id == entry.id).values(**values)
        async with self._sessions.begin() as session:
            result = await session.execute(stmt)
            if getattr(result, "rowcount", 0) == 0:
                raise NotFound(f"outbox entry {entry.id} not found")

    async def due_outbox(self, now: datetime, limit: int = 100) -> list[OutboxEntry]:
        o = OcpiOutboxRow
        stmt = select(o).where(*_due(o, now)).order_by(o.id).limit(max(limit, 0))
        return await self._all(stmt, _entry)

    async def claim_outbox(
        self, now: datetime, limit: int, *, node_id: str, until: datetime, skip_partners: Collection[int] = ()
    ) -> list[OutboxEntry]:
        """Lease the due entries (not of `skip_partners`) to `node_id` until `until`, oldest first
        (`csms.store.sql.base.lease`: one atomic UPDATE ... RETURNING)."""

        def due(o: Any) -> list[Any]:
            conditions = _due(o, now)
            return [*conditions, o.partner_id.not_in(list(skip_partners))] if skip_partners else conditions

        return await lease(
            self._sessions, OcpiOutboxRow, due, _entry, limit=limit, node_id=node_id, until=until
        )

    async def release_outbox(self, ids: Collection[int], node_id: str) -> None:
        o = OcpiOutboxRow
        stmt = (
            update(o)
            .where(o.id.in_(list(ids)), o.claimed_by == node_id, o.status == str(OutboxStatus.PENDING))
            .values(**_UNCLAIMED)
        )
        if ids:
            await self._execute(stmt)

    async def list_outbox(
        self,
        *,
        status: str | None = None,
        partner_id: int | None = None,
        limit: int = 100,
        partner_ids: Collection[int] | None = None,
    ) -> list[OutboxEntry]:
        """Entries with that status and/or partner (and among `partner_ids`, when given), newest (highest
        id) first, at most `limit`."""
        conditions: list[ColumnElement[bool]] = []
        if partner_ids is not None:
            conditions.append(OcpiOutboxRow.partner_id.in_(sorted(set(partner_ids))))
        if status is not None:
            conditions.append(OcpiOutboxRow.status == str(status))
        if partner_id is not None:
            conditions.append(OcpiOutboxRow.partner_id == partner_id)
        stmt = select(OcpiOutboxRow).where(*conditions).order_by(OcpiOutboxRow.id.desc()).limit(max(limit, 0))
        return await self._all(stmt, _entry)

    async def outbox_of_objects(self, object_keys: Collection[str]) -> list[OutboxEntry]:
        """Every entry (any status, any partner) of these object keys, by key, then oldest first."""
        o = OcpiOutboxRow
        ordered = select(o).order_by(o.object_key, o.id)
        return await all_in(self._sessions, ordered, o.object_key, sorted(set(object_keys)), _entry)
