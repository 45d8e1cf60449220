"""Operator API keys, hashes only (`ApiKeyStore`)."""

from __future__ import annotations

from sqlalchemy import select

from csms.domain.models import ApiKey
from csms.domain.tenancy import DEFAULT_ORG_ID
from csms.store.sql.base import SqlBase
from csms.store.sql.rows import api_key_of
from csms.store.tables import ApiKeyRow


class ApiKeySql(SqlBase):
    """API keys; the contract is `csms.domain.ports.ApiKeyStore`."""

    async def add_api_key(
        self, name: str, prefix: str, key_hash: str, role: str, org_id: str = DEFAULT_ORG_ID
    ) -> ApiKey:
        """Store a new API key (its bcrypt hash) of organization `org_id` and return it with its id and
        `created_at`.

        Raises:
            AlreadyExists: another key has this prefix.
        """
        row = ApiKeyRow(
            name=name, prefix=prefix, key_hash=key_hash, role=role, org_id=org_id, created_at=self._clock()
        )
        return api_key_of(await self._add(row, f"API key prefix {prefix!r} exists"))

    async def find_api_key(self, prefix: str) -> ApiKey | None:
        """Return the key with this prefix (the caller then checks the secret against `key_hash`), or None."""
        return await self._first(select(ApiKeyRow).where(ApiKeyRow.prefix == prefix), api_key_of)
