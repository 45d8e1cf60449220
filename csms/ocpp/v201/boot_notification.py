"""2.0.1 BootNotification → StationService.boot."""

from __future__ import annotations

from csms.domain.clock import isoformat_z
from csms.domain.models import BootInfo, RegistrationStatus
from csms.ocpp.router import Payload, StationContext


async def handle_boot_notification(ctx: StationContext, payload: Payload) -> Payload:
    """Record the boot data; answer Accepted/Pending/Rejected with the heartbeat or retry interval."""
    station = payload["chargingStation"]
    modem = station.get("modem", {})
    info = BootInfo(
        vendor=station["vendorName"],
        model=station["model"],
        serial_number=station.get("serialNumber"),
        firmware_version=station.get("firmwareVersion"),
        iccid=modem.get("iccid"),
        imsi=modem.get("imsi"),
        reason=payload["reason"],
    )
    decision = await ctx.domain.stations.boot(ctx.charge_point_id, "2.0.1", info)
    ctx.registered = decision.status is RegistrationStatus.ACCEPTED
    if ctx.registered:  # its local list is checked after the answer went out (ADR 0016)
        ctx.domain.local_lists.station_booted(ctx.charge_point_id)
    ctx.log.info("boot_notification", status=decision.status.value, vendor=info.vendor, model=info.model)
    return {
        "currentTime": isoformat_z(decision.current_time),
        "interval": decision.interval,
        "status": decision.status.value,
    }
