"""One error shape for the operator API: `{"error": {"code", "message", "details"}}` with stable codes.

Handlers raise `ApiError` (or let aiohttp's HTTP errors and pydantic's `ValidationError` through);
`error_middleware` renders all of them, and turns any other exception into a logged `internal_error` 500 so
one bad request never takes the server down. The codes are part of the API contract: clients branch on
`code`, never on `message`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import orjson
import structlog
from aiohttp import web
from aiohttp.typedefs import Handler
from pydantic import ValidationError

from csms.domain.ports import NotFound

log = structlog.get_logger(__name__)

# Codes for aiohttp's own HTTP errors (unknown route, wrong method, body too large, ...).
_CODE_BY_STATUS: dict[int, str] = {
    400: "invalid_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "request_too_large",
    415: "unsupported_media_type",
}


@dataclass(eq=False)
class ApiError(Exception):
    """An error answer of the API; raise it from a handler and `error_middleware` renders it.

    Args:
        status: the HTTP status (400, 401, 403, 404, 409, ...).
        code: the stable machine-readable code (`invalid_request`, `not_found`, `conflict`, ...).
        message: a human-readable sentence; may change between versions.
        details: optional JSON-serialisable data, e.g. a list of `{"field", "reason"}` for 400s.
        headers: extra response headers (`WWW-Authenticate` on 401s).
    """

    status: int
    code: str
    message: str
    details: Any = None
    headers: Mapping[str, str] = field(default_factory=dict, kw_only=True)

    def __post_init__(self) -> None:
        super().__init__(self.message)


def invalid_request(field: str, reason: str) -> ApiError:
    """An `invalid_request` 400 about one field (query parameter, path parameter or body field)."""
    return ApiError(
        400, "invalid_request", f"invalid {field}: {reason}", [{"field": field, "reason": reason}]
    )


def not_found(what: str) -> ApiError:
    """A `not_found` 404 naming what was looked for."""
    return ApiError(404, "not_found", f"{what} not found")


def already_exists(what: str) -> ApiError:
    """A `conflict` 409: a record with the id the request gave exists already."""
    return ApiError(409, "conflict", f"{what} already exists")


def same_id(given: str | None, path_id: str, what: str) -> None:
    """Check the `id` a replacing body may repeat is the one in the path.

    Raises:
        ApiError: 400 `invalid_request` naming `id` when the body names another.
    """
    if given is not None and given != path_id:
        raise invalid_request("id", f"must be the {what} id of the path ({path_id!r})")


RecordT = TypeVar("RecordT")


def found(record: RecordT | None, what: str) -> RecordT:
    """`record` as a store lookup returned it.

    Raises:
        ApiError: 404 `not_found` naming `what` when the store had none.
    """
    if record is None:
        raise not_found(what)
    return record


@contextmanager
def still_there(what: str) -> Iterator[None]:
    """Around a store write to (or delete of) one record: the store's `NotFound` — the record is gone,
    perhaps deleted since the handler read it — becomes a 404 naming `what`.

    Raises:
        ApiError: 404 `not_found`.
    """
    try:
        yield
    except NotFound:
        raise not_found(what) from None


def error_response(error: ApiError) -> web.Response:
    """Render `error` as the JSON error body with its status and headers."""
    body = {"error": {"code": error.code, "message": error.message, "details": error.details}}
    return web.Response(
        status=error.status, body=orjson.dumps(body), content_type="application/json", headers=error.headers
    )


def _from_http_exception(exc: web.HTTPException) -> ApiError:
    status = exc.status
    code = _CODE_BY_STATUS.get(status, "invalid_request" if status < 500 else "internal_error")
    headers = {}
    if isinstance(exc, web.HTTPMethodNotAllowed):
        headers["Allow"] = ",".join(sorted(exc.allowed_methods))
    elif "WWW-Authenticate" in exc.headers:
        headers["WWW-Authenticate"] = exc.headers["WWW-Authenticate"]
    return ApiError(status, code, exc.reason, headers=headers)


def _from_validation_error(exc: ValidationError) -> ApiError:
    # The input value is left out on purpose: it may be a password.
    details = [
        {"field": ".".join(str(part) for part in err["loc"]) or "body", "reason": err["msg"]}
        for err in exc.errors(include_url=False, include_input=False)
    ]
    return ApiError(400, "invalid_request", "the request body is invalid", details)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Render every failure of the wrapped handlers as the JSON error body (see the module docstring).

    Successful responses and redirects (3xx) pass through unchanged.
    """
    try:
        if "\x00" in request.path:
            # No object's id holds U+0000 (and PostgreSQL cannot compare with it, ADR 0017).
            raise ApiError(404, "not_found", "no such resource: the path contains U+0000 (NUL)")
        if "\x00" in request.query_string:
            raise ApiError(400, "invalid_request", "the query contains U+0000 (NUL)")
        return await handler(request)
    except ApiError as exc:
        return error_response(exc)
    except ValidationError as exc:
        return error_response(_from_validation_error(exc))
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return error_response(_from_http_exception(exc))
    except Exception:
        log.exception("api_request_failed", method=request.method, path=request.path)
        return error_response(ApiError(500, "internal_error", "internal server error"))
