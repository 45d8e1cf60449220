"""Reading a request: the shared `Services` and `Domain`, JSON bodies validated by pydantic, pagination,
filters and path parameters.

Every parse failure raises `ApiError` with a stable code, which `csms.api.errors.error_middleware` renders.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, TypeVar

import orjson
from aiohttp import web
from pydantic import BaseModel

from csms.api.errors import ApiError, found, invalid_request
from csms.domain.clock import parse_datetime
from csms.domain.core import Domain
from csms.domain.models import ChargePoint, Transaction
from csms.domain.services import Services
from csms.domain.text import NUL_ESCAPE, contains_nul

SERVICES = web.AppKey("services", Services)
DOMAIN = web.AppKey("domain", Domain)


@dataclass(frozen=True, slots=True)
class CostSoFar:
    """What a session costs so far (final: it ended, the amount no longer changes), exact Decimal."""

    excl_vat: Decimal
    incl_vat: Decimal
    currency: str
    final: bool


CostOf = Callable[[Transaction], Awaitable[CostSoFar]]
# How `GET /sessions/{id}` learns a session's cost: set by whoever prices sessions (the OCPI bridge's
# `ocpi.admin_api.install`, since tariffs are OCPI's); without it the API shows `cost: null`.
SESSION_COST: web.AppKey[CostOf] = web.AppKey("session_cost")

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
MAX_CURSOR_LENGTH = 512
MAX_BODY_BYTES = 64 * 1024
# Largest id a 64-bit signed integer column holds; a larger one cannot exist.
MAX_ID = 2**63 - 1

ModelT = TypeVar("ModelT", bound=BaseModel)
StrEnumT = TypeVar("StrEnumT", bound=StrEnum)
T = TypeVar("T")


def get_services(request: web.Request) -> Services:
    """The `Services` stored on the root application (visible from every sub-application)."""
    return request.config_dict[SERVICES]


def get_domain(request: web.Request) -> Domain:
    """The `Domain` (commands, sessions, reservations, ...) stored on the root application."""
    return request.config_dict[DOMAIN]


async def read_body(request: web.Request) -> bytes:
    """The raw request body, once it is known to be there and small enough.

    Raises:
        ApiError: 400 `invalid_json` when the body is empty; 413 `request_too_large`.
    """
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise ApiError(413, "request_too_large", f"request body exceeds {MAX_BODY_BYTES} bytes")
    raw = await request.read()
    if not raw.strip():
        raise ApiError(400, "invalid_json", "request body must be a JSON object")
    return raw


async def registered_charge_point(services: Services, charge_point_id: str, *, org_id: str) -> ChargePoint:
    """The stored charge point `charge_point_id` of organization `org_id` (the caller's:
    `csms.api.auth.org_of`).

    Raises:
        ApiError: 404 `not_found` when no such charge point is registered in that organization (another
            organization's is not found either, never forbidden).
    """
    charge_point = await services.store.get_charge_point(charge_point_id, org_id=org_id)
    return found(charge_point, f"charge point {charge_point_id!r}")


async def read_json(request: web.Request) -> Any:
    """The request body parsed as JSON.

    Raises:
        ApiError: 400 `invalid_json` when the body is empty or not JSON; 400 `invalid_request` when a
            string in it holds U+0000; 413 when it is too large.
    """
    raw = await read_body(request)
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ApiError(400, "invalid_json", f"request body is not valid JSON: {exc}") from exc
    if NUL_ESCAPE.encode() in raw and contains_nul(body):
        # PostgreSQL cannot store U+0000 (ADR 0017): refused before anything is stored, not a 500.
        raise ApiError(400, "invalid_request", "a string in the request body contains U+0000 (NUL)")
    return body


async def read_model(request: web.Request, model: type[ModelT]) -> ModelT:
    """The request body parsed as JSON and validated by `model`.

    Raises:
        ApiError: 400 `invalid_json` (see `read_json`).
        pydantic.ValidationError: the body does not match `model`; rendered as 400 `invalid_request` with
            one `{"field", "reason"}` per problem.
    """
    return model.model_validate(await read_json(request))


async def read_optional_model(request: web.Request, model: type[ModelT]) -> ModelT:
    """Like `read_model`, but an empty body means `{}` (for commands whose fields all have defaults)."""
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise ApiError(413, "request_too_large", f"request body exceeds {MAX_BODY_BYTES} bytes")
    if not (await request.read()).strip():
        return model.model_validate({})
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


async def id_token_type_for(services: Services, id_token: str, given: StrEnum | None, *, org_id: str) -> str:
    """The id token type to send to a station: the one the request gave, else the type of the token
    registered in organization `org_id`, else `Central` (a token the CSMS vouches for without a type of its
    own; another organization's token counts as unregistered, so nothing of it shows)."""
    if given is not None:
        return str(given)
    token = await services.store.get_id_token(id_token, org_id=org_id)
    return token.type if token is not None else "Central"


def int_query(request: web.Request, name: str, *, maximum: int = MAX_ID) -> int | None:
    """An optional query parameter that must be an integer between 0 and `maximum`.

    Raises:
        ApiError: 400 `invalid_request` naming the parameter.
    """
    raw = request.query.get(name)
    if raw is None or raw == "":
        return None
    if not raw.isascii() or not raw.isdigit() or int(raw) > maximum:
        raise invalid_request(name, f"must be an integer between 0 and {maximum}")
    return int(raw)


def bool_query(request: web.Request, name: str) -> bool:
    """An optional boolean query parameter: `true`/`1`/`yes` or `false`/`0`/`no` (default false).

    Raises:
        ApiError: 400 `invalid_request` naming the parameter.
    """
    raw = request.query.get(name)
    if raw is None or raw == "":
        return False
    if raw.lower() in ("true", "1", "yes"):
        return True
    if raw.lower() in ("false", "0", "no"):
        return False
    raise invalid_request(name, "must be true or false")


def parsed_query(request: web.Request, name: str, parse: Callable[[str], T], reason: str) -> T | None:
    """An optional query parameter passed through `parse` (None when absent or empty).

    Raises:
        ApiError: 400 `invalid_request` naming the parameter with `reason` when `parse` raises ValueError.
    """
    raw = request.query.get(name)
    if raw is None or raw == "":
        return None
    try:
        return parse(raw)
    except ValueError:
        raise invalid_request(name, reason) from None


def choice_query(request: web.Request, name: str, choices: type[StrEnumT]) -> StrEnumT | None:
    """An optional query parameter that must be one of the values of the enum `choices`.

    Raises:
        ApiError: 400 `invalid_request` naming the parameter and the allowed values.
    """
    allowed = ", ".join(c.value for c in choices)
    return parsed_query(request, name, choices, f"must be one of {allowed}")


def time_query(request: web.Request, name: str) -> datetime | None:
    """An optional RFC 3339 query parameter (`Z` or an offset; without one it is taken as UTC).

    Raises:
        ApiError: 400 `invalid_request` naming the parameter.
    """
    reason = "must be an RFC 3339 date-time, e.g. 2025-01-31T12:00:00Z"
    return parsed_query(request, name, parse_datetime, reason)


def pick_evse(evse_id: int | None, connector_id: int | None) -> int | None:
    """The EVSE named by a body that accepts the 1.6 word `connector_id` or the 2.0.1 word `evse_id`.

    Both mean the same here; giving both with different values is an error.

    Raises:
        ApiError: 400 `invalid_request` naming `evse_id`.
    """
    if evse_id is not None and connector_id is not None and evse_id != connector_id:
        raise invalid_request("evse_id", "connector_id and evse_id name the same thing; give one")
    return evse_id if evse_id is not None else connector_id


def evse_and_connector(evse_id: int | None, connector_id: int | None) -> tuple[int | None, int | None]:
    """(EVSE, connector within it) from a body in either OCPP version's words.

    With `evse_id` (2.0.1), `connector_id` is the connector within that EVSE. Without it, `connector_id` is
    a 1.6 connector, which is an EVSE with connector 1 in the domain's words (EVSE 0: the station).
    """
    if evse_id is not None:
        return evse_id, connector_id
    if connector_id is None:
        return None, None
    return connector_id, None
