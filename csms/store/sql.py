"""`SqlStore`: the `Store` protocol on SQLAlchemy async, for SQLite (aiosqlite) and PostgreSQL (asyncpg).

Call `open_store(config.database)` once at start-up: it creates the engine, migrates the schema to the
newest revision and returns the store; `await store.close()` at shutdown, after the batched writer stopped.
Direct methods each run in their own short session; `apply_batch` (called by `BatchedWriter`) writes a whole
batch in one database transaction with bulk statements.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, cast

import structlog
from sqlalchemy import (
    ColumnElement,
    CursorResult,
    Table,
    bindparam,
    delete,
    event,
    func,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Result, make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import StaticPool

from csms.config import DatabaseConfig
from csms.domain.clock import Clock, to_utc, to_utc_or_none, utcnow
from csms.domain.models import (
    ApiKey,
    BootInfo,
    ChargePoint,
    Connector,
    ConnectorStatus,
    DeviceVariable,
    Direction,
    FrameRecord,
    IdToken,
    MeterReading,
    MeterSample,
    NewTransaction,
    RegistrationStatus,
    Reservation,
    ReservationStatus,
    StatusChange,
    StoredChargingProfile,
    TokenStatus,
    Transaction,
    TransactionStatus,
)
from csms.domain.ports import (
    AlreadyExists,
    BatchItem,
    HeartbeatSeen,
    NotFound,
    StationFieldsChanged,
    TransactionEventSeen,
    TransactionMeterChanged,
)
from csms.store.migrate import migrate
from csms.store.tables import (
    NO_ID,
    NO_NAME,
    ApiKeyRow,
    Base,
    ChargePointRow,
    ChargingProfileRow,
    ConnectorRow,
    DeviceVariableRow,
    IdTokenRow,
    MessageLogRow,
    MeterSampleRow,
    ReservationRow,
    TransactionEventRow,
    TransactionRow,
    UtcDateTime,
)

log = structlog.get_logger(__name__)

# Core tables for the bulk statements of apply_batch (executemany with plain dicts, no ORM objects).
_CHARGE_POINTS: Table = Base.metadata.tables["charge_points"]
_CONNECTORS: Table = Base.metadata.tables["connectors"]
_STATUS_HISTORY: Table = Base.metadata.tables["status_history"]
_TRANSACTIONS: Table = Base.metadata.tables["transactions"]
_TRANSACTION_EVENTS: Table = Base.metadata.tables["transaction_events"]
_METER_SAMPLES: Table = Base.metadata.tables["meter_samples"]
_MESSAGE_LOG: Table = Base.metadata.tables["message_log"]
_ID_TOKENS: Table = Base.metadata.tables["id_tokens"]
_RESERVATIONS: Table = Base.metadata.tables["reservations"]
_DEVICE_VARIABLES: Table = Base.metadata.tables["device_variables"]
_CHARGING_PROFILES: Table = Base.metadata.tables["charging_profiles"]

# The upsert key of device_variables (its primary key).
_DEVICE_VARIABLE_KEY = (
    "charge_point_id",
    "component",
    "component_instance",
    "evse_id",
    "connector_id",
    "variable",
    "variable_instance",
    "attribute_type",
)

# Columns a StationFieldsChanged may set; anything else is a caller bug, logged and ignored.
STATION_FIELDS = frozenset({"firmware_status", "diagnostics_status", "log_status"})

# Bound parameters per IN (...) list when checking which ids of a batch exist: far below SQLite's and
# asyncpg's parameter limits (32766 / 32767).
_IN_CHUNK = 500
# Rows per DELETE in purge_frames: each chunk commits on its own so the writer never waits long behind it
# (SQLite has a single writer lock).
_PURGE_CHUNK = 10_000


_utc = to_utc_or_none


def dialect_insert(engine: AsyncEngine) -> Any:
    """The dialect's `insert()` (SQLite or PostgreSQL); both have on_conflict_do_update/do_nothing with the
    same signature, which is what every upsert of the stores uses.

    Raises:
        ValueError: another dialect.
    """
    dialect = engine.dialect.name
    if dialect not in ("sqlite", "postgresql"):
        raise ValueError(f"unsupported database dialect {dialect!r} (SQLite or PostgreSQL)")
    return sqlite_insert if dialect == "sqlite" else pg_insert


def _rowcount(result: Result[Any]) -> int:
    # DML results are CursorResults; the async API types them as plain Result.
    return cast(CursorResult[Any], result).rowcount


def _page_limit(limit: int) -> int:
    if limit < 1:
        raise ValueError(f"limit must be at least 1, not {limit}")
    return limit


def _id_cursor(cursor: str | None) -> int | None:
    """Decode a newest-first cursor (the str of the last id returned)."""
    if cursor is None:
        return None
    try:
        return int(cursor)
    except ValueError:
        raise ValueError(f"invalid cursor {cursor!r}") from None


def _charge_point(row: ChargePointRow) -> ChargePoint:
    return ChargePoint(
        charge_point_id=row.charge_point_id,
        registration_status=RegistrationStatus(row.registration_status),
        password_hash=row.password_hash,
        ocpp_version=row.ocpp_version,
        vendor=row.vendor,
        model=row.model,
        serial_number=row.serial_number,
        firmware_version=row.firmware_version,
        iccid=row.iccid,
        imsi=row.imsi,
        meter_type=row.meter_type,
        meter_serial_number=row.meter_serial_number,
        boot_reason=row.boot_reason,
        last_boot_at=_utc(row.last_boot_at),
        last_heartbeat_at=_utc(row.last_heartbeat_at),
        firmware_status=row.firmware_status,
        diagnostics_status=row.diagnostics_status,
        log_status=row.log_status,
        created_at=_utc(row.created_at),
        updated_at=_utc(row.updated_at),
    )


def _connector(row: ConnectorRow) -> Connector:
    return Connector(
        charge_point_id=row.charge_point_id,
        evse_id=row.evse_id,
        connector_id=row.connector_id,
        status=ConnectorStatus(row.status),
        status_detail=row.status_detail,
        error_code=row.error_code,
        info=row.info,
        vendor_id=row.vendor_id,
        vendor_error_code=row.vendor_error_code,
        status_at=_utc(row.status_at),
    )


def _id_token(row: IdTokenRow) -> IdToken:
    return IdToken(
        id_token=row.id_token,
        type=row.type,
        status=TokenStatus(row.status),
        expiry_date=_utc(row.expiry_date),
        group_id_token=row.group_id_token,
        created_at=_utc(row.created_at),
        updated_at=_utc(row.updated_at),
    )


def _transaction(row: TransactionRow) -> Transaction:
    return Transaction(
        id=row.id,
        charge_point_id=row.charge_point_id,
        evse_id=row.evse_id,
        connector_id=row.connector_id,
        # Only NULL inside add_transaction's own DB transaction, never visible to a reader.
        ocpp_transaction_id=row.ocpp_transaction_id or str(row.id),
        status=TransactionStatus(row.status),
        started_at=to_utc(row.started_at),
        id_token=row.id_token,
        id_token_type=row.id_token_type,
        meter_start_wh=row.meter_start_wh,
        meter_stop_wh=row.meter_stop_wh,
        last_meter_wh=row.last_meter_wh,
        stopped_at=_utc(row.stopped_at),
        stop_reason=row.stop_reason,
        stop_id_token=row.stop_id_token,
        reservation_id=row.reservation_id,
        remote_start_id=row.remote_start_id,
        charging_state=row.charging_state,
        last_seq_no=row.last_seq_no,
        offline=row.offline,
        updated_at=_utc(row.updated_at),
    )


def _meter_sample(row: MeterSampleRow) -> MeterSample:
    return MeterSample(
        timestamp=to_utc(row.timestamp),
        value=Decimal(row.value),
        measurand=row.measurand,
        unit=row.unit,
        multiplier=row.multiplier,
        phase=row.phase,
        context=row.context,
        location=row.location,
        signed=row.signed,
    )


def _frame(row: MessageLogRow) -> FrameRecord:
    return FrameRecord(
        charge_point_id=row.charge_point_id,
        direction=Direction(row.direction),
        message_type=row.message_type,
        message_id=row.message_id,
        action=row.action,
        frame=row.frame,
        at=to_utc(row.at),
    )


def _api_key(row: ApiKeyRow) -> ApiKey:
    return ApiKey(
        id=row.id,
        name=row.name,
        prefix=row.prefix,
        key_hash=row.key_hash,
        role=row.role,
        created_at=_utc(row.created_at),
    )


def _reservation(row: ReservationRow) -> Reservation:
    return Reservation(
        id=row.id,
        charge_point_id=row.charge_point_id,
        evse_id=row.evse_id,
        id_token=row.id_token,
        expiry_date=to_utc(row.expiry_date),
        status=ReservationStatus(row.status),
        id_token_type=row.id_token_type,
        group_id_token=row.group_id_token,
        connector_type=row.connector_type,
        station_status=row.station_status,
        transaction_pk=row.transaction_pk,
        external_id=row.external_id,
        owner=row.owner,
        reason=row.reason,
        created_at=_utc(row.created_at),
        updated_at=_utc(row.updated_at),
    )


def _reservation_values(r: Reservation) -> dict[str, Any]:
    """The columns `save_reservation` writes: everything but the id and created_at."""
    return {
        "charge_point_id": r.charge_point_id,
        "evse_id": r.evse_id,
        "id_token": r.id_token,
        "id_token_type": r.id_token_type,
        "group_id_token": r.group_id_token,
        "connector_type": r.connector_type,
        "expiry_date": r.expiry_date,
        "status": str(r.status),
        "station_status": r.station_status,
        "transaction_pk": r.transaction_pk,
        "external_id": r.external_id,
        "owner": r.owner,
        "reason": r.reason,
        "updated_at": r.updated_at,
    }


def _device_variable(row: DeviceVariableRow) -> DeviceVariable:
    return DeviceVariable(
        charge_point_id=row.charge_point_id,
        component=row.component or None,
        variable=row.variable,
        value=row.value,
        readonly=row.readonly,
        component_instance=row.component_instance or None,
        evse_id=None if row.evse_id == NO_ID else row.evse_id,
        connector_id=None if row.connector_id == NO_ID else row.connector_id,
        variable_instance=row.variable_instance or None,
        attribute_type=row.attribute_type,
        data_type=row.data_type,
        updated_at=_utc(row.updated_at),
    )


def _device_variable_values(v: DeviceVariable, now: datetime) -> dict[str, Any]:
    return {
        "charge_point_id": v.charge_point_id,
        "component": v.component or NO_NAME,
        "component_instance": v.component_instance or NO_NAME,
        "evse_id": NO_ID if v.evse_id is None else v.evse_id,
        "connector_id": NO_ID if v.connector_id is None else v.connector_id,
        "variable": v.variable,
        "variable_instance": v.variable_instance or NO_NAME,
        "attribute_type": v.attribute_type,
        "value": v.value,
        "readonly": v.readonly,
        "data_type": v.data_type,
        "updated_at": v.updated_at or now,
    }


def _charging_profile(row: ChargingProfileRow) -> StoredChargingProfile:
    return StoredChargingProfile(
        charge_point_id=row.charge_point_id,
        evse_id=row.evse_id,
        profile_id=row.profile_id,
        purpose=row.purpose,
        stack_level=row.stack_level,
        profile=json.loads(row.profile),
        transaction_pk=row.transaction_pk,
        created_at=_utc(row.created_at),
    )


def _boot_values(boot: BootInfo) -> dict[str, Any]:
    return {
        "vendor": boot.vendor,
        "model": boot.model,
        "serial_number": boot.serial_number,
        "firmware_version": boot.firmware_version,
        "iccid": boot.iccid,
        "imsi": boot.imsi,
        "meter_type": boot.meter_type,
        "meter_serial_number": boot.meter_serial_number,
        "boot_reason": boot.reason,
    }


class SqlStore:
    """The whole `Store` protocol on an `AsyncEngine` (SQLite or PostgreSQL, schema already migrated).

    Args:
        engine: an engine whose database `migrate` has brought to head; the store owns it from now on and
            disposes of it in `close`.
        clock: source of `created_at`/`updated_at`/`received_at`; tests pass a fixed one.

    Every datetime returned is timezone-aware UTC; every datetime passed in may be in any zone (naive ones
    are taken as UTC) and is stored in UTC. List methods raise ValueError for `limit < 1` or a cursor they
    did not hand out.
    """

    def __init__(self, engine: AsyncEngine, *, clock: Clock = utcnow) -> None:
        self._engine = engine
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)
        self._clock = clock
        self._insert = dialect_insert(engine)

    @property
    def engine(self) -> AsyncEngine:
        """The engine, for health checks and tests; do not dispose of it directly (use `close`)."""
        return self._engine

    async def close(self) -> None:
        """Dispose of the engine's connections; stop the `BatchedWriter` first so nothing is lost."""
        await self._engine.dispose()

    # -- StationStore ------------------------------------------------------------------------------

    async def get_charge_point(self, charge_point_id: str) -> ChargePoint | None:
        """Return the charge point, or None if it is not registered."""
        async with self._sessions() as session:
            row = await session.get(ChargePointRow, charge_point_id)
            return None if row is None else _charge_point(row)

    async def add_charge_point(self, charge_point: ChargePoint) -> ChargePoint:
        """Store a new charge point and return it as stored (`created_at`/`updated_at` filled in).

        Raises:
            AlreadyExists: a charge point with this id is registered.
        """
        now = self._clock()
        created = charge_point.created_at or now
        row = ChargePointRow(
            charge_point_id=charge_point.charge_point_id,
            registration_status=str(charge_point.registration_status),
            password_hash=charge_point.password_hash,
            ocpp_version=charge_point.ocpp_version,
            vendor=charge_point.vendor,
            model=charge_point.model,
            serial_number=charge_point.serial_number,
            firmware_version=charge_point.firmware_version,
            iccid=charge_point.iccid,
            imsi=charge_point.imsi,
            meter_type=charge_point.meter_type,
            meter_serial_number=charge_point.meter_serial_number,
            boot_reason=charge_point.boot_reason,
            last_boot_at=charge_point.last_boot_at,
            last_heartbeat_at=charge_point.last_heartbeat_at,
            firmware_status=charge_point.firmware_status,
            diagnostics_status=charge_point.diagnostics_status,
            log_status=charge_point.log_status,
            created_at=created,
            updated_at=charge_point.updated_at or created,
        )
        try:
            async with self._sessions.begin() as session:
                session.add(row)
        except IntegrityError:
            raise AlreadyExists(f"charge point {charge_point.charge_point_id!r} exists") from None
        return _charge_point(row)

    async def update_charge_point(self, charge_point: ChargePoint) -> None:
        """Overwrite registration status, password hash, OCPP version and boot fields (incl. `last_boot_at`).

        The columns the batched writer maintains (`last_heartbeat_at`, firmware/diagnostics/log status)
        are left alone, so a stale object cannot roll them back. `updated_at` becomes now.

        Raises:
            NotFound: no charge point with this id.
        """
        values: dict[str, Any] = {
            "registration_status": str(charge_point.registration_status),
            "password_hash": charge_point.password_hash,
            "ocpp_version": charge_point.ocpp_version,
            "vendor": charge_point.vendor,
            "model": charge_point.model,
            "serial_number": charge_point.serial_number,
            "firmware_version": charge_point.firmware_version,
            "iccid": charge_point.iccid,
            "imsi": charge_point.imsi,
            "meter_type": charge_point.meter_type,
            "meter_serial_number": charge_point.meter_serial_number,
            "boot_reason": charge_point.boot_reason,
            "last_boot_at": charge_point.last_boot_at,
            "updated_at": self._clock(),
        }
        await self._update_charge_point(charge_point.charge_point_id, values)

    async def record_boot(
        self, charge_point_id: str, ocpp_version: str, boot: BootInfo, at: datetime
    ) -> None:
        """Store what BootNotification said (fields the station left out become NULL), the OCPP version and
        `last_boot_at = at`.

        Raises:
            NotFound: no charge point with this id.
        """
        values = _boot_values(boot) | {
            "ocpp_version": ocpp_version,
            "last_boot_at": at,
            "updated_at": self._clock(),
        }
        await self._update_charge_point(charge_point_id, values)

    async def _update_charge_point(self, charge_point_id: str, values: dict[str, Any]) -> None:
        stmt = (
            update(_CHARGE_POINTS).where(_CHARGE_POINTS.c.charge_point_id == charge_point_id).values(values)
        )
        async with self._sessions.begin() as session:
            if _rowcount(await session.execute(stmt)) == 0:
                raise NotFound(f"charge point {charge_point_id!r}")

    async def list_charge_points(
        self, *, limit: int, cursor: str | None = None
    ) -> tuple[list[ChargePoint], str | None]:
        """Charge points ordered by id; the cursor is the last id of the previous page.

        Returns:
            (at most `limit` charge points, the cursor for the next page or None if this is the last).
        """
        stmt = select(ChargePointRow).order_by(ChargePointRow.charge_point_id).limit(_page_limit(limit) + 1)
        if cursor is not None:
            stmt = stmt.where(ChargePointRow.charge_point_id > cursor)
        async with self._sessions() as session:
            rows = list((await session.scalars(stmt)).all())
        page = [_charge_point(r) for r in rows[:limit]]
        return page, (page[-1].charge_point_id if len(rows) > limit else None)

    async def list_connectors(self, charge_point_id: str) -> list[Connector]:
        """Current connector states of the station ordered by (evse_id, connector_id); [] if none."""
        stmt = (
            select(ConnectorRow)
            .where(ConnectorRow.charge_point_id == charge_point_id)
            .order_by(ConnectorRow.evse_id, ConnectorRow.connector_id)
        )
        async with self._sessions() as session:
            return [_connector(r) for r in await session.scalars(stmt)]

    # -- TokenStore --------------------------------------------------------------------------------

    async def get_id_token(self, id_token: str) -> IdToken | None:
        """Return the token, or None if no operator registered it."""
        async with self._sessions() as session:
            row = await session.get(IdTokenRow, id_token)
            return None if row is None else _id_token(row)

    async def add_id_token(self, token: IdToken) -> IdToken:
        """Store a new token and return it as stored (`created_at`/`updated_at` filled in).

        Raises:
            AlreadyExists: a token with this id_token is registered.
        """
        created = token.created_at or self._clock()
        row = IdTokenRow(
            id_token=token.id_token,
            type=token.type,
            status=str(token.status),
            expiry_date=token.expiry_date,
            group_id_token=token.group_id_token,
            created_at=created,
            updated_at=token.updated_at or created,
        )
        try:
            async with self._sessions.begin() as session:
                session.add(row)
        except IntegrityError:
            raise AlreadyExists(f"id token {token.id_token!r} exists") from None
        return _id_token(row)

    async def list_id_tokens(
        self, *, limit: int, cursor: str | None = None
    ) -> tuple[list[IdToken], str | None]:
        """Tokens ordered by id_token; the cursor is the last id_token of the previous page.

        Returns:
            (at most `limit` tokens, the cursor for the next page or None if this is the last).
        """
        stmt = select(IdTokenRow).order_by(IdTokenRow.id_token).limit(_page_limit(limit) + 1)
        if cursor is not None:
            stmt = stmt.where(IdTokenRow.id_token > cursor)
        async with self._sessions() as session:
            rows = list((await session.scalars(stmt)).all())
        page = [_id_token(r) for r in rows[:limit]]
        return page, (page[-1].id_token if len(rows) > limit else None)

    # -- TransactionStore --------------------------------------------------------------------------

    async def add_transaction(self, new: NewTransaction) -> Transaction:
        """Insert a transaction and return it with its integer id, in one DB transaction.

        For 1.6 (`new.ocpp_transaction_id is None`) the row is inserted, then its ocpp_transaction_id set to
        str(id). With `new.seq_no` the pair is also recorded as a "Started" transaction event and becomes
        `last_seq_no`.

        Raises:
            AlreadyExists: the station already has a transaction with this ocpp_transaction_id.
        """
        now = self._clock()
        row = TransactionRow(
            charge_point_id=new.charge_point_id,
            evse_id=new.evse_id,
            connector_id=new.connector_id,
            ocpp_transaction_id=new.ocpp_transaction_id,
            status=str(TransactionStatus.ACTIVE),
            started_at=new.started_at,
            id_token=new.id_token,
            id_token_type=new.id_token_type,
            meter_start_wh=new.meter_start_wh,
            reservation_id=new.reservation_id,
            remote_start_id=new.remote_start_id,
            charging_state=new.charging_state,
            last_seq_no=new.seq_no,
            offline=new.offline,
            updated_at=now,
        )
        try:
            async with self._sessions.begin() as session:
                session.add(row)
                await session.flush()  # assigns row.id
                if row.ocpp_transaction_id is None:
                    row.ocpp_transaction_id = str(row.id)
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
        return _transaction(row)

    async def get_transaction(self, pk: int) -> Transaction | None:
        """Return the transaction with our integer id `pk`, or None."""
        async with self._sessions() as session:
            row = await session.get(TransactionRow, pk)
            return None if row is None else _transaction(row)

    async def find_transaction(self, charge_point_id: str, ocpp_transaction_id: str) -> Transaction | None:
        """Return the station's transaction by the id the station uses, or None."""
        stmt = select(TransactionRow).where(
            TransactionRow.charge_point_id == charge_point_id,
            TransactionRow.ocpp_transaction_id == ocpp_transaction_id,
        )
        async with self._sessions() as session:
            row = await session.scalar(stmt)
            return None if row is None else _transaction(row)

    async def find_started_transaction(
        self, charge_point_id: str, evse_id: int, started_at: datetime, id_token: str | None
    ) -> Transaction | None:
        """The transaction of this station and EVSE started at exactly `started_at` by `id_token` (None
        matches a transaction without token), if any; the oldest one should several match."""
        token_match: ColumnElement[bool] = (
            TransactionRow.id_token.is_(None) if id_token is None else TransactionRow.id_token == id_token
        )
        stmt = (
            select(TransactionRow)
            .where(
                TransactionRow.charge_point_id == charge_point_id,
                TransactionRow.evse_id == evse_id,
                TransactionRow.started_at == started_at,
                token_match,
            )
            .order_by(TransactionRow.id)
            .limit(1)
        )
        async with self._sessions() as session:
            row = await session.scalar(stmt)
            return None if row is None else _transaction(row)

    async def save_transaction(self, tx: Transaction) -> None:
        """Write every field of `tx` except its identity (id, charge_point_id, ocpp_transaction_id).

        Sets `tx.updated_at` to now, the value written.

        Raises:
            NotFound: no transaction with `tx.id`.
        """
        tx.updated_at = self._clock()
        stmt = (
            update(_TRANSACTIONS)
            .where(_TRANSACTIONS.c.id == tx.id)
            .values(
                evse_id=tx.evse_id,
                connector_id=tx.connector_id,
                status=str(tx.status),
                started_at=tx.started_at,
                id_token=tx.id_token,
                id_token_type=tx.id_token_type,
                meter_start_wh=tx.meter_start_wh,
                meter_stop_wh=tx.meter_stop_wh,
                last_meter_wh=tx.last_meter_wh,
                stopped_at=tx.stopped_at,
                stop_reason=tx.stop_reason,
                stop_id_token=tx.stop_id_token,
                reservation_id=tx.reservation_id,
                remote_start_id=tx.remote_start_id,
                charging_state=tx.charging_state,
                last_seq_no=tx.last_seq_no,
                offline=tx.offline,
                updated_at=tx.updated_at,
            )
        )
        async with self._sessions.begin() as session:
            if _rowcount(await session.execute(stmt)) == 0:
                raise NotFound(f"transaction {tx.id}")

    async def list_transaction_seq_nos(self, transaction_pk: int) -> set[int]:
        """The 2.0.1 seqNos recorded for a transaction."""
        async with self._sessions() as session:
            rows = await session.execute(
                select(_TRANSACTION_EVENTS.c.seq_no).where(
                    _TRANSACTION_EVENTS.c.transaction_id == transaction_pk
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
            self._insert(_TRANSACTION_EVENTS)
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
                inserted = _rowcount(await session.execute(stmt))
        except IntegrityError:
            # Only the foreign key can fail here: the unique pair is absorbed by ON CONFLICT DO NOTHING.
            raise NotFound(f"transaction {transaction_pk}") from None
        return inserted == 1

    async def list_transactions(
        self,
        *,
        charge_point_id: str | None = None,
        status: TransactionStatus | None = None,
        limit: int,
        cursor: str | None = None,
    ) -> tuple[list[Transaction], str | None]:
        """Transactions newest first (by id), optionally of one station and/or one status.

        Returns:
            (at most `limit` transactions, the cursor for the next page or None if this is the last).
        """
        stmt = select(TransactionRow).order_by(TransactionRow.id.desc()).limit(_page_limit(limit) + 1)
        if charge_point_id is not None:
            stmt = stmt.where(TransactionRow.charge_point_id == charge_point_id)
        if status is not None:
            stmt = stmt.where(TransactionRow.status == str(status))
        before = _id_cursor(cursor)
        if before is not None:
            stmt = stmt.where(TransactionRow.id < before)
        async with self._sessions() as session:
            rows = list((await session.scalars(stmt)).all())
        page = [_transaction(r) for r in rows[:limit]]
        return page, (str(page[-1].id) if len(rows) > limit else None)

    async def list_active_transactions(self, charge_point_id: str) -> list[Transaction]:
        """The station's active transactions, oldest first."""
        stmt = (
            select(TransactionRow)
            .where(
                TransactionRow.charge_point_id == charge_point_id,
                TransactionRow.status == str(TransactionStatus.ACTIVE),
            )
            .order_by(TransactionRow.id)
        )
        async with self._sessions() as session:
            return [_transaction(r) for r in await session.scalars(stmt)]

    async def list_transactions_updated(
        self,
        *,
        date_from: datetime | None,
        date_to: datetime | None,
        offset: int,
        limit: int,
        charge_point_ids: Collection[str] | None = None,
    ) -> tuple[list[Transaction], int]:
        """Transactions with date_from <= updated_at < date_to, ordered by (updated_at, id).

        Returns:
            (the page at `offset` of at most `limit` transactions, the total count of matches).
        """
        conditions: list[ColumnElement[bool]] = []
        if date_from is not None:
            conditions.append(TransactionRow.updated_at >= date_from)
        if date_to is not None:
            conditions.append(TransactionRow.updated_at < date_to)
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
            .offset(max(offset, 0))
            .limit(max(limit, 0))
        )
        async with self._sessions() as session:
            total = int(await session.scalar(count) or 0)
            rows = list((await session.scalars(stmt)).all()) if limit > 0 else []
        return [_transaction(r) for r in rows], total

    async def list_meter_samples(self, transaction_pk: int) -> list[MeterSample]:
        """Samples of a transaction in time order, then insertion order; [] for an unknown transaction."""
        stmt = (
            select(MeterSampleRow)
            .where(MeterSampleRow.transaction_id == transaction_pk)
            .order_by(MeterSampleRow.timestamp, MeterSampleRow.id)
        )
        async with self._sessions() as session:
            return [_meter_sample(r) for r in await session.scalars(stmt)]

    # -- MessageLogStore ---------------------------------------------------------------------------

    async def list_frames(
        self, charge_point_id: str, *, limit: int, cursor: str | None = None
    ) -> tuple[list[FrameRecord], str | None]:
        """The station's logged frames newest first; the cursor is the row id of the last one returned.

        Returns:
            (at most `limit` frames, the cursor for the next page or None if this is the last).
        """
        stmt = (
            select(MessageLogRow)
            .where(MessageLogRow.charge_point_id == charge_point_id)
            .order_by(MessageLogRow.id.desc())
            .limit(_page_limit(limit) + 1)
        )
        before = _id_cursor(cursor)
        if before is not None:
            stmt = stmt.where(MessageLogRow.id < before)
        async with self._sessions() as session:
            rows = list((await session.scalars(stmt)).all())
        page = rows[:limit]
        return [_frame(r) for r in page], (str(page[-1].id) if len(rows) > limit else None)

    async def purge_frames(self, before: datetime) -> int:
        """Delete frames logged before `before`, in chunks that each commit on their own.

        Returns:
            How many frames were deleted.
        """
        chunk = (
            select(_MESSAGE_LOG.c.id)
            .where(_MESSAGE_LOG.c.at < bindparam("before", type_=UtcDateTime()))
            .limit(_PURGE_CHUNK)
            .scalar_subquery()
        )
        stmt = delete(_MESSAGE_LOG).where(_MESSAGE_LOG.c.id.in_(chunk))
        total = 0
        while True:
            async with self._sessions.begin() as session:
                deleted = _rowcount(await session.execute(stmt, {"before": before}))
            total += deleted
            if deleted < _PURGE_CHUNK:
                return total

    # -- ApiKeyStore -------------------------------------------------------------------------------

    async def add_api_key(self, name: str, prefix: str, key_hash: str, role: str) -> ApiKey:
        """Store a new API key (its bcrypt hash) and return it with its id and `created_at`.

        Raises:
            AlreadyExists: another key has this prefix.
        """
        row = ApiKeyRow(name=name, prefix=prefix, key_hash=key_hash, role=role, created_at=self._clock())
        try:
            async with self._sessions.begin() as session:
                session.add(row)
        except IntegrityError:
            raise AlreadyExists(f"API key prefix {prefix!r} exists") from None
        return _api_key(row)

    async def find_api_key(self, prefix: str) -> ApiKey | None:
        """Return the key with this prefix (the caller then checks the secret against `key_hash`), or None."""
        async with self._sessions() as session:
            row = await session.scalar(select(ApiKeyRow).where(ApiKeyRow.prefix == prefix))
            return None if row is None else _api_key(row)

    # -- ReservationStore --------------------------------------------------------------------------

    async def add_reservation(self, reservation: Reservation) -> Reservation:
        """Insert a reservation under a newly allocated id (`reservation.id` is ignored) and return it.

        Ids are never reused, even after the newest row is deleted (SQLite AUTOINCREMENT, PostgreSQL
        sequence). `created_at` defaults to now, `updated_at` to `created_at`.
        """
        created = reservation.created_at or self._clock()
        row = ReservationRow(
            charge_point_id=reservation.charge_point_id,
            evse_id=reservation.evse_id,
            id_token=reservation.id_token,
            id_token_type=reservation.id_token_type,
            group_id_token=reservation.group_id_token,
            connector_type=reservation.connector_type,
            expiry_date=reservation.expiry_date,
            status=str(reservation.status),
            station_status=reservation.station_status,
            transaction_pk=reservation.transaction_pk,
            external_id=reservation.external_id,
            owner=reservation.owner,
            reason=reservation.reason,
            created_at=created,
            updated_at=reservation.updated_at or created,
        )
        async with self._sessions.begin() as session:
            session.add(row)
        return _reservation(row)

    async def get_reservation(self, reservation_id: int) -> Reservation | None:
        """Return the reservation with this id, or None."""
        async with self._sessions() as session:
            row = await session.get(ReservationRow, reservation_id)
            return None if row is None else _reservation(row)

    async def save_reservation(self, reservation: Reservation) -> None:
        """Write every field of `reservation` except its id and created_at.

        Sets `reservation.updated_at` to now, the value written.

        Raises:
            NotFound: no reservation with `reservation.id`.
        """
        reservation.updated_at = self._clock()
        stmt = (
            update(_RESERVATIONS)
            .where(_RESERVATIONS.c.id == reservation.id)
            .values(_reservation_values(reservation))
        )
        async with self._sessions.begin() as session:
            if _rowcount(await session.execute(stmt)) == 0:
                raise NotFound(f"reservation {reservation.id}")

    async def list_reservations(
        self,
        *,
        charge_point_id: str | None = None,
        status: ReservationStatus | None = None,
        limit: int,
        cursor: str | None = None,
    ) -> tuple[list[Reservation], str | None]:
        """Reservations newest first (by id), optionally of one station and/or one status.

        Returns:
            (at most `limit` reservations, the cursor for the next page or None if this is the last).
        """
        stmt = select(ReservationRow).order_by(ReservationRow.id.desc()).limit(_page_limit(limit) + 1)
        if charge_point_id is not None:
            stmt = stmt.where(ReservationRow.charge_point_id == charge_point_id)
        if status is not None:
            stmt = stmt.where(ReservationRow.status == str(status))
        before = _id_cursor(cursor)
        if before is not None:
            stmt = stmt.where(ReservationRow.id < before)
        async with self._sessions() as session:
            rows = list((await session.scalars(stmt)).all())
        page = [_reservation(r) for r in rows[:limit]]
        return page, (str(page[-1].id) if len(rows) > limit else None)

    async def list_due_reservations(self, now: datetime) -> list[Reservation]:
        """Active reservations whose expiry_date is at or before `now`, soonest expiry first (then by id)."""
        stmt = (
            select(ReservationRow)
            .where(
                ReservationRow.status == str(ReservationStatus.ACTIVE),
                ReservationRow.expiry_date <= now,
            )
            .order_by(ReservationRow.expiry_date, ReservationRow.id)
        )
        async with self._sessions() as session:
            return [_reservation(r) for r in await session.scalars(stmt)]

    async def find_active_reservations(self, charge_point_id: str) -> list[Reservation]:
        """Active reservations of one station, oldest first (by id), expired or not."""
        stmt = (
            select(ReservationRow)
            .where(
                ReservationRow.charge_point_id == charge_point_id,
                ReservationRow.status == str(ReservationStatus.ACTIVE),
            )
            .order_by(ReservationRow.id)
        )
        async with self._sessions() as session:
            return [_reservation(r) for r in await session.scalars(stmt)]

    async def find_reservation_by_external_id(self, owner: str, external_id: str) -> Reservation | None:
        """The newest reservation (highest id, any status) a partner made under its own id, or None."""
        stmt = (
            select(ReservationRow)
            .where(ReservationRow.owner == owner, ReservationRow.external_id == external_id)
            .order_by(ReservationRow.id.desc())
            .limit(1)
        )
        async with self._sessions() as session:
            row = await session.scalar(stmt)
            return None if row is None else _reservation(row)

    # -- DeviceModelStore --------------------------------------------------------------------------

    async def upsert_device_variables(self, variables: Sequence[DeviceVariable]) -> None:
        """Insert or update each variable by its key (station, component + instance, EVSE, connector,
        variable + instance, attribute type), all in one database transaction.

        `updated_at` defaults to now. When the same key appears twice, the later one wins.
        """
        if not variables:
            return
        now = self._clock()
        # One row per key: PostgreSQL refuses an upsert that touches the same row twice in one statement.
        latest: dict[tuple[Any, ...], dict[str, Any]] = {}
        for v in variables:
            values = _device_variable_values(v, now)
            latest[tuple(values[k] for k in _DEVICE_VARIABLE_KEY)] = values
        stmt = self._insert(_DEVICE_VARIABLES)
        stmt = stmt.on_conflict_do_update(
            index_elements=list(_DEVICE_VARIABLE_KEY),
            set_={name: stmt.excluded[name] for name in ("value", "readonly", "data_type", "updated_at")},
        )
        async with self._sessions.begin() as session:
            await session.execute(stmt, list(latest.values()))

    async def list_device_variables(self, charge_point_id: str) -> list[DeviceVariable]:
        """The station's variables ordered by component (1.6 keys, component None, first), variable, then
        component instance, EVSE, connector, variable instance and attribute type (None first in each)."""
        stmt = (
            select(DeviceVariableRow)
            .where(DeviceVariableRow.charge_point_id == charge_point_id)
            .order_by(
                DeviceVariableRow.component,
                DeviceVariableRow.variable,
                DeviceVariableRow.component_instance,
                DeviceVariableRow.evse_id,
                DeviceVariableRow.connector_id,
                DeviceVariableRow.variable_instance,
                DeviceVariableRow.attribute_type,
            )
        )
        async with self._sessions() as session:
            return [_device_variable(r) for r in await session.scalars(stmt)]

    # -- ChargingProfileStore ----------------------------------------------------------------------

    async def save_charging_profile(self, profile: StoredChargingProfile) -> None:
        """Insert or replace the profile by (charge_point_id, profile_id); `created_at` defaults to now.

        Raises:
            TypeError: `profile.profile` is not JSON-serializable (nothing is written).
        """
        values = {
            "charge_point_id": profile.charge_point_id,
            "profile_id": profile.profile_id,
            "evse_id": profile.evse_id,
            "purpose": profile.purpose,
            "stack_level": profile.stack_level,
            "profile": json.dumps(profile.profile),
            "transaction_pk": profile.transaction_pk,
            "created_at": profile.created_at or self._clock(),
        }
        stmt = self._insert(_CHARGING_PROFILES).values(values)
        stmt = stmt.on_conflict_do_update(
            index_elements=["charge_point_id", "profile_id"],
            set_={
                name: stmt.excluded[name] for name in values if name not in ("charge_point_id", "profile_id")
            },
        )
        async with self._sessions.begin() as session:
            await session.execute(stmt)

    async def list_charging_profiles(self, charge_point_id: str) -> list[StoredChargingProfile]:
        """The station's installed profiles ordered by profile_id."""
        stmt = (
            select(ChargingProfileRow)
            .where(ChargingProfileRow.charge_point_id == charge_point_id)
            .order_by(ChargingProfileRow.profile_id)
        )
        async with self._sessions() as session:
            return [_charging_profile(r) for r in await session.scalars(stmt)]

    async def delete_charging_profiles(
        self, charge_point_id: str, *, profile_id: int | None = None, evse_id: int | None = None
    ) -> int:
        """Delete the station's profiles matching `profile_id` and/or `evse_id` (both None: all of them).

        Returns:
            How many were deleted.
        """
        stmt = delete(_CHARGING_PROFILES).where(_CHARGING_PROFILES.c.charge_point_id == charge_point_id)
        if profile_id is not None:
            stmt = stmt.where(_CHARGING_PROFILES.c.profile_id == profile_id)
        if evse_id is not None:
            stmt = stmt.where(_CHARGING_PROFILES.c.evse_id == evse_id)
        async with self._sessions.begin() as session:
            return _rowcount(await session.execute(stmt))

    # -- AdminStore --------------------------------------------------------------------------------

    async def delete_charge_point(self, charge_point_id: str) -> None:
        """Delete a charge point with its connectors, status history, device variables and charging
        profiles, in one database transaction. Its transactions (with their meter samples and events),
        reservations and message log are kept as history.

        Raises:
            NotFound: no charge point with this id.
        """
        async with self._sessions.begin() as session:
            for table in (_CONNECTORS, _STATUS_HISTORY, _DEVICE_VARIABLES, _CHARGING_PROFILES):
                await session.execute(delete(table).where(table.c.charge_point_id == charge_point_id))
            stmt = delete(_CHARGE_POINTS).where(_CHARGE_POINTS.c.charge_point_id == charge_point_id)
            if _rowcount(await session.execute(stmt)) == 0:
                # Raising rolls the whole transaction back (nothing of an unknown id was there anyway).
                raise NotFound(f"charge point {charge_point_id!r}")

    async def update_id_token(self, token: IdToken) -> None:
        """Overwrite the token's type, status, expiry_date and group_id_token; `updated_at` becomes now
        (also set on `token`).

        Raises:
            NotFound: no token with `token.id_token`.
        """
        token.updated_at = self._clock()
        stmt = (
            update(_ID_TOKENS)
            .where(_ID_TOKENS.c.id_token == token.id_token)
            .values(
                type=token.type,
                status=str(token.status),
                expiry_date=token.expiry_date,
                group_id_token=token.group_id_token,
                updated_at=token.updated_at,
            )
        )
        async with self._sessions.begin() as session:
            if _rowcount(await session.execute(stmt)) == 0:
                raise NotFound(f"id token {token.id_token!r}")

    async def delete_id_token(self, id_token: str) -> None:
        """Delete the token (transactions keep the id token text they were started with).

        Raises:
            NotFound: no token with this id_token.
        """
        stmt = delete(_ID_TOKENS).where(_ID_TOKENS.c.id_token == id_token)
        async with self._sessions.begin() as session:
            if _rowcount(await session.execute(stmt)) == 0:
                raise NotFound(f"id token {id_token!r}")

    # -- BatchSink ---------------------------------------------------------------------------------

    async def apply_batch(self, items: Sequence[BatchItem]) -> None:
        """Apply all items in one database transaction (see `BatchSink.apply_batch`).

        Same-kind items keep their order; kinds touch disjoint rows, so grouping them into one bulk
        statement per kind gives the same result as applying the items one by one. Heartbeats collapse to
        the newest per station; several StatusChanges of one connector leave the last one in the
        connector row and all of them in the history. In a TransactionMeterChanged, None means "unchanged".
        Items naming an unknown charge point (status, meter readings, frames) or an unknown transaction
        (meter readings) are skipped; updates of unknown rows match nothing.

        Raises:
            sqlalchemy.exc.SQLAlchemyError: the database refused the batch; nothing of it was written.
        """
        if not items:
            return
        received_at = self._clock()
        heartbeats: dict[str, datetime] = {}
        station_fields: dict[str, dict[str, Any]] = {}
        statuses: list[StatusChange] = []
        readings: list[MeterReading] = []
        tx_meters: dict[int, dict[str, Any]] = {}
        frames: list[FrameRecord] = []
        events: dict[tuple[int, int], TransactionEventSeen] = {}
        for item in items:
            if isinstance(item, HeartbeatSeen):
                at = to_utc(item.at)
                seen = heartbeats.get(item.charge_point_id)
                if seen is None or at > seen:
                    heartbeats[item.charge_point_id] = at
            elif isinstance(item, StationFieldsChanged):
                station_fields.setdefault(item.charge_point_id, {}).update(_station_fields(item))
            elif isinstance(item, StatusChange):
                statuses.append(item)
            elif isinstance(item, MeterReading):
                readings.append(item)
            elif isinstance(item, TransactionMeterChanged):
                merged = tx_meters.setdefault(item.transaction_pk, {"b_pk": item.transaction_pk})
                if item.last_meter_wh is not None or "b_wh" not in merged:
                    merged["b_wh"] = item.last_meter_wh
                if item.charging_state is not None or "b_state" not in merged:
                    merged["b_state"] = item.charging_state
                merged["b_at"] = item.updated_at
            elif isinstance(item, FrameRecord):
                frames.append(item)
            elif isinstance(item, TransactionEventSeen):
                events.setdefault((item.transaction_pk, item.seq_no), item)
            else:
                raise TypeError(f"not a batch item: {item!r}")

        cp_ids = {s.charge_point_id for s in statuses}
        cp_ids.update(r.charge_point_id for r in readings)
        cp_ids.update(f.charge_point_id for f in frames)
        tx_ids = {r.transaction_pk for r in readings if r.transaction_pk is not None}
        tx_ids.update(pk for pk, _ in events)

        async with self._sessions.begin() as session:
            known_cps = await _existing(session, _CHARGE_POINTS.c.charge_point_id, cp_ids)
            known_txs = await _existing(session, _TRANSACTIONS.c.id, tx_ids)
            if heartbeats:
                await session.execute(
                    update(_CHARGE_POINTS)
                    .where(_CHARGE_POINTS.c.charge_point_id == bindparam("b_cp"))
                    .values(last_heartbeat_at=bindparam("b_at", type_=UtcDateTime())),
                    [{"b_cp": cp, "b_at": at} for cp, at in heartbeats.items()],
                )
            for cp, values in station_fields.items():
                if values:
                    await session.execute(
                        update(_CHARGE_POINTS).where(_CHARGE_POINTS.c.charge_point_id == cp).values(values)
                    )
            statuses = [s for s in statuses if s.charge_point_id in known_cps]
            if statuses:
                await self._write_statuses(session, statuses, received_at)
            samples = [
                _sample_row(reading, sample)
                for reading in readings
                if reading.charge_point_id in known_cps
                and (reading.transaction_pk is None or reading.transaction_pk in known_txs)
                for sample in reading.samples
            ]
            if samples:
                await session.execute(_METER_SAMPLES.insert(), samples)
            if tx_meters:
                await session.execute(
                    update(_TRANSACTIONS)
                    .where(_TRANSACTIONS.c.id == bindparam("b_pk"))
                    .values(
                        last_meter_wh=func.coalesce(
                            bindparam("b_wh", type_=_TRANSACTIONS.c.last_meter_wh.type),
                            _TRANSACTIONS.c.last_meter_wh,
                        ),
                        charging_state=func.coalesce(
                            bindparam("b_state", type_=_TRANSACTIONS.c.charging_state.type),
                            _TRANSACTIONS.c.charging_state,
                        ),
                        updated_at=bindparam("b_at", type_=UtcDateTime()),
                    ),
                    list(tx_meters.values()),
                )
            event_rows = [
                {
                    "transaction_id": e.transaction_pk,
                    "seq_no": e.seq_no,
                    "event_type": e.event_type,
                    "trigger_reason": e.trigger_reason,
                    "at": e.at,
                }
                for e in events.values()
                if e.transaction_pk in known_txs
            ]
            if event_rows:
                await session.execute(
                    self._insert(_TRANSACTION_EVENTS).on_conflict_do_nothing(
                        index_elements=["transaction_id", "seq_no"]
                    ),
                    event_rows,
                )
            frame_rows = [_frame_row(f) for f in frames if f.charge_point_id in known_cps]
            if frame_rows:
                await session.execute(_MESSAGE_LOG.insert(), frame_rows)

    async def _write_statuses(
        self, session: AsyncSession, statuses: list[StatusChange], received_at: datetime
    ) -> None:
        # One row per connector, the last change winning: PostgreSQL refuses an upsert that touches the
        # same row twice in one statement, and the final state is the same.
        latest: dict[tuple[str, int, int], StatusChange] = {}
        for s in statuses:
            latest[(s.charge_point_id, s.evse_id, s.connector_id)] = s
        stmt = self._insert(_CONNECTORS)
        stmt = stmt.on_conflict_do_update(
            index_elements=["charge_point_id", "evse_id", "connector_id"],
            set_={
                name: stmt.excluded[name]
                for name in (
                    "status",
                    "status_detail",
                    "error_code",
                    "info",
                    "vendor_id",
                    "vendor_error_code",
                    "status_at",
                )
            },
        )
        await session.execute(
            stmt,
            [
                {
                    "charge_point_id": s.charge_point_id,
                    "evse_id": s.evse_id,
                    "connector_id": s.connector_id,
                    "status": str(s.status),
                    "status_detail": s.status_detail,
                    "error_code": s.error_code,
                    "info": s.info,
                    "vendor_id": s.vendor_id,
                    "vendor_error_code": s.vendor_error_code,
                    "status_at": s.timestamp,
                }
                for s in latest.values()
            ],
        )
        await session.execute(
            _STATUS_HISTORY.insert(),
            [
                {
                    "charge_point_id": s.charge_point_id,
                    "evse_id": s.evse_id,
                    "connector_id": s.connector_id,
                    "status": str(s.status),
                    "detail": s.status_detail,
                    "error_code": s.error_code,
                    "info": s.info,
                    "vendor_id": s.vendor_id,
                    "vendor_error_code": s.vendor_error_code,
                    "timestamp": s.timestamp,
                    "received_at": received_at,
                }
                for s in statuses
            ],
        )


def _station_fields(item: StationFieldsChanged) -> dict[str, Any]:
    unknown = item.fields.keys() - STATION_FIELDS
    if unknown:
        log.warning("station_fields_ignored", charge_point_id=item.charge_point_id, fields=sorted(unknown))
    return {k: v for k, v in item.fields.items() if k in STATION_FIELDS}


def _sample_row(reading: MeterReading, sample: MeterSample) -> dict[str, Any]:
    return {
        "transaction_id": reading.transaction_pk,
        "charge_point_id": reading.charge_point_id,
        "evse_id": reading.evse_id,
        "timestamp": sample.timestamp,
        "measurand": sample.measurand,
        "phase": sample.phase,
        "unit": sample.unit,
        "multiplier": sample.multiplier,
        "context": sample.context,
        "location": sample.location,
        "signed": sample.signed,
        # str(Decimal) keeps every digit and the exponent, so Decimal(text) gives back the same number.
        "value": str(sample.value),
    }


def _frame_row(frame: FrameRecord) -> dict[str, Any]:
    return {
        "charge_point_id": frame.charge_point_id,
        "direction": str(frame.direction),
        "message_type": frame.message_type,
        # The log keeps even a malformed frame: clip the two bounded columns instead of failing the batch.
        "message_id": frame.message_id[:36],
        "action": None if frame.action is None else frame.action[:64],
        "frame": frame.frame,
        "at": frame.at,
    }


async def _existing(session: AsyncSession, column: Any, values: Iterable[Any]) -> set[Any]:
    """Return the subset of `values` present in `column` (one SELECT per chunk of ids)."""
    wanted = list(values)
    found: set[Any] = set()
    for start in range(0, len(wanted), _IN_CHUNK):
        result = await session.scalars(select(column).where(column.in_(wanted[start : start + _IN_CHUNK])))
        found.update(result)
    return found


def _sqlite_pragmas(dbapi_connection: Any, connection_record: Any) -> None:
    # WAL lets API reads run while the writer commits; NORMAL is durable across application crashes in WAL
    # mode (only an OS crash can lose the last commits); busy_timeout makes a second writer wait instead of
    # failing at once; SQLite enforces foreign keys only when asked, per connection.
    cursor = dbapi_connection.cursor()
    try:
        for pragma in (
            "PRAGMA journal_mode=WAL",
            "PRAGMA synchronous=NORMAL",
            "PRAGMA busy_timeout=5000",
            "PRAGMA foreign_keys=ON",
        ):
            cursor.execute(pragma)
    finally:
        cursor.close()


def make_engine(config: DatabaseConfig, **engine_options: Any) -> AsyncEngine:
    """Create the async engine for `config.url`, set up for SQLite or PostgreSQL (does not migrate).

    For a SQLite file the parent directory is created (the path in `sqlite+aiosqlite:///var/csms.db` is
    relative to the working directory) and each connection gets WAL, synchronous=NORMAL, a 5 s busy
    timeout and foreign keys on. `sqlite+aiosqlite:///:memory:` uses one shared connection
    (StaticPool) so every session sees the same database; that suits tests, not concurrent production use.

    Args:
        config: the `[database]` section.
        **engine_options: passed on to `create_async_engine` (e.g. `connect_args`), overriding ours.

    Returns:
        The engine; `open_store` migrates it and wraps it in a `SqlStore`.
    """
    url = make_url(config.url)
    options: dict[str, Any] = {"echo": config.echo}
    backend = url.get_backend_name()
    if backend == "sqlite":
        database = url.database or ":memory:"
        if database == ":memory:":
            options["poolclass"] = StaticPool
        elif not database.startswith("file:"):
            Path(database).parent.mkdir(parents=True, exist_ok=True)
    elif backend == "postgresql":
        # A restarted server leaves dead pooled connections behind; test each one before use.
        options["pool_pre_ping"] = True
    options.update(engine_options)
    engine = create_async_engine(url, **options)
    if backend == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


async def open_store(config: DatabaseConfig, *, clock: Clock = utcnow) -> SqlStore:
    """Create the engine, migrate the schema to the newest revision and return the store.

    Call once at start-up; `await store.close()` at shutdown.

    Raises:
        sqlalchemy.exc.SQLAlchemyError: the database is unreachable or refused a migration.
    """
    engine = make_engine(config)
    try:
        await migrate(engine)
    except BaseException:
        await engine.dispose()
        raise
    log.info("store_opened", dialect=engine.dialect.name, database=engine.url.database)
    return SqlStore(engine, clock=clock)
