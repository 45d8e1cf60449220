"""1.6 StatusNotification → StationService.status_changed (batched)."""

from __future__ import annotations

from csms.domain.clock import parse_datetime
from csms.domain.models import StatusChange
from csms.ocpp.router import Payload, StationContext
from csms.ocpp.v16.convert import STATUS, evse_of


async def handle_status_notification(ctx: StationContext, payload: Payload) -> Payload:
    """Record the connector's status; the 1.6 word (Charging, Preparing, ...) is kept as its detail."""
    evse_id, connector_id = evse_of(payload["connectorId"])
    ts = payload.get("timestamp")
    ctx.domain.stations.status_changed(
        StatusChange(
            charge_point_id=ctx.charge_point_id,
            evse_id=evse_id,
            connector_id=connector_id,
            status=STATUS[payload["status"]],
            status_detail=payload["status"],
            timestamp=parse_datetime(ts) if ts else ctx.domain.services.clock(),
            error_code=payload["errorCode"],
            info=payload.get("info"),
            vendor_id=payload.get("vendorId"),
            vendor_error_code=payload.get("vendorErrorCode"),
        )
    )
    return {}
