"""1.6 Authorize → AuthorizationService.authorize."""

from __future__ import annotations

from csms.ocpp.router import Payload, StationContext
from csms.ocpp.v16.convert import id_tag_info, id_token_of


async def handle_authorize(ctx: StationContext, payload: Payload) -> Payload:
    """Answer the idTag's status, expiry and parent from the token store (for an alias: the status of the
    token it stands for, `convert.id_token_of`)."""
    id_token = await id_token_of(ctx, payload["idTag"])
    result = await ctx.domain.authorization.authorize(id_token, charge_point_id=ctx.charge_point_id)
    ctx.log.info("authorize", id_token=id_token, id_tag=payload["idTag"], status=result.status.value)
    return {"idTagInfo": id_tag_info(result)}
