"""`MemoryStationEvents`: the `StationEventStore` part of `MemoryStore` (behaves as `StationEventSql`)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Unpack

from csms.domain.clock import to_utc
from csms.domain.models import StationEvent
from csms.domain.ports import EventQuery, Page


class MemoryStationEvents:
    """Station events in a list; `MemoryStore` applies `StationEvent` batch items with
    `_apply_station_event`."""

    def __init__(self) -> None:
        self._station_events: list[StationEvent] = []

    def _apply_station_event(self, item: StationEvent, received_at: datetime, known: bool) -> None:
        if known:
            stored = replace(
                item,
                id=len(self._station_events) + 1,
                timestamp=to_utc(item.timestamp),
                received_at=to_utc(item.received_at or received_at),
                details=dict(item.details),
            )
            self._station_events.append(stored)

    async def list_station_events(
        self, charge_point_id: str, *, limit: int, **query: Unpack[EventQuery]
    ) -> Page[StationEvent]:
        """Newest first by arrival; the cursor is the id of the last event returned."""
        if limit < 1:
            raise ValueError(f"limit must be at least 1, not {limit}")
        cursor = query.get("cursor")
        try:
            before = None if cursor is None else int(cursor)
        except ValueError:
            raise ValueError(f"invalid cursor {cursor!r}") from None
        kind, type_, since, until = (query.get(k) for k in ("kind", "type", "since", "until"))
        found = [
            e
            for e in reversed(self._station_events)
            if e.charge_point_id == charge_point_id
            and (before is None or e.id < before)
            and (kind is None or e.kind == kind)
            and (type_ is None or e.type == type_)
            and (since is None or e.timestamp >= to_utc(since))  # type: ignore[arg-type]
            and (until is None or e.timestamp < to_utc(until))  # type: ignore[arg-type]
        ]
        page = found[:limit]
        return [replace(e, details=dict(e.details)) for e in page], (
            str(page[-1].id) if len(found) > limit else None
        )
