"""1.6 BootNotification → StationService.boot."""

from __future__ import annotations

from csms.domain.clock import isoformat_z
from csms.domain.models import BootInfo, RegistrationStatus
from csms.ocpp.router import Payload, StationContext


async def handle_boot_notification(ctx: StationContext, payload: Payload) -> Payload:
    """Record the boot data; answer Accepted/Pending/Rejected with the heartbeat or retry interval."""
    info = BootInfo(
        vendor=payload["chargePointVendor"],
        model=payload["chargePointModel"],
        serial_number=payload.get("chargePointSerialNumber") or payload.get("chargeBoxSerialNumber"),
        firmware_version=payload.get("firmwareVersion"),
        iccid=payload.get("iccid"),
        imsi=payload.get("imsi"),
        meter_type=payload.get("meterType"),
        meter_serial_number=payload.get("meterSerialNumber"),
    )
    decision = await ctx.domain.stations.boot(ctx.charge_point_id, "1.6", info)
    ctx.registered = decision.status is RegistrationStatus.ACCEPTED
    if ctx.registered:  # its local list is checked after the answer went out (ADR 0016)
        ctx.domain.local_lists.station_booted(ctx.charge_point_id)
    ctx.log.info("boot_notification", status=decision.status.value, vendor=info.vendor, model=info.model)
    # The schema field is `interval` (OCPP-J 1.6 errata), not the `heartbeatInterval` of the spec example.
    return {
        "status": decision.status.value,
        "currentTime": isoformat_z(decision.current_time),
        "interval": decision.interval,
    }
