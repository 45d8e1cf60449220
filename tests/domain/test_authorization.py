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


async def test_a_token_counts_only_at_its_own_organizations_stations(domain: Domain) -> None:
    """Tenants never share tokens (ADR 0012): another organization's token is unknown at a station, so it
    answers the unknown-token status (Invalid) there and Accepted at its own organization's station."""
    from csms.domain.models import ChargePoint

    store = domain.services.store
    await store.add_id_token(IdToken("A-TAG", org_id="org-a"))
    await domain.stations.register(ChargePoint("CP-A", org_id="org-a"))
    await domain.stations.register(ChargePoint("CP-B", org_id="org-b"))
    at_a = await domain.authorization.authorize("A-TAG", charge_point_id="CP-A")
    at_b = await domain.authorization.authorize("A-TAG", charge_point_id="CP-B")
    assert at_a.status is AuthorizationStatus.ACCEPTED
    assert at_b.status is AuthorizationStatus.INVALID


async def test_authorities_learn_the_stations_organization(domain: Domain) -> None:
    """A token authority (a roaming partner's tokens) is told which organization's station asks, so it
    can refuse to vouch for a partner of another organization."""
    from csms.domain.models import AuthorizationResult, ChargePoint

    asked: list[str | None] = []

    class Recording:
        async def authorize(
            self,
            id_token: str,
            *,
            charge_point_id: str | None = None,
            evse_id: int | None = None,
            org_id: str | None = None,
        ) -> AuthorizationResult | None:
            asked.append(org_id)
            return None

    domain.authorization.add_authority(Recording(), order=0)
    await domain.stations.register(ChargePoint("CP-B", org_id="org-b"))
    await domain.authorization.authorize("ROAMING", charge_point_id="CP-B")
    await domain.authorization.authorize("ROAMING")
    assert asked == ["org-b", None]
