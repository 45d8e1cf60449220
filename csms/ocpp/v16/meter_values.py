"""1.6 MeterValues → TransactionService.meter_values (batched)."""

from __future__ import annotations

from csms.domain.models import OCPP_16, MeterReading
from csms.ocpp.router import Payload, StationContext
from csms.ocpp.v16.convert import evse_of, samples


async def handle_meter_values(ctx: StationContext, payload: Payload) -> Payload:
    """Store the samples, tied to the transaction when `transactionId` names one we know."""
    evse_id, _ = evse_of(payload["connectorId"])
    tx = None
    if "transactionId" in payload:
        tx = await ctx.domain.transactions.find(
            ctx.charge_point_id, str(payload["transactionId"]), OCPP_16
        )
        if tx is None:
            ctx.log.warning("meter_values_for_unknown_transaction", transaction_id=payload["transactionId"])
    await ctx.domain.transactions.meter_values(
        MeterReading(ctx.charge_point_id, evse_id, samples(payload["meterValue"])), tx
    )
    return {}
