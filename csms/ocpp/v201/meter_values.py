"""2.0.1 MeterValues (outside transactions) → TransactionService.meter_values (batched)."""

from __future__ import annotations

from csms.domain.models import MeterReading
from csms.ocpp.router import Payload, StationContext
from csms.ocpp.v201.convert import samples


async def handle_meter_values(ctx: StationContext, payload: Payload) -> Payload:
    """Store the samples of an EVSE (0 = main meter); in-transaction samples come by TransactionEvent."""
    await ctx.domain.transactions.meter_values(
        MeterReading(ctx.charge_point_id, payload["evseId"], samples(payload["meterValue"]))
    )
    return {}
