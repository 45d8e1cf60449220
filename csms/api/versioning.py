"""`Api-Version`: a client pins the version of the API it was written against (as the EOSVOLT and
ev.energy APIs do); every `/api/v1` answer says which version served it.

One version exists, `CURRENT_VERSION`; a request without the header gets it. A version this server does
not serve is 400 `unsupported_api_version` (details list the supported ones), before authentication, so
a client learns it whatever its key.
"""

from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Handler

from csms.api.errors import ApiError
from csms.api.headers import add_response_header

API_VERSION_HEADER = "Api-Version"
CURRENT_VERSION = "2026-12-01"
SUPPORTED_VERSIONS = (CURRENT_VERSION,)


@web.middleware
async def api_version_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Check the requested version and echo the one serving the request.

    Raises:
        ApiError: 400 `unsupported_api_version` for a version not in `SUPPORTED_VERSIONS`.
    """
    add_response_header(request, API_VERSION_HEADER, CURRENT_VERSION)
    wanted = request.headers.get(API_VERSION_HEADER)
    if wanted is not None and wanted.strip() not in SUPPORTED_VERSIONS:
        raise ApiError(
            400,
            "unsupported_api_version",
            f"API version {wanted.strip()!r} is not served here; supported: {', '.join(SUPPORTED_VERSIONS)}",
            {"requested": wanted.strip(), "supported": list(SUPPORTED_VERSIONS)},
        )
    return await handler(request)
