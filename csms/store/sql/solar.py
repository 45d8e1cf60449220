"""`SqlSolarStore`: sites' measurements and sessions' solar modes (`csms.domain.solar.SolarStore`) in the
CSMS database on the `SqlStore`'s engine (tables of revision 0018_site_measurements)."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select

from csms.domain.solar import SiteMeasurement, SolarMode, SolarStore
from csms.store.sql.base import SqlBase
from csms.store.tables import SessionSolarModeRow, SiteMeasurementRow

__all__ = ["SqlSolarStore"]


def _measurement(row: SiteMeasurementRow) -> SiteMeasurement:
    return SiteMeasurement(row.production_w, row.consumption_w, row.measured_at)


class SqlSolarStore(SqlBase, SolarStore):
    """The `SolarStore` on SQLAlchemy async. Share the engine of the `SqlStore`
    (`SqlSolarStore(store.engine)`) and never `close` this one: the `SqlStore` disposes of the engine."""

    async def put_measurement(self, org_id: str, location_id: str, measurement: SiteMeasurement) -> None:
        async with self._sessions.begin() as session:
            row = await session.get(SiteMeasurementRow, (org_id, location_id))
            if row is None:
                row = SiteMeasurementRow(org_id=org_id, location_id=location_id)
                session.add(row)
            row.production_w = measurement.production_w
            row.consumption_w = measurement.consumption_w
            row.measured_at = measurement.measured_at
            row.updated_at = self._clock()

    async def get_measurement(self, org_id: str, location_id: str) -> SiteMeasurement | None:
        return await self._get(SiteMeasurementRow, (org_id, location_id), _measurement)

    async def measurement_of(self, location_id: str) -> SiteMeasurement | None:
        stmt = select(SiteMeasurementRow).where(SiteMeasurementRow.location_id == location_id).limit(1)
        found = await self._all(stmt, _measurement)
        return found[0] if found else None

    async def set_solar_mode(self, transaction_pk: int, mode: SolarMode) -> None:
        async with self._sessions.begin() as session:
            row = await session.get(SessionSolarModeRow, transaction_pk)
            if row is None:
                row = SessionSolarModeRow(transaction_id=transaction_pk)
                session.add(row)
            row.mode = mode.value
            row.updated_at = self._clock()

    async def solar_modes(self, transaction_pks: Iterable[int]) -> dict[int, SolarMode]:
        ids = sorted(set(transaction_pks))
        if not ids:
            return {}
        stmt = select(SessionSolarModeRow)
        column = SessionSolarModeRow.transaction_id
        rows = await self._all_in(stmt, column, ids, lambda r: (r.transaction_id, SolarMode(r.mode)))
        return {pk: mode for pk, mode in rows if mode != SolarMode.NONE}
