"""Organizations, users, memberships, sign-in sessions and invitations (`IdentityStore`)."""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from csms.domain.identity import (
    Invitation,
    InvitationStatus,
    Member,
    Organization,
    User,
    UserSession,
    normalized_email,
)
from csms.domain.ports import LastAdmin, NotFound
from csms.domain.tenancy import DEFAULT_ORG_ID
from csms.store.sql.base import SqlBase, rowcount
from csms.store.sql.rows import decoded, values_of
from csms.store.tables import InvitationRow, MembershipRow, OrganizationRow, UserRow, UserSessionRow

organization_of = decoded(Organization, notifications=json.loads)
user_of = decoded(User)
session_of = decoded(UserSession)
invitation_of = decoded(Invitation, status=InvitationStatus)

_ORG_FIELDS = ("name", "country", "contact_email", "currency", "timezone", "billing_email")
_SESSION_FIELDS = ("access_digest", "access_expires_at", "refresh_digest", "refresh_expires_at", "revoked_at")


class IdentitySql(SqlBase):
    """Identity records; the contract is `csms.domain.ports.IdentityStore`."""

    async def add_organization(self, org: Organization) -> Organization:
        """Insert the organization. Raises AlreadyExists for a taken id."""
        row = OrganizationRow(
            id=org.id,
            **values_of(org, _ORG_FIELDS),
            notifications=json.dumps(org.notifications),
            created_at=org.created_at or self._clock(),
        )
        return organization_of(await self._add(row, f"organization {org.id!r} exists"))

    async def get_organization(self, org_id: str) -> Organization | None:
        """The organization, or None."""
        return await self._get(OrganizationRow, org_id, organization_of)

    async def list_organizations(self) -> list[Organization]:
        """Every organization: the default one first, then oldest first."""
        stmt = select(OrganizationRow).order_by(
            OrganizationRow.id != DEFAULT_ORG_ID, OrganizationRow.created_at, OrganizationRow.id
        )
        return await self._all(stmt, organization_of)

    async def save_organization(self, org: Organization) -> None:
        """Write the mutable fields. Raises NotFound."""
        stmt = (
            update(OrganizationRow)
            .where(OrganizationRow.id == org.id)
            .values(**values_of(org, _ORG_FIELDS), notifications=json.dumps(org.notifications))
        )
        await self._change(stmt, f"organization {org.id!r}")

    async def add_user(self, email: str, name: str, password_hash: str) -> User:
        """Insert a user. Raises AlreadyExists when the email (any case) is taken."""
        row = UserRow(
            email=email.strip(),
            email_key=normalized_email(email),
            name=name,
            password_hash=password_hash,
            created_at=self._clock(),
        )
        return user_of(await self._add(row, "a user with this email exists"))

    async def get_user(self, user_id: int) -> User | None:
        """The user, or None."""
        return await self._get(UserRow, user_id, user_of)

    async def find_user_by_email(self, email: str) -> User | None:
        """The user with this email in any case, or None."""
        return await self._first(select(UserRow).where(UserRow.email_key == normalized_email(email)), user_of)

    async def set_member(self, org_id: str, user_id: int, role: str, *, keep_an_admin: bool = False) -> None:
        """Add a member or change a member's role (one upsert); see `IdentityStore.set_member`."""
        stmt = self._insert(MembershipRow).values(
            org_id=org_id, user_id=user_id, role=role, created_at=self._clock()
        )
        stmt = stmt.on_conflict_do_update(index_elements=["org_id", "user_id"], set_={"role": role})
        async with self._sessions.begin() as session:
            was_admin = keep_an_admin and role != "admin" and await _locked_admin(session, org_id, user_id)
            await session.execute(stmt)
            if was_admin:
                await _check_an_admin_is_left(session, org_id)

    async def remove_member(self, org_id: str, user_id: int, *, keep_an_admin: bool = False) -> None:
        """Raises NotFound when the user is not a member; see `IdentityStore.remove_member`."""
        stmt = delete(MembershipRow).where(MembershipRow.org_id == org_id, MembershipRow.user_id == user_id)
        async with self._sessions.begin() as session:
            was_admin = keep_an_admin and await _locked_admin(session, org_id, user_id)
            if rowcount(await session.execute(stmt)) == 0:
                raise NotFound(f"member {user_id}")
            if was_admin:
                await _check_an_admin_is_left(session, org_id)

    async def list_members(self, org_id: str) -> list[Member]:
        """The organization's members with their user records, by user id."""
        stmt = (
            select(MembershipRow, UserRow)
            .join(UserRow, UserRow.id == MembershipRow.user_id)
            .where(MembershipRow.org_id == org_id)
            .order_by(UserRow.id)
        )
        async with self._sessions() as session:
            rows = (await session.execute(stmt)).all()
        return [Member(m.org_id, user_of(u), m.role, m.created_at) for m, u in rows]

    async def list_memberships(self, user_id: int) -> list[tuple[str, str]]:
        """(org_id, role) of the user's organizations, oldest membership first."""
        stmt = (
            select(MembershipRow)
            .where(MembershipRow.user_id == user_id)
            .order_by(MembershipRow.created_at, MembershipRow.org_id)
        )
        return await self._all(stmt, lambda m: (m.org_id, m.role))

    async def add_user_session(self, session: UserSession) -> UserSession:
        """Insert a sign-in session with a new id."""
        row = UserSessionRow(
            user_id=session.user_id,
            **values_of(session, _SESSION_FIELDS),
            created_at=session.created_at or self._clock(),
        )
        return session_of(await self._add(row))

    async def find_user_session(
        self, *, access_digest: str = "", refresh_digest: str = ""
    ) -> UserSession | None:
        """The session whose current access (or, if given instead, refresh) token has this digest."""
        if access_digest:
            where = UserSessionRow.access_digest == access_digest
        else:
            where = UserSessionRow.refresh_digest == refresh_digest
        return await self._first(select(UserSessionRow).where(where), session_of)

    async def save_user_session(self, session: UserSession) -> None:
        """Write the session's digests, expiries and revocation. Raises NotFound."""
        stmt = (
            update(UserSessionRow)
            .where(UserSessionRow.id == session.id)
            .values(**values_of(session, _SESSION_FIELDS))
        )
        await self._change(stmt, f"user session {session.id}")

    async def add_invitation(self, invitation: Invitation) -> Invitation:
        """Insert an invitation with a new id."""
        row = InvitationRow(
            org_id=invitation.org_id,
            email=invitation.email,
            role=invitation.role,
            token_digest=invitation.token_digest,
            expires_at=invitation.expires_at,
            status=invitation.status.value,
            accepted_at=invitation.accepted_at,
            cancelled_at=invitation.cancelled_at,
            created_at=invitation.created_at or self._clock(),
        )
        return invitation_of(await self._add(row))

    async def get_invitation(self, invitation_id: int) -> Invitation | None:
        """The invitation, or None."""
        return await self._get(InvitationRow, invitation_id, invitation_of)

    async def find_invitation(self, token_digest: str) -> Invitation | None:
        """The invitation whose token has this digest, or None."""
        stmt = select(InvitationRow).where(InvitationRow.token_digest == token_digest)
        return await self._first(stmt, invitation_of)

    async def list_invitations(self, org_id: str) -> list[Invitation]:
        """The organization's invitations, newest first."""
        stmt = select(InvitationRow).where(InvitationRow.org_id == org_id).order_by(InvitationRow.id.desc())
        return await self._all(stmt, invitation_of)

    async def delete_invitation(self, invitation_id: int) -> None:
        """Delete an invitation (one whose email could not be sent); no error when it is gone."""
        async with self._sessions.begin() as session:
            await session.execute(delete(InvitationRow).where(InvitationRow.id == invitation_id))

    async def close_invitation(self, invitation_id: int, status: InvitationStatus, at: datetime) -> bool:
        """Pending -> `status` in one conditional UPDATE; False when it was not pending any more."""
        column = "accepted_at" if status is InvitationStatus.ACCEPTED else "cancelled_at"
        stmt = (
            update(InvitationRow)
            .where(InvitationRow.id == invitation_id, InvitationRow.status == InvitationStatus.PENDING.value)
            .values(status=status.value, **{column: at})
        )
        async with self._sessions.begin() as session:
            return rowcount(await session.execute(stmt)) == 1


async def _locked_admin(session: AsyncSession, org_id: str, user_id: int) -> bool:
    """Whether the user is an admin of the organization, read after serializing its membership changes
    until the transaction ends: a no-op write of the organization's row takes its row lock on PostgreSQL
    and the write lock on SQLite, so a concurrent change counts admins only after this one is done."""
    await session.execute(
        update(OrganizationRow).where(OrganizationRow.id == org_id).values(name=OrganizationRow.name)
    )
    role = select(MembershipRow.role).where(MembershipRow.org_id == org_id, MembershipRow.user_id == user_id)
    return (await session.execute(role)).scalar_one_or_none() == "admin"


async def _check_an_admin_is_left(session: AsyncSession, org_id: str) -> None:
    """Raise LastAdmin (rolling the transaction back) when the organization has no admin now."""
    admins = select(func.count()).where(MembershipRow.org_id == org_id, MembershipRow.role == "admin")
    if (await session.execute(admins)).scalar_one() == 0:
        raise LastAdmin(f"organization {org_id!r} would have no admin")
