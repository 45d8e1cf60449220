"""Transactions, their 2.0.1 seqNos and meter samples (`TransactionStore`)."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Unpack

from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.exc import IntegrityError

from csms.domain.models import (
    OCPP_16,
    OCPP_201,
    MeterSample,
    NewTransaction,
    Transaction,
    TransactionStatus,
    legacy_pk,
)
from csms.domain.ports import AlreadyExists, NotFound, Page, Pagination, StationQuery
from csms.domain.tenancy import DEFAULT_ORG_ID
from csms.store.sql.base import TRANSACTION_EVENTS, TRANSACTIONS, SqlBase, rowcount
from csms.store.sql.rows import field_values, meter_sample_of, transaction_of
from csms.store.tables import ChargePointRow, MeterSampleRow, TransactionEventRow, TransactionRow

# The optional filters of list_transactions.
_Query = StationQuery[TransactionStatus]


class TransactionSql(SqlBase):
    """Transactions; the contract is `csms.domain.ports.TransactionStore`."""

    async def add_transaction(self, new: NewTransaction) -> Transaction:
        """Insert a transaction and return it with its integer id, in one DB transaction.

        For 1.6 (`new.ocpp_transaction_id is None`) the column stays NULL: the station's id is the row's
        `id`, read back as str(id). Keeping 1.6 ids out of the column keeps them out of the unique
        (charge_point_id, ocpp_transaction_id) key, which then holds only the 2.0.1 ids stations chose: a
        station moved to 2.0.1 may name a transaction "5" beside its old 1.6 transaction 5. With
        `new.seq_no` the pair is also recorded as a "Started" transaction event and becomes `last_seq_no`.

        Raises:
            AlreadyExists: the station already has a transaction with this ocpp_transaction_id.
        """
        values = field_values(
            new,
            "seq_no",
            status=str(TransactionStatus.ACTIVE),
            last_seq_no=new.seq_no,
            updated_at=self._clock(),
        )
        row = TransactionRow(**values)
        try:
            async with self._sessions.begin() as session:
                # The transaction belongs to its charge point's organization (ADR 0012): one primary-key
                # read in the same database transaction.
                org_id = await session.scalar(
                    select(ChargePointRow.org_id).where(ChargePointRow.charge_point_id == new.charge_point_id)
                )
                row.org_id = org_id or DEFAULT_ORG_ID
                session.add(row)
                await session.flush()  # assigns row.id
                if new.seq_no is not None:
                    session.add(
                        TransactionEventRow(
                            transaction_id=row.id,
                            seq_no=new.seq_no,
                            event_type="Started",
                            trigger_reason=None,
                            at=new.started_at,
                        )
                    )
        except IntegrityError:
            raise AlreadyExists(
                f"transaction {new.ocpp_transaction_id!r} of {new.charge_point_id!r} exists"
            ) from None
        return transaction_of(row)

    async def get_transaction(self, pk: int, *, org_id: str | None = None) -> Transaction | None:
        return await self._get_owned(TransactionRow, pk, transaction_of, org_id)

    async def find_transaction(
        self, charge_point_id: str, ocpp_transaction_id: str, ocpp_version: str | None = None
    ) -> Transaction | None:
        """The station's transaction by the id it uses; a 1.6 id is our `id` (its column is NULL)."""
        of_station = select(TransactionRow).where(TransactionRow.charge_point_id == charge_point_id)
        if ocpp_version != OCPP_16:
            found = await self._first(
                of_station.where(TransactionRow.ocpp_transaction_id == ocpp_transaction_id), transaction_of
            )
            if found is not None or ocpp_version == OCPP_201:
                return found
        pk = legacy_pk(ocpp_transaction_id)
        if pk is None:
            return None
        stmt = of_station.where(TransactionRow.id == pk, TransactionRow.ocpp_transaction_id.is_(None))
        return await self._first(stmt, transaction_of)

    async def find_started_transaction(
        self, charge_point_id: str, evse_id: int, started_at: datetime, id_token: str | None
    ) -> Transaction | None:
        """The oldest, should several match; `id_token` None matches a transaction without token."""
        token_match: ColumnElement[bool] = (
            TransactionRow.id_token.is_(None) if id_token is None else TransactionRow.id_token == id_token
        )
        stmt = select(TransactionRow).where(
            TransactionRow.charge_point_id == charge_point_id,
            TransactionRow.evse_id == evse_id,
            TransactionRow.started_at == started_at,
            token_match,
        )
        return await self._first(stmt.order_by(TransactionRow.id).limit(1), transaction_of)

    async def save_transaction(self, tx: Transaction) -> None:
        """Write every field of `tx` except its identity (id, charge_point_id, ocpp_transaction_id); sets
        `tx.updated_at` to now, the value written."""
        tx.updated_at = self._clock()
        values = field_values(
            tx,
            "id",
            "charge_point_id",
            "ocpp_transaction_id",
            "ocpp_version",
            "org_id",
            status=str(tx.status),
        )
        await self._change(
            update(TRANSACTIONS).where(TRANSACTIONS.c.id == tx.id).values(values), f"transaction {tx.id}"
        )

    async def list_transaction_seq_nos(self, transaction_pk: int) -> set[int]:
        """The 2.0.1 seqNos recorded for a transaction."""
        async with self._sessions() as session:
            rows = await session.execute(
                select(TRANSACTION_EVENTS.c.seq_no).where(
                    TRANSACTION_EVENTS.c.transaction_id == transaction_pk
                )
            )
            return {int(r[0]) for r in rows}

    async def add_transaction_event(
        self, transaction_pk: int, seq_no: int, event_type: str, trigger_reason: str | None, at: datetime
    ) -> bool:
        """Record a 2.0.1 TransactionEvent seqNo.

        Returns:
            True if recorded, False if this seqNo was already recorded for the transaction (a duplicate the
            handler should acknowledge without applying again).

        Raises:
            NotFound: no transaction with `transaction_pk`.
        """
        stmt = (
            self._insert(TRANSACTION_EVENTS)
            .values(
                transaction_id=transaction_pk,
                seq_no=seq_no,
                event_type=event_type,
                trigger_reason=trigger_reason,
                at=at,
            )
            .on_conflict_do_nothing(index_elements=["transaction_id", "seq_no"])
        )
        try:
            async with self._sessions.begin() as session:
                inserted = rowcount(await session.execute(stmt))
        except IntegrityError:
            # Only the foreign key can fail here: the unique pair is absorbed by ON CONFLICT DO NOTHING.
            raise NotFound(f"transaction {transaction_pk}") from None
        return inserted == 1

    async def list_transactions(self, *, limit: int, **query: Unpack[_Query]) -> Page[Transaction]:
        return await self._newest_of_station(
            TransactionRow, transaction_of, limit, query, time_field="started_at", sortable=("started_at",)
        )

    async def list_active_transactions(self, charge_point_id: str) -> list[Transaction]:
        """The station's active transactions, oldest first."""
        active = select(TransactionRow).where(TransactionRow.status == str(TransactionStatus.ACTIVE))
        of_station = active.where(TransactionRow.charge_point_id == charge_point_id)
        return await self._all(of_station.order_by(TransactionRow.id), transaction_of)

    async def list_active_transactions_of(self, charge_point_ids: Collection[str]) -> list[Transaction]:
        active = select(TransactionRow).where(TransactionRow.status == str(TransactionStatus.ACTIVE))
        ids = sorted(set(charge_point_ids))
        found = await self._all_in(active, TransactionRow.charge_point_id, ids, transaction_of)
        return sorted(found, key=lambda tx: tx.id)  # by id across the IN chunks too

    async def list_transactions_updated(
        self,
        page: Pagination,
        charge_point_ids: Collection[str] | None = None,
        transaction_ids: Collection[int] | None = None,
    ) -> tuple[list[Transaction], int]:
        conditions: list[ColumnElement[bool]] = []
        if transaction_ids is not None:
            if not transaction_ids:
                return [], 0
            conditions.append(TransactionRow.id.in_(sorted(set(transaction_ids))))
        if page.date_from is not None:
            conditions.append(TransactionRow.updated_at >= page.date_from)
        if page.date_to is not None:
            conditions.append(TransactionRow.updated_at < page.date_to)
        if charge_point_ids is not None:
            stations = sorted(set(charge_point_ids))
            if not stations:
                return [], 0
            conditions.append(TransactionRow.charge_point_id.in_(stations))
        count = select(func.count()).select_from(TransactionRow).where(*conditions)
        stmt = (
            select(TransactionRow)
            .where(*conditions)
            .order_by(TransactionRow.updated_at, TransactionRow.id)
            .offset(max(page.offset, 0))
            .limit(max(page.limit, 0))
        )
        async with self._sessions() as session:
            total = int(await session.scalar(count) or 0)
            rows = list((await session.scalars(stmt)).all()) if page.limit > 0 else []
        return [transaction_of(r) for r in rows], total

    async def list_meter_samples(self, transaction_pk: int) -> list[MeterSample]:
        """Samples of a transaction in time order, then insertion order; [] for an unknown transaction."""
        of_transaction = select(MeterSampleRow).where(MeterSampleRow.transaction_id == transaction_pk)
        return await self._all(
            of_transaction.order_by(MeterSampleRow.timestamp, MeterSampleRow.id), meter_sample_of
        )

    async def list_signed_samples(self, transaction_pk: int) -> list[MeterSample]:
        """The transaction's samples with a signed form, in time order, then insertion order."""
        signed = select(MeterSampleRow).where(
            MeterSampleRow.transaction_id == transaction_pk, MeterSampleRow.signed_data.is_not(None)
        )
        return await self._all(signed.order_by(MeterSampleRow.timestamp, MeterSampleRow.id), meter_sample_of)
