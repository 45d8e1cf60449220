"""Bearer API-key authentication and role checks for the operator API.

A request carries `Authorization: Bearer csms_<prefix>_<secret>` (keys come from `csms apikey create`).
The prefix finds the stored key; the secret is checked against its bcrypt hash through the shared
`SecretVerifier`, which runs bcrypt once per distinct key and answers later requests from its cache. The
authenticated `ApiKey` is put on the request under `API_KEY`.

Roles: `admin` and `member` may do everything; `viewer` may only read (GET/HEAD). Any other role is treated
as `viewer`.
"""

from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Handler

from csms.api.errors import ApiError
from csms.api.params import get_services
from csms.domain.models import ApiKey
from csms.domain.secrets import api_key_prefix

API_KEY = web.RequestKey("api_key", ApiKey)

READ_METHODS = frozenset({"GET", "HEAD"})
WRITE_ROLES = frozenset({"admin", "member"})


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


def may(role: str, method: str) -> bool:
    """True if a key with `role` may make a request with HTTP `method`."""
    return method in READ_METHODS or role in WRITE_ROLES


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Authenticate every request of the app it is installed on, then check the key's role.

    Raises:
        ApiError: 401 `unauthorized` (see `authenticate`) or 403 `forbidden` when the role may not use the
            request's method.
    """
    api_key = await authenticate(request)
    if not may(api_key.role, request.method):
        raise ApiError(403, "forbidden", f"role {api_key.role!r} may not {request.method} this resource")
    request[API_KEY] = api_key
    return await handler(request)
