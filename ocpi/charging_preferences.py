"""OCPI 2.2.1 Sessions, `PUT {sessions url}/{session_id}/charging_preferences` (sender interface, we are the
CPO): a driver's ChargingPreferences become the session's target for the energy planner
(`csms.domain.energy`, ADR 0019).

The answer is a ChargingPreferencesResponse: ACCEPTED (the session is planned again and its schedule sent in
the background), DEPARTURE_REQUIRED / ENERGY_NEED_REQUIRED (CHEAP and GREEN plan against the forecast and
need both), NOT_POSSIBLE (discharge_allowed: no V2G here; a reservation or a completed session: nothing to
plan). A session that is not the partner's, or unknown, is HTTP 404 / 2001 "unknown session" (OCPI 2.2.1
transport: a client is answered 404 for objects that are not its own).
"""

from __future__ import annotations

import structlog
from aiohttp import web

from csms.domain.energy.needs import PreferencesResponse, needs_from_ocpi
from csms.domain.models import TransactionStatus
from ocpi.context import context_of
from ocpi.models import PartyScope
from ocpi.objects import Field, check_object
from ocpi.transport import OcpiError, Status, invalid_parameters, ok, partner_of, read_json

log = structlog.get_logger("ocpi.sessions")

PREFERENCES_FIELDS = (
    Field("profile_type", "string", required=True, enum=("CHEAP", "FAST", "GREEN", "REGULAR")),
    Field("departure_time", "datetime"),
    Field("discharge_allowed", "boolean"),
)


async def handle_charging_preferences(request: web.Request) -> web.Response:
    """`PUT {url}/{session_id}/charging_preferences`: the ChargingPreferencesResponse (module docstring)."""
    ctx = context_of(request)
    partner = partner_of(request)
    session_id = request.match_info["session_id"]
    link = await ctx.store.get_session_link(session_id)
    if link is None or not PartyScope.of(partner).owns(link):
        log.warning("session_not_the_partners", partner_id=partner.id, session_id=session_id)
        raise OcpiError(404, Status.INVALID_PARAMETERS, f"unknown session {session_id}")
    body = await read_json(request)
    check_object(body, PREFERENCES_FIELDS, what="ChargingPreferences")
    try:
        needs, answer = needs_from_ocpi(body)
    except ValueError as exc:
        raise invalid_parameters(f"invalid ChargingPreferences: {exc}") from None
    tx = None if link.transaction_pk is None else await ctx.domain.store.get_transaction(link.transaction_pk)
    if tx is None or tx.status is not TransactionStatus.ACTIVE:
        answer, needs = PreferencesResponse.NOT_POSSIBLE, None
    if needs is not None and tx is not None:
        ctx.domain.energy.set_needs_later(tx, needs)
    log.info("ocpi_charging_preferences", partner_id=partner.id, session_id=session_id, answer=answer.value)
    return ok(answer.value)
