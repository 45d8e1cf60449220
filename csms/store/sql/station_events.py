"""Events stations reported: SecurityEventNotification and NotifyEvent (`StationEventStore`)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Unpack

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from csms.domain.models import StationEvent, StationEventKind
from csms.domain.ports import EventQuery, Page
from csms.store.sql.base import STATION_EVENTS, SqlBase
from csms.store.sql.rows import decoded, values_of
from csms.store.tables import StationEventRow

station_event_of = decoded(StationEvent, kind=StationEventKind, details=json.loads)

# The columns a StationEvent fills besides id, received_at and details.
_COLUMNS = (
    "charge_point_id",
    "kind",
    "type",
    "timestamp",
    "tech_info",
    "event_id",
    "trigger",
    "component",
    "variable",
    "actual_value",
    "cleared",
)


def station_event_values(event: StationEvent, received_at: datetime) -> dict[str, Any]:
    """The `station_events` row of `event`; `details` as JSON text."""
    return values_of(
        event,
        _COLUMNS,
        kind=str(event.kind),
        received_at=event.received_at or received_at,
        details=json.dumps(event.details, separators=(",", ":")),
    )


async def append_station_events(
    session: AsyncSession, events: Sequence[StationEvent], received_at: datetime
) -> None:
    """INSERT `events` in the session's transaction (one executemany)."""
    if events:
        await session.execute(
            STATION_EVENTS.insert(), [station_event_values(e, received_at) for e in events]
        )


class StationEventSql(SqlBase):
    """Station events; the contract is `csms.domain.ports.StationEventStore`."""

    async def list_station_events(
        self, charge_point_id: str, *, limit: int, **query: Unpack[EventQuery]
    ) -> Page[StationEvent]:
        """Newest first by arrival; the cursor is the row id of the last one returned."""
        stmt = select(StationEventRow).where(StationEventRow.charge_point_id == charge_point_id)
        kind, type_ = query.get("kind"), query.get("type")
        since, until = query.get("since"), query.get("until")
        if kind is not None:
            stmt = stmt.where(StationEventRow.kind == str(kind))
        if type_ is not None:
            stmt = stmt.where(StationEventRow.type == type_)
        if since is not None:
            stmt = stmt.where(StationEventRow.timestamp >= since)
        if until is not None:
            stmt = stmt.where(StationEventRow.timestamp < until)
        return await self._page(
            stmt,
            StationEventRow.id,
            station_event_of,
            limit=limit,
            cursor=query.get("cursor"),
            newest_first=True,
        )
