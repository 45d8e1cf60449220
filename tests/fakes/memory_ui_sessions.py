"""`MemoryUiSessions`: the `UiSessionStore` part of `MemoryStore` (behaves as `UiSessionSql`)."""

from __future__ import annotations

from datetime import datetime

from csms.domain.clock import Clock, to_utc


class MemoryUiSessions:
    """Signed-out cookie digests with the time they would have expired."""

    _clock: Clock

    def __init__(self) -> None:
        self._signed_out: dict[str, datetime] = {}

    async def add_signed_out_ui_session(self, digest: str, expires_at: datetime) -> None:
        now = self._clock()
        self._signed_out = {d: e for d, e in self._signed_out.items() if e > now}
        self._signed_out.setdefault(digest, to_utc(expires_at))

    async def is_ui_session_signed_out(self, digest: str) -> bool:
        return digest in self._signed_out
