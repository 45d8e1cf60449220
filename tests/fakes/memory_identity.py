"""`MemoryIdentity`: the `IdentityStore` part of `MemoryStore` (behaves as `IdentitySql`), with the
default organization the migration creates."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from csms.domain.clock import Clock, to_utc
from csms.domain.identity import (
    Invitation,
    InvitationStatus,
    Member,
    Organization,
    User,
    UserSession,
    normalized_email,
)
from csms.domain.ports import AlreadyExists, LastAdmin, NotFound
from csms.domain.tenancy import DEFAULT_ORG_ID


class MemoryIdentity:
    """Organizations, users, memberships, sessions and invitations in dicts."""

    _clock: Clock

    def __init__(self) -> None:
        self._orgs: dict[str, Organization] = {
            DEFAULT_ORG_ID: Organization(
                DEFAULT_ORG_ID, "Default organization", "NL", "", created_at=datetime(2000, 1, 1, tzinfo=UTC)
            )
        }
        self._users: dict[int, User] = {}
        self._members: dict[tuple[str, int], tuple[str, datetime]] = {}  # -> (role, since)
        self._sessions: dict[int, UserSession] = {}
        self._invitations: dict[int, Invitation] = {}
        self._next_identity_id = 1

    def _new_id(self) -> int:
        self._next_identity_id += 1
        return self._next_identity_id - 1

    async def add_organization(self, org: Organization) -> Organization:
        if org.id in self._orgs:
            raise AlreadyExists(f"organization {org.id!r} exists")
        stored = replace(
            org, notifications=dict(org.notifications), created_at=to_utc(org.created_at or self._clock())
        )
        self._orgs[org.id] = stored
        return replace(stored)

    async def get_organization(self, org_id: str) -> Organization | None:
        org = self._orgs.get(org_id)
        return None if org is None else replace(org, notifications=dict(org.notifications))

    async def list_organizations(self) -> list[Organization]:
        def order(org: Organization) -> tuple[bool, datetime, str]:
            return (org.id != DEFAULT_ORG_ID, org.created_at or datetime.min, org.id)

        return [replace(o) for o in sorted(self._orgs.values(), key=order)]

    async def save_organization(self, org: Organization) -> None:
        if org.id not in self._orgs:
            raise NotFound(f"organization {org.id!r}")
        self._orgs[org.id] = replace(org, created_at=self._orgs[org.id].created_at)

    async def add_user(self, email: str, name: str, password_hash: str) -> User:
        if await self.find_user_by_email(email) is not None:
            raise AlreadyExists("a user with this email exists")
        user = User(self._new_id(), email.strip(), name, password_hash, to_utc(self._clock()))
        self._users[user.id] = user
        return replace(user)

    async def get_user(self, user_id: int) -> User | None:
        user = self._users.get(user_id)
        return None if user is None else replace(user)

    async def find_user_by_email(self, email: str) -> User | None:
        key = normalized_email(email)
        user = next((u for u in self._users.values() if normalized_email(u.email) == key), None)
        return None if user is None else replace(user)

    async def set_member(self, org_id: str, user_id: int, role: str, *, keep_an_admin: bool = False) -> None:
        since = self._members.get((org_id, user_id), (role, to_utc(self._clock())))[1]
        if keep_an_admin and role != "admin":
            self._refuse_the_last_admin(org_id, user_id)
        self._members[(org_id, user_id)] = (role, since)

    async def remove_member(self, org_id: str, user_id: int, *, keep_an_admin: bool = False) -> None:
        if (org_id, user_id) not in self._members:
            raise NotFound(f"member {user_id}")
        if keep_an_admin:
            self._refuse_the_last_admin(org_id, user_id)
        del self._members[(org_id, user_id)]

    def _refuse_the_last_admin(self, org_id: str, user_id: int) -> None:
        """LastAdmin when `user_id` is the organization's only admin."""
        admins = [u for (org, u), (role, _) in self._members.items() if org == org_id and role == "admin"]
        if admins == [user_id]:
            raise LastAdmin(f"organization {org_id!r} would have no admin")

    async def list_members(self, org_id: str) -> list[Member]:
        return [
            Member(org_id, replace(self._users[user_id]), role, since)
            for (org, user_id), (role, since) in sorted(self._members.items(), key=lambda kv: kv[0][1])
            if org == org_id
        ]

    async def list_memberships(self, user_id: int) -> list[tuple[str, str]]:
        mine = [(since, org, role) for (org, uid), (role, since) in self._members.items() if uid == user_id]
        return [(org, role) for _, org, role in sorted(mine)]

    async def add_user_session(self, session: UserSession) -> UserSession:
        stored = replace(session, id=self._new_id(), created_at=to_utc(session.created_at or self._clock()))
        self._sessions[stored.id] = stored
        return replace(stored)

    async def find_user_session(
        self, *, access_digest: str = "", refresh_digest: str = ""
    ) -> UserSession | None:
        for session in self._sessions.values():
            if (access_digest and session.access_digest == access_digest) or (
                not access_digest and session.refresh_digest == refresh_digest
            ):
                return replace(session)
        return None

    async def save_user_session(self, session: UserSession) -> None:
        if session.id not in self._sessions:
            raise NotFound(f"user session {session.id}")
        self._sessions[session.id] = replace(session)

    async def add_invitation(self, invitation: Invitation) -> Invitation:
        stored = replace(
            invitation, id=self._new_id(), created_at=to_utc(invitation.created_at or self._clock())
        )
        self._invitations[stored.id] = stored
        return replace(stored)

    async def get_invitation(self, invitation_id: int) -> Invitation | None:
        invitation = self._invitations.get(invitation_id)
        return None if invitation is None else replace(invitation)

    async def find_invitation(self, token_digest: str) -> Invitation | None:
        found = next((i for i in self._invitations.values() if i.token_digest == token_digest), None)
        return None if found is None else replace(found)

    async def list_invitations(self, org_id: str) -> list[Invitation]:
        return [
            replace(i) for i in sorted(self._invitations.values(), key=lambda i: -i.id) if i.org_id == org_id
        ]

    async def delete_invitation(self, invitation_id: int) -> None:
        self._invitations.pop(invitation_id, None)

    async def close_invitation(self, invitation_id: int, status: InvitationStatus, at: datetime) -> bool:
        invitation = self._invitations.get(invitation_id)
        if invitation is None or invitation.status is not InvitationStatus.PENDING:
            return False
        when = {"accepted_at" if status is InvitationStatus.ACCEPTED else "cancelled_at": to_utc(at)}
        self._invitations[invitation_id] = replace(invitation, status=status, **when)  # type: ignore[arg-type]
        return True
