"""Station-level reports, the same in both versions: the latest upload or update status is kept, and
security events are recorded.

1.6 DiagnosticsStatusNotification and FirmwareStatusNotification, 2.0.1 FirmwareStatusNotification and
LogStatusNotification each carry a `status` word and answer with an empty payload; the word is written
(batched) to the station's field named for the report. SecurityEventNotification (2.0.1, and 1.6 with the
Security Whitepaper extension: the same `type`, `timestamp`, `techInfo`) is recorded as a station event.
"""

from __future__ import annotations

from csms.domain.clock import parse_datetime
from csms.domain.models import StationEvent, StationEventKind
from csms.ocpp.router import Handler, Payload, StationContext


def keep_status(station_field: str) -> Handler:
    """A handler that keeps `payload["status"]` as the station's `station_field` (e.g. `firmware_status`)
    and answers `{}`."""

    async def handle(ctx: StationContext, payload: Payload) -> Payload:
        ctx.domain.stations.station_reported(ctx.charge_point_id, **{station_field: payload["status"]})
        return {}

    handle.__name__ = f"keep_{station_field}"
    return handle


def firmware_progress(station_field: str) -> Handler:
    """FirmwareStatusNotification (1.6, 2.0.1 with the optional requestId) and the 1.6 security extension's
    SignedFirmwareStatusNotification: the status is kept as the station's field and recorded as the
    progress of the firmware update it reports on (`FirmwareService.firmware_status`)."""
    keep = keep_status(station_field)

    async def handle(ctx: StationContext, payload: Payload) -> Payload:
        await keep(ctx, payload)
        firmware = ctx.domain.firmware
        await firmware.firmware_status(ctx.charge_point_id, payload["status"], payload.get("requestId"))
        return {}

    handle.__name__ = f"progress_{station_field}"
    return handle


def log_progress(station_field: str) -> Handler:
    """LogStatusNotification (2.0.1, 1.6 extension; requestId optional) and 1.6
    DiagnosticsStatusNotification: kept as the station's field and recorded on the log upload it reports on
    (`FirmwareService.log_status`)."""
    keep = keep_status(station_field)

    async def handle(ctx: StationContext, payload: Payload) -> Payload:
        await keep(ctx, payload)
        await ctx.domain.firmware.log_status(ctx.charge_point_id, payload["status"], payload.get("requestId"))
        return {}

    handle.__name__ = f"progress_{station_field}"
    return handle


async def handle_security_event_notification(ctx: StationContext, payload: Payload) -> Payload:
    """Record the security event (batched; answered once stored) and log it at warning level so operators
    notice it. The event `type` is kept as sent: the spec lists the security events a station must report
    (OCPP 2.0.1 Appendices, "Security Events"; 1.6 Security Whitepaper §3.1) but allows others."""
    ctx.log.warning(
        "security_event", type=payload["type"], at=payload["timestamp"], tech_info=payload.get("techInfo")
    )
    ctx.domain.stations.event_reported(
        StationEvent(
            charge_point_id=ctx.charge_point_id,
            kind=StationEventKind.SECURITY,
            type=payload["type"],
            timestamp=parse_datetime(payload["timestamp"]),
            tech_info=payload.get("techInfo"),
        )
    )
    return {}
