"""1.6 Authorize → AuthorizationService.authorize."""

from __future__ import annotations

from csms.ocpp.router import Payload, StationContext
from csms.ocpp.v16.convert import id_tag_info


async def handle_authorize(ctx: StationContext, payload: Payload) -> Payload:
    """Answer the idTag's status, expiry and parent from the token store."""
    result = await ctx.domain.authorization.authorize(payload["idTag"], charge_point_id=ctx.charge_point_id)
    ctx.log.info("authorize", id_token=payload["idTag"], status=result.status.value)
    return {"idTagInfo": id_tag_info(result)}
