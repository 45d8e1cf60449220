"""Request and response bodies of the site-owner and driver portals and of disputes (issue 12, items 6, 7).

Request bodies reject unknown fields and name the field of each problem (400 `invalid_request`).
"""

from __future__ import annotations

import base64
import binascii
from decimal import Decimal, InvalidOperation
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from csms.api.models import DecimalText, ResponseModel, Session, Timestamp
from csms.api.org_models import Country, Email
from csms.domain.portal import STAGES, iban_valid, normalized_iban

Stage = Literal["invited", "profile", "bank_details", "documents", "submitted", "approved"]
assert STAGES == Stage.__args__  # type: ignore[attr-defined]
DisputeStatusName = Literal["open", "under_review", "resolved", "rejected"]
InvitationStatusName = Literal["pending", "accepted", "cancelled"]
MAX_DOCUMENT_BYTES = 5 * 1024 * 1024


def _decimal(value: str) -> str:
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise ValueError("not a decimal number") from None
    if not number.is_finite():
        raise ValueError("not a decimal number")
    return value


def _non_negative(value: str) -> str:
    if Decimal(value) < 0:
        raise ValueError("must not be negative")
    return value


def _percent(value: str) -> str:
    if not Decimal(0) <= Decimal(value) <= Decimal(100):
        raise ValueError("must be between 0 and 100")
    return value


def _iban(value: str) -> str:
    if not iban_valid(value):
        raise ValueError("not a valid IBAN (ISO 13616 mod-97 check)")
    return normalized_iban(value)


def _base64(value: str) -> str:
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("not base64") from None
    if not raw:
        raise ValueError("must not be empty")
    if len(raw) > MAX_DOCUMENT_BYTES:
        raise ValueError(f"larger than {MAX_DOCUMENT_BYTES} bytes")
    return value


DecimalInput = Annotated[str, Field(max_length=32, json_schema_extra={"description": "exact decimal"}),
                         AfterValidator(_decimal)]  # fmt: skip
Money = Annotated[DecimalInput, AfterValidator(_non_negative)]
Percent = Annotated[DecimalInput, AfterValidator(_percent)]
Iban = Annotated[
    str, Field(min_length=15, max_length=42, description="IBAN (ISO 13616)"), AfterValidator(_iban)
]
Base64 = Annotated[str, Field(min_length=1, description="the file, base64"), AfterValidator(_base64)]
IdTokenText = Annotated[str, Field(min_length=1, max_length=255)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- site owners ------------------------------------------------------------------------------------------


class SiteOwnerInvitationCreate(_Body):
    """`POST /site-owners/invitations`."""

    email: Email
    company: str = Field(min_length=1, max_length=200)
    revenue_share_percent: Percent = Field(default="0", description="their share of their sites' revenue")


class PortalInvitationAccept(_Body):
    """`POST /site-owner/accept-invitation/{token}` and `POST /portal/accept-invitation/{token}`."""

    password: str = Field(min_length=8, max_length=1024)
    name: str | None = Field(default=None, min_length=1, max_length=200)


class SiteOwnerProfileBody(_Body):
    """`PUT /site-owner/profile`: the site owner's company details (every field)."""

    company: str = Field(min_length=1, max_length=200)
    contact_name: str = Field(min_length=1, max_length=200)
    phone: str = Field(min_length=3, max_length=40)
    address: str = Field(min_length=1, max_length=200)
    postal_code: str = Field(min_length=1, max_length=20)
    city: str = Field(min_length=1, max_length=100)
    country: Country
    vat_number: str | None = Field(default=None, max_length=40)


class BankDetailsBody(_Body):
    """`PUT /site-owner/bank-details`: where the revenue share is paid."""

    account_holder: str = Field(min_length=1, max_length=200)
    iban: Iban
    bic: str | None = Field(default=None, pattern=r"^[A-Z]{4}[A-Z]{2}[A-Z0-9]{2}([A-Z0-9]{3})?$")


class DocumentBody(_Body):
    """`POST /site-owner/documents`."""

    name: str = Field(min_length=1, max_length=200)
    kind: Literal["contract", "proof_of_ownership", "identity", "permit", "other"]
    content_base64: Base64


class SiteOwnerLocationsBody(_Body):
    """`PUT /site-owners/{site_owner_id}/locations`: every location the site owner hosts."""

    location_ids: list[Annotated[str, Field(min_length=1, max_length=36)]] = Field(max_length=1000)


class SiteOwnerInvitation(ResponseModel):
    """A site owner as the organization sees them."""

    id: int
    email: str
    company: str
    status: InvitationStatusName
    stage: Stage
    revenue_share_percent: DecimalText
    location_ids: list[str]
    expires_at: Timestamp
    created_at: Timestamp | None
    accepted_at: Timestamp | None
    submitted_at: Timestamp | None
    approved_at: Timestamp | None


class SiteOwnerList(ResponseModel):
    """The organization's site owners."""

    items: list[SiteOwnerInvitation]


class PortalAccepted(ResponseModel):
    """An accepted portal invitation: sign in with the email and the password chosen."""

    user_id: int
    email: str
    org_id: str


class OnboardingStatus(ResponseModel):
    """Where onboarding stands and what is still missing before it can be submitted."""

    stage: Stage
    missing: list[Literal["profile", "bank_details", "documents"]]


class Profile(ResponseModel):
    """The company details a site owner gave."""

    company: str
    contact_name: str
    phone: str
    address: str
    postal_code: str
    city: str
    country: str
    vat_number: str | None = None


class BankDetails(ResponseModel):
    """Bank details as shown: the IBAN masked but for its last four characters."""

    account_holder: str
    iban_masked: str
    bic: str | None = None


class Document(ResponseModel):
    """An uploaded document (without its content)."""

    id: int
    name: str
    kind: str
    size: int = Field(description="bytes")
    created_at: Timestamp | None


class SiteOwnerProfile(ResponseModel):
    """The signed-in site owner's account: who they are, where onboarding stands, what they gave."""

    id: int
    org_id: str
    email: str
    company: str
    stage: Stage
    revenue_share_percent: DecimalText
    profile: Profile | None
    bank_details: BankDetails | None
    documents: list[Document]
    submitted_at: Timestamp | None
    approved_at: Timestamp | None


class ProjectChargePoint(ResponseModel):
    """A charge point at a site and the energy delivered there."""

    charge_point_id: str
    energy_wh: int
    sessions: int


class Project(ResponseModel):
    """A site (an OCPI location) the site owner hosts, its charge points, energy and revenue share."""

    location_id: str
    name: str | None
    address: str
    city: str
    country: str
    charge_points: list[ProjectChargePoint]
    sessions: int
    energy_wh: int
    revenue_incl_vat: DecimalText
    revenue_share_percent: DecimalText
    revenue_share: DecimalText
    currency: str


class ProjectList(ResponseModel):
    """The site owner's sites."""

    items: list[Project]


# -- drivers and disputes ---------------------------------------------------------------------------------


class DriverCreate(_Body):
    """`POST /drivers`: invites the driver by email and links them to their id tokens."""

    email: Email
    name: str = Field(min_length=1, max_length=200)
    id_tokens: list[IdTokenText] = Field(min_length=1, max_length=100)


class DriverIdTokensBody(_Body):
    """`PUT /drivers/{driver_id}/id-tokens`: every id token of the driver."""

    id_tokens: list[IdTokenText] = Field(max_length=100)


class Driver(ResponseModel):
    """A driver and their id tokens."""

    id: int
    email: str
    name: str
    id_tokens: list[str]
    status: InvitationStatusName
    expires_at: Timestamp
    created_at: Timestamp | None
    accepted_at: Timestamp | None


class DriverList(ResponseModel):
    """The organization's drivers."""

    items: list[Driver]


class PortalSessionPage(ResponseModel):
    """A driver's sessions, newest first."""

    items: list[Session]
    next_cursor: str | None


class DisputeBody(_Body):
    """`POST /portal/sessions/{session_id}/dispute`."""

    description: str = Field(min_length=1, max_length=4000)
    expected_cost: Money = Field(description="what the driver believes the session should cost (incl. VAT)")


class DisputeCredit(_Body):
    """How to correct the session's CDR when resolving: price it again with this tariff and/or energy."""

    tariff_id: str | None = Field(default=None, min_length=1, max_length=36)
    total_energy_wh: int | None = Field(default=None, ge=0)


class DisputeUpdate(_Body):
    """`PATCH /disputes/{dispute_id}`."""

    status: DisputeStatusName
    resolution: str | None = Field(default=None, min_length=1, max_length=4000)
    credit: DisputeCredit | None = None


class Dispute(ResponseModel):
    """A driver's dispute of a session."""

    id: int
    session_id: int
    driver_id: int
    description: str
    expected_cost: DecimalText
    status: DisputeStatusName
    resolution: str | None
    credit_cdr_id: str | None
    replacement_cdr_id: str | None
    created_at: Timestamp | None
    updated_at: Timestamp | None


class DisputeList(ResponseModel):
    """The organization's disputes, newest first."""

    items: list[Dispute]
