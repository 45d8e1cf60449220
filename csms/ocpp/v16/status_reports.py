"""1.6 DiagnosticsStatusNotification and FirmwareStatusNotification → station fields (batched)."""

from __future__ import annotations

from csms.ocpp.router import Payload, StationContext


async def handle_diagnostics_status_notification(ctx: StationContext, payload: Payload) -> Payload:
    """Keep the station's latest diagnostics upload status."""
    ctx.domain.stations.station_reported(ctx.charge_point_id, diagnostics_status=payload["status"])
    return {}


async def handle_firmware_status_notification(ctx: StationContext, payload: Payload) -> Payload:
    """Keep the station's latest firmware update status."""
    ctx.domain.stations.station_reported(ctx.charge_point_id, firmware_status=payload["status"])
    return {}
