"""`SqlSiteLimitStore`: site power limits (`csms.domain.smart_charging.SiteLimitStore`) in the CSMS
database on the `SqlStore`'s engine (table of revision 0015_site_limits)."""

from __future__ import annotations

from decimal import Decimal

import orjson
from sqlalchemy import select

from csms.domain.smart_charging import SiteLimit, SiteLimitStore, schedule_from_json, schedule_json
from csms.store.sql.base import SqlBase
from csms.store.tables import SiteLimitRow

__all__ = ["SqlSiteLimitStore"]


def _limit(row: SiteLimitRow) -> SiteLimit:
    return SiteLimit(
        max_power_w=row.max_power_w,
        max_current_a=None if row.max_current_a is None else Decimal(row.max_current_a),
        phases=row.phases,
        min_current_a=Decimal(row.min_current_a),
        schedule=schedule_from_json(orjson.loads(row.schedule)),
    )


class SqlSiteLimitStore(SqlBase, SiteLimitStore):
    """The `SiteLimitStore` on SQLAlchemy async. Share the engine of the `SqlStore`
    (`SqlSiteLimitStore(store.engine)`) and never `close` this one: the `SqlStore` disposes of the engine."""

    async def get_site_limit(self, org_id: str, location_id: str) -> SiteLimit | None:
        return await self._get(SiteLimitRow, (org_id, location_id), _limit)

    async def put_site_limit(self, org_id: str, location_id: str, limit: SiteLimit) -> None:
        async with self._sessions.begin() as session:
            row = await session.get(SiteLimitRow, (org_id, location_id))
            if row is None:
                row = SiteLimitRow(org_id=org_id, location_id=location_id)
                session.add(row)
            row.max_power_w = limit.max_power_w
            row.max_current_a = None if limit.max_current_a is None else str(limit.max_current_a)
            row.phases = limit.phases
            row.min_current_a = str(limit.min_current_a)
            row.schedule = orjson.dumps(schedule_json(limit.schedule)).decode()
            row.updated_at = self._clock()

    async def site_limit_of(self, location_id: str) -> SiteLimit | None:
        stmt = select(SiteLimitRow).where(SiteLimitRow.location_id == location_id).limit(1)
        found = await self._all(stmt, _limit)
        return found[0] if found else None
