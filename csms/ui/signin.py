"""Dashboard sign-in: an API key or a user's email and password become an opaque session cookie.

The cookie value is random; only its SHA-256 digest is kept, mapped in memory to who signed in
(`UiPrincipal`: organization, role). The cookie is HttpOnly and SameSite=Strict, so page scripts cannot
read it and other sites cannot send it (which also keeps command forms safe from cross-site posts).
Sessions live in this process only: a restart signs everyone out (ADR 0020).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from csms.domain.secrets import api_key_prefix
from csms.domain.services import Services

COOKIE = "csms_ui"
SESSION_SECONDS = 8 * 3600  # a dashboard sign-in lasts one working day

# Checked when the email is unknown, so a wrong email costs the same bcrypt time as a wrong password.
_NO_USER_HASH = "$2b$12$1mWkM09otQY854mnprsxLeQdxyrF588CITHKc02dGL5q7HsgOYZxK"
_ROLES = ("viewer", "member", "admin")


@dataclass(frozen=True, slots=True)
class UiPrincipal:
    """Who uses the dashboard: every page is scoped to `org_id`; `role` decides the command buttons."""

    org_id: str
    role: str  # viewer | member | admin
    name: str  # shown in the header: the key's name or the user's email
    expires_at: datetime

    @property
    def may_command(self) -> bool:
        """Members and admins send commands; viewers only look (as in the REST API's roles)."""
        return self.role in ("member", "admin")


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _role(stored: str) -> str:
    # Unknown words and portal roles count as viewer: least privilege, as `csms.api.auth.Role.of_key`.
    return stored if stored in _ROLES else "viewer"


class UiSessions:
    """Signed-in dashboard sessions of this process, by cookie digest."""

    def __init__(self, services: Services) -> None:
        self._services = services
        self._by_digest: dict[str, UiPrincipal] = {}

    async def sign_in_with_key(self, api_key: str) -> str | None:
        """Check `api_key`; returns a new cookie value, or None when the key is unknown or wrong."""
        prefix = api_key_prefix(api_key.strip())
        if prefix is None:
            return None
        stored = await self._services.store.find_api_key(prefix)
        if stored is None or not await self._services.verifier.verify(api_key.strip(), stored.key_hash):
            return None
        return self._open(stored.org_id, _role(stored.role), stored.name)

    async def sign_in_with_password(self, email: str, password: str) -> str | None:
        """Check email and password; returns a new cookie value acting in the user's oldest membership, or
        None when they are wrong or the user belongs to no organization."""
        store = self._services.store
        user = await store.find_user_by_email(email)
        stored_hash = _NO_USER_HASH if user is None else user.password_hash
        if not await self._services.verifier.verify(password, stored_hash) or user is None:
            return None
        memberships = await store.list_memberships(user.id)
        if not memberships:
            return None
        org_id, role = memberships[0]
        return self._open(org_id, _role(role), email)

    def _open(self, org_id: str, role: str, name: str) -> str:
        cookie = secrets.token_urlsafe(32)
        expires_at = self._services.clock() + timedelta(seconds=SESSION_SECONDS)
        self._by_digest[_digest(cookie)] = UiPrincipal(org_id, role, name, expires_at)
        return cookie

    def principal(self, cookie: str | None) -> UiPrincipal | None:
        """Who the cookie belongs to, or None (missing, unknown, expired: the page asks to sign in)."""
        if not cookie:
            return None
        digest = _digest(cookie)
        principal = self._by_digest.get(digest)
        if principal is None:
            return None
        if principal.expires_at <= self._services.clock():
            del self._by_digest[digest]
            return None
        return principal

    def sign_out(self, cookie: str | None) -> None:
        """Forget the session of `cookie` (no error if unknown)."""
        if cookie:
            self._by_digest.pop(_digest(cookie), None)
