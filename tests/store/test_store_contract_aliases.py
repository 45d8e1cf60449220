"""The `IdTokenAliasStore` contract and `IdTokenAliases` on every backend (memory, SQLite, PostgreSQL)."""

from __future__ import annotations

import asyncio

import pytest

from csms.domain.id_token_aliases import ALIAS_LENGTH, IdTokenAliases, candidate
from csms.domain.models import IdTokenAlias
from csms.domain.ports import AlreadyExists, Store

from .conftest import T0, FakeClock
from .test_store_contract import assert_utc

LONG_UID = "0123456789ABCDEF0123456789ABCDEF01"  # 34 characters: an OCPI uid no 1.6 idTag can carry


async def test_an_alias_round_trips_both_ways(store: Store) -> None:
    """A stored alias is found by its token and by its text, with created_at in UTC."""
    stored = await store.add_id_token_alias(IdTokenAlias("~ABCDEFGHIJKLMNOPQRS", LONG_UID))
    assert (stored.alias, stored.id_token, stored.created_at) == ("~ABCDEFGHIJKLMNOPQRS", LONG_UID, T0)
    by_token = await store.get_id_token_alias(LONG_UID)
    by_alias = await store.find_id_token_alias("~ABCDEFGHIJKLMNOPQRS")
    assert by_token == by_alias == stored
    assert_utc(by_token.created_at if by_token else None)
    assert await store.get_id_token_alias("OTHER") is None
    assert await store.find_id_token_alias("~ZZZZZZZZZZZZZZZZZZZ") is None


async def test_alias_text_and_token_are_each_unique(store: Store) -> None:
    """A second alias for the same token, or the same alias for another token, is AlreadyExists."""
    await store.add_id_token_alias(IdTokenAlias("~ABCDEFGHIJKLMNOPQRS", LONG_UID))
    with pytest.raises(AlreadyExists):
        await store.add_id_token_alias(IdTokenAlias("~ABCDEFGHIJKLMNOPQRT", LONG_UID))
    with pytest.raises(AlreadyExists):
        await store.add_id_token_alias(IdTokenAlias("~ABCDEFGHIJKLMNOPQRS", LONG_UID + "X"))
    assert (await store.get_id_token_alias(LONG_UID + "X")) is None


async def test_shorten_allocates_once_and_resolve_maps_back(store: Store, clock: FakeClock) -> None:
    """A token over 20 characters gets a 20-character alias, the same one from another process (a second
    `IdTokenAliases` on the store), and any case of the alias resolves to the token; short tokens and
    unknown aliases pass through unchanged."""
    aliases = IdTokenAliases(store, clock)
    alias = await aliases.shorten(LONG_UID, 20)
    assert alias == candidate(LONG_UID) and len(alias) == ALIAS_LENGTH and alias.startswith("~")
    assert await aliases.shorten(LONG_UID, 20) == alias
    other_process = IdTokenAliases(store, clock)
    assert await other_process.shorten(LONG_UID, 20) == alias
    assert await other_process.resolve(alias) == LONG_UID
    assert await other_process.resolve(alias.lower()) == LONG_UID
    assert await aliases.shorten("SHORT", 20) == "SHORT"
    assert await aliases.shorten(LONG_UID, 36) == LONG_UID
    assert await aliases.resolve("SHORT") == "SHORT"
    assert await aliases.resolve(candidate("never shortened")) == candidate("never shortened")
    assert await store.get_id_token_alias("SHORT") is None


async def test_a_taken_candidate_moves_on_to_the_next(store: Store, clock: FakeClock) -> None:
    """When the first candidate is another token's alias, the token gets the next candidate, and each
    alias still resolves to its own token."""
    someone_else = "SOMEONE-ELSE-WITH-A-LONG-UID-1234"
    await store.add_id_token_alias(IdTokenAlias(candidate(LONG_UID), someone_else))
    aliases = IdTokenAliases(store, clock)
    alias = await aliases.shorten(LONG_UID, 20)
    assert alias == candidate(LONG_UID, 1)
    assert await IdTokenAliases(store, clock).resolve(alias) == LONG_UID
    assert await IdTokenAliases(store, clock).resolve(candidate(LONG_UID)) == someone_else


async def test_concurrent_allocations_agree_on_one_alias(store: Store, clock: FakeClock) -> None:
    """Processes shortening the same token at once all end up with the one stored alias."""
    found = await asyncio.gather(*(IdTokenAliases(store, clock).shorten(LONG_UID, 20) for _ in range(4)))
    stored = await store.get_id_token_alias(LONG_UID)
    assert stored is not None and set(found) == {stored.alias}


async def test_shorten_refuses_a_limit_below_the_alias_length(store: Store, clock: FakeClock) -> None:
    """No alias fits a limit under 20 characters: ValueError, nothing stored."""
    with pytest.raises(ValueError):
        await IdTokenAliases(store, clock).shorten(LONG_UID, 10)
    assert await store.get_id_token_alias(LONG_UID) is None
