"""Dashboard sessions signed out before their expiry (`UiSessionStore`)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select

from csms.domain.clock import to_utc
from csms.store.sql.base import SqlBase
from csms.store.tables import UiSignedOutRow


class UiSessionSql(SqlBase):
    """Signed-out dashboard cookies; the contract is `csms.domain.ports.UiSessionStore`."""

    async def add_signed_out_ui_session(self, digest: str, expires_at: datetime) -> None:
        """Remember the digest until `expires_at`; forget those already expired (one transaction)."""
        async with self._sessions.begin() as session:
            await session.execute(delete(UiSignedOutRow).where(UiSignedOutRow.expires_at <= self._clock()))
            if await session.get(UiSignedOutRow, digest) is None:
                session.add(UiSignedOutRow(digest=digest, expires_at=to_utc(expires_at)))

    async def is_ui_session_signed_out(self, digest: str) -> bool:
        """Whether the digest was signed out."""
        stmt = select(UiSignedOutRow.digest).where(UiSignedOutRow.digest == digest)
        async with self._sessions() as session:
            return await session.scalar(stmt) is not None
