"""Aliases of id tokens too long for OCPP 1.6 (`IdTokenAliasStore`)."""

from __future__ import annotations

from sqlalchemy import select

from csms.domain.models import IdTokenAlias
from csms.store.sql.base import SqlBase
from csms.store.sql.rows import id_token_alias_of
from csms.store.tables import IdTokenAliasRow


class IdTokenAliasSql(SqlBase):
    """Id token aliases; the contract is `csms.domain.ports.IdTokenAliasStore`."""

    async def get_id_token_alias(self, id_token: str) -> IdTokenAlias | None:
        """The alias of this id token, or None."""
        stmt = select(IdTokenAliasRow).where(IdTokenAliasRow.id_token == id_token)
        return await self._first(stmt, id_token_alias_of)

    async def find_id_token_alias(self, alias: str) -> IdTokenAlias | None:
        """The alias with this text, or None."""
        return await self._get(IdTokenAliasRow, alias, id_token_alias_of)

    async def add_id_token_alias(self, alias: IdTokenAlias) -> IdTokenAlias:
        """Store a new alias and return it as stored.

        Raises:
            AlreadyExists: the alias text is taken, or the id token has an alias (both columns are unique,
                so of two concurrent writers one wins).
        """
        row = IdTokenAliasRow(
            alias=alias.alias, id_token=alias.id_token, created_at=alias.created_at or self._clock()
        )
        return id_token_alias_of(
            await self._add(row, f"alias {alias.alias!r} or an alias of {alias.id_token!r} exists")
        )
