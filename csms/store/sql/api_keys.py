"""Operator API keys, hashes only (`ApiKeyStore`)."""

from __future__ import annotations

import structlog
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from csms.domain.models import (
    ApiKey,
)
from csms.domain.ports import (
    AlreadyExists,
)
from csms.store.sql.base import (
    SqlBase,
)
from csms.store.sql.rows import (
    api_key_of,
)
from csms.store.tables import (
    ApiKeyRow,
)

log = structlog.get_logger("csms.store.sql")


class ApiKeySql(SqlBase):
    """API keys."""

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
        return api_key_of(row)

    async def find_api_key(self, prefix: str) -> ApiKey | None:
        """Return the key with this prefix (the caller then checks the secret against `key_hash`), or None."""
        async with self._sessions() as session:
            row = await session.scalar(select(ApiKeyRow).where(ApiKeyRow.prefix == prefix))
            return None if row is None else api_key_of(row)
