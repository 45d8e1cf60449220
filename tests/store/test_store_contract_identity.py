"""The `IdentityStore` and `ApiKeyStore` contracts on every backend (memory, SQLite, PostgreSQL)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from csms.domain.identity import Invitation, InvitationStatus, Organization, UserSession
from csms.domain.ports import AlreadyExists, LastAdmin, NotFound, Store
from csms.domain.tenancy import DEFAULT_ORG_ID

from .conftest import T0, FakeClock


def _org(org_id: str = "org_a") -> Organization:
    return Organization(org_id, "A", "DE", "a@a.example", notifications={"invoices": True})


async def test_the_default_organization_exists_and_organizations_round_trip(store: Store) -> None:
    """The default organization is there from the start; a new one comes back with every field, a taken id
    is AlreadyExists, `save_organization` writes the mutable fields and NotFound for an unknown id."""
    default = await store.get_organization(DEFAULT_ORG_ID)
    assert default is not None and default.currency == "EUR" and default.timezone == "UTC"
    stored = await store.add_organization(_org())
    assert (stored.id, stored.name, stored.country, stored.created_at) == ("org_a", "A", "DE", T0)
    with pytest.raises(AlreadyExists):
        await store.add_organization(_org())
    stored.name, stored.currency, stored.timezone, stored.billing_email = (
        "A2",
        "GBP",
        "Europe/London",
        "b@a.example",
    )
    stored.notifications = {"invoices": False}
    await store.save_organization(stored)
    assert await store.get_organization("org_a") == stored
    assert [o.id for o in await store.list_organizations()] == [DEFAULT_ORG_ID, "org_a"]
    with pytest.raises(NotFound):
        await store.save_organization(_org("org_missing"))


async def test_user_emails_are_unique_in_any_case(store: Store) -> None:
    """A second user with the same email in another case is AlreadyExists; lookups ignore case."""
    user = await store.add_user("Ann@Example.com", "Ann", "$2b$04$hash")
    assert user.email == "Ann@Example.com" and user.created_at == T0
    with pytest.raises(AlreadyExists):
        await store.add_user("ann@EXAMPLE.com", "Other", "$2b$04$hash")
    assert await store.find_user_by_email(" ANN@example.COM ") == user
    assert await store.get_user(user.id) == user
    assert await store.find_user_by_email("bob@example.com") is None


async def test_memberships_add_change_list_and_remove(store: Store, clock: FakeClock) -> None:
    """`set_member` adds or changes a role; members come with their user; memberships list oldest first;
    removing a non-member is NotFound."""
    await store.add_organization(_org())
    ann = await store.add_user("ann@example.com", "Ann", "h")
    bob = await store.add_user("bob@example.com", "Bob", "h")
    await store.set_member("org_a", ann.id, "admin")
    clock.advance(1)
    await store.set_member(DEFAULT_ORG_ID, ann.id, "viewer")
    await store.set_member("org_a", bob.id, "member")
    await store.set_member("org_a", bob.id, "viewer")
    members = await store.list_members("org_a")
    assert [(m.user.email, m.role) for m in members] == [
        ("ann@example.com", "admin"),
        ("bob@example.com", "viewer"),
    ]
    assert await store.list_memberships(ann.id) == [("org_a", "admin"), (DEFAULT_ORG_ID, "viewer")]
    await store.remove_member("org_a", bob.id)
    assert await store.list_memberships(bob.id) == []
    with pytest.raises(NotFound):
        await store.remove_member("org_a", bob.id)


async def test_the_last_admin_is_kept_even_when_admins_demote_each_other_at_once(store: Store) -> None:
    """With `keep_an_admin`, demoting or removing the only admin is LastAdmin and changes nothing; two admins
    demoting each other concurrently leave one admin (the check is in the change's transaction)."""
    await store.add_organization(_org())
    ann = await store.add_user("ann@example.com", "Ann", "h")
    bob = await store.add_user("bob@example.com", "Bob", "h")
    await store.set_member("org_a", ann.id, "admin")
    with pytest.raises(LastAdmin):
        await store.set_member("org_a", ann.id, "viewer", keep_an_admin=True)
    with pytest.raises(LastAdmin):
        await store.remove_member("org_a", ann.id, keep_an_admin=True)
    await store.set_member("org_a", bob.id, "member", keep_an_admin=True)  # adding a non-admin is fine
    assert [m.role for m in await store.list_members("org_a")] == ["admin", "member"]
    for _ in range(5):
        await store.set_member("org_a", bob.id, "admin")
        results = await asyncio.gather(
            store.set_member("org_a", ann.id, "viewer", keep_an_admin=True),
            store.remove_member("org_a", bob.id, keep_an_admin=True),
            return_exceptions=True,
        )
        assert sum(isinstance(r, LastAdmin) for r in results) == 1, results
        admins = [m for m in await store.list_members("org_a") if m.role == "admin"]
        assert len(admins) == 1
        await store.set_member("org_a", ann.id, "admin")
        await store.set_member("org_a", bob.id, "member")


async def test_user_sessions_are_found_by_either_digest_and_saved(store: Store) -> None:
    """A session is found by its access or refresh digest; saving replaces the digests, so the old ones find
    nothing, and keeps revoked_at."""
    user = await store.add_user("ann@example.com", "Ann", "h")
    later = T0 + timedelta(minutes=15)
    session = await store.add_user_session(
        UserSession(0, user.id, "a" * 64, later, "r" * 64, later, created_at=T0)
    )
    assert session.id > 0
    assert await store.find_user_session(access_digest="a" * 64) == session
    assert await store.find_user_session(refresh_digest="r" * 64) == session
    session.access_digest, session.refresh_digest, session.revoked_at = "b" * 64, "s" * 64, later
    await store.save_user_session(session)
    assert await store.find_user_session(access_digest="a" * 64) is None
    assert await store.find_user_session(refresh_digest="s" * 64) == session


async def test_an_invitation_is_closed_exactly_once(store: Store) -> None:
    """Of two concurrent accepts of a pending invitation exactly one succeeds; a closed one stays closed."""
    await store.add_organization(_org())
    invitation = await store.add_invitation(
        Invitation(0, "org_a", "c@example.com", "member", "d" * 64, T0 + timedelta(hours=72))
    )
    assert await store.find_invitation("d" * 64) == invitation
    assert invitation.status is InvitationStatus.PENDING and invitation.created_at == T0
    results = await asyncio.gather(
        *(store.close_invitation(invitation.id, InvitationStatus.ACCEPTED, T0) for _ in range(2))
    )
    assert sorted(results) == [False, True]
    assert not await store.close_invitation(invitation.id, InvitationStatus.CANCELLED, T0)
    accepted = await store.get_invitation(invitation.id)
    assert (
        accepted is not None and accepted.status is InvitationStatus.ACCEPTED and accepted.accepted_at == T0
    )
    assert [i.id for i in await store.list_invitations("org_a")] == [invitation.id]
    await store.delete_invitation(invitation.id)
    assert await store.get_invitation(invitation.id) is None


async def test_api_keys_belong_to_an_organization_and_rotate(store: Store) -> None:
    """Keys default to the default organization; listing is per organization; rotating replaces the prefix
    (the old one finds nothing); deleting makes it unknown; both NotFound for an unknown id."""
    await store.add_organization(_org())
    old = await store.add_api_key("ops", "aaaaaaaa", "h1", "admin")
    other = await store.add_api_key("ci", "bbbbbbbb", "h2", "viewer", "org_a")
    assert old.org_id == DEFAULT_ORG_ID and other.org_id == "org_a"
    assert [k.id for k in await store.list_api_keys("org_a")] == [other.id]
    rotated = await store.replace_api_key_secret(old.id, "cccccccc", "h3")
    assert (rotated.id, rotated.name, rotated.prefix, rotated.key_hash) == (old.id, "ops", "cccccccc", "h3")
    assert await store.find_api_key("aaaaaaaa") is None
    with pytest.raises(AlreadyExists):
        await store.replace_api_key_secret(old.id, "bbbbbbbb", "h4")
    await store.delete_api_key(old.id)
    assert await store.get_api_key(old.id) is None
    with pytest.raises(NotFound):
        await store.delete_api_key(old.id)
    with pytest.raises(NotFound):
        await store.replace_api_key_secret(old.id, "dddddddd", "h5")
