"""1.6 Heartbeat → StationService.heartbeat (batched)."""

from __future__ import annotations

from csms.domain.clock import isoformat_z
from csms.ocpp.router import Payload, StationContext


async def handle_heartbeat(ctx: StationContext, payload: Payload) -> Payload:
    """Note the station alive and give it the time to sync its clock to."""
    return {"currentTime": isoformat_z(ctx.domain.stations.heartbeat(ctx.charge_point_id))}
