"""`/ocpi/...`: what operators see of the OCPI bridge — its roaming partners and the push outbox — plus what
the OCPI endpoints of the operator API (`/locations`, `/tariffs`, connector specs) share.

The OCPI store reaches the API as `OCPI_STORE` on the root application (`csms.api.app.create_app(domain,
ocpi_store=...)`); without it every OCPI endpoint answers 503 `ocpi_disabled`. Partners are shown without
their tokens. Failed pushes (the outbox gave up after `[ocpi] push_max_attempts`) can be retried: the entry
becomes pending again and the outbox delivers it on its next pass, still in order with the object's later
pushes.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from decimal import Decimal
from enum import StrEnum
from typing import Any, NoReturn, TypeVar

from aiohttp import web

from csms.api.auth import Role, org_of
from csms.api.errors import ApiError, found, invalid_request, same_id, still_there
from csms.api.params import (
    MAX_ID,
    ModelT,
    PageParams,
    choice_query,
    int_path_param,
    int_query,
    page_params,
    read_body,
)
from csms.api.responses import json_response, page_response
from csms.api.routes import PAGE, Route, param
from csms.api.serialize import JsonObject
from ocpi.admin_api import models
from ocpi.admin_api.params import operations
from ocpi.admin_api.serialize import client_info_json, ocpi_partner_json, outbox_entry_json
from ocpi.context import OcpiContext
from ocpi.models import ClientInfo, OutboxEntry, OutboxStatus
from ocpi.store import OcpiStore, Pagination

Q_STATUS = param("status", "query", {"type": "string", "enum": ["pending", "sent", "failed"]}, "only these")
Q_PARTNER = param("partner_id", "query", {"type": "integer", "minimum": 0}, "only this partner's")
api = operations()

OCPI_STORE: web.AppKey[OcpiStore] = web.AppKey("ocpi_store")
# The running bridge's context, when there is one: what operators change is pushed to partners through it.
OCPI_CONTEXT: web.AppKey[OcpiContext] = web.AppKey("ocpi_context")

# How far back (newest first) `POST /ocpi/outbox/{id}/retry` looks for the entry and `GET /ocpi/outbox`
# pages: the store lists the newest entries, without a cursor of its own.
RETRY_SCAN_LIMIT = 100_000


def get_ocpi_store(request: web.Request) -> OcpiStore:
    """The OCPI store on the root application.

    Raises:
        ApiError: 503 `ocpi_disabled` when the application was created without one.
    """
    store = request.config_dict.get(OCPI_STORE)
    if store is None:
        raise ApiError(503, "ocpi_disabled", "the OCPI bridge is not enabled on this server")
    return store


def get_ocpi_context(request: web.Request) -> OcpiContext | None:
    """The OCPI context on the root application, or None when the API runs without a bridge (then operator
    changes are only stored, and partners see them when they pull)."""
    return request.config_dict.get(OCPI_CONTEXT)


def _no_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not a JSON number")


async def read_exact_json(request: web.Request) -> Any:
    """The request body parsed as JSON with every non-integer number as a `Decimal` (never a float), for
    bodies that carry money, energy or coordinates.

    Raises:
        ApiError: 400 `invalid_json` when the body is empty or not JSON (NaN and Infinity are not JSON);
            413 `request_too_large`.
    """
    raw = await read_body(request)
    try:
        return json.loads(raw, parse_float=Decimal, parse_constant=_no_constant)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise ApiError(400, "invalid_json", f"request body is not valid JSON: {exc}") from exc


async def read_exact_model(request: web.Request, model: type[ModelT]) -> ModelT:
    """`read_exact_json` validated by `model`.

    Raises:
        ApiError: see `read_exact_json`.
        pydantic.ValidationError: rendered as 400 `invalid_request` with one `{"field", "reason"}` each.
    """
    return model.model_validate(await read_exact_json(request))


def replaced_id(request: web.Request, key: str, body_id: str | None, what: str) -> str:
    """The id in the path's `{key}` of a PUT replacing a whole record; the body may repeat it (`body_id`).

    Raises:
        ApiError: 400 `invalid_request` naming `id` when the body names another.
    """
    path_id = request.match_info[key]
    same_id(body_id, path_id, what)
    return path_id


def cursor_number(page: PageParams) -> int:
    """The number a list cursor of the OCPI endpoints stands for (an offset, or for partners the last id
    shown); 0 without a cursor.

    Raises:
        ApiError: 400 `invalid_request` naming `cursor` when it is not one of ours.
    """
    if page.cursor is None:
        return 0
    if not page.cursor.isascii() or not page.cursor.isdigit() or int(page.cursor) > MAX_ID:
        raise invalid_request("cursor", "is not a cursor returned by this API")
    return int(page.cursor)


def next_offset_cursor(offset: int, returned: int, total: int) -> str | None:
    """The cursor of the page after `returned` items from `offset` out of `total`, or None at the end."""
    following = offset + returned
    return str(following) if returned and following < total else None


RecordT = TypeVar("RecordT")


async def offset_page(
    request: web.Request,
    list_page: Callable[[Pagination], Awaitable[tuple[Sequence[RecordT], int]]],
    to_json: Callable[[RecordT], JsonObject],
) -> web.Response:
    """A page of a list the OCPI store serves by offset: `list_page` gives the records of a `Pagination`
    (offset and limit, no date window) and how many there are in all; the cursor of the next page is its
    offset.

    Raises:
        ApiError: 400 `invalid_request` naming `limit` or `cursor`.
    """
    page = page_params(request)
    offset = cursor_number(page)
    records, total = await list_page(Pagination(offset=offset, limit=page.limit))
    next_cursor = next_offset_cursor(offset, len(records), total)
    return page_response(request, [to_json(record) for record in records], next_cursor, page.limit)


@api("GET", "/ocpi/partners", {200: models.OcpiPartnerPage}, errors=(400, 503), query=PAGE)
async def handle_list_ocpi_partners(request: web.Request) -> web.Response:
    """OCPI roaming partners and their registration status (never their tokens).

    `GET /ocpi/partners?limit=&cursor=`: roaming partners by id, every status, never their tokens."""
    store = get_ocpi_store(request)
    page = page_params(request)
    after = cursor_number(page)
    partners = [p for p in await store.list_partners(org_id=org_of(request)) if p.id > after]
    items = partners[: page.limit]
    next_cursor = str(items[-1].id) if len(partners) > page.limit else None
    return page_response(request, [ocpi_partner_json(p) for p in items], next_cursor, page.limit)


@api("GET", "/ocpi/client-infos", {200: models.ClientInfoPage}, errors=(400, 503), query=PAGE)
async def handle_list_ocpi_client_infos(request: web.Request) -> web.Response:
    """Parties connected through hubs (OCPI 2.2.1 HubClientInfo), as the hubs last told us.

    `GET /ocpi/client-infos?limit=&cursor=`: by country code and party id, with their connection status
    and the hub (partner) that sent each."""
    store = get_ocpi_store(request)
    org_id = org_of(request)

    async def list_page(pagination: Pagination) -> tuple[list[ClientInfo], int]:
        # What the caller's organization's hubs told (a ClientInfo names the hub that sent it).
        hubs = {p.id for p in await store.list_partners(org_id=org_id)}
        infos = [info for info in await store.list_client_infos() if info.partner_id in hubs]
        return infos[pagination.offset : pagination.offset + pagination.limit], len(infos)

    return await offset_page(request, list_page, client_info_json)


class OutboxFilter(StrEnum):
    """`status` filter of `GET /ocpi/outbox`."""

    PENDING = OutboxStatus.PENDING.value
    SENT = OutboxStatus.SENT.value
    FAILED = OutboxStatus.FAILED.value


@api("GET", "/ocpi/outbox", {200: models.OutboxPage}, errors=(400, 503), query=(Q_STATUS, Q_PARTNER, *PAGE))
async def handle_list_ocpi_outbox(request: web.Request) -> web.Response:
    """Pushes to OCPI partners (pending, sent, failed), newest first.

    `GET /ocpi/outbox?status=&partner_id=&limit=&cursor=`: pushes to partners, newest first, with their
    bodies, attempts, next attempt and last error."""
    store = get_ocpi_store(request)
    page = page_params(request)
    offset = cursor_number(page)
    if offset > RETRY_SCAN_LIMIT:  # the store has no cursor of its own: pages are slices of its newest
        raise invalid_request("cursor", "is not a cursor returned by this API")
    status = choice_query(request, "status", OutboxFilter)
    partner_id = int_query(request, "partner_id")
    # The store lists the newest `limit`; one more than this page tells whether another page follows.
    entries = await store.list_outbox(
        status=None if status is None else status.value,
        partner_id=partner_id,
        limit=offset + page.limit + 1,
        partner_ids=await org_partner_ids(store, org_of(request)),
    )
    items = entries[offset : offset + page.limit]
    next_cursor = str(offset + page.limit) if len(entries) > offset + page.limit else None
    return page_response(request, [outbox_entry_json(e) for e in items], next_cursor, page.limit)


async def org_partner_ids(store: OcpiStore, org_id: str) -> list[int]:
    """The ids of organization `org_id`'s partners: its pushes are those to them."""
    return [partner.id for partner in await store.list_partners(org_id=org_id)]


async def find_outbox_entry(store: OcpiStore, entry_id: int, org_id: str) -> OutboxEntry | None:
    partner_ids = await org_partner_ids(store, org_id)
    # Failed entries first: the usual case, and usually few of them.
    for status in (OutboxStatus.FAILED.value, None):
        for entry in await store.list_outbox(status=status, limit=RETRY_SCAN_LIMIT, partner_ids=partner_ids):
            if entry.id == entry_id:
                return entry
    return None


@api("POST", "/ocpi/outbox/{entry_id}/retry", {200: models.OutboxEntry}, errors=(400, 404, 409, 503),
     role=Role.ADMIN,
     description="The entry becomes pending with 0 attempts and is sent on the outbox's next pass, in "
                 "order with the object's later pushes. 409 `outbox_entry_not_failed` unless it failed.")
async def handle_retry_ocpi_outbox_entry(request: web.Request) -> web.Response:
    """Send a failed push again.

    `POST /ocpi/outbox/{entry_id}/retry` (admin): a failed push becomes pending with 0 attempts, due
    now; the outbox sends it on its next pass. 404 unknown, 409 `outbox_entry_not_failed` otherwise."""
    store = get_ocpi_store(request)
    entry_id = int_path_param(request, "entry_id")
    entry = found(await find_outbox_entry(store, entry_id, org_of(request)), f"outbox entry {entry_id}")
    if entry.status != OutboxStatus.FAILED:
        raise ApiError(
            409,
            "outbox_entry_not_failed",
            f"outbox entry {entry_id} is {entry.status}; only failed entries are retried",
            {"status": str(entry.status)},
        )
    retried = replace(entry, status=OutboxStatus.PENDING, attempts=0, next_attempt_at=None)
    with still_there(f"outbox entry {entry_id}"):  # unless removed in between
        await store.save_outbox(retried)
    return json_response(outbox_entry_json(retried))


ROUTES: tuple[Route, ...] = tuple(api.routes)
