"""`/emsp/cpos`: the CPOs our eMSP role roams with (ADR 0023), the operator API's counterpart of `csms emsp
cpo list|invite`.

The eMSP role serves one organization (`[emsp] org_id`): only its callers see the CPOs (any role may list
and read; admins invite). Another organization's list is empty, a CPO named by id is 404 to it, and
inviting is 403 `not_emsp_organization`. Without the eMSP role every route answers 503 `emsp_disabled`.

An invitation answers our versions URL and a token A, shown this once (only its hash is stored): the CPO
registers with them (OCPI 2.2.1 Credentials POST to /emsp/ocpi), after which it is REGISTERED.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from csms.api.auth import Role
from csms.api.errors import found, invalid_request
from csms.api.params import page_params
from csms.api.responses import created, json_response, page_response
from csms.api.routes import PAGE, Route
from csms.api.serialize import timestamp
from ocpi.admin_api import models
from ocpi.admin_api.emsp_scope import EmspAdmin, emsp_admin, require_served, served, served_id
from ocpi.admin_api.params import operations
from ocpi.admin_api.partners import cursor_number, read_exact_model
from ocpi.emsp.registration import invite_cpo
from ocpi.emsp.store import CpoRecord

ITEM = "/emsp/cpos/{cpo_id}"
api = operations()


def _admin(request: web.Request) -> EmspAdmin:
    return emsp_admin(request, "emsp_disabled", "the eMSP role is")


def emsp_cpo_json(cpo: CpoRecord) -> dict[str, Any]:
    """The API form of a CPO record (never its tokens)."""
    return {
        "id": cpo.id,
        "name": cpo.name or None,
        "country_code": cpo.country_code or None,
        "party_id": cpo.party_id or None,
        "status": cpo.status,
        "versions_url": cpo.versions_url or None,
        "endpoints": dict(cpo.endpoints),
        "max_reservation_minutes": cpo.max_reservation_minutes,
        "cancellation_fee": format(cpo.cancellation_fee, "f"),
        "locations_pulled_at": timestamp(cpo.locations_pulled_at),
        "tariffs_pulled_at": timestamp(cpo.tariffs_pulled_at),
    }


@api("GET", "/emsp/cpos", {200: models.EmspCpoPage}, errors=(400, 503), query=PAGE)
async def handle_list_emsp_cpos(request: web.Request) -> web.Response:
    """The CPOs our eMSP role roams with (never their tokens).

    `GET /emsp/cpos?limit=&cursor=`: by id, every status (INVITED, PENDING, REGISTERED, UNREGISTERED), with
    endpoints and last pulls; empty for an organization other than the eMSP role's."""
    admin = _admin(request)
    page = page_params(request)
    after = cursor_number(page)
    cpos = [c for c in await admin.role.store.list_cpos() if c.id > after] if served(request, admin) else []
    items = cpos[: page.limit]
    next_cursor = str(items[-1].id) if len(cpos) > page.limit else None
    return page_response(request, [emsp_cpo_json(c) for c in items], next_cursor, page.limit)


@api("GET", ITEM, {200: models.EmspCpo}, errors=(400, 404, 503), name="emsp_cpo")
async def handle_get_emsp_cpo(request: web.Request) -> web.Response:
    """One CPO of our eMSP role.

    `GET /emsp/cpos/{cpo_id}`: the CPO (never its tokens)."""
    admin = _admin(request)
    cpo_id = served_id(request, admin, "cpo_id")
    cpo = None if cpo_id is None else await admin.role.store.get_cpo(cpo_id)
    return json_response(emsp_cpo_json(found(cpo, f"CPO {request.match_info['cpo_id']}")))


@api("POST", "/emsp/cpos/invitations", {201: models.EmspCpoInvitation}, errors=(400, 403, 503),
     role=Role.ADMIN, body=models.EmspCpoInvite, body_required=False,
     description="201 with our versions URL and the CPO's token A, shown this once (only its hash is "
                 "stored). 403 `not_emsp_organization` unless the caller's organization is `[emsp] org_id`.")
async def handle_invite_emsp_cpo(request: web.Request) -> web.Response:
    """Invite a CPO to register with our eMSP role.

    `POST /emsp/cpos/invitations` {name, max_reservation_minutes, cancellation_fee}: an INVITED CPO, our
    versions URL and its token A, as `csms emsp cpo invite` prints them."""
    admin = _admin(request)
    require_served(request, admin, "the eMSP role's CPOs")
    body = (
        await read_exact_model(request, models.EmspCpoInvite)
        if request.can_read_body
        else models.EmspCpoInvite()
    )
    try:
        cpo, token_a = await invite_cpo(
            admin.role,
            name=body.name,
            max_reservation_minutes=body.max_reservation_minutes,
            cancellation_fee=body.cancellation_fee,
        )
    except ValueError as exc:
        raise invalid_request("body", str(exc)) from None
    answer = {"cpo": emsp_cpo_json(cpo), "versions_url": admin.role.versions_url, "token_a": token_a}
    return created(request, answer, "emsp_cpo", cpo_id=str(cpo.id))


ROUTES: tuple[Route, ...] = tuple(api.routes)
