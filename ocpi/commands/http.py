"""The Commands receiver's HTTP side: the request bodies as OCPI 2.2.1 declares them, what a command must
name to be accepted, and the synchronous CommandResponse (the OCPP side runs later, in the runner)."""

from __future__ import annotations

import math
from typing import Any

import structlog
from aiohttp import web

from csms.domain.models import Transaction, TransactionStatus
from ocpi.commands.results import (
    CANCEL_RESERVATION,
    COMMANDS,
    IDENTIFIER,
    RESERVE_NOW,
    RESULT_MARGIN,
    START_SESSION,
    STOP_SESSION,
    UNLOCK_CONNECTOR,
    command_response,
)
from ocpi.commands.runner import CommandRunner, Operation, install
from ocpi.context import OcpiContext, context_of
from ocpi.models import EvseUid, Location, Partner
from ocpi.objects import Field, check_object
from ocpi.tokens import CDR_TOKEN_FIELDS
from ocpi.transport import (
    VERSION,
    OcpiError,
    Status,
    invalid_parameters,
    ok,
    parse_ocpi_datetime,
    partner_of,
    read_json,
    routed_party,
)

log = structlog.get_logger("ocpi.commands")

# -- request bodies (OCPI 2.2.1 Commands, "Object description") ----------------------------------------------

# The CdrToken part of a command's Token: what the Session and CDR will carry. The rest of the Token is not
# checked: the CPO must not validate a command's token (OCPI 2.2.1 Commands).
COMMAND_TOKEN_FIELDS = (*CDR_TOKEN_FIELDS, Field("group_id", "cistring", 36))
_RESPONSE_URL = Field("response_url", "url", 255, required=True)
_TOKEN = Field("token", "object", required=True, fields=COMMAND_TOKEN_FIELDS)
_LOCATION_ID = Field("location_id", "cistring", 36, required=True)
_LOCATION_AND_EVSE = (_LOCATION_ID, Field("evse_uid", "cistring", 36))  # where to start or reserve
_AUTH_REF = Field("authorization_reference", "cistring", 36)
# Every command's body has `response_url` first, then its own fields.
BODY_FIELDS: dict[str, tuple[Field, ...]] = {
    command: (_RESPONSE_URL, *fields)
    for command, fields in {
        START_SESSION: (_TOKEN, *_LOCATION_AND_EVSE, Field("connector_id", "cistring", 36), _AUTH_REF),
        STOP_SESSION: (Field("session_id", "cistring", 36, required=True),),
        RESERVE_NOW: (
            _TOKEN,
            Field("expiry_date", "datetime", 25, required=True),
            Field("reservation_id", "cistring", 36, required=True),
            *_LOCATION_AND_EVSE,
            _AUTH_REF,
        ),
        CANCEL_RESERVATION: (Field("reservation_id", "cistring", 36, required=True),),
        UNLOCK_CONNECTOR: (
            _LOCATION_ID,
            Field("evse_uid", "cistring", 36, required=True),
            Field("connector_id", "cistring", 36, required=True),
        ),
    }.items()
}


class _Answer(Exception):
    """A synchronous answer other than ACCEPTED (raised while checking a request)."""

    def __init__(self, result: str, message: str, status: Status = Status.SUCCESS) -> None:
        super().__init__(message)
        self.result = result
        self.message = message
        self.status = status


def _timeout(ctx: OcpiContext, command: str) -> int:
    call = ctx.domain.config.ocpp.call_timeout
    calls = 2 if command == RESERVE_NOW else 1
    return math.ceil(call * calls) + RESULT_MARGIN


async def _location(
    ctx: OcpiContext, location_id: str, to: tuple[str, str] | None, org_id: str | None = None
) -> Location:
    """The published location a command names; `to` (the party a hub routed the command to, see
    `routed_party`) must own it — another party's location is unknown to that receiver — and it must be
    of organization `org_id` (the partner's, ADR 0012) when given."""
    location = await ctx.store.get_location(location_id, org_id=org_id)
    if (
        location is None
        or not location.publish
        or (to is not None and (location.country_code.upper(), location.party_id.upper()) != to)
    ):
        raise _Answer("REJECTED", f"unknown location {location_id}", Status.UNKNOWN_LOCATION)
    if not location.charge_point_ids:
        raise _Answer("REJECTED", f"location {location_id} has no charge points")
    return location


async def _evse(ctx: OcpiContext, location: Location, evse_uid: str | None) -> EvseUid | None:
    if evse_uid is None:
        return None
    evse = await ctx.store.find_evse(evse_uid)
    if evse is None or evse.charge_point_id not in location.charge_point_ids:
        raise _Answer("REJECTED", f"unknown EVSE {evse_uid} at location {location.id}")
    return evse


async def _transaction_of(ctx: OcpiContext, session_id: str) -> Transaction | None:
    """The transaction the Session `session_id` is: by its SessionLink (a used reservation's `R<id>` is
    its transaction's Session), else str(transaction id) of a transaction with no other Session id."""
    link = await ctx.store.get_session_link(session_id)
    if link is not None:
        if link.transaction_pk is None:
            return None  # an unused reservation: nothing charges yet
        return await ctx.domain.store.get_transaction(link.transaction_pk)
    if not session_id.isascii() or not session_id.isdigit() or len(session_id) > 18:
        return None
    tx = await ctx.domain.store.get_transaction(int(session_id))
    if tx is None:
        return None
    other = await ctx.store.find_session_link(transaction_pk=tx.id)
    return tx if other is None or other.session_id == session_id else None


async def _session_of(ctx: OcpiContext, partner: Partner, session_id: str) -> Transaction:
    """The partner's transaction of the Session `session_id` (`_transaction_of`), or UNKNOWN_SESSION."""
    unknown = _Answer("UNKNOWN_SESSION", f"unknown session {session_id}")
    tx = await _transaction_of(ctx, session_id)
    if tx is None:
        raise unknown
    link = await ctx.store.find_session_link(transaction_pk=tx.id)
    if link is not None:
        owner = link.partner_id
    else:
        token = await ctx.store.find_partner_token(tx.id_token) if tx.id_token else None
        owner = token.partner_id if token is not None else None
    if owner != partner.id or tx.org_id != partner.org_id:
        # another partner's (or no partner's) session, or one at another organization's station, is
        # unknown to this one
        raise unknown
    if tx.status is TransactionStatus.COMPLETED:
        raise _Answer("REJECTED", f"session {session_id} is already completed")
    return tx


def _connector_number(text: str) -> int:
    if not text.isascii() or not text.isdigit() or not 0 < int(text) < 2**31:
        raise _Answer("REJECTED", f"unknown connector {text}")
    return int(text)


async def handle_command(request: web.Request) -> web.Response:
    """`POST commands/{command}`: answer the CommandResponse, then run the command in the background and
    POST its CommandResult to `response_url` (see the module docstring).

    Errors: 2001 (HTTP 200) for an invalid body; 2003 with result REJECTED for an unknown location.
    """
    ctx = context_of(request)
    partner = partner_of(request)
    runner = install(ctx)
    command = request.match_info["command"]
    timeout = _timeout(ctx, command)
    if command not in COMMANDS:
        return ok(command_response("NOT_SUPPORTED", timeout, f"unknown command {command}"))
    body = await read_json(request)
    check_object(body, BODY_FIELDS[command], what=command)
    response_url: str = body["response_url"]
    try:
        operation = await _plan(ctx, runner, partner, command, body, routed_party(request))
    except _Answer as answer:
        log.info("ocpi_command_refused", command=command, partner_id=partner.id, result=answer.result)
        data = command_response(answer.result, timeout, answer.message)
        if answer.status is not Status.SUCCESS:
            raise OcpiError(200, answer.status, answer.message, data=data) from None
        return ok(data)
    await runner.run(
        partner,
        command,
        response_url,
        operation,
        due_in=timeout,
        correlation_id=request.headers.get("X-Correlation-ID"),
    )
    log.info("ocpi_command_accepted", command=command, partner_id=partner.id)
    return ok(command_response("ACCEPTED", timeout))


async def _plan(
    ctx: OcpiContext,
    runner: CommandRunner,
    partner: Partner,
    command: str,
    body: dict[str, Any],
    to: tuple[str, str] | None,
) -> Operation:
    """Check what the command names (raising `_Answer` for a synchronous refusal) and return the
    operation to run once ACCEPTED is answered; `to` is the party of ours a hub routed it to (its location
    must be that party's). Reads stores only; never the OCPP side."""
    if command == START_SESSION:
        if body.get("connector_id") is not None and body.get("evse_uid") is None:
            raise invalid_parameters("START_SESSION: connector_id needs evse_uid")
        location = await _location(ctx, body["location_id"], to, partner.org_id)
        evse = await _evse(ctx, location, body.get("evse_uid"))
        return lambda: runner.start_session(partner, body, location, evse)
    if command == STOP_SESSION:
        tx = await _session_of(ctx, partner, body["session_id"])
        return lambda: runner.stop_session(tx)
    if command == RESERVE_NOW:
        expiry = parse_ocpi_datetime(body["expiry_date"])
        if expiry <= ctx.clock():
            raise _Answer("REJECTED", "expiry_date is not in the future")
        location = await _location(ctx, body["location_id"], to, partner.org_id)
        evse = await _evse(ctx, location, body.get("evse_uid"))
        return lambda: runner.reserve_now(partner, body, location, evse, expiry)
    if command == CANCEL_RESERVATION:
        return lambda: runner.cancel_reservation(partner, body["reservation_id"])
    location = await _location(ctx, body["location_id"], to, partner.org_id)
    evse = await _evse(ctx, location, body["evse_uid"])
    assert evse is not None  # evse_uid is required for UNLOCK_CONNECTOR
    connector_id = _connector_number(body["connector_id"])
    return lambda: runner.unlock_connector(evse, connector_id)


def register(app: web.Application) -> None:
    """Add the Commands receiver route below `/2.2.1/commands` of the OCPI sub-application."""
    app.router.add_post(f"/{VERSION}/{IDENTIFIER}/{{command}}", handle_command)
