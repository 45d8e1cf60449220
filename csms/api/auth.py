"""Bearer API-key authentication and role checks for the operator API.

A request carries `Authorization: Bearer csms_<prefix>_<secret>` (keys come from `csms apikey create`).
The prefix finds the stored key; the secret is checked against its bcrypt hash through the shared
`SecretVerifier`, which runs bcrypt once per distinct key and answers later requests from its cache. The
authenticated `ApiKey` is put on the request under `API_KEY`.

Roles, from least to most allowed (a stored role this module does not know counts as `viewer`):

- `viewer` reads (GET/HEAD) only;
- `member` also sends commands to charge points and manages sessions, reservations and id tokens;
- `admin` may do everything, including registering, changing and deleting charge points.

Each route has a required role: the one it was registered with through `add_route`, else `viewer` for
GET/HEAD and `member` for every other method. `PUBLIC` routes (the OpenAPI document) skip authentication.
"""

from __future__ import annotations

from enum import StrEnum

from aiohttp import web
from aiohttp.typedefs import Handler

from csms.api.errors import ApiError
from csms.api.params import get_services
from csms.domain.models import ApiKey
from csms.domain.secrets import api_key_prefix
from csms.domain.tenancy import DEFAULT_ORG_ID

API_KEY = web.RequestKey("api_key", ApiKey)

READ_METHODS = frozenset({"GET", "HEAD"})


class Role(StrEnum):
    """What a route requires; `PUBLIC` means no key at all."""

    PUBLIC = "public"
    VIEWER = "viewer"
    MEMBER = "member"
    ADMIN = "admin"

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
        return cls.VIEWER if role is cls.PUBLIC else role


_RANKS = {Role.PUBLIC: 0, Role.VIEWER: 1, Role.MEMBER: 2, Role.ADMIN: 3}

# Routes registered with an explicit role (see `add_route`); others get the default of their method.
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


async def authenticate(request: web.Request) -> ApiKey:
    """Return the stored API key the request's bearer token belongs to.

    Raises:
        ApiError: 401 `unauthorized` when the header is missing or malformed, or the key is unknown or wrong.
    """
    token = bearer_token(request)
    if token is None:
        raise _unauthorized("missing bearer token")
    prefix = api_key_prefix(token)
    if prefix is None:
        raise _unauthorized("invalid API key")
    services = get_services(request)
    api_key = await services.store.find_api_key(prefix)
    if api_key is None or not await services.verifier.verify(token, api_key.key_hash):
        raise _unauthorized("invalid API key")
    return api_key


def org_of(request: web.Request) -> str:
    """The organization the caller acts for: every read and write of the request is scoped to it
    (`csms.domain.tenancy`; another organization's resource is 404, never visible).

    Today that is the organization of the request's API key; a request that passed no authentication (a
    public route) acts for the default organization.
    """
    api_key = request.get(API_KEY)
    return DEFAULT_ORG_ID if api_key is None else api_key.org_id


def may(role: str, required: Role) -> bool:
    """True if a key with the stored `role` may use a route requiring `required`."""
    return Role.of_key(role).rank >= required.rank


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Authenticate every non-public request of the app it is installed on, then check the key's role.

    Raises:
        ApiError: 401 `unauthorized` (see `authenticate`) or 403 `forbidden` when the key's role is below
            the route's required role.
    """
    required = required_role(request)
    if required is Role.PUBLIC:
        return await handler(request)
    api_key = await authenticate(request)
    if not may(api_key.role, required):
        raise ApiError(
            403,
            "forbidden",
            f"role {api_key.role!r} may not {request.method} this resource (requires {required.value})",
            {"role": api_key.role, "required_role": required.value},
        )
    request[API_KEY] = api_key
    return await handler(request)
