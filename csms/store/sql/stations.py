"""Charge points, their boot data and connector states (`StationStore`), and deleting a charge point."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update

from csms.domain.clock import to_utc
from csms.domain.models import BootInfo, ChargePoint, Connector
from csms.domain.ports import NotFound, Page
from csms.store.sql.base import (
    CHARGE_POINTS,
    CHARGING_PROFILES,
    CONNECTORS,
    DEVICE_VARIABLES,
    STATUS_HISTORY,
    SqlBase,
    rowcount,
    where_given,
)
from csms.store.sql.rows import boot_values, charge_point_of, connector_of, field_values
from csms.store.tables import ChargePointRow, ConnectorRow

# The columns the batched writer maintains: `update_charge_point` leaves them alone.
_WRITER_MAINTAINED = ("last_heartbeat_at", "firmware_status", "diagnostics_status", "log_status")


class StationSql(SqlBase):
    """Charge points and connectors; the contract is `csms.domain.ports.StationStore` (and `AdminStore` for
    deleting a charge point)."""

    async def get_charge_point(
        self, charge_point_id: str, *, org_id: str | None = None
    ) -> ChargePoint | None:
        return await self._get_owned(ChargePointRow, charge_point_id, charge_point_of, org_id)

    async def add_charge_point(self, charge_point: ChargePoint) -> ChargePoint:
        """Store a new charge point and return it as stored (`created_at`/`updated_at` filled in).

        Raises:
            AlreadyExists: a charge point with this id is registered.
        """
        created = charge_point.created_at or self._clock()
        values = field_values(
            charge_point,
            registration_status=str(charge_point.registration_status),
            created_at=created,
            updated_at=charge_point.updated_at or created,
        )
        row = await self._add(
            ChargePointRow(**values), f"charge point {charge_point.charge_point_id!r} exists"
        )
        return charge_point_of(row)

    async def update_charge_point(self, charge_point: ChargePoint) -> None:
        """Overwrite registration status, password hash, OCPP version and boot fields (incl. `last_boot_at`).

        The columns the batched writer maintains (`last_heartbeat_at`, firmware/diagnostics/log status)
        are left alone, so a stale object cannot roll them back. `updated_at` becomes now.

        Raises:
            NotFound: no charge point with this id.
        """
        values = field_values(
            charge_point,
            "charge_point_id",
            "created_at",
            "org_id",  # set when registered; moving a station between organizations is no update
            *_WRITER_MAINTAINED,
            registration_status=str(charge_point.registration_status),
            updated_at=self._clock(),
        )
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
        await self._change(stmt, f"charge point {charge_point_id!r}")

    async def list_charge_points(
        self, *, limit: int, cursor: str | None = None, org_id: str | None = None
    ) -> Page[ChargePoint]:
        """Charge points ordered by id (of one organization, when `org_id` is given); the cursor is the last
        id of the previous page."""
        key = ChargePointRow.charge_point_id
        stmt = where_given(select(ChargePointRow), {ChargePointRow.org_id: org_id})
        return await self._page(stmt, key, charge_point_of, limit=limit, cursor=cursor)

    async def list_charge_points_changed(
        self, since: datetime, *, after: str | None = None, limit: int | None = None
    ) -> list[ChargePoint]:
        """Charge points whose `updated_at` (added or changed by an operator) is at or after `since`, by id;
        only ids after `after`, at most `limit` of them, when given."""
        changed = select(ChargePointRow).where(ChargePointRow.updated_at >= since)
        if after is not None:
            changed = changed.where(ChargePointRow.charge_point_id > after)
        return await self._all(changed.order_by(ChargePointRow.charge_point_id).limit(limit), charge_point_of)

    async def list_connectors(self, charge_point_id: str) -> list[Connector]:
        """Current connector states of the station ordered by (evse_id, connector_id); [] if none."""
        of_station = select(ConnectorRow).where(ConnectorRow.charge_point_id == charge_point_id)
        return await self._all(
            of_station.order_by(ConnectorRow.evse_id, ConnectorRow.connector_id), connector_of
        )

    async def list_connectors_of(self, charge_point_ids: Collection[str]) -> list[Connector]:
        c = ConnectorRow
        ordered = select(c).order_by(c.charge_point_id, c.evse_id, c.connector_id)
        return await self._all_in(ordered, c.charge_point_id, sorted(set(charge_point_ids)), connector_of)

    async def list_connectors_reported_since(self, since: datetime) -> list[Connector]:
        c = ConnectorRow
        stmt = (
            select(c)
            .where(c.status_at >= to_utc(since))
            .order_by(c.charge_point_id, c.evse_id, c.connector_id)
        )
        return await self._all(stmt, connector_of)

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
