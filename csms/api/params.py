"""Reading a request: the shared `Services`, JSON bodies validated by pydantic, pagination and filters.

Every parse failure raises `ApiError` with a stable code, which `csms.api.errors.error_middleware` renders.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import orjson
from aiohttp import web
from pydantic import BaseModel

from csms.api.errors import ApiError, invalid_request
from csms.services import Services

SERVICES = web.AppKey("services", Services)

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
MAX_CURSOR_LENGTH = 512
MAX_BODY_BYTES = 64 * 1024

ModelT = TypeVar("ModelT", bound=BaseModel)


def get_services(request: web.Request) -> Services:
    """The `Services` stored on the root application (visible from every sub-application)."""
    return request.config_dict[SERVICES]


async def read_json(request: web.Request) -> Any:
    """The request body parsed as JSON.

    Raises:
        ApiError: 400 `invalid_json` when the body is empty or not JSON; 413 when it is too large.
    """
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise ApiError(413, "request_too_large", f"request body exceeds {MAX_BODY_BYTES} bytes")
    raw = await request.read()
    if not raw.strip():
        raise ApiError(400, "invalid_json", "request body must be a JSON object")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ApiError(400, "invalid_json", f"request body is not valid JSON: {exc}") from exc


async def read_model(request: web.Request, model: type[ModelT]) -> ModelT:
    """The request body parsed as JSON and validated by `model`.

    Raises:
        ApiError: 400 `invalid_json` (see `read_json`).
        pydantic.ValidationError: the body does not match `model`; rendered as 400 `invalid_request` with
            one `{"field", "reason"}` per problem.
    """
    return model.model_validate(await read_json(request))


@dataclass(frozen=True, slots=True)
class PageParams:
    """`limit` and `cursor` of a list request."""

    limit: int
    cursor: str | None


def page_params(request: web.Request) -> PageParams:
    """Parse `limit` (1..500, default 50) and `cursor` (opaque, from a previous page) from the query.

    Raises:
        ApiError: 400 `invalid_request` naming the bad parameter.
    """
    raw_limit = request.query.get("limit")
    limit = DEFAULT_LIMIT
    if raw_limit is not None:
        try:
            limit = int(raw_limit)
        except ValueError:
            raise invalid_request("limit", "must be an integer") from None
        if not 1 <= limit <= MAX_LIMIT:
            raise invalid_request("limit", f"must be between 1 and {MAX_LIMIT}")
    cursor = request.query.get("cursor")
    if cursor is not None and (not cursor or len(cursor) > MAX_CURSOR_LENGTH):
        raise invalid_request("cursor", "is not a cursor returned by this API")
    return PageParams(limit=limit, cursor=cursor)


@contextmanager
def cursor_errors(page: PageParams) -> Iterator[None]:
    """Around a store list call: a cursor the store rejects becomes a 400 naming `cursor`.

    Stores raise ValueError for a cursor they did not hand out; a numeric cursor too large for the
    database's integers can surface as OverflowError. Without a cursor, errors pass through unchanged.

    Raises:
        ApiError: 400 `invalid_request` when the page has a cursor and the store refused it.
    """
    try:
        yield
    except (ValueError, OverflowError) as exc:
        if page.cursor is None:
            raise
        raise invalid_request("cursor", "is not a cursor returned by this API") from exc


def int_path_param(request: web.Request, name: str) -> int:
    """A path parameter that must be a non-negative decimal integer.

    Raises:
        ApiError: 400 `invalid_request` when it is not.
    """
    raw = request.match_info[name]
    if not raw.isascii() or not raw.isdigit():
        raise invalid_request(name, "must be a non-negative integer")
    return int(raw)
