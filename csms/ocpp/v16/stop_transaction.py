"""1.6 StopTransaction → TransactionService.stop, with its transactionData samples."""

from __future__ import annotations

from csms.domain.clock import parse_datetime
from csms.domain.metering import MAX_MAGNITUDE
from csms.domain.models import OCPP_16, MeterReading, TransactionStop
from csms.ocpp.router import Payload, StationContext
from csms.ocpp.v16.convert import id_tag_info, id_token_of, samples


async def handle_stop_transaction(ctx: StationContext, payload: Payload) -> Payload:
    """End the transaction; an unknown transactionId is still answered (and logged), never an error.

    The station must be able to delete the message from its queue (OCPP 1.6 §4.10: the CSMS always
    answers StopTransaction), so an unknown id only costs a warning; its samples are kept unattached.
    """
    # Lenient: a sample we cannot use must not make the stop impossible to store (the station would
    # retry it forever); it is skipped and logged, and the frame log keeps it verbatim.
    data = samples(payload.get("transactionData", []), strict=False, log=ctx.log)
    id_token = None if "idTag" not in payload else await id_token_of(ctx, payload["idTag"])
    tx = await ctx.domain.transactions.find(
        ctx.charge_point_id, str(payload["transactionId"]), OCPP_16
    )
    if tx is None:
        ctx.log.warning("stop_for_unknown_transaction", transaction_id=payload["transactionId"])
        if data:
            await ctx.domain.transactions.meter_values(MeterReading(ctx.charge_point_id, 0, data))
    else:
        meter_stop = payload["meterStop"]
        if abs(meter_stop) >= MAX_MAGNITUDE:
            # Unusable, but the stop must still be stored: fall back to the last register read.
            ctx.log.warning("meter_stop_out_of_range", transaction_id=payload["transactionId"])
            meter_stop = None
        await ctx.domain.transactions.stop(
            tx,
            TransactionStop(
                stopped_at=parse_datetime(payload["timestamp"]),
                meter_stop_wh=meter_stop,
                reason=payload.get("reason", "Local"),  # optional; Local is the default (OCPP 1.6 errata)
                id_token=id_token,
            ),
            data,
        )
    if id_token is not None:
        return {"idTagInfo": id_tag_info(await ctx.domain.authorization.authorize(
            id_token, charge_point_id=ctx.charge_point_id
        ))}
    return {}
