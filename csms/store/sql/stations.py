"""Charge points, their boot data and connector states (`StationStore`), and deleting a charge point."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from csms.domain.models import (
    BootInfo,
    ChargePoint,
    Connector,
)
from csms.domain.ports import (
    AlreadyExists,
    NotFound,
)
from csms.store.sql.base import (
    CHARGE_POINTS,
    CHARGING_PROFILES,
    CONNECTORS,
    DEVICE_VARIABLES,
    STATUS_HISTORY,
    SqlBase,
    page_limit,
    rowcount,
)
from csms.store.sql.rows import (
    boot_values,
    charge_point_of,
    connector_of,
)
from csms.store.tables import (
    ChargePointRow,
    ConnectorRow,
)

log = structlog.get_logger("csms.store.sql")


class StationSql(SqlBase):
    """Charge points and connectors."""

    async def get_charge_point(self, charge_point_id: str) -> ChargePoint | None:
        """Return the charge point, or None if it is not registered."""
        async with self._sessions() as session:
            row = await session.get(ChargePointRow, charge_point_id)
            return None if row is None else charge_point_of(row)

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
        return charge_point_of(row)

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
        values = boot_values(boot) | {
            "ocpp_version": ocpp_version,
            "last_boot_at": at,
            "updated_at": self._clock(),
        }
        await self._update_charge_point(charge_point_id, values)

    async def _update_charge_point(self, charge_point_id: str, values: dict[str, Any]) -> None:
        stmt = update(CHARGE_POINTS).where(CHARGE_POINTS.c.charge_point_id == charge_point_id).values(values)
        async with self._sessions.begin() as session:
            if rowcount(await session.execute(stmt)) == 0:
                raise NotFound(f"charge point {charge_point_id!r}")

    async def list_charge_points(
        self, *, limit: int, cursor: str | None = None
    ) -> tuple[list[ChargePoint], str | None]:
        """Charge points ordered by id; the cursor is the last id of the previous page.

        Returns:
            (at most `limit` charge points, the cursor for the next page or None if this is the last).
        """
        stmt = select(ChargePointRow).order_by(ChargePointRow.charge_point_id).limit(page_limit(limit) + 1)
        if cursor is not None:
            stmt = stmt.where(ChargePointRow.charge_point_id > cursor)
        async with self._sessions() as session:
            rows = list((await session.scalars(stmt)).all())
        page = [charge_point_of(r) for r in rows[:limit]]
        return page, (page[-1].charge_point_id if len(rows) > limit else None)

    async def list_connectors(self, charge_point_id: str) -> list[Connector]:
        """Current connector states of the station ordered by (evse_id, connector_id); [] if none."""
        stmt = (
            select(ConnectorRow)
            .where(ConnectorRow.charge_point_id == charge_point_id)
            .order_by(ConnectorRow.evse_id, ConnectorRow.connector_id)
        )
        async with self._sessions() as session:
            return [connector_of(r) for r in await session.scalars(stmt)]

    async def delete_charge_point(self, charge_point_id: str) -> None:
        """Delete a charge point with its connectors, status history, device variables and charging
        profiles, in one database transaction. Its transactions (with their meter samples and events),
        reservations and message log are kept as history.

        Raises:
            NotFound: no charge point with this id.
        """
        async with self._sessions.begin() as session:
            for table in (CONNECTORS, STATUS_HISTORY, DEVICE_VARIABLES, CHARGING_PROFILES):
                await session.execute(delete(table).where(table.c.charge_point_id == charge_point_id))
            stmt = delete(CHARGE_POINTS).where(CHARGE_POINTS.c.charge_point_id == charge_point_id)
            if rowcount(await session.execute(stmt)) == 0:
                # Raising rolls the whole transaction back (nothing of an unknown id was there anyway).
                raise NotFound(f"charge point {charge_point_id!r}")
