"""The `UiSessionStore` contract on every backend (memory, SQLite, PostgreSQL): a signed-out dashboard
cookie digest is seen by every reader of the store (issue 15, item 5)."""

from __future__ import annotations

from datetime import timedelta

from csms.domain.ports import Store

from .conftest import T0

DIGEST = "a" * 64


async def test_a_signed_out_digest_is_remembered(store: Store) -> None:
    """Once added, the digest is signed out; another digest is not; adding it twice is harmless."""
    assert not await store.is_ui_session_signed_out(DIGEST)
    await store.add_signed_out_ui_session(DIGEST, T0 + timedelta(hours=1))
    await store.add_signed_out_ui_session(DIGEST, T0 + timedelta(hours=1))
    assert await store.is_ui_session_signed_out(DIGEST)
    assert not await store.is_ui_session_signed_out("b" * 64)


async def test_expired_digests_are_forgotten_on_the_next_sign_out(store: Store) -> None:
    """A digest whose cookie has expired anyway is dropped when another is added (the table stays small)."""
    await store.add_signed_out_ui_session(DIGEST, T0 - timedelta(seconds=1))
    await store.add_signed_out_ui_session("b" * 64, T0 + timedelta(hours=1))
    assert not await store.is_ui_session_signed_out(DIGEST)
    assert await store.is_ui_session_signed_out("b" * 64)
