"""Authorization answers from the store, and the configured answer for unknown tokens."""

from __future__ import annotations

from datetime import timedelta

from csms.domain.authorization import AuthorizationService
from csms.domain.core import Domain
from csms.domain.models import AuthorizationStatus, IdToken, TokenStatus
from tests.domain.conftest import NOW
from tests.fakes.memory_store import MemoryStore


async def test_known_tokens_answer_their_status_and_group(domain: Domain) -> None:
    """A stored token answers its status and group id; a blocked one answers Blocked."""
    store = domain.services.store
    await store.add_id_token(IdToken("OK", group_id_token="FLEET"))
    await store.add_id_token(IdToken("NO", status=TokenStatus.BLOCKED))
    ok = await domain.authorization.authorize("OK")
    assert ok.status is AuthorizationStatus.ACCEPTED and ok.group_id_token == "FLEET"
    assert (await domain.authorization.authorize("NO")).status is AuthorizationStatus.BLOCKED


async def test_accepted_token_past_expiry_is_expired(domain: Domain) -> None:
    """An Accepted token whose expiry date has passed answers Expired; before it, Accepted."""
    store = domain.services.store
    await store.add_id_token(IdToken("OLD", expiry_date=NOW - timedelta(seconds=1)))
    await store.add_id_token(IdToken("NEW", expiry_date=NOW + timedelta(days=1)))
    assert (await domain.authorization.authorize("OLD")).status is AuthorizationStatus.EXPIRED
    assert (await domain.authorization.authorize("NEW")).status is AuthorizationStatus.ACCEPTED


async def test_unknown_token_answer_is_configurable() -> None:
    """Unknown tokens are Invalid by default and Accepted when configured so."""
    store = MemoryStore()
    assert (
        await AuthorizationService(store, lambda: NOW).authorize("X")
    ).status is AuthorizationStatus.INVALID
    lenient = AuthorizationService(store, lambda: NOW, "Accepted")
    assert (await lenient.authorize("X")).status is AuthorizationStatus.ACCEPTED
