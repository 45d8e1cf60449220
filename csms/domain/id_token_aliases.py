"""Id token aliases: a short, stored stand-in for an id token too long for a station's OCPP version.

An OCPI token uid is CiString(36) (OCPI 2.2.1 Tokens, `uid`) and a 2.0.1 idToken has up to 36 characters,
but an OCPP 1.6 idTag is CiString20Type (OCPP 1.6 §7.28 IdToken). The version adapter that cannot carry a
token asks `IdTokenAliases.shorten` for its alias before sending it (RemoteStartTransaction, ReserveNow), and
turns what the station presents back into the token with `resolve` before the domain sees it (Authorize,
StartTransaction, StopTransaction): the domain, its records and OCPI only ever see the real token. The
translation happens once, in the adapter.

An alias is `~` followed by 19 characters of the base32 SHA-256 of the token (upper case: idTags are
compared case-insensitively, OCPP 1.6 §7.9 CiString). It is allocated once, stored, and never changes, so
that a station keeping it (a reservation, its authorization cache) finds the same token behind it whenever
it presents it, on any node. Two tokens whose first candidates collide (or an alias taken by a concurrent
writer) are told apart by the next candidate (the hash of the token and a counter); the store's unique keys
decide between concurrent writers.
"""

from __future__ import annotations

import base64
import hashlib

import structlog

from csms.domain.clock import Clock
from csms.domain.models import IdTokenAlias
from csms.domain.ports import AlreadyExists, IdTokenAliasStore

log = structlog.get_logger("csms.domain.id_token_aliases")

ALIAS_PREFIX = "~"  # printable ASCII that card uids (hex) and OCPI uids in practice never start with
ALIAS_LENGTH = 20  # the shortest idTag of a supported version: OCPP 1.6 CiString20Type
MAX_CANDIDATES = 16  # 95 bits per candidate: more than one collision in a row means a broken store
CACHE_SIZE = 10_000  # aliases never change, so both directions are cached in memory (cleared when full)


def candidate(id_token: str, attempt: int = 0) -> str:
    """The `attempt`-th alias candidate of an id token: `~` + 19 base32 characters of a SHA-256."""
    text = id_token if attempt == 0 else f"{id_token}#{attempt}"
    digest = base64.b32encode(hashlib.sha256(text.encode()).digest()).decode()
    return ALIAS_PREFIX + digest[: ALIAS_LENGTH - len(ALIAS_PREFIX)]


def looks_like_alias(presented: str) -> bool:
    """Whether an id token a station presented has the form of an alias (only then is the store asked)."""
    return len(presented) == ALIAS_LENGTH and presented.startswith(ALIAS_PREFIX)


class IdTokenAliases:
    """Allocates and resolves id token aliases (see the module docstring).

    Args:
        store: where aliases are kept (shared by every process and node).
        clock: the `created_at` of new aliases.
    """

    def __init__(self, store: IdTokenAliasStore, clock: Clock) -> None:
        self._store = store
        self._clock = clock
        self._by_token: dict[str, str] = {}
        self._by_alias: dict[str, str] = {}

    async def shorten(self, id_token: str, max_length: int) -> str:
        """The id token itself if it has at most `max_length` characters, else its alias (allocated and
        stored on first use; the same alias ever after).

        Raises:
            ValueError: `max_length` is below the alias length (no version is that short).
            RuntimeError: no free alias after `MAX_CANDIDATES` candidates (the store is not keeping them).
        """
        if max_length < ALIAS_LENGTH:
            raise ValueError(f"aliases have {ALIAS_LENGTH} characters, more than {max_length}")
        if len(id_token) <= max_length:
            return id_token
        alias = self._by_token.get(id_token)
        if alias is None:
            alias = await self._allocate(id_token)
            self._remember(alias, id_token)
        return alias

    async def resolve(self, presented: str) -> str:
        """The id token behind an alias a station presented; anything that is not a known alias (an
        ordinary id token, an unknown alias) comes back unchanged."""
        if not looks_like_alias(presented):
            return presented
        alias = presented.upper()  # CiString: the station may have changed its case
        id_token = self._by_alias.get(alias)
        if id_token is None:
            stored = await self._store.find_id_token_alias(alias)
            if stored is None:
                return presented
            id_token = stored.id_token
            self._remember(alias, id_token)
        return id_token

    async def _allocate(self, id_token: str) -> str:
        """The stored alias of `id_token`, or a new one: the first free candidate."""
        for attempt in range(MAX_CANDIDATES):
            existing = await self._store.get_id_token_alias(id_token)
            if existing is not None:  # allocated before (or by a concurrent writer just now)
                return existing.alias
            alias = candidate(id_token, attempt)
            try:
                await self._store.add_id_token_alias(IdTokenAlias(alias, id_token, self._clock()))
            except AlreadyExists:
                log.info("id_token_alias_taken", alias=alias, attempt=attempt)
                continue
            log.info("id_token_alias_allocated", alias=alias, id_token=id_token)
            return alias
        raise RuntimeError(f"no free alias for id token {id_token!r} after {MAX_CANDIDATES} candidates")

    def _remember(self, alias: str, id_token: str) -> None:
        if len(self._by_token) >= CACHE_SIZE:
            self._by_token.clear()
            self._by_alias.clear()
        self._by_token[id_token] = alias
        self._by_alias[alias] = id_token
