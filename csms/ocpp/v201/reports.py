"""2.0.1 notifications the CSMS records and acknowledges: reports, events, status of uploads/firmware."""

from __future__ import annotations

from csms.ocpp.router import Payload, StationContext


async def handle_notify_report(ctx: StationContext, payload: Payload) -> Payload:
    """Acknowledge a device-model report part (the frame log keeps it; its storage as device model
    arrives with GetBaseReport in the remote-control work)."""
    ctx.log.info(
        "notify_report",
        request_id=payload["requestId"],
        seq_no=payload["seqNo"],
        tbc=payload.get("tbc", False),
        items=len(payload.get("reportData", [])),
    )
    return {}


async def handle_notify_event(ctx: StationContext, payload: Payload) -> Payload:
    """Log each reported event (component, variable, trigger, value) as one structured line."""
    for event in payload["eventData"]:
        ctx.log.info(
            "station_event",
            event_id=event["eventId"],
            trigger=event["trigger"],
            component=event["component"]["name"],
            variable=event["variable"]["name"],
            actual_value=event["actualValue"],
            cleared=event.get("cleared", False),
        )
    return {}


async def handle_security_event_notification(ctx: StationContext, payload: Payload) -> Payload:
    """Log a security event at warning level so operators notice it."""
    ctx.log.warning(
        "security_event", type=payload["type"], at=payload["timestamp"], tech_info=payload.get("techInfo")
    )
    return {}


async def handle_firmware_status_notification(ctx: StationContext, payload: Payload) -> Payload:
    """Keep the station's latest firmware update status."""
    ctx.domain.stations.station_reported(ctx.charge_point_id, firmware_status=payload["status"])
    return {}


async def handle_log_status_notification(ctx: StationContext, payload: Payload) -> Payload:
    """Keep the station's latest log upload status."""
    ctx.domain.stations.station_reported(ctx.charge_point_id, log_status=payload["status"])
    return {}


async def handle_data_transfer(ctx: StationContext, payload: Payload) -> Payload:
    """Answer UnknownVendorId: no vendor extensions are implemented yet."""
    ctx.log.info("data_transfer", vendor_id=payload["vendorId"], data_message_id=payload.get("messageId"))
    return {"status": "UnknownVendorId"}
