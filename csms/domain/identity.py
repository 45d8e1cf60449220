"""Organizations, users, their memberships, sign-in sessions and invitations (issue 12).

A user signs in with email and password (bcrypt, `csms.domain.secrets`) and gets a short-lived access token
and a long-lived refresh token; both are random 256-bit strings shown once and stored as SHA-256 digests
(`token_digest`). An organization's members each have one role (`admin`, `member`, `viewer`, the same words
as API key roles). An invitation carries a single-use random token, stored as its digest, that expires.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

ROLES = ("admin", "member", "viewer")

ACCESS_TOKEN_PREFIX = "csmsat_"
REFRESH_TOKEN_PREFIX = "csmsrt_"
INVITATION_TOKEN_PREFIX = "csmsinv_"


def new_token(prefix: str) -> str:
    """A random token with 256 bits of entropy and a recognizable prefix (`ACCESS_TOKEN_PREFIX`, ...)."""
    return prefix + secrets.token_urlsafe(32)


def new_organization_id() -> str:
    """A new organization's id: `org_` and 16 random hex digits."""
    return f"org_{secrets.token_hex(8)}"


def token_digest(token: str) -> str:
    """The stored form of a random token: its SHA-256 hex digest.

    SHA-256 rather than bcrypt on purpose: bcrypt's cost protects low-entropy secrets (passwords) against
    brute force, but a 256-bit random token cannot be guessed however fast the hash is, and a fast,
    deterministic digest lets the store find the token by an indexed lookup on every request.
    """
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def normalized_email(email: str) -> str:
    """The form emails are compared in: trimmed and lower-cased (unique case-insensitively)."""
    return email.strip().lower()


@dataclass(slots=True)
class Organization:
    """A tenant: owns stations, keys and users' memberships; `settings` are its billing defaults."""

    id: str
    name: str
    country: str  # ISO 3166-1 alpha-2
    contact_email: str
    currency: str = "EUR"  # ISO 4217
    timezone: str = "UTC"  # IANA
    billing_email: str | None = None
    notifications: dict[str, Any] = field(default_factory=dict)
    created_at: datetime | None = None


@dataclass(slots=True)
class User:
    """A person who signs in; `email` as given, unique in `normalized_email` form."""

    id: int
    email: str
    name: str
    password_hash: str
    created_at: datetime | None = None


@dataclass(slots=True)
class Member:
    """A user's membership of one organization, with the user's details."""

    org_id: str
    user: User
    role: str
    created_at: datetime | None = None


@dataclass(slots=True)
class UserSession:
    """One sign-in: the digests of its current access and refresh tokens, and when each expires.

    A refresh replaces both tokens of the session; logout (or revocation) sets `revoked_at`, refusing both.
    """

    id: int
    user_id: int
    access_digest: str
    access_expires_at: datetime
    refresh_digest: str
    refresh_expires_at: datetime
    created_at: datetime | None = None
    revoked_at: datetime | None = None


class InvitationStatus(StrEnum):
    """Where an invitation stands."""

    PENDING = "pending"
    ACCEPTED = "accepted"
    CANCELLED = "cancelled"


@dataclass(slots=True)
class Invitation:
    """An email invitation to join `org_id` with `role`; `token_digest` finds it when the token comes back."""

    id: int
    org_id: str
    email: str
    role: str
    token_digest: str
    expires_at: datetime
    status: InvitationStatus = InvitationStatus.PENDING
    created_at: datetime | None = None
    accepted_at: datetime | None = None
    cancelled_at: datetime | None = None
