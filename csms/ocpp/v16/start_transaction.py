"""1.6 StartTransaction → TransactionService.start; the CSMS allocates the integer transactionId."""

from __future__ import annotations

from csms.domain.clock import parse_datetime
from csms.domain.metering import MAX_MAGNITUDE
from csms.domain.models import AuthorizationResult, AuthorizationStatus, NewTransaction
from csms.ocpp.errors import ErrorKind
from csms.ocpp.router import HandlerError, Payload, StationContext
from csms.ocpp.v16.convert import evse_of, id_tag_info, id_token_of


async def handle_start_transaction(ctx: StationContext, payload: Payload) -> Payload:
    """Record the transaction (once, even if the station repeats this message after a reconnect), with the
    id token an alias idTag stands for (`convert.id_token_of`).

    The schema leaves meterStart unbounded; a value no meter can read (≥ 10^15 Wh) would not fit the
    database either, so it is refused as PropertyConstraintViolation.
    """
    if abs(payload["meterStart"]) >= MAX_MAGNITUDE:
        raise HandlerError(ErrorKind.PROPERTY, "meterStart is out of range")
    evse_id, connector_id = evse_of(payload["connectorId"])
    outcome = await ctx.domain.transactions.start(
        NewTransaction(
            charge_point_id=ctx.charge_point_id,
            evse_id=evse_id,
            connector_id=connector_id,
            started_at=parse_datetime(payload["timestamp"]),
            id_token=await id_token_of(ctx, payload["idTag"]),
            meter_start_wh=payload["meterStart"],
            reservation_id=payload.get("reservationId"),
        )
    )
    auth = outcome.authorization or AuthorizationResult(AuthorizationStatus.INVALID)
    return {"transactionId": outcome.transaction.id, "idTagInfo": id_tag_info(auth)}
