"""`MemoryIdTokenAliases`: the `IdTokenAliasStore` part of `MemoryStore` (behaves as `IdTokenAliasSql`)."""

from __future__ import annotations

from dataclasses import replace

from csms.domain.clock import Clock, to_utc
from csms.domain.models import IdTokenAlias
from csms.domain.ports import AlreadyExists


class MemoryIdTokenAliases:
    """Aliases by alias text; the id token is unique too, as in the SQL table."""

    _clock: Clock

    def __init__(self) -> None:
        self._aliases: dict[str, IdTokenAlias] = {}

    async def get_id_token_alias(self, id_token: str) -> IdTokenAlias | None:
        found = next((a for a in self._aliases.values() if a.id_token == id_token), None)
        return None if found is None else replace(found)

    async def find_id_token_alias(self, alias: str) -> IdTokenAlias | None:
        found = self._aliases.get(alias)
        return None if found is None else replace(found)

    async def add_id_token_alias(self, alias: IdTokenAlias) -> IdTokenAlias:
        if alias.alias in self._aliases or await self.get_id_token_alias(alias.id_token) is not None:
            raise AlreadyExists(f"alias {alias.alias!r} or an alias of {alias.id_token!r} exists")
        stored = replace(alias, created_at=to_utc(alias.created_at or self._clock()))
        self._aliases[alias.alias] = stored
        return replace(stored)
