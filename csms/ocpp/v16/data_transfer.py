"""1.6 DataTransfer from a station: no vendor extensions are implemented yet."""

from __future__ import annotations

from csms.ocpp.router import Payload, StationContext


async def handle_data_transfer(ctx: StationContext, payload: Payload) -> Payload:
    """Answer UnknownVendorId (OCPP 1.6 §4.3: the vendorId is not known to the CSMS), and log it."""
    ctx.log.info("data_transfer", vendor_id=payload["vendorId"], data_message_id=payload.get("messageId"))
    return {"status": "UnknownVendorId"}
