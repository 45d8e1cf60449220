"""2.0.1 ReportChargingProfiles (K09), NotifyChargingLimit (K12) and ClearedChargingLimit (K13/K14): what a
station reports about the limits on its charging, kept by `Domain.charging_limits`."""

from __future__ import annotations

from csms.domain.charging_limits import ExternalLimit
from csms.ocpp.router import Payload, StationContext


async def handle_report_charging_profiles(ctx: StationContext, payload: Payload) -> Payload:
    """Add the reported profiles to the report of their requestId (OCPP 2.0.1 K09.FR.01: the answer to a
    GetChargingProfiles); the REST API shows it, complete once `tbc` is false."""
    report = ctx.domain.charging_limits.record_report(
        ctx.charge_point_id,
        payload["requestId"],
        payload["evseId"],
        payload["chargingLimitSource"],
        list(payload["chargingProfile"]),
        payload.get("tbc", False),
    )
    ctx.log.info(
        "charging_profiles_reported",
        request_id=report.request_id,
        evse_id=payload["evseId"],
        profiles=len(payload["chargingProfile"]),
        complete=report.complete,
    )
    return {}


async def handle_notify_charging_limit(ctx: StationContext, payload: Payload) -> Payload:
    """Record the external limit (OCPP 2.0.1 K12.FR.02: the CSMS is told of a limit set by an EMS or
    system operator) on the EVSE, or on the station when no evseId is given."""
    limit = payload["chargingLimit"]
    external = ExternalLimit(
        evse_id=payload.get("evseId", 0),
        source=limit["chargingLimitSource"],
        grid_critical=limit.get("isGridCritical"),
        reported_at=ctx.domain.clock(),
        schedules=list(payload.get("chargingSchedule", [])),
    )
    ctx.domain.charging_limits.set_limit(ctx.charge_point_id, external)
    ctx.log.info(
        "charging_limit_notified",
        evse_id=external.evse_id,
        source=external.source,
        grid_critical=external.grid_critical,
    )
    return {}


async def handle_cleared_charging_limit(ctx: StationContext, payload: Payload) -> Payload:
    """Forget the source's external limit (OCPP 2.0.1 K13: released by its source) on the EVSE, or on
    every EVSE and the station when no evseId is given."""
    evse_id = payload.get("evseId")
    source = payload["chargingLimitSource"]
    removed = ctx.domain.charging_limits.clear_limit(ctx.charge_point_id, source, evse_id)
    ctx.log.info("charging_limit_cleared", evse_id=evse_id, source=source, removed=removed)
    return {}
