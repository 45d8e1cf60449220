"""`apply_batch`: the batched writer's items written in one database transaction (ADR 0003).

A table maps each batch item type to how it is collected (`_COLLECT`); the collected batch is then written
with one bulk statement per kind, in a fixed order (`BatchSql._WRITES`). Kinds touch disjoint rows, so this
gives the same result as applying the items one by one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import bindparam, func, update
from sqlalchemy.ext.asyncio import AsyncSession

from csms.domain.clock import to_utc
from csms.domain.models import FrameRecord, MeterReading, StationEvent, StatusChange
from csms.domain.ports import (
    BatchItem,
    BootRecorded,
    HeartbeatSeen,
    StationFieldsChanged,
    TransactionEventSeen,
    TransactionMeterChanged,
)
from csms.store.sql.base import (
    CHARGE_POINTS,
    CONNECTORS,
    MESSAGE_LOG,
    METER_SAMPLES,
    STATUS_HISTORY,
    TRANSACTION_EVENTS,
    TRANSACTIONS,
    SqlBase,
    existing_values,
)
from csms.store.sql.bulk import FRAME_COLUMNS, SAMPLE_COLUMNS, frame_rows, sample_rows
from csms.store.sql.rows import boot_values
from csms.store.sql.station_events import append_station_events
from csms.store.tables import UtcDateTime

log = structlog.get_logger("csms.store.sql")

# Columns a StationFieldsChanged may set; anything else is a caller bug, logged and ignored.
STATION_FIELDS = frozenset({"firmware_status", "diagnostics_status", "log_status"})

# The connector columns a StatusChange overwrites.
_CONNECTOR_STATUS_COLUMNS = (
    "status",
    "status_detail",
    "error_code",
    "info",
    "vendor_id",
    "vendor_error_code",
    "status_at",
)


@dataclass(slots=True)
class _Batch:
    """A batch sorted by kind; `known_*` are filled in the transaction (which ids exist)."""

    received_at: datetime
    heartbeats: dict[str, datetime] = field(default_factory=dict)  # newest per station
    boots: dict[str, BootRecorded] = field(default_factory=dict)  # newest per station
    station_fields: dict[str, dict[str, Any]] = field(default_factory=dict)
    statuses: list[StatusChange] = field(default_factory=list)
    readings: list[MeterReading] = field(default_factory=list)
    tx_meters: dict[int, dict[str, Any]] = field(default_factory=dict)  # merged per transaction
    frames: list[FrameRecord] = field(default_factory=list)
    events: dict[tuple[int, int], TransactionEventSeen] = field(default_factory=dict)
    station_events: list[StationEvent] = field(default_factory=list)
    known_cps: set[str] = field(default_factory=set)
    known_txs: set[int] = field(default_factory=set)

    def charge_point_ids(self) -> set[str]:
        ids = {s.charge_point_id for s in self.statuses}
        ids.update(r.charge_point_id for r in self.readings)
        ids.update(f.charge_point_id for f in self.frames)
        ids.update(e.charge_point_id for e in self.station_events)
        return ids

    def transaction_ids(self) -> set[int]:
        ids = {r.transaction_pk for r in self.readings if r.transaction_pk is not None}
        ids.update(pk for pk, _ in self.events)
        return ids


def _heartbeat(batch: _Batch, item: HeartbeatSeen) -> None:
    at = to_utc(item.at)
    seen = batch.heartbeats.get(item.charge_point_id)
    if seen is None or at > seen:
        batch.heartbeats[item.charge_point_id] = at


def _boot(batch: _Batch, item: BootRecorded) -> None:
    seen = batch.boots.get(item.charge_point_id)
    if seen is None or to_utc(item.at) >= to_utc(seen.at):
        batch.boots[item.charge_point_id] = item


def _station_fields(batch: _Batch, item: StationFieldsChanged) -> None:
    unknown = item.fields.keys() - STATION_FIELDS
    if unknown:
        log.warning("station_fields_ignored", charge_point_id=item.charge_point_id, fields=sorted(unknown))
    fields = {k: v for k, v in item.fields.items() if k in STATION_FIELDS}
    batch.station_fields.setdefault(item.charge_point_id, {}).update(fields)


def _tx_meter(batch: _Batch, item: TransactionMeterChanged) -> None:
    # None means "unchanged": a later item only overrides what it carries.
    merged = batch.tx_meters.setdefault(item.transaction_pk, {"b_pk": item.transaction_pk})
    if item.last_meter_wh is not None or "b_wh" not in merged:
        merged["b_wh"] = item.last_meter_wh
    if item.charging_state is not None or "b_state" not in merged:
        merged["b_state"] = item.charging_state
    merged["b_at"] = item.updated_at


def _event(batch: _Batch, item: TransactionEventSeen) -> None:
    batch.events.setdefault((item.transaction_pk, item.seq_no), item)


_COLLECT: dict[type[Any], Callable[[_Batch, Any], None]] = {
    HeartbeatSeen: _heartbeat,
    BootRecorded: _boot,
    StationFieldsChanged: _station_fields,
    StatusChange: lambda batch, item: batch.statuses.append(item),
    MeterReading: lambda batch, item: batch.readings.append(item),
    TransactionMeterChanged: _tx_meter,
    FrameRecord: lambda batch, item: batch.frames.append(item),
    TransactionEventSeen: _event,
    StationEvent: lambda batch, item: batch.station_events.append(item),
}


def _collector(item: BatchItem) -> Callable[[_Batch, Any], None]:
    for cls in type(item).__mro__:
        collect = _COLLECT.get(cls)
        if collect is not None:
            return collect
    raise TypeError(f"not a batch item: {item!r}")


class BatchSql(SqlBase):
    """The `BatchSink` of the SQL store."""

    async def apply_batch(self, items: Sequence[BatchItem]) -> None:
        """Apply all items in one database transaction (see `BatchSink.apply_batch`).

        Same-kind items keep their order. Heartbeats collapse to the newest per station; several
        StatusChanges of one connector leave the last one in the connector row and all of them in the
        history. In a TransactionMeterChanged, None means "unchanged". Items naming an unknown charge point
        (status, meter readings, frames, station events) or an unknown transaction (meter readings) are
        skipped; updates of unknown rows match nothing.

        Raises:
            sqlalchemy.exc.SQLAlchemyError: the database refused the batch; nothing of it was written.
        """
        if not items:
            return
        batch = _Batch(received_at=self._clock())
        for item in items:
            _collector(item)(batch, item)
        async with self._sessions.begin() as session:
            batch.known_cps = await existing_values(
                session, CHARGE_POINTS.c.charge_point_id, batch.charge_point_ids()
            )
            batch.known_txs = await existing_values(session, TRANSACTIONS.c.id, batch.transaction_ids())
            for write in self._writes():
                await write(session, batch)

    def _writes(self) -> tuple[Callable[[AsyncSession, _Batch], Awaitable[None]], ...]:
        """The bulk writes, in the order they run."""
        return (
            self._write_heartbeats,
            self._write_boots,
            self._write_station_fields,
            self._write_statuses,
            self._write_samples,
            self._write_tx_meters,
            self._write_events,
            self._write_station_events,
            self._write_frames,
        )

    async def _write_heartbeats(self, session: AsyncSession, batch: _Batch) -> None:
        if batch.heartbeats:
            await session.execute(
                update(CHARGE_POINTS)
                .where(CHARGE_POINTS.c.charge_point_id == bindparam("b_cp"))
                .values(last_heartbeat_at=bindparam("b_at", type_=UtcDateTime())),
                [{"b_cp": cp, "b_at": at} for cp, at in batch.heartbeats.items()],
            )

    async def _write_boots(self, session: AsyncSession, batch: _Batch) -> None:
        if not batch.boots:
            return
        rows = [
            {f"b_{k}": v for k, v in boot_values(b.boot).items()}
            | {"b_cp": cp, "b_version": b.ocpp_version, "b_at": to_utc(b.at)}
            for cp, b in batch.boots.items()
        ]
        columns = [k[2:] for k in rows[0] if k not in ("b_cp", "b_version", "b_at")]
        await session.execute(
            update(CHARGE_POINTS)
            .where(CHARGE_POINTS.c.charge_point_id == bindparam("b_cp"))
            .values(
                {c: bindparam(f"b_{c}", type_=CHARGE_POINTS.c[c].type) for c in columns}
                | {
                    "ocpp_version": bindparam("b_version"),
                    "last_boot_at": bindparam("b_at", type_=UtcDateTime()),
                }
            ),
            rows,
        )

    async def _write_station_fields(self, session: AsyncSession, batch: _Batch) -> None:
        for cp, values in batch.station_fields.items():
            if values:
                await session.execute(
                    update(CHARGE_POINTS).where(CHARGE_POINTS.c.charge_point_id == cp).values(values)
                )

    async def _write_samples(self, session: AsyncSession, batch: _Batch) -> None:
        readings = [
            reading
            for reading in batch.readings
            if reading.charge_point_id in batch.known_cps
            and (reading.transaction_pk is None or reading.transaction_pk in batch.known_txs)
        ]
        rows = sample_rows(readings, self._bulk.time)
        await self._bulk.append(session, METER_SAMPLES, SAMPLE_COLUMNS, rows)

    async def _write_tx_meters(self, session: AsyncSession, batch: _Batch) -> None:
        if batch.tx_meters:
            await session.execute(
                update(TRANSACTIONS)
                .where(TRANSACTIONS.c.id == bindparam("b_pk"))
                .values(
                    last_meter_wh=func.coalesce(
                        bindparam("b_wh", type_=TRANSACTIONS.c.last_meter_wh.type),
                        TRANSACTIONS.c.last_meter_wh,
                    ),
                    charging_state=func.coalesce(
                        bindparam("b_state", type_=TRANSACTIONS.c.charging_state.type),
                        TRANSACTIONS.c.charging_state,
                    ),
                    updated_at=bindparam("b_at", type_=UtcDateTime()),
                ),
                list(batch.tx_meters.values()),
            )

    async def _write_events(self, session: AsyncSession, batch: _Batch) -> None:
        rows = [
            {
                "transaction_id": e.transaction_pk,
                "seq_no": e.seq_no,
                "event_type": e.event_type,
                "trigger_reason": e.trigger_reason,
                "at": e.at,
            }
            for e in batch.events.values()
            if e.transaction_pk in batch.known_txs
        ]
        if rows:
            await session.execute(
                self._insert(TRANSACTION_EVENTS).on_conflict_do_nothing(
                    index_elements=["transaction_id", "seq_no"]
                ),
                rows,
            )

    async def _write_station_events(self, session: AsyncSession, batch: _Batch) -> None:
        events = [e for e in batch.station_events if e.charge_point_id in batch.known_cps]
        await append_station_events(session, events, batch.received_at)

    async def _write_frames(self, session: AsyncSession, batch: _Batch) -> None:
        frames = [f for f in batch.frames if f.charge_point_id in batch.known_cps]
        await self._bulk.append(session, MESSAGE_LOG, FRAME_COLUMNS, frame_rows(frames, self._bulk.time))

    async def _write_statuses(self, session: AsyncSession, batch: _Batch) -> None:
        statuses = [s for s in batch.statuses if s.charge_point_id in batch.known_cps]
        if not statuses:
            return
        # One row per connector, the last change winning: PostgreSQL refuses an upsert that touches the
        # same row twice in one statement, and the final state is the same.
        latest: dict[tuple[str, int, int], StatusChange] = {}
        for s in statuses:
            latest[(s.charge_point_id, s.evse_id, s.connector_id)] = s
        stmt = self._insert(CONNECTORS)
        stmt = stmt.on_conflict_do_update(
            index_elements=["charge_point_id", "evse_id", "connector_id"],
            set_={name: stmt.excluded[name] for name in _CONNECTOR_STATUS_COLUMNS},
        )
        await session.execute(
            stmt,
            [
                dict(_status_values(s), status_detail=s.status_detail, status_at=s.timestamp)
                for s in latest.values()
            ],
        )
        await session.execute(
            STATUS_HISTORY.insert(),
            [
                dict(
                    _status_values(s),
                    detail=s.status_detail,
                    timestamp=s.timestamp,
                    received_at=batch.received_at,
                )
                for s in statuses
            ],
        )


def _status_values(s: StatusChange) -> dict[str, Any]:
    """The columns a connector row and a status history row share."""
    return {
        "charge_point_id": s.charge_point_id,
        "evse_id": s.evse_id,
        "connector_id": s.connector_id,
        "status": str(s.status),
        "error_code": s.error_code,
        "info": s.info,
        "vendor_id": s.vendor_id,
        "vendor_error_code": s.vendor_error_code,
    }
