"""2.0.1 Authorize → AuthorizationService.authorize."""

from __future__ import annotations

from csms.domain.models import AuthorizationResult, AuthorizationStatus
from csms.ocpp.router import Payload, StationContext
from csms.ocpp.v201.convert import id_token_info


async def handle_authorize(ctx: StationContext, payload: Payload) -> Payload:
    """Answer the idToken's status from the token store.

    A NoAuthorization token means the station did no authorization (free charging); it is Accepted
    (OCPP 2.0.1 IdTokenEnumType: NoAuthorization).
    """
    token = payload["idToken"]
    if token["type"] == "NoAuthorization":
        result = AuthorizationResult(AuthorizationStatus.ACCEPTED)
    else:
        result = await ctx.domain.authorization.authorize(
            token["idToken"], charge_point_id=ctx.charge_point_id
        )
    ctx.log.info("authorize", id_token=token["idToken"], status=result.status.value)
    return {"idTokenInfo": id_token_info(result)}
