"""Bearer authentication (API keys and users' access tokens) and role checks for the operator API.

A request carries `Authorization: Bearer <token>`, either

- an API key `csms_<prefix>_<secret>` (from `csms apikey create` or `POST /api-keys`): the prefix finds the
  stored key; the secret is checked against its bcrypt hash through the shared `SecretVerifier`, which runs
  bcrypt once per distinct key and answers later requests from its cache. The key acts in its organization
  with its role; or
- a user's access token `csmsat_<random>` (from `POST /auth/login`): its SHA-256 digest finds the sign-in
  session, which must be neither expired nor revoked. A user acts in one organization at a time: the
  `{org_id}` of the path when there is one, else the `X-Organization-Id` header, else their oldest
  membership. The user's role is their membership role there. A path naming an organization the caller is
  not in is 404 (other organizations are never visible); a header naming one is 403 `not_a_member`.

The authenticated caller is put on the request under `CALLER` (`Caller`); `org_of` and `principal_of` read it.

Roles, from least to most allowed (a stored role this module does not know counts as `viewer`):

- `viewer` reads (GET/HEAD) only;
- `member` also sends commands to charge points and manages sessions, reservations and id tokens;
- `admin` may do everything, including registering, changing and deleting charge points.

A signed-in user who belongs to no organization yet may only use `signed_in` routes (create an
organization, sign out). A user who is no member anywhere but a site owner or a driver of an organization
(`csms.domain.portal`) acts there with the role `site_owner` or `driver`: such a principal reaches only the
routes registered with its own role (the `/site-owner/...` and `/portal/...` routes) and `signed_in` ones;
every operator route is 403 `forbidden` to it, and its routes are 403 to operators.

Each route has a required role: the one it was registered with through `add_route`, else `viewer` for
GET/HEAD and `member` for every other method. `PUBLIC` routes (the OpenAPI document, signing in, accepting an
invitation) skip authentication.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from enum import StrEnum

import structlog
from aiohttp import web
from aiohttp.typedefs import Handler

from csms.api.errors import ApiError, not_found
from csms.api.params import get_services
from csms.domain.identity import ACCESS_TOKEN_PREFIX, UserSession, token_digest
from csms.domain.models import ApiKey
from csms.domain.secrets import api_key_prefix
from csms.domain.services import Services
from csms.domain.tenancy import DEFAULT_ORG_ID
from csms.domain.throttle import FailureThrottle

ORG_HEADER = "X-Organization-Id"


@dataclass(frozen=True, slots=True)
class Caller:
    """Who made an authenticated request, in which organization, with which role.

    `org_id` is None (and `role` empty) only for a signed-in user who belongs to no organization yet.
    """

    kind: str  # "key" or "user"
    id: int  # the API key's or the user's id
    org_id: str | None
    role: str
    api_key: ApiKey | None = None
    session: UserSession | None = None

    @property
    def principal(self) -> str:
        """`key:<id>` or `user:<id>`: whom rate limits and audit lines count against."""
        return f"{self.kind}:{self.id}"


CALLER = web.RequestKey("caller", Caller)

READ_METHODS = frozenset({"GET", "HEAD"})


class Role(StrEnum):
    """What a route requires; `PUBLIC` means no key at all, `SIGNED_IN` any authenticated caller, even a
    user of no organization."""

    PUBLIC = "public"
    SIGNED_IN = "signed_in"
    VIEWER = "viewer"
    MEMBER = "member"
    ADMIN = "admin"
    SITE_OWNER = "site_owner"
    DRIVER = "driver"

    @property
    def rank(self) -> int:
        """Higher ranks may do everything lower ranks may."""
        return _RANKS[self]

    @classmethod
    def of_key(cls, stored: str) -> Role:
        """The role of a stored API key; an unknown word is treated as `viewer` (least privilege)."""
        try:
            role = cls(stored)
        except ValueError:
            return cls.VIEWER
        return cls.VIEWER if role in (cls.PUBLIC, cls.SIGNED_IN, *PORTAL_ROLES) else role


# Outside principals: they reach only the routes of their own role (no rank: not above or below staff).
PORTAL_ROLES = (Role.SITE_OWNER, Role.DRIVER)

_RANKS = {
    Role.PUBLIC: 0,
    Role.SIGNED_IN: 1,
    Role.VIEWER: 2,
    Role.MEMBER: 3,
    Role.ADMIN: 4,
    Role.SITE_OWNER: 5,  # never compared with the others (`may`)
    Role.DRIVER: 5,
}

# Routes registered with an explicit role (see `add_route`); others get the default of their method.
# Brute force (issue 14 item 6): wrong API keys or tokens from one address are refused ever more slowly.
log = structlog.get_logger("csms.api.auth")
AUTH_THROTTLE = web.AppKey("auth_throttle", FailureThrottle)
ROUTE_ROLES = web.AppKey("route_roles", dict[web.AbstractRoute, Role])


def default_role(method: str) -> Role:
    """The role a route requires unless registered otherwise: `viewer` to read, `member` to change."""
    return Role.VIEWER if method in READ_METHODS else Role.MEMBER


def add_route(
    app: web.Application,
    method: str,
    path: str,
    handler: Handler,
    *,
    role: Role | None = None,
    name: str | None = None,
) -> web.AbstractRoute:
    """Register `method path` on `app`, requiring `role` (default: `default_role(method)`).

    A GET route also answers HEAD (as `add_get` does). `app[ROUTE_ROLES]` must exist (`create_api_app`
    creates it before any route is added).

    Returns:
        The route (its HEAD twin, if any, shares the role).
    """
    if method == "GET":
        route = app.router.add_get(path, handler, name=name)  # adds the HEAD twin first
    else:
        route = app.router.add_route(method, path, handler, name=name)
    if role is not None:
        siblings = list(route.resource) if route.resource is not None else [route]
        for twin in siblings:
            if twin is route or (method == "GET" and twin.method == "HEAD"):
                app[ROUTE_ROLES][twin] = role
    return route


def required_role(request: web.Request) -> Role:
    """The role the request's matched route requires (unmatched paths: the default of the method)."""
    roles = request.app.get(ROUTE_ROLES, {})
    return roles.get(request.match_info.route, default_role(request.method))


def _unauthorized(message: str) -> ApiError:
    # RFC 6750 section 3: a 401 names the scheme the client should use.
    return ApiError(401, "unauthorized", message, headers={"WWW-Authenticate": 'Bearer realm="csms"'})


def bearer_token(request: web.Request) -> str | None:
    """The token of an `Authorization: Bearer <token>` header (scheme case-insensitive), or None."""
    header = request.headers.get("Authorization")
    if header is None:
        return None
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    return token


async def authenticate(request: web.Request) -> Caller:
    """Return who the request's bearer token belongs to, acting in which organization (module docstring).

    Raises:
        ApiError: 401 `unauthorized` when the header is missing or malformed, or the key or token is unknown,
            wrong, expired or revoked; 404 `not_found` for a path naming another organization; 403
            `not_a_member` for an `X-Organization-Id` the user does not belong to.
    """
    token = bearer_token(request)
    if token is None:
        raise _unauthorized("missing bearer token")
    path_org = request.match_info.get("org_id")
    if token.startswith(ACCESS_TOKEN_PREFIX):
        return await _user_caller(request, token, path_org)
    prefix = api_key_prefix(token)
    if prefix is None:
        raise _unauthorized("invalid API key")
    services = get_services(request)
    api_key = await services.store.find_api_key(prefix)
    if api_key is None or not await services.verifier.verify(token, api_key.key_hash):
        raise _unauthorized("invalid API key")
    if path_org is not None and path_org != api_key.org_id:
        raise not_found(f"organization {path_org!r}")
    return Caller("key", api_key.id, api_key.org_id, api_key.role, api_key=api_key)


async def _user_caller(request: web.Request, token: str, path_org: str | None) -> Caller:
    services = get_services(request)
    session = await services.store.find_user_session(access_digest=token_digest(token))
    if session is None or session.revoked_at is not None or session.access_expires_at <= services.clock():
        raise _unauthorized("invalid or expired access token")
    memberships = dict(await services.store.list_memberships(session.user_id))
    header_org = request.headers.get(ORG_HEADER)
    if path_org is not None:
        if path_org not in memberships:
            raise not_found(f"organization {path_org!r}")
        org_id: str | None = path_org
    elif header_org is not None:
        if header_org not in memberships:
            raise ApiError(
                403,
                "not_a_member",
                f"you are not a member of organization {header_org!r}",
                {"org_id": header_org},
            )
        org_id = header_org
    else:
        org_id = next(iter(memberships), None)  # the oldest membership (the store's order)
    if org_id is None and header_org is None:
        portal = await _portal_caller(services, session)
        if portal is not None:
            return portal
    role = "" if org_id is None else memberships[org_id]
    return Caller("user", session.user_id, org_id, role, session=session)


async def _portal_caller(services: Services, session: UserSession) -> Caller | None:
    """The caller of a user of no organization who is a site owner or a driver of one, else None."""
    owner = await services.store.find_site_owner(user_id=session.user_id)
    if owner is not None:
        return Caller("user", session.user_id, owner.org_id, Role.SITE_OWNER.value, session=session)
    driver = await services.store.find_driver(user_id=session.user_id)
    if driver is not None:
        return Caller("user", session.user_id, driver.org_id, Role.DRIVER.value, session=session)
    return None


def may(role: str, required: Role) -> bool:
    """True if a caller with the stored `role` may use a route requiring `required` (an empty role: a user
    of no organization, who may only use `SIGNED_IN` routes). A site owner or driver may use only the routes
    of their own role and `SIGNED_IN` ones; no one else may use those."""
    if required is Role.PUBLIC:
        return True
    if role in PORTAL_ROLES:
        return required is Role.SIGNED_IN or required.value == role
    if required in PORTAL_ROLES:
        return False
    rank = Role.SIGNED_IN.rank if not role else Role.of_key(role).rank
    return rank >= required.rank


def caller_of(request: web.Request) -> Caller:
    """The authenticated caller (set by `auth_middleware`; only on non-public routes)."""
    return request[CALLER]


def org_of(request: web.Request) -> str:
    """The id of the organization the caller acts in: every read and write of the request is scoped to it
    (`csms.domain.tenancy`; another organization's resource is 404, never visible). A request that passed
    no authentication (a public route) acts for the default organization.

    Raises:
        ApiError: 403 `no_organization` for a signed-in user who belongs to no organization yet.
    """
    caller: Caller | None = request.get(CALLER)
    if caller is None:
        return DEFAULT_ORG_ID
    org_id = caller.org_id
    if org_id is None:
        raise ApiError(403, "no_organization", "create or join an organization first")
    return org_id


def principal_of(request: web.Request) -> str:
    """Who the caller is, for rate limits: `key:<id>`, `user:<id>`, or `ip:<address>` before
    authentication."""
    caller: Caller | None = request.get(CALLER)
    if caller is not None:
        return caller.principal
    return f"ip:{request.remote or 'unknown'}"


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Authenticate every non-public request of the app it is installed on, then check the caller's role.

    Raises:
        ApiError: 401 `unauthorized` (see `authenticate`) or 403 `forbidden` when the caller's role is below
            the route's required role.
    """
    required = required_role(request)
    if required is Role.PUBLIC:
        return await handler(request)
    caller = await _throttled_authenticate(request)
    if not may(caller.role, required):
        raise ApiError(
            403,
            "forbidden",
            f"role {caller.role or 'none'!r} may not {request.method} this resource"
            f" (requires {required.value})",
            {"role": caller.role, "required_role": required.value},
        )
    request[CALLER] = caller
    return await handler(request)


async def _throttled_authenticate(request: web.Request) -> Caller:
    """`authenticate`, with a 401 from an address that keeps failing delayed (`FailureThrottle`); a success
    clears that address's failures."""
    throttle = request.config_dict.get(AUTH_THROTTLE)
    if throttle is None:
        return await authenticate(request)
    try:
        caller = await authenticate(request)
    except ApiError as exc:
        if exc.status == 401 and bearer_token(request) is not None:  # a guess, not a missing header
            delay = throttle.failed(request.remote)
            if delay:
                log.warning(
                    "auth_failure_throttled", source=request.remote, delay=delay,
                    failures=throttle.failures(request.remote or ""), path=request.path[:200],
                )
                await asyncio.sleep(delay)
        raise
    throttle.succeeded(request.remote)
    return caller
