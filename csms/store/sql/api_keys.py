"""Operator API keys, hashes only, each of one organization (`ApiKeyStore`)."""

from __future__ import annotations

from sqlalchemy import delete, select, update

from csms.domain.models import ApiKey
from csms.domain.ports import AlreadyExists, NotFound
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

    async def get_api_key(self, key_id: int) -> ApiKey | None:
        """The key with this id, or None."""
        return await self._get(ApiKeyRow, key_id, api_key_of)

    async def list_api_keys(self, org_id: str) -> list[ApiKey]:
        """The organization's keys, ordered by id."""
        stmt = select(ApiKeyRow).where(ApiKeyRow.org_id == org_id).order_by(ApiKeyRow.id)
        return await self._all(stmt, api_key_of)

    async def delete_api_key(self, key_id: int) -> None:
        """Revoke a key by deleting its row. Raises NotFound."""
        await self._change(delete(ApiKeyRow).where(ApiKeyRow.id == key_id), f"API key {key_id}")

    async def replace_api_key_secret(self, key_id: int, prefix: str, key_hash: str) -> ApiKey:
        """Give the key a new prefix and hash (rotation). Raises NotFound or AlreadyExists (prefix taken)."""
        if await self.find_api_key(prefix) is not None:
            raise AlreadyExists(f"API key prefix {prefix!r} exists")
        stmt = update(ApiKeyRow).where(ApiKeyRow.id == key_id).values(prefix=prefix, key_hash=key_hash)
        await self._change(stmt, f"API key {key_id}")
        key = await self.get_api_key(key_id)
        if key is None:  # deleted between the two statements
            raise NotFound(f"API key {key_id}")
        return key
