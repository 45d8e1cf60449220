"""Request and response bodies of sign-in, organizations, members, invitations, settings and API keys.

Request bodies reject unknown fields and name the field of each problem (a 400 `invalid_request` whose
`details` list `{field, reason}`); codes are checked against the real lists (ISO 3166-1 alpha-2 countries and
ISO 4217 currencies in `csms.domain.iso_codes`, IANA time zones through `zoneinfo`).
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from csms.api.models import ResponseModel, Timestamp
from csms.domain.iso_codes import COUNTRIES, CURRENCIES

RoleName = Literal["admin", "member", "viewer"]

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")


def _email(value: str) -> str:
    value = value.strip()
    if not _EMAIL.match(value):
        raise ValueError("not an email address")
    return value


def _country(value: str) -> str:
    if value.upper() not in COUNTRIES:
        raise ValueError("not an ISO 3166-1 alpha-2 country code")
    return value.upper()


def _currency(value: str) -> str:
    if value.upper() not in CURRENCIES:
        raise ValueError("not an ISO 4217 currency code")
    return value.upper()


def _timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError("not an IANA time zone name") from None
    return value


Email = Annotated[str, Field(max_length=320), AfterValidator(_email)]
Country = Annotated[
    str, Field(min_length=2, max_length=2, description="ISO 3166-1 alpha-2"), AfterValidator(_country)
]
Currency = Annotated[
    str, Field(min_length=3, max_length=3, description="ISO 4217"), AfterValidator(_currency)
]
TimeZone = Annotated[str, Field(max_length=64, description="IANA time zone name"), AfterValidator(_timezone)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LoginBody(_Body):
    """`POST /auth/login`."""

    email: str = Field(max_length=320)
    password: str = Field(max_length=1024)


class RefreshBody(_Body):
    """`POST /auth/refresh`."""

    refresh_token: str = Field(max_length=200)


class OrganizationBody(_Body):
    """`POST /organizations` and `PUT /organizations/{org_id}` (every mutable field)."""

    name: str = Field(min_length=1, max_length=200)
    country: Country
    contact_email: Email


class SettingsBody(_Body):
    """`PUT /organizations/{org_id}/settings` (every field; `billing_email` null: none)."""

    currency: Currency
    timezone: TimeZone
    billing_email: Email | None = None
    notifications: dict[str, bool] = Field(default_factory=dict, description="which notifications to send")


class RoleBody(_Body):
    """`PUT /organizations/{org_id}/members/{user_id}/role`."""

    role: RoleName


class InvitationCreate(_Body):
    """`POST /organizations/{org_id}/invitations`."""

    email: Email
    role: RoleName


class InvitationAccept(_Body):
    """`POST /organizations/invitations/accept`: `password` (and optionally `name`) create the user when no
    user has the invited email yet; an existing user is added as they are."""

    token: str = Field(max_length=200)
    password: str | None = Field(default=None, min_length=8, max_length=1024)
    name: str | None = Field(default=None, min_length=1, max_length=200)


class ApiKeyCreate(_Body):
    """`POST /api-keys`."""

    name: str = Field(min_length=1, max_length=100)
    role: RoleName


class TokenPair(ResponseModel):
    """A signed-in session's tokens: send `access_token` as `Authorization: Bearer`."""

    access_token: str
    token_type: Literal["Bearer"]
    expires_in: int = Field(description="seconds the access token is valid")
    refresh_token: str


class Organization(ResponseModel):
    """An organization."""

    id: str
    name: str
    country: str
    contact_email: str
    created_at: Timestamp | None


class Settings(ResponseModel):
    """An organization's settings: the defaults of its tariffs and receipts."""

    currency: str
    timezone: str
    billing_email: str | None
    notifications: dict[str, Any]


class Member(ResponseModel):
    """A member of an organization."""

    user_id: int
    email: str
    name: str
    role: RoleName
    joined_at: Timestamp | None


class MemberList(ResponseModel):
    """Every member, by user id."""

    items: list[Member]


class Invitation(ResponseModel):
    """An invitation (its token is only ever in the email)."""

    id: int
    org_id: str
    email: str
    role: RoleName
    status: Literal["pending", "accepted", "cancelled"]
    expires_at: Timestamp
    created_at: Timestamp | None
    accepted_at: Timestamp | None
    cancelled_at: Timestamp | None


class InvitationList(ResponseModel):
    """Every invitation of the organization, newest first."""

    items: list[Invitation]


class InvitationAccepted(ResponseModel):
    """The membership an accepted invitation made; sign in with `POST /auth/login`."""

    org_id: str
    user_id: int
    email: str
    role: RoleName
    user_created: bool


class ApiKey(ResponseModel):
    """An API key (never its secret, which is shown once when created or rotated)."""

    id: int
    name: str
    role: str
    prefix: str
    org_id: str
    created_at: Timestamp | None


class ApiKeyCreated(ApiKey):
    """A new or rotated API key with its secret `key`: store it now, it cannot be shown again."""

    key: str


class ApiKeyList(ResponseModel):
    """The organization's API keys, by id."""

    items: list[ApiKey]
