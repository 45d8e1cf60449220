"""Site owners and drivers, the two outside principals of an organization, and drivers' billing disputes
(issue 12, items 6 and 7).

A site owner hosts some of the organization's locations; invited by email (a single-use token that
expires, as member invitations), they sign in, fill in a profile, bank details and documents, submit, and
are approved by the organization. A driver is a user linked to their id tokens: they see the sessions of
those tokens only, and may dispute one. A dispute moves `open -> under_review -> resolved | rejected`.
Both kinds of principal belong to one organization (`org_id`) and never reach the operator API.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, Protocol

from csms.domain.identity import InvitationStatus

SITE_OWNER_TOKEN_PREFIX = "csmsso_"
DRIVER_TOKEN_PREFIX = "csmsdrv_"

# The onboarding stages of a site owner, in order (GET /site-owner/onboarding/status).
STAGES = ("invited", "profile", "bank_details", "documents", "submitted", "approved")
# What a site owner must give before submitting, in the order they are asked for.
REQUIRED_STEPS = ("profile", "bank_details", "documents")

_IBAN = re.compile(r"^[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}$")


def normalized_iban(value: str) -> str:
    """The IBAN without spaces, upper-cased."""
    return re.sub(r"\s+", "", value).upper()


def iban_valid(value: str) -> bool:
    """True if `value` (spaces allowed) is an IBAN whose ISO 13616 mod-97 check gives 1: the first four
    characters moved to the end, letters as 10..35, the number modulo 97."""
    iban = normalized_iban(value)
    if not _IBAN.match(iban):
        return False
    moved = iban[4:] + iban[:4]
    digits = "".join(str(int(c, 36)) for c in moved)
    return int(digits) % 97 == 1


def masked_iban(iban: str) -> str:
    """The IBAN as shown: every character but the last four replaced by `*`."""
    return "*" * max(len(iban) - 4, 0) + iban[-4:]


@dataclass(slots=True)
class SiteOwner:
    """A site owner of `org_id`: invited (`status` pending) until they accept and become user `user_id`.

    `profile` and `bank_details` are None until given; `location_ids` are the OCPI locations they host;
    `revenue_share_percent` of the incl.-VAT totals of the sessions at those locations is theirs.
    """

    id: int
    org_id: str
    email: str
    company: str
    token_digest: str
    expires_at: datetime
    revenue_share_percent: Decimal = Decimal("0")
    status: InvitationStatus = InvitationStatus.PENDING
    user_id: int | None = None
    profile: dict[str, Any] | None = None
    bank_details: dict[str, Any] | None = None
    location_ids: tuple[str, ...] = ()
    accepted_at: datetime | None = None
    submitted_at: datetime | None = None
    approved_at: datetime | None = None
    created_at: datetime | None = None


@dataclass(slots=True)
class SiteOwnerDocument:
    """A document a site owner uploaded (contract, proof of ownership, ...); `content` is base64 text."""

    id: int
    site_owner_id: int
    name: str
    kind: str
    content: str
    size: int
    created_at: datetime | None = None


def onboarding_missing(owner: SiteOwner, documents: int) -> list[str]:
    """The steps of `REQUIRED_STEPS` the site owner has not done yet, in order."""
    done = {
        "profile": owner.profile is not None,
        "bank_details": owner.bank_details is not None,
        "documents": documents > 0,
    }
    return [step for step in REQUIRED_STEPS if not done[step]]


def onboarding_stage(owner: SiteOwner, documents: int) -> str:
    """Where the site owner stands (`STAGES`): invited until accepted, then the first step still missing
    (the last one, `documents`, until they submit), submitted, approved."""
    if owner.status is not InvitationStatus.ACCEPTED:
        return "invited"
    if owner.approved_at is not None:
        return "approved"
    if owner.submitted_at is not None:
        return "submitted"
    missing = onboarding_missing(owner, documents)
    return missing[0] if missing else REQUIRED_STEPS[-1]


@dataclass(slots=True)
class Driver:
    """A driver of `org_id`, linked to their `id_tokens`; a user (`user_id`) once they accept the email
    invitation."""

    id: int
    org_id: str
    email: str
    name: str
    id_tokens: tuple[str, ...]
    token_digest: str
    expires_at: datetime
    status: InvitationStatus = InvitationStatus.PENDING
    user_id: int | None = None
    accepted_at: datetime | None = None
    created_at: datetime | None = None


class DisputeStatus(StrEnum):
    """Where a dispute stands."""

    OPEN = "open"
    UNDER_REVIEW = "under_review"
    RESOLVED = "resolved"
    REJECTED = "rejected"


# The only moves a dispute makes: an operator takes it up, then resolves or rejects it.
DISPUTE_TRANSITIONS: dict[DisputeStatus, frozenset[DisputeStatus]] = {
    DisputeStatus.OPEN: frozenset({DisputeStatus.UNDER_REVIEW}),
    DisputeStatus.UNDER_REVIEW: frozenset({DisputeStatus.RESOLVED, DisputeStatus.REJECTED}),
    DisputeStatus.RESOLVED: frozenset(),
    DisputeStatus.REJECTED: frozenset(),
}


@dataclass(slots=True)
class Dispute:
    """A driver's dispute of session `session_id`: what they say and what they think it should cost;
    the operator's `resolution`, and the credit and replacement CDRs when it was resolved with a credit."""

    id: int
    org_id: str
    session_id: int
    driver_id: int
    description: str
    expected_cost: Decimal
    status: DisputeStatus = DisputeStatus.OPEN
    resolution: str | None = None
    credit_cdr_id: str | None = None
    replacement_cdr_id: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


class PortalStore(Protocol):
    """Site owners (and their documents), drivers and disputes."""

    async def add_site_owner(self, owner: SiteOwner) -> SiteOwner:
        """Insert a site owner with a new id."""
        ...

    async def get_site_owner(self, site_owner_id: int) -> SiteOwner | None: ...

    async def find_site_owner(
        self, *, token_digest: str = "", user_id: int | None = None
    ) -> SiteOwner | None:
        """The site owner whose invitation token has this digest (or, if given, who is this user)."""
        ...

    async def list_site_owners(self, org_id: str) -> list[SiteOwner]:
        """The organization's site owners, by id."""
        ...

    async def save_site_owner(self, owner: SiteOwner) -> None:
        """Write every mutable field (company, share, profile, bank details, locations, times). Raises
        NotFound."""
        ...

    async def accept_site_owner(self, site_owner_id: int, user_id: int, at: datetime) -> bool:
        """Pending -> accepted as `user_id`, in one conditional write; False if not pending any more."""
        ...

    async def add_site_owner_document(self, document: SiteOwnerDocument) -> SiteOwnerDocument:
        """Insert a document with a new id."""
        ...

    async def list_site_owner_documents(self, site_owner_id: int) -> list[SiteOwnerDocument]:
        """The site owner's documents, by id."""
        ...

    async def add_driver(self, driver: Driver) -> Driver:
        """Insert a driver with a new id."""
        ...

    async def get_driver(self, driver_id: int) -> Driver | None: ...

    async def find_driver(self, *, token_digest: str = "", user_id: int | None = None) -> Driver | None:
        """The driver whose invitation token has this digest (or, if given, who is this user)."""
        ...

    async def list_drivers(self, org_id: str) -> list[Driver]:
        """The organization's drivers, by id."""
        ...

    async def save_driver(self, driver: Driver) -> None:
        """Write the driver's name and id tokens. Raises NotFound."""
        ...

    async def accept_driver(self, driver_id: int, user_id: int, at: datetime) -> bool:
        """Pending -> accepted as `user_id`, in one conditional write; False if not pending any more."""
        ...

    async def add_dispute(self, dispute: Dispute) -> Dispute:
        """Insert a dispute with a new id."""
        ...

    async def get_dispute(self, dispute_id: int) -> Dispute | None: ...

    async def list_disputes(self, org_id: str, status: DisputeStatus | None = None) -> list[Dispute]:
        """The organization's disputes (of that status), newest first."""
        ...

    async def save_dispute(self, dispute: Dispute, expected: DisputeStatus) -> bool:
        """Write status, resolution, CDR ids and `updated_at` if the stored status is still `expected`
        (one conditional write); False otherwise."""
        ...
