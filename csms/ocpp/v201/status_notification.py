"""2.0.1 StatusNotification → StationService.status_changed (batched)."""

from __future__ import annotations

from csms.domain.clock import parse_datetime
from csms.domain.models import ConnectorStatus, StatusChange
from csms.ocpp.router import Payload, StationContext


async def handle_status_notification(ctx: StationContext, payload: Payload) -> Payload:
    """Record the connector's status; 2.0.1 ConnectorStatusEnumType is the domain's vocabulary."""
    ctx.domain.stations.status_changed(
        StatusChange(
            charge_point_id=ctx.charge_point_id,
            evse_id=payload["evseId"],
            connector_id=payload["connectorId"],
            status=ConnectorStatus(payload["connectorStatus"]),
            timestamp=parse_datetime(payload["timestamp"]),
        )
    )
    return {}
