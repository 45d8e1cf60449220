"""`MemoryPortal`: the `PortalStore` part of `MemoryStore` (behaves as `PortalSql`)."""

from __future__ import annotations

import copy
from dataclasses import replace
from datetime import datetime

from csms.domain.clock import Clock, to_utc
from csms.domain.identity import InvitationStatus
from csms.domain.portal import Dispute, DisputeStatus, Driver, SiteOwner, SiteOwnerDocument
from csms.domain.ports import NotFound


class MemoryPortal:
    """Site owners, documents, drivers and disputes in dicts."""

    _clock: Clock

    def __init__(self) -> None:
        self._site_owners: dict[int, SiteOwner] = {}
        self._documents: dict[int, SiteOwnerDocument] = {}
        self._drivers: dict[int, Driver] = {}
        self._disputes: dict[int, Dispute] = {}
        self._next_portal_id = 1

    def _portal_id(self) -> int:
        self._next_portal_id += 1
        return self._next_portal_id - 1

    async def add_site_owner(self, owner: SiteOwner) -> SiteOwner:
        stored = replace(
            copy.deepcopy(owner), id=self._portal_id(), created_at=to_utc(owner.created_at or self._clock())
        )
        self._site_owners[stored.id] = stored
        return copy.deepcopy(stored)

    async def get_site_owner(self, site_owner_id: int) -> SiteOwner | None:
        return copy.deepcopy(self._site_owners.get(site_owner_id))

    async def find_site_owner(
        self, *, token_digest: str = "", user_id: int | None = None
    ) -> SiteOwner | None:
        for owner in self._site_owners.values():
            if (owner.user_id == user_id) if user_id is not None else owner.token_digest == token_digest:
                return copy.deepcopy(owner)
        return None

    async def list_site_owners(self, org_id: str) -> list[SiteOwner]:
        return [copy.deepcopy(o) for _, o in sorted(self._site_owners.items()) if o.org_id == org_id]

    async def save_site_owner(self, owner: SiteOwner) -> None:
        stored = self._site_owners.get(owner.id)
        if stored is None:
            raise NotFound(f"site owner {owner.id}")
        self._site_owners[owner.id] = replace(
            copy.deepcopy(owner),
            org_id=stored.org_id,
            email=stored.email,
            token_digest=stored.token_digest,
            expires_at=stored.expires_at,
            status=stored.status,
            user_id=stored.user_id,
            created_at=stored.created_at,
        )

    async def accept_site_owner(self, site_owner_id: int, user_id: int, at: datetime) -> bool:
        owner = self._site_owners.get(site_owner_id)
        if owner is None or owner.status is not InvitationStatus.PENDING:
            return False
        owner.status, owner.user_id, owner.accepted_at = InvitationStatus.ACCEPTED, user_id, to_utc(at)
        return True

    async def add_site_owner_document(self, document: SiteOwnerDocument) -> SiteOwnerDocument:
        stored = replace(
            document, id=self._portal_id(), created_at=to_utc(document.created_at or self._clock())
        )
        self._documents[stored.id] = stored
        return replace(stored)

    async def list_site_owner_documents(self, site_owner_id: int) -> list[SiteOwnerDocument]:
        return [replace(d) for _, d in sorted(self._documents.items()) if d.site_owner_id == site_owner_id]

    async def add_driver(self, driver: Driver) -> Driver:
        stored = replace(driver, id=self._portal_id(), created_at=to_utc(driver.created_at or self._clock()))
        self._drivers[stored.id] = stored
        return replace(stored)

    async def get_driver(self, driver_id: int) -> Driver | None:
        driver = self._drivers.get(driver_id)
        return None if driver is None else replace(driver)

    async def find_driver(self, *, token_digest: str = "", user_id: int | None = None) -> Driver | None:
        for driver in self._drivers.values():
            if (driver.user_id == user_id) if user_id is not None else driver.token_digest == token_digest:
                return replace(driver)
        return None

    async def list_drivers(self, org_id: str) -> list[Driver]:
        return [replace(d) for _, d in sorted(self._drivers.items()) if d.org_id == org_id]

    async def save_driver(self, driver: Driver) -> None:
        stored = self._drivers.get(driver.id)
        if stored is None:
            raise NotFound(f"driver {driver.id}")
        self._drivers[driver.id] = replace(stored, name=driver.name, id_tokens=tuple(driver.id_tokens))

    async def accept_driver(self, driver_id: int, user_id: int, at: datetime) -> bool:
        driver = self._drivers.get(driver_id)
        if driver is None or driver.status is not InvitationStatus.PENDING:
            return False
        driver.status, driver.user_id, driver.accepted_at = InvitationStatus.ACCEPTED, user_id, to_utc(at)
        return True

    async def add_dispute(self, dispute: Dispute) -> Dispute:
        now = to_utc(self._clock())
        stored = replace(
            dispute,
            id=self._portal_id(),
            created_at=to_utc(dispute.created_at or now),
            updated_at=to_utc(dispute.updated_at or now),
        )
        self._disputes[stored.id] = stored
        return replace(stored)

    async def get_dispute(self, dispute_id: int) -> Dispute | None:
        dispute = self._disputes.get(dispute_id)
        return None if dispute is None else replace(dispute)

    async def list_disputes(self, org_id: str, status: DisputeStatus | None = None) -> list[Dispute]:
        return [
            replace(d)
            for _, d in sorted(self._disputes.items(), reverse=True)
            if d.org_id == org_id and (status is None or d.status is status)
        ]

    async def save_dispute(self, dispute: Dispute, expected: DisputeStatus) -> bool:
        stored = self._disputes.get(dispute.id)
        if stored is None or stored.status is not expected:
            return False
        self._disputes[dispute.id] = replace(
            stored,
            status=dispute.status,
            resolution=dispute.resolution,
            credit_cdr_id=dispute.credit_cdr_id,
            replacement_cdr_id=dispute.replacement_cdr_id,
            updated_at=to_utc(dispute.updated_at or self._clock()),
        )
        return True
