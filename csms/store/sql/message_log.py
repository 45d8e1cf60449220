"""The per-charge-point OCPP frame log (`MessageLogStore`)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, delete, select

from csms.domain.models import FrameRecord
from csms.domain.ports import Page
from csms.store.sql.base import MESSAGE_LOG, SqlBase, rowcount
from csms.store.sql.rows import frame_of
from csms.store.tables import MessageLogRow, UtcDateTime

# Rows per DELETE in purge_frames: each chunk commits on its own so the writer never waits long behind it
# (SQLite has a single writer lock).
_PURGE_CHUNK = 10_000


class MessageLogSql(SqlBase):
    """The frame log."""

    async def list_frames(
        self, charge_point_id: str, *, limit: int, cursor: str | None = None
    ) -> Page[FrameRecord]:
        """The station's logged frames newest first; the cursor is the row id of the last one returned."""
        of_station = select(MessageLogRow).where(MessageLogRow.charge_point_id == charge_point_id)
        return await self._page(
            of_station, MessageLogRow.id, frame_of, limit=limit, cursor=cursor, newest_first=True
        )

    async def purge_frames(self, before: datetime) -> int:
        """Delete frames logged before `before`, in chunks that each commit on their own.

        Returns:
            How many frames were deleted.
        """
        chunk = (
            select(MESSAGE_LOG.c.id)
            .where(MESSAGE_LOG.c.at < bindparam("before", type_=UtcDateTime()))
            .limit(_PURGE_CHUNK)
            .scalar_subquery()
        )
        stmt = delete(MESSAGE_LOG).where(MESSAGE_LOG.c.id.in_(chunk))
        total = 0
        while True:
            async with self._sessions.begin() as session:
                deleted = rowcount(await session.execute(stmt, {"before": before}))
            total += deleted
            if deleted < _PURGE_CHUNK:
                return total
