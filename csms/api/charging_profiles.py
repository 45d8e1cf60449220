"""`/charge-points/{charge_point_id}/charging-profile`: install (PUT), clear (DELETE) and list (GET) the
charging profiles the CSMS set on a station; `/charge-points/{charge_point_id}/composite-schedule`: what the
station will apply, all its profiles combined (GetCompositeSchedule).

A profile is stored only once the station accepted it; clearing deletes the stored ones the station
confirmed cleared (Accepted) or does not have (Unknown).
"""

from __future__ import annotations

import secrets
from typing import Any

from aiohttp import web

from csms.api import models
from csms.api.auth import org_of
from csms.api.commands import known_charge_point
from csms.api.errors import invalid_request, not_found
from csms.api.params import MAX_ID, get_domain, int_query, read_model
from csms.api.responses import json_response
from csms.api.results import command_response
from csms.api.routes import COMMAND_ERRORS, Operations, Route, param
from csms.api.schemas import ChargingProfileSet
from csms.api.serialize import charging_profile_json, jsonable
from csms.api.sessions import session_completed
from csms.domain.commands import (
    ClearChargingProfile,
    CompositeSchedule,
    GetChargingProfiles,
    GetCompositeSchedule,
    Outcome,
    SetChargingProfile,
    composite_schedule_of,
)
from csms.domain.models import TransactionStatus

Q_PROFILE = param("profile_id", "query", {"type": "integer", "minimum": 0}, "only this profile")
Q_EVSE = param("evse_id", "query", {"type": "integer", "minimum": 0}, "only this EVSE's (0: the station)")
Q_SCHEDULE_EVSE = param(
    "evse_id",
    "query",
    {"type": "integer", "minimum": 0},
    "the EVSE (default 0: the station's grid connection)",
)
Q_DURATION = param("duration", "query", {"type": "integer", "minimum": 1}, "seconds from now (default 3600)")
Q_RATE_UNIT = param(
    "rate_unit",
    "query",
    {"type": "string", "enum": ["A", "W"]},
    "the unit of the limits (default: the station's)",
)
PATH = "/charge-points/{charge_point_id}/charging-profile"
SCHEDULE_PATH = "/charge-points/{charge_point_id}/composite-schedule"
DEFAULT_DURATION = 3600
MAX_DURATION = 2**31 - 1
api = Operations()

# Statuses of ClearChargingProfile after which the station holds no matching profile.
CLEARED = frozenset({"Accepted", "Unknown"})


@api("GET", PATH, {200: models.ChargingProfileList}, errors=(404,))
async def handle_list_charging_profiles(request: web.Request) -> web.Response:
    """Charging profiles the station accepted.

    `GET /charge-points/{charge_point_id}/charging-profile`: `{"items": [...]}`, the profiles the
    station accepted and that were not cleared since; 404 unknown charge point."""
    domain = get_domain(request)
    charge_point_id = await known_charge_point(request)
    profiles = await domain.services.store.list_charging_profiles(charge_point_id)
    return json_response({"items": [charging_profile_json(p) for p in profiles]})


@api("PUT", PATH, {200: models.ChargingProfileInstalled}, errors=COMMAND_ERRORS, body=ChargingProfileSet)
async def handle_set_charging_profile(request: web.Request) -> web.Response:
    """Install a charging profile.

    `PUT /charge-points/{charge_point_id}/charging-profile`: SetChargingProfile; 200 `{"command",
    "profile"}` where `profile` is the stored profile when the station accepted, else null.

    Errors: 400, 404 unknown charge point or session (`session_id` of another station counts as unknown),
    409 `session_completed` / offline / not supported, 502 CALLERROR, 504 no answer.
    """
    domain = get_domain(request)
    services = domain.services
    body = await read_model(request, ChargingProfileSet)
    charge_point_id = await known_charge_point(request)
    ocpp_transaction_id = None
    if body.session_id is not None:
        await services.writer.sync()
        tx = (
            await services.store.get_transaction(body.session_id, org_id=org_of(request))
            if body.session_id <= MAX_ID
            else None
        )
        if tx is None or tx.charge_point_id != charge_point_id:
            raise not_found(f"session {body.session_id} of charge point {charge_point_id!r}")
        if tx.status is TransactionStatus.COMPLETED:
            raise session_completed(tx)
        ocpp_transaction_id = tx.ocpp_transaction_id
    profile = body.to_charging_profile(ocpp_transaction_id)
    result = await domain.commands.send(charge_point_id, SetChargingProfile(body.evse_id, profile))
    saved = None
    if result.accepted:
        saved = body.to_stored(charge_point_id, services.clock())
        await services.store.save_charging_profile(saved)
    extra = {"profile": charging_profile_json(saved) if saved is not None else None}
    return command_response(result, charge_point_id, extra=extra)


@api("DELETE", PATH, {200: models.ChargingProfileCleared}, errors=COMMAND_ERRORS, query=(Q_PROFILE, Q_EVSE))
async def handle_clear_charging_profile(request: web.Request) -> web.Response:
    """Clear charging profiles.

    `DELETE /charge-points/{charge_point_id}/charging-profile?profile_id=&evse_id=`: ClearChargingProfile
    (neither: every profile); 200 `{"command", "deleted"}` with how many stored profiles were removed.

    Errors: 400, 404 unknown charge point, 409 offline / not supported, 502 CALLERROR, 504 no answer.
    """
    domain = get_domain(request)
    profile_id = int_query(request, "profile_id", maximum=2**31 - 1)
    evse_id = int_query(request, "evse_id", maximum=2**31 - 1)
    charge_point_id = await known_charge_point(request)
    result = await domain.commands.send(charge_point_id, ClearChargingProfile(profile_id, evse_id))
    deleted = 0
    if result.outcome is Outcome.ANSWERED and result.status in CLEARED:
        deleted = await domain.services.store.delete_charging_profiles(
            charge_point_id, profile_id=profile_id, evse_id=evse_id
        )
    return command_response(result, charge_point_id, extra={"deleted": deleted})


def composite_schedule_json(schedule: CompositeSchedule) -> dict[str, Any]:
    """The API form of a composite schedule (`models.CompositeSchedule`)."""
    return {
        "evse_id": schedule.evse_id,
        "start": jsonable(schedule.start),
        "duration": schedule.duration,
        "rate_unit": schedule.rate_unit,
        "periods": [jsonable(period) for period in schedule.periods],
    }


@api(
    "GET",
    SCHEDULE_PATH,
    {200: models.CompositeScheduleAnswer},
    errors=COMMAND_ERRORS,
    query=(Q_SCHEDULE_EVSE, Q_DURATION, Q_RATE_UNIT),
)
async def handle_get_composite_schedule(request: web.Request) -> web.Response:
    """Read the station's composite schedule.

    `GET /charge-points/{charge_point_id}/composite-schedule?evse_id=&duration=&rate_unit=`:
    GetCompositeSchedule (OCPP 1.6 §5.7, OCPP 2.0.1 K08); 200 `{"command", "schedule"}` where `schedule` is
    `{evse_id, start, duration, rate_unit, periods[{start_period, limit, number_phases}]}` when the station
    accepted, else null.

    Errors: 400 (`duration` 0 or not an integer, `rate_unit` not A or W), 404 unknown charge point,
    409 offline / not supported, 502 CALLERROR, 504 no answer.
    """
    domain = get_domain(request)
    evse_id = int_query(request, "evse_id", maximum=MAX_DURATION) or 0
    duration = int_query(request, "duration", maximum=MAX_DURATION)
    if duration == 0:
        raise invalid_request("duration", "must be at least 1 (seconds)")
    rate_unit = request.query.get("rate_unit") or None
    if rate_unit not in (None, "A", "W"):
        raise invalid_request("rate_unit", "must be A or W")
    charge_point_id = await known_charge_point(request)
    command = GetCompositeSchedule(evse_id, duration or DEFAULT_DURATION, rate_unit)
    result = await domain.commands.send(charge_point_id, command)
    schedule = composite_schedule_of(result) if result.outcome is Outcome.ANSWERED else None
    extra = {"schedule": composite_schedule_json(schedule) if schedule is not None else None}
    return command_response(result, charge_point_id, extra=extra)


@api(
    "POST",
    f"{PATH}/report",
    {200: models.ReportResponse},
    errors=COMMAND_ERRORS,
    query=(Q_EVSE,),
)
async def handle_request_charging_profile_report(request: web.Request) -> web.Response:
    """Ask the station which charging profiles it holds.

    `POST /charge-points/{charge_point_id}/charging-profile/report?evse_id=`: GetChargingProfiles (OCPP
    2.0.1 K09; every profile, or those of one EVSE); 200 `{"command", "request_id"}`. With status Accepted the
    station's ReportChargingProfiles follow, shown by `GET .../charging-profile/reports`; NoProfiles: none.

    Errors: 400, 404 unknown charge point, 409 offline / not supported (OCPP 1.6 has no GetChargingProfiles),
    502 CALLERROR, 504 no answer.
    """
    domain = get_domain(request)
    evse_id = int_query(request, "evse_id", maximum=2**31 - 1)
    charge_point_id = await known_charge_point(request)
    request_id = secrets.randbelow(2**31 - 2) + 1
    result = await domain.commands.send(charge_point_id, GetChargingProfiles(request_id, evse_id))
    return command_response(result, charge_point_id, extra={"request_id": request_id})


@api("GET", f"{PATH}/reports", {200: models.ChargingProfileReportList}, errors=(404,))
async def handle_list_charging_profile_reports(request: web.Request) -> web.Response:
    """Charging profiles the station reported.

    `GET /charge-points/{charge_point_id}/charging-profile/reports`: `{"items": [{request_id, received_at,
    complete, profiles[{evse_id, source, profile}]}]}`, the station's newest reports (ReportChargingProfiles)
    kept by this CSMS process, oldest first; 404 unknown charge point."""
    domain = get_domain(request)
    charge_point_id = await known_charge_point(request)
    reports = domain.charging_limits.reports(charge_point_id)
    return json_response({"items": [jsonable(r) for r in reports]})


@api(
    "GET",
    "/charge-points/{charge_point_id}/charging-limits",
    {200: models.ExternalChargingLimitList},
    errors=(404,),
)
async def handle_list_external_charging_limits(request: web.Request) -> web.Response:
    """External charging limits on the station.

    `GET /charge-points/{charge_point_id}/charging-limits`: `{"items": [{evse_id, source, grid_critical,
    reported_at, schedules}]}`, the limits external sources (EMS, system operator) set on the station or its
    EVSEs as reported by NotifyChargingLimit and not yet released by ClearedChargingLimit (OCPP 2.0.1 K12,
    K13); 404 unknown charge point."""
    domain = get_domain(request)
    charge_point_id = await known_charge_point(request)
    limits = domain.charging_limits.limits(charge_point_id)
    return json_response({"items": [jsonable(limit) for limit in limits]})


ROUTES: tuple[Route, ...] = tuple(api.routes)
