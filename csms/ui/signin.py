"""Dashboard sign-in: an API key or a user's email and password become a signed session cookie.

The cookie (`csms_ui`: HttpOnly, SameSite=Strict, Path=/ui) holds who signed in — the API key's prefix or
the user's id, the organization and the expiry — and an HMAC-SHA256 of that under `[ui] session_secret`,
never a secret of the user: nothing is kept server-side but digests of signed-out cookies, in the database
(`UiSessionStore`) so that every worker and node refuses a cookie signed out on any of them. Any worker or
node with the same key accepts it. Every request checks the signature and expiry, then reads the key or
the membership again (no bcrypt: that was paid once at sign-in), so a revoked key, a removed member or a
changed role takes effect at once; the role shown is the current one. Signing out drops the cookie from the
browser and denies it in every process sharing the database. SameSite=Strict keeps other sites from sending
it, which is also the command forms' defence against cross-site posts.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

import orjson

from csms.domain.secrets import api_key_prefix
from csms.domain.services import Services

COOKIE = "csms_ui"

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


def _role(stored: str) -> str:
    # Unknown words and portal roles count as viewer: least privilege, as `csms.api.auth.Role.of_key`.
    return stored if stored in _ROLES else "viewer"


def _digest(cookie: str) -> str:
    # What the store keeps of a signed-out cookie: never the cookie itself.
    return hashlib.sha256(cookie.encode()).hexdigest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class UiSessions:
    """Issues and checks dashboard session cookies for one CSMS (`[ui]` settings)."""

    def __init__(self, services: Services) -> None:
        self._services = services
        config = services.config.ui
        # Empty: this process's own key (one process; `csms.workers` gives its workers a shared one).
        self._key = (config.session_secret or secrets.token_urlsafe(32)).encode()
        self._seconds = config.session_seconds

    @property
    def seconds(self) -> int:
        """How long a sign-in lasts (the cookie's Max-Age)."""
        return self._seconds

    async def sign_in_with_key(self, api_key: str) -> str | None:
        """Check `api_key`; returns a new cookie value, or None when the key is unknown or wrong."""
        token = api_key.strip()
        prefix = api_key_prefix(token)
        if prefix is None:
            return None
        stored = await self._services.store.find_api_key(prefix)
        if stored is None or not await self._services.verifier.verify(token, stored.key_hash):
            return None
        return self._issue({"k": "key", "p": prefix, "o": stored.org_id})

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
        return self._issue({"k": "user", "u": user.id, "o": memberships[0][0]})

    def _issue(self, claims: dict[str, object]) -> str:
        expires = int(self._services.clock().timestamp()) + self._seconds
        payload = _b64(orjson.dumps({**claims, "e": expires, "n": secrets.token_hex(8)}))
        return f"{payload}.{self._sign(payload)}"

    def _sign(self, payload: str) -> str:
        return _b64(hmac.new(self._key, payload.encode(), hashlib.sha256).digest())

    def _claims(self, cookie: str) -> dict[str, object] | None:
        payload, _, signature = cookie.partition(".")
        if not signature or not hmac.compare_digest(signature, self._sign(payload)):
            return None
        try:
            claims = orjson.loads(_unb64(payload))
        except (ValueError, orjson.JSONDecodeError):
            return None
        return claims if isinstance(claims, dict) else None

    async def principal(self, cookie: str | None) -> UiPrincipal | None:
        """Who the cookie belongs to now, or None (missing, forged, expired, signed out, or the key or
        membership is gone: the page asks to sign in)."""
        claims = self._claims(cookie) if cookie else None
        if claims is None or cookie is None:
            return None
        expires = claims.get("e")
        org_id = str(claims.get("o", ""))
        if not isinstance(expires, int) or expires <= self._services.clock().timestamp():
            return None
        store = self._services.store
        if await store.is_ui_session_signed_out(_digest(cookie)):
            return None
        expires_at = datetime.fromtimestamp(expires, UTC)
        if claims.get("k") == "key":
            key = await store.find_api_key(str(claims.get("p", "")))
            if key is None or key.org_id != org_id:
                return None
            return UiPrincipal(org_id, _role(key.role), key.name, expires_at)
        user_id = claims.get("u")
        user = await store.get_user(user_id) if isinstance(user_id, int) else None
        role = dict(await store.list_memberships(user.id)).get(org_id) if user is not None else None
        if user is None or role is None:
            return None
        return UiPrincipal(org_id, _role(role), user.email, expires_at)

    async def sign_out(self, cookie: str | None) -> None:
        """Deny `cookie` from now on in every process sharing the store (the browser drops it too); it is
        remembered until it would have expired. A forged or unreadable cookie is ignored."""
        claims = self._claims(cookie) if cookie else None
        expires = None if claims is None else claims.get("e")
        if cookie and isinstance(expires, int):
            until = datetime.fromtimestamp(expires, UTC)
            await self._services.store.add_signed_out_ui_session(_digest(cookie), until)
