"""`/drivers` (operators link drivers to their id tokens), `/portal/...` (the signed-in driver's own
sessions and disputes) and `/disputes` (operators work them) (`csms.domain.portal`).

A driver is invited by email like a member (a single-use token that expires); accepting creates their user,
who signs in through `POST /auth/login` and acts with the role `driver` (`csms.api.auth`). A driver sees only
the sessions of their own id tokens: another session is 404, as if it did not exist. The cost breakdown,
receipt and dispute resolution with a credit CDR are priced by OCPI (`ocpi.admin_api.portal`). Filing a
dispute publishes `DisputeChanged` (webhooks send `dispute.created`).
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import structlog
from aiohttp import web

from csms.api import portal_models
from csms.api.auth import Role, caller_of, org_of
from csms.api.errors import ApiError, found, invalid_request, not_found, still_there
from csms.api.mailer import send_invitation
from csms.api.organizations import id_param
from csms.api.params import MAX_ID, choice_query, get_services, int_path_param, read_model, time_query
from csms.api.responses import created, json_response, page_response
from csms.api.routes import STRING, Operations, Route, param
from csms.api.serialize import model_json, session_json
from csms.api.site_owners import PORTAL_PATH_PARAMETERS, check_pending, create_portal_user, invitation_closed
from csms.domain.events import DisputeChanged
from csms.domain.identity import InvitationStatus, token_digest
from csms.domain.models import Transaction
from csms.domain.portal import DRIVER_TOKEN_PREFIX, Dispute, DisputeStatus, Driver
from csms.domain.services import Services

log = structlog.get_logger("csms.api.drivers")

api = Operations(path_parameters=PORTAL_PATH_PARAMETERS)

PORTAL_MAX_LIMIT = 100
Q_FROM = param(
    "from", "query", {"type": "string", "format": "date-time"}, "sessions started at or after (UTC)"
)
Q_TO = param("to", "query", {"type": "string", "format": "date-time"}, "sessions started before (UTC)")
Q_PORTAL_LIMIT = param(
    "limit", "query", {"type": "integer", "minimum": 1, "maximum": PORTAL_MAX_LIMIT, "default": 50},
    "page size (at most 100)",
)  # fmt: skip
Q_CURSOR = param("cursor", "query", STRING, "`next_cursor` of the previous page")
Q_STATUS = param(
    "status",
    "query",
    {"type": "string", "enum": [s.value for s in DisputeStatus]},
    "only disputes in this status",
)


def driver_json(driver: Driver) -> dict[str, Any]:
    """A driver as operators see them (`portal_models.Driver`)."""
    return model_json(portal_models.Driver, driver)


def dispute_json(dispute: Dispute) -> dict[str, Any]:
    """A dispute (`portal_models.Dispute`)."""
    return model_json(portal_models.Dispute, dispute)


def _unique(tokens: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(tokens))


def invitation_email(org_name: str, name: str, token: str, expires_at: str | None) -> tuple[str, str]:
    """The subject and body of a driver's invitation email; the body carries the token."""
    subject = f"Your {org_name} driver account"
    body = (
        f"Hello {name},\n\n{org_name} invites you to its driver portal: your charging sessions, receipts and "
        f"billing disputes.\n\nYour invitation token (valid until {expires_at}, usable once):\n\n"
        f"    {token}\n\n"
        f"Accept it with POST /api/v1/portal/accept-invitation/{token} and the body\n"
        '{"password": "<a new password>"}\nthen sign in with POST /api/v1/auth/login.\n'
    )
    return subject, body


@api("POST", "/drivers", {201: portal_models.Driver}, errors=(400, 502), body=portal_models.DriverCreate)
async def handle_create_driver(request: web.Request) -> web.Response:
    """Link a driver to their id tokens and invite them by email.

    `POST /drivers` {email, name, id_tokens}: emails a single-use token that expires after `[email]
    invitation_hours`; 201 with the driver. 502 `email_failed` when the mail server did not take the
    message; nothing is kept then."""
    services = get_services(request)
    body = await read_model(request, portal_models.DriverCreate)
    await _own_tokens(services, body.id_tokens, org_of(request))
    sent = await send_invitation(
        request, body.email, DRIVER_TOKEN_PREFIX,
        lambda org_name, token, expires: invitation_email(org_name, body.name, token, expires),
    )  # fmt: skip
    driver = await services.store.add_driver(
        Driver(
            0,
            sent.org_id,
            body.email,
            body.name,
            _unique(body.id_tokens),
            sent.token_digest,
            sent.expires_at,
            created_at=sent.sent_at,
        )  # fmt: skip
    )
    org_id = sent.org_id
    log.info("driver_invited", org_id=org_id, driver_id=driver.id)
    return created(request, driver_json(driver), "driver", driver_id=str(driver.id))


@api("GET", "/drivers", {200: portal_models.DriverList})
async def handle_list_drivers(request: web.Request) -> web.Response:
    """List the drivers.

    `GET /drivers`: the organization's drivers and their id tokens, by id."""
    services = get_services(request)
    return json_response(
        {"items": [driver_json(d) for d in await services.store.list_drivers(org_of(request))]}
    )


async def _own_tokens(services: Services, id_tokens: Sequence[str], org_id: str) -> None:
    """Refuse id tokens that are not registered in the organization (tenancy: a driver never sees another
    organization's sessions through a token of theirs).

    Raises:
        ApiError: 400 `invalid_request` naming each such token (`id_tokens.<i>`).
    """
    unknown = [
        {"field": f"id_tokens.{i}", "reason": f"no id token {token!r}"}
        for i, token in enumerate(id_tokens)
        if await services.store.get_id_token(token, org_id=org_id) is None
    ]
    if unknown:
        raise ApiError(400, "invalid_request", "unknown id tokens", unknown)


async def _driver(request: web.Request) -> Driver:
    services = get_services(request)
    driver_id = id_param(request, "driver_id", "driver")
    driver = await services.store.get_driver(driver_id)
    if driver is None or driver.org_id != org_of(request):
        raise not_found(f"driver {driver_id}")
    return driver


@api("GET", "/drivers/{driver_id}", {200: portal_models.Driver}, errors=(400, 404), name="driver")
async def handle_get_driver(request: web.Request) -> web.Response:
    """One driver.

    `GET /drivers/{driver_id}`: the driver and their id tokens; 404 for another organization's."""
    return json_response(driver_json(await _driver(request)))


@api("PUT", "/drivers/{driver_id}/id-tokens", {200: portal_models.Driver}, errors=(400, 404),
     body=portal_models.DriverIdTokensBody)  # fmt: skip
async def handle_replace_driver_id_tokens(request: web.Request) -> web.Response:
    """Replace a driver's id tokens.

    `PUT /drivers/{driver_id}/id-tokens` {id_tokens}: the driver sees the sessions of these tokens from
    now on (and no longer those of tokens left out)."""
    services = get_services(request)
    body = await read_model(request, portal_models.DriverIdTokensBody)
    driver = await _driver(request)
    await _own_tokens(services, body.id_tokens, driver.org_id)
    driver.id_tokens = _unique(body.id_tokens)
    with still_there(f"driver {driver.id}"):
        await services.store.save_driver(driver)
    return json_response(driver_json(driver))


@api("POST", "/portal/accept-invitation/{token}", {200: portal_models.PortalAccepted},
     errors=(400, 404, 409, 410), role=Role.PUBLIC, body=portal_models.PortalInvitationAccept)  # fmt: skip
async def handle_accept_driver_invitation(request: web.Request) -> web.Response:
    """Accept a driver invitation.

    `POST /portal/accept-invitation/{token}` {password, name?} (no key: the token is the credential):
    creates the driver's user; sign in with `POST /auth/login`. 404 unknown token, 409 `invitation_used` or
    `email_taken`, 410 `invitation_expired`."""
    services = get_services(request)
    body = await read_model(request, portal_models.PortalInvitationAccept)
    driver = await services.store.find_driver(token_digest=token_digest(request.match_info["token"]))
    if driver is None:
        raise not_found("invitation")
    now = services.clock()
    check_pending(driver.status, driver.expires_at, now)
    user_id = await create_portal_user(services, driver.email, body.name or driver.name, body.password)
    if not await services.store.accept_driver(driver.id, user_id, now):
        raise invitation_closed(InvitationStatus.ACCEPTED)
    log.info("driver_accepted", org_id=driver.org_id, driver_id=driver.id, user_id=user_id)
    return json_response({"user_id": user_id, "email": driver.email, "org_id": driver.org_id})


async def signed_in_driver(request: web.Request) -> Driver:
    """The driver the signed-in user is (the auth middleware let only drivers through)."""
    services = get_services(request)
    return found(await services.store.find_driver(user_id=caller_of(request).id), "driver")


async def driver_session(request: web.Request) -> tuple[Driver, Transaction]:
    """The signed-in driver and the session of the path, if one of their id tokens started it (else 404:
    another's session is never visible)."""
    services = get_services(request)
    driver = await signed_in_driver(request)
    session_id = int_path_param(request, "session_id")
    await services.writer.sync()
    tx = await services.store.get_transaction(session_id) if session_id <= MAX_ID else None
    if tx is None or tx.id_token is None or tx.id_token not in driver.id_tokens or tx.org_id != driver.org_id:
        raise not_found(f"session {session_id}")
    return driver, tx


def _portal_limit(request: web.Request) -> int:
    raw = request.query.get("limit")
    if raw is None:
        return 50
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= PORTAL_MAX_LIMIT:
        raise invalid_request("limit", f"must be an integer from 1 to {PORTAL_MAX_LIMIT}")
    return int(raw)


@api("GET", "/portal/sessions", {200: portal_models.PortalSessionPage}, errors=(400,), role=Role.DRIVER,
     query=(Q_FROM, Q_TO, Q_PORTAL_LIMIT, Q_CURSOR))  # fmt: skip
async def handle_list_driver_sessions(request: web.Request) -> web.Response:
    """List the driver's sessions.

    `GET /portal/sessions?from=&to=&limit=&cursor=`: the sessions of the driver's id tokens, newest first;
    `from`/`to` (ISO 8601, UTC unless an offset is given) bound the start (from inclusive, to exclusive);
    400 `invalid_request` naming `limit` above 100."""
    services = get_services(request)
    limit = _portal_limit(request)
    time_from, time_to = time_query(request, "from"), time_query(request, "to")
    cursor = request.query.get("cursor")
    driver = await signed_in_driver(request)
    await services.writer.sync()
    try:
        sessions, next_cursor = await services.store.list_transactions(
            limit=limit, id_tokens=driver.id_tokens, time_from=time_from, time_to=time_to, cursor=cursor,
            org_id=driver.org_id,
        )
    except ValueError:
        raise invalid_request("cursor", "not a cursor this API handed out") from None
    return page_response(request, [session_json(tx) for tx in sessions], next_cursor, limit)


@api("POST", "/portal/sessions/{session_id}/dispute", {201: portal_models.Dispute}, errors=(400, 404),
     role=Role.DRIVER, body=portal_models.DisputeBody)  # fmt: skip
async def handle_dispute_session(request: web.Request) -> web.Response:
    """Dispute a session's cost.

    `POST /portal/sessions/{session_id}/dispute` {description, expected_cost}: 201 with the dispute, status
    `open`; operators work it through `/disputes`. 404 for a session not of the driver's id tokens."""
    services = get_services(request)
    body = await read_model(request, portal_models.DisputeBody)
    driver, tx = await driver_session(request)
    dispute = await services.store.add_dispute(
        Dispute(
            0,
            driver.org_id,
            tx.id,
            driver.id,
            body.description,
            Decimal(body.expected_cost),
            created_at=services.clock(),
            updated_at=services.clock(),
        )  # fmt: skip
    )
    log.info("dispute_created", org_id=driver.org_id, dispute_id=dispute.id, session_id=tx.id)
    await services.events.publish(DisputeChanged(dispute, "created"))
    return created(request, dispute_json(dispute), "dispute", dispute_id=str(dispute.id))


@api("GET", "/disputes", {200: portal_models.DisputeList}, errors=(400,), query=(Q_STATUS,))
async def handle_list_disputes(request: web.Request) -> web.Response:
    """List the disputes.

    `GET /disputes?status=`: the organization's disputes, newest first (of that status)."""
    services = get_services(request)
    status = choice_query(request, "status", DisputeStatus)
    disputes = await services.store.list_disputes(org_of(request), status)
    return json_response({"items": [dispute_json(d) for d in disputes]})


async def organization_dispute(request: web.Request) -> Dispute:
    """The dispute of the path, if of the caller's organization (else 404)."""
    services = get_services(request)
    dispute_id = id_param(request, "dispute_id", "dispute")
    dispute = await services.store.get_dispute(dispute_id)
    if dispute is None or dispute.org_id != org_of(request):
        raise not_found(f"dispute {dispute_id}")
    return dispute


@api("GET", "/disputes/{dispute_id}", {200: portal_models.Dispute}, errors=(400, 404), name="dispute")
async def handle_get_dispute(request: web.Request) -> web.Response:
    """One dispute.

    `GET /disputes/{dispute_id}`: the dispute; 404 for another organization's."""
    return json_response(dispute_json(await organization_dispute(request)))


ROUTES: tuple[Route, ...] = tuple(api.routes)
