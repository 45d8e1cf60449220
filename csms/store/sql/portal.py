"""Site owners, their documents, drivers and disputes (`csms.domain.portal.PortalStore`)."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select, update

from csms.domain.identity import InvitationStatus
from csms.domain.portal import Dispute, DisputeStatus, Driver, SiteOwner, SiteOwnerDocument
from csms.store.sql.base import SqlBase, rowcount
from csms.store.sql.rows import decoded, values_of
from csms.store.tables import DisputeRow, DriverRow, SiteOwnerDocumentRow, SiteOwnerRow


def _json_or_none(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def _dump_or_none(value: Any) -> str | None:
    return None if value is None else json.dumps(value)


site_owner_of = decoded(
    SiteOwner,
    status=InvitationStatus,
    revenue_share_percent=Decimal,
    profile=_json_or_none,
    bank_details=_json_or_none,
    location_ids=lambda text: tuple(json.loads(text)),
)
document_of = decoded(SiteOwnerDocument)
driver_of = decoded(Driver, status=InvitationStatus, id_tokens=lambda text: tuple(json.loads(text)))
dispute_of = decoded(Dispute, status=DisputeStatus, expected_cost=Decimal)

_DISPUTE_FIELDS = ("resolution", "credit_cdr_id", "replacement_cdr_id")


def _site_owner_values(owner: SiteOwner) -> dict[str, Any]:
    return values_of(
        owner,
        ("company", "accepted_at", "submitted_at", "approved_at"),
        revenue_share_percent=format(owner.revenue_share_percent, "f"),
        profile=_dump_or_none(owner.profile),
        bank_details=_dump_or_none(owner.bank_details),
        location_ids=json.dumps(list(owner.location_ids)),
    )


class PortalSql(SqlBase):
    """Portal records; the contract is `csms.domain.portal.PortalStore`."""

    async def add_site_owner(self, owner: SiteOwner) -> SiteOwner:
        """Insert a site owner with a new id."""
        row = SiteOwnerRow(
            org_id=owner.org_id,
            email=owner.email,
            token_digest=owner.token_digest,
            expires_at=owner.expires_at,
            status=owner.status.value,
            user_id=owner.user_id,
            created_at=owner.created_at or self._clock(),
            **_site_owner_values(owner),
        )
        return site_owner_of(await self._add(row))

    async def get_site_owner(self, site_owner_id: int) -> SiteOwner | None:
        """The site owner, or None."""
        return await self._get(SiteOwnerRow, site_owner_id, site_owner_of)

    async def find_site_owner(
        self, *, token_digest: str = "", user_id: int | None = None
    ) -> SiteOwner | None:
        """The site owner of this user (if given), else of this invitation token digest."""
        if user_id is not None:
            where = SiteOwnerRow.user_id == user_id
        else:
            where = SiteOwnerRow.token_digest == token_digest
        return await self._first(select(SiteOwnerRow).where(where), site_owner_of)

    async def list_site_owners(self, org_id: str) -> list[SiteOwner]:
        """The organization's site owners, by id."""
        stmt = select(SiteOwnerRow).where(SiteOwnerRow.org_id == org_id).order_by(SiteOwnerRow.id)
        return await self._all(stmt, site_owner_of)

    async def save_site_owner(self, owner: SiteOwner) -> None:
        """Write the mutable fields. Raises NotFound."""
        stmt = update(SiteOwnerRow).where(SiteOwnerRow.id == owner.id).values(**_site_owner_values(owner))
        await self._change(stmt, f"site owner {owner.id}")

    async def accept_site_owner(self, site_owner_id: int, user_id: int, at: datetime) -> bool:
        """Pending -> accepted in one conditional UPDATE; False when it was not pending any more."""
        stmt = (
            update(SiteOwnerRow)
            .where(SiteOwnerRow.id == site_owner_id, SiteOwnerRow.status == InvitationStatus.PENDING.value)
            .values(status=InvitationStatus.ACCEPTED.value, user_id=user_id, accepted_at=at)
        )
        async with self._sessions.begin() as session:
            return rowcount(await session.execute(stmt)) == 1

    async def add_site_owner_document(self, document: SiteOwnerDocument) -> SiteOwnerDocument:
        """Insert a document with a new id."""
        row = SiteOwnerDocumentRow(
            site_owner_id=document.site_owner_id,
            name=document.name,
            kind=document.kind,
            content=document.content,
            size=document.size,
            created_at=document.created_at or self._clock(),
        )
        return document_of(await self._add(row))

    async def list_site_owner_documents(self, site_owner_id: int) -> list[SiteOwnerDocument]:
        """The site owner's documents, by id."""
        stmt = (
            select(SiteOwnerDocumentRow)
            .where(SiteOwnerDocumentRow.site_owner_id == site_owner_id)
            .order_by(SiteOwnerDocumentRow.id)
        )
        return await self._all(stmt, document_of)

    async def add_driver(self, driver: Driver) -> Driver:
        """Insert a driver with a new id."""
        row = DriverRow(
            org_id=driver.org_id,
            email=driver.email,
            name=driver.name,
            id_tokens=json.dumps(list(driver.id_tokens)),
            token_digest=driver.token_digest,
            expires_at=driver.expires_at,
            status=driver.status.value,
            user_id=driver.user_id,
            accepted_at=driver.accepted_at,
            created_at=driver.created_at or self._clock(),
        )
        return driver_of(await self._add(row))

    async def get_driver(self, driver_id: int) -> Driver | None:
        """The driver, or None."""
        return await self._get(DriverRow, driver_id, driver_of)

    async def find_driver(self, *, token_digest: str = "", user_id: int | None = None) -> Driver | None:
        """The driver who is this user (if given), else of this invitation token digest."""
        where = (
            DriverRow.user_id == user_id if user_id is not None else DriverRow.token_digest == token_digest
        )
        return await self._first(select(DriverRow).where(where), driver_of)

    async def list_drivers(self, org_id: str) -> list[Driver]:
        """The organization's drivers, by id."""
        return await self._all(
            select(DriverRow).where(DriverRow.org_id == org_id).order_by(DriverRow.id), driver_of
        )

    async def save_driver(self, driver: Driver) -> None:
        """Write the name and id tokens. Raises NotFound."""
        stmt = (
            update(DriverRow)
            .where(DriverRow.id == driver.id)
            .values(name=driver.name, id_tokens=json.dumps(list(driver.id_tokens)))
        )
        await self._change(stmt, f"driver {driver.id}")

    async def accept_driver(self, driver_id: int, user_id: int, at: datetime) -> bool:
        """Pending -> accepted in one conditional UPDATE; False when it was not pending any more."""
        stmt = (
            update(DriverRow)
            .where(DriverRow.id == driver_id, DriverRow.status == InvitationStatus.PENDING.value)
            .values(status=InvitationStatus.ACCEPTED.value, user_id=user_id, accepted_at=at)
        )
        async with self._sessions.begin() as session:
            return rowcount(await session.execute(stmt)) == 1

    async def add_dispute(self, dispute: Dispute) -> Dispute:
        """Insert a dispute with a new id."""
        now = self._clock()
        row = DisputeRow(
            org_id=dispute.org_id,
            session_id=dispute.session_id,
            driver_id=dispute.driver_id,
            description=dispute.description,
            expected_cost=format(dispute.expected_cost, "f"),
            status=dispute.status.value,
            **values_of(dispute, _DISPUTE_FIELDS),
            created_at=dispute.created_at or now,
            updated_at=dispute.updated_at or now,
        )
        return dispute_of(await self._add(row))

    async def get_dispute(self, dispute_id: int) -> Dispute | None:
        """The dispute, or None."""
        return await self._get(DisputeRow, dispute_id, dispute_of)

    async def list_disputes(self, org_id: str, status: DisputeStatus | None = None) -> list[Dispute]:
        """The organization's disputes (of that status), newest first."""
        stmt = select(DisputeRow).where(DisputeRow.org_id == org_id)
        if status is not None:
            stmt = stmt.where(DisputeRow.status == status.value)
        return await self._all(stmt.order_by(DisputeRow.id.desc()), dispute_of)

    async def save_dispute(self, dispute: Dispute, expected: DisputeStatus) -> bool:
        """Write the dispute if its stored status is still `expected`, in one conditional UPDATE."""
        stmt = (
            update(DisputeRow)
            .where(DisputeRow.id == dispute.id, DisputeRow.status == expected.value)
            .values(
                status=dispute.status.value,
                **values_of(dispute, _DISPUTE_FIELDS),
                updated_at=dispute.updated_at or self._clock(),
            )
        )
        async with self._sessions.begin() as session:
            return rowcount(await session.execute(stmt)) == 1
