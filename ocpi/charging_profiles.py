"""OCPI 2.2.1 ChargingProfiles, receiver interface (we are the CPO): an eMSP or smart charging service
provider sets, reads and clears the charging profile of one of its sessions.

Routes (below /ocpi/2.2.1/chargingprofiles):

- `PUT /{session_id}` with `{charging_profile, response_url}`: SetChargingProfile (a TxProfile for the
  session's transaction, stack level `[energy] stack_level` + 1, above the planner's own schedule), then a
  ChargingProfileResult `{result}` POSTed to `response_url`.
- `DELETE /{session_id}?response_url=`: ClearChargingProfile of the profile set that way, then a
  ClearProfileResult `{result}`.
- `GET /{session_id}?duration=&response_url=`: GetCompositeSchedule of the session's EVSE for `duration`
  seconds, then an ActiveChargingProfileResult `{result, profile}` POSTed to `response_url`, where `profile`
  is the ActiveChargingProfile `{start_date_time, charging_profile{start_date_time, duration,
  charging_rate_unit, charging_profile_period[{start_period, limit}]}}` of the station's composite schedule
  (in the station's unit); without a schedule (refused, offline, no answer) the result is REJECTED alone.

The synchronous answer is a ChargingProfileResponse `{result, timeout}`: ACCEPTED (the station is asked in the
background; `timeout` is `[ocpp] call_timeout` plus a margin), UNKNOWN_SESSION for a session that is not the
partner's (ownership as for STOP_SESSION: `ocpi.commands`), REJECTED for a completed one, TOO_OFTEN while an
earlier request for the same session still waits for its station. The result is
ACCEPTED when the station accepted, UNKNOWN when it has no such profile (ClearChargingProfile Unknown), else
REJECTED (refused, offline, no answer); it is POSTed once, with the partner's token, never retried.
"""

from __future__ import annotations

import math
from dataclasses import replace
from decimal import Decimal, InvalidOperation
from typing import Any

import structlog
from aiohttp import web

from csms.domain.commands import (
    ChargingProfile,
    ChargingSchedulePeriod,
    ClearChargingProfile,
    CommandResult,
    CompositeSchedule,
    GetCompositeSchedule,
    Outcome,
    SetChargingProfile,
    composite_schedule_of,
)
from csms.domain.models import Transaction
from csms.domain.smart_charging import amps
from ocpi.client import PartnerUnreachable
from ocpi.commands.http import _Answer, _session_of
from ocpi.commands.results import RESULT_MARGIN
from ocpi.commands.runner import install
from ocpi.context import OcpiContext, context_of
from ocpi.models import Partner
from ocpi.objects import Field, check_object
from ocpi.transport import (
    VERSION,
    invalid_parameters,
    ocpi_datetime,
    ok,
    parse_ocpi_datetime,
    partner_of,
    read_json,
)

log = structlog.get_logger("ocpi.chargingprofiles")

IDENTIFIER = "chargingprofiles"
ROLE = "RECEIVER"

# Profiles set through OCPI carry ids from here on (transaction id added): apart from the operators' own and
# the planner's (csms.domain.energy.planner.PROFILE_ID_BASE), below 2^31.
OCPI_PROFILE_ID_BASE = 1_500_000_000
_ID_SPAN = 500_000_000

PROFILE_FIELDS = (
    Field("start_date_time", "datetime"),
    Field("charging_rate_unit", "string", required=True, enum=("W", "A")),
    Field("charging_profile_period", "array"),
)
PUT_FIELDS = (
    Field("charging_profile", "object", required=True, fields=PROFILE_FIELDS),
    Field("response_url", "url", 255, required=True),
)


def _number(value: Any, name: str, *, integer: bool = False) -> Decimal:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or (integer and not isinstance(value, int))
    ):
        raise invalid_parameters(f"{name} must be {'an integer' if integer else 'a number'}")
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise invalid_parameters(f"{name} must be a number") from None
    if number < 0 or not number.is_finite():
        raise invalid_parameters(f"{name} must not be negative")
    return number


def profile_of(body: dict[str, Any], tx: Transaction, stack_level: int) -> ChargingProfile:
    """The OCPI ChargingProfile as the session's TxProfile (OCPI 2.2.1 ChargingProfiles → OCPP TxProfile):
    Absolute from `start_date_time` when given, else Relative to the transaction's start.

    Raises:
        OcpiError: 2001 for a period that is not `{start_period: int, limit: number}`, a negative number.
    """
    periods = []
    for i, period in enumerate(body.get("charging_profile_period") or []):
        name = f"charging_profile.charging_profile_period[{i}]"
        if not isinstance(period, dict):
            raise invalid_parameters(f"{name} must be an object")
        offset = int(_number(period.get("start_period"), f"{name}.start_period", integer=True))
        periods.append(ChargingSchedulePeriod(offset, _number(period.get("limit"), f"{name}.limit")))
    if not periods or periods[0].start_period != 0:
        raise invalid_parameters("charging_profile.charging_profile_period must start at start_period 0")
    duration = body.get("duration")
    minimum = body.get("min_charging_rate")
    start = body.get("start_date_time")
    return ChargingProfile(
        id=OCPI_PROFILE_ID_BASE + tx.id % _ID_SPAN,
        stack_level=stack_level,
        purpose="TxProfile",
        kind="Absolute" if start is not None else "Relative",
        rate_unit=body["charging_rate_unit"],
        periods=periods,
        ocpp_transaction_id=tx.ocpp_transaction_id,
        duration=None
        if duration is None
        else int(_number(duration, "charging_profile.duration", integer=True)),
        start_schedule=None if start is None else parse_ocpi_datetime(start),
        min_charging_rate=None if minimum is None else _number(minimum, "charging_profile.min_charging_rate"),
    )


def within_share(profile: ChargingProfile, share_w: int | None) -> ChargingProfile:
    """`profile` with every period capped at the session's share of its site limit (`share_w`, from the
    load balancer; None: the site has no limit). The eMSP's profile stacks above the balancer's, so without
    the cap it could draw more than the site may (a limit in A is compared at 230 V on the period's phases,
    three when not given)."""
    if share_w is None:
        return profile
    capped = []
    for period in profile.periods:
        if profile.rate_unit == "W":
            cap = Decimal(share_w)
        else:
            cap = amps(share_w, period.number_phases or 3)
        capped.append(replace(period, limit=min(period.limit, cap)))
    return replace(profile, periods=capped)


def result_word(result: CommandResult) -> str:
    """ChargingProfileResultType of a station's answer: ACCEPTED, UNKNOWN (ClearChargingProfile Unknown),
    else REJECTED."""
    if result.outcome is Outcome.ANSWERED and result.status == "Accepted":
        return "ACCEPTED"
    if result.outcome is Outcome.ANSWERED and result.status == "Unknown":
        return "UNKNOWN"
    return "REJECTED"


def _in_flight(ctx: OcpiContext) -> set[int]:
    """Sessions whose request still waits for the station (TOO_OFTEN meanwhile): kept by the runner."""
    return install(ctx).profile_requests


def _timeout(ctx: OcpiContext) -> int:
    return math.ceil(ctx.domain.config.ocpp.call_timeout) + RESULT_MARGIN


def _response(result: str, ctx: OcpiContext) -> web.Response:
    return ok({"result": result, "timeout": _timeout(ctx)})


async def _post(
    ctx: OcpiContext, partner: Partner, url: str, body: dict[str, Any], correlation: str | None
) -> None:
    """POST a result to the partner's response_url once; failures are logged."""
    if ctx.client is None:
        return
    try:
        response = await ctx.client.request(partner, "POST", url, body, correlation_id=correlation)
    except (PartnerUnreachable, ValueError) as exc:
        log.warning("ocpi_profile_result_unreachable", partner_id=partner.id, error=str(exc))
        return
    if not response.success:
        log.warning("ocpi_profile_result_refused", partner_id=partner.id, http_status=response.http_status)


async def _session(ctx: OcpiContext, request: web.Request) -> Transaction | web.Response:
    """The partner's active transaction of the path's session, or the synchronous refusal to answer."""
    partner = partner_of(request)
    try:
        tx = await _session_of(ctx, partner, request.match_info["session_id"])
    except _Answer as answer:
        log.info("ocpi_profile_refused", partner_id=partner.id, result=answer.result)
        return _response(answer.result, ctx)
    if tx.id in _in_flight(ctx):
        return _response("TOO_OFTEN", ctx)
    return tx


async def handle_put(request: web.Request) -> web.Response:
    """`PUT chargingprofiles/{session_id}`: ChargingProfileResponse now, ChargingProfileResult later."""
    ctx = context_of(request)
    partner = partner_of(request)
    body = await read_json(request)
    check_object(body, PUT_FIELDS, what="SetChargingProfile")
    tx = await _session(ctx, request)
    if isinstance(tx, web.Response):
        return tx
    stack_level = ctx.domain.config.energy.stack_level + 1
    share_w = ctx.domain.energy.site_share(tx.id)  # the site limit's share (ADR 0018)
    profile = within_share(profile_of(body["charging_profile"], tx, stack_level), share_w)
    url, correlation = body["response_url"], request.headers.get("X-Correlation-ID")

    async def run() -> None:
        try:
            result = await ctx.domain.commands.send(
                tx.charge_point_id, SetChargingProfile(tx.evse_id, profile)
            )
        finally:
            _in_flight(ctx).discard(tx.id)
        log.info("ocpi_profile_set", partner_id=partner.id, transaction_id=tx.id, status=result.status)
        await _post(ctx, partner, url, {"result": result_word(result)}, correlation)

    _in_flight(ctx).add(tx.id)
    install(ctx).spawn(run(), name=f"ocpi-set-profile-{tx.id}")
    return _response("ACCEPTED", ctx)


async def handle_delete(request: web.Request) -> web.Response:
    """`DELETE chargingprofiles/{session_id}?response_url=`: ChargingProfileResponse now, ClearProfileResult
    later."""
    ctx = context_of(request)
    partner = partner_of(request)
    url = _response_url(request)
    tx = await _session(ctx, request)
    if isinstance(tx, web.Response):
        return tx
    correlation = request.headers.get("X-Correlation-ID")
    clear = ClearChargingProfile(profile_id=OCPI_PROFILE_ID_BASE + tx.id % _ID_SPAN)

    async def run() -> None:
        try:
            result = await ctx.domain.commands.send(tx.charge_point_id, clear)
        finally:
            _in_flight(ctx).discard(tx.id)
        log.info("ocpi_profile_cleared", partner_id=partner.id, transaction_id=tx.id, status=result.status)
        await _post(ctx, partner, url, {"result": result_word(result)}, correlation)

    _in_flight(ctx).add(tx.id)
    install(ctx).spawn(run(), name=f"ocpi-clear-profile-{tx.id}")
    return _response("ACCEPTED", ctx)


def _json_number(value: Decimal) -> int | float:
    """A limit as a JSON number (OCPI `number`): int when integral."""
    return int(value) if value == value.to_integral_value() else float(value)


def active_profile(schedule: CompositeSchedule) -> dict[str, Any]:
    """The OCPI ActiveChargingProfile of a station's composite schedule (OCPI 2.2.1 ChargingProfiles
    §ActiveChargingProfile): `start_date_time` is the schedule's start, its periods the profile's."""
    start = ocpi_datetime(schedule.start)
    profile: dict[str, Any] = {
        "start_date_time": start,
        "charging_rate_unit": schedule.rate_unit,
        "charging_profile_period": [
            {"start_period": p.start_period, "limit": _json_number(p.limit)} for p in schedule.periods
        ],
    }
    if schedule.duration is not None:
        profile["duration"] = schedule.duration
    return {"start_date_time": start, "charging_profile": profile}


def active_profile_result(result: CommandResult) -> dict[str, Any]:
    """The ActiveChargingProfileResult of a GetCompositeSchedule: ACCEPTED with the profile when the station
    gave its schedule, else REJECTED alone."""
    schedule = composite_schedule_of(result)
    if schedule is None:
        return {"result": "REJECTED"}
    return {"result": "ACCEPTED", "profile": active_profile(schedule)}


def _duration(request: web.Request) -> int:
    """The GET's required `duration` in seconds (a positive integer that fits OCPP's 32-bit `duration`).

    Raises:
        OcpiError: 2001 otherwise.
    """
    raw = request.query.get("duration", "")
    if not raw.isdigit() or not 0 < int(raw) < 2**31:
        raise invalid_parameters("duration must be a positive integer (seconds)")
    return int(raw)


def _response_url(request: web.Request) -> str:
    """The query's `response_url`.

    Raises:
        OcpiError: 2001 when it is not an http(s) URL of at most 255 characters.
    """
    url = request.query.get("response_url", "")
    if not url.startswith(("http://", "https://")) or len(url) > 255:
        raise invalid_parameters("response_url must be an http(s) URL")
    return url


async def handle_get(request: web.Request) -> web.Response:
    """`GET chargingprofiles/{session_id}?duration=&response_url=`: ChargingProfileResponse now,
    ActiveChargingProfileResult later (GetCompositeSchedule of the session's EVSE)."""
    ctx = context_of(request)
    partner = partner_of(request)
    duration = _duration(request)
    url = _response_url(request)
    tx = await _session(ctx, request)
    if isinstance(tx, web.Response):
        return tx
    correlation = request.headers.get("X-Correlation-ID")

    async def run() -> None:
        try:
            result = await ctx.domain.commands.send(
                tx.charge_point_id, GetCompositeSchedule(tx.evse_id, duration)
            )
        finally:
            _in_flight(ctx).discard(tx.id)
        answer = active_profile_result(result)
        log.info("ocpi_profile_read", partner_id=partner.id, transaction_id=tx.id, result=answer["result"])
        await _post(ctx, partner, url, answer, correlation)

    _in_flight(ctx).add(tx.id)
    install(ctx).spawn(run(), name=f"ocpi-get-profile-{tx.id}")
    return _response("ACCEPTED", ctx)


def register(app: web.Application) -> None:
    """Add the ChargingProfiles receiver routes below `/2.2.1/chargingprofiles` of the OCPI sub-app."""
    path = f"/{VERSION}/{IDENTIFIER}/{{session_id}}"
    app.router.add_put(path, handle_put)
    app.router.add_delete(path, handle_delete)
    app.router.add_get(path, handle_get, allow_head=False)
