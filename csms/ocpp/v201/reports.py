"""2.0.1 notifications the CSMS records and acknowledges: reports, events, data transfer (security events:
`csms.ocpp.status_reports`, shared with 1.6)."""

from __future__ import annotations

from typing import Any

from csms.domain.clock import parse_datetime
from csms.domain.models import DeviceVariable, StationEvent, StationEventKind
from csms.ocpp.commands import device_model
from csms.ocpp.router import Payload, StationContext


def device_variables(charge_point_id: str, report_data: list[dict[str, Any]]) -> list[DeviceVariable]:
    """2.0.1 ReportDataType[] → one `DeviceVariable` per component / variable / attribute type.

    A variable reports up to four attributes (Actual, Target, MinSet, MaxSet; `type` defaults to Actual);
    each becomes its own row. `readonly` is mutability ReadOnly (the default is ReadWrite); a WriteOnly
    attribute has no value. The component's EVSE and connector, the instances and
    variableCharacteristics.dataType are kept.
    """
    rows: list[DeviceVariable] = []
    for item in report_data:
        component, variable = item["component"], item["variable"]
        evse = component.get("evse") or {}
        data_type = (item.get("variableCharacteristics") or {}).get("dataType")
        for attribute in item["variableAttribute"]:
            rows.append(
                DeviceVariable(
                    charge_point_id=charge_point_id,
                    component=component["name"],
                    variable=variable["name"],
                    value=attribute.get("value"),
                    readonly=attribute.get("mutability", "ReadWrite") == "ReadOnly",
                    component_instance=component.get("instance"),
                    evse_id=evse.get("id"),
                    connector_id=evse.get("connectorId"),
                    variable_instance=variable.get("instance"),
                    attribute_type=attribute.get("type", "Actual"),
                    data_type=data_type,
                )
            )
    return rows


async def handle_notify_report(ctx: StationContext, payload: Payload) -> Payload:
    """Store one part of a device model report (the answer to GetBaseReport, OCPP 2.0.1 use case B07)
    as the station's device model, then acknowledge it. Parts are stored as they arrive (`tbc`: more
    parts follow)."""
    rows = device_variables(ctx.charge_point_id, payload.get("reportData", []))
    await device_model(ctx).record_report(ctx.charge_point_id, rows)
    ctx.log.info(
        "notify_report",
        request_id=payload["requestId"],
        seq_no=payload["seqNo"],
        tbc=payload.get("tbc", False),
        items=len(payload.get("reportData", [])),
        variables=len(rows),
    )
    return {}


# EventDataType fields a StationEvent has columns for; the rest goes to its `details`.
_EVENT_COLUMNS = frozenset(
    {"eventId", "timestamp", "trigger", "actualValue", "techInfo", "cleared", "eventNotificationType"}
)


def station_event(charge_point_id: str, event: Payload, message: Payload) -> StationEvent:
    """One 2.0.1 EventDataType of a NotifyEvent → a `StationEvent`; `details` keeps the other fields
    (component and variable in full, cause, techCode, transactionId, variableMonitoringId) and the
    message's generatedAt, seqNo and tbc."""
    details = {k: v for k, v in event.items() if k not in _EVENT_COLUMNS}
    details.update({k: message[k] for k in ("generatedAt", "seqNo", "tbc") if k in message})
    return StationEvent(
        charge_point_id=charge_point_id,
        kind=StationEventKind.NOTIFY,
        type=event["eventNotificationType"],
        timestamp=parse_datetime(event["timestamp"]),
        tech_info=event.get("techInfo"),
        event_id=event["eventId"],
        trigger=event["trigger"],
        component=event["component"]["name"],
        variable=event["variable"]["name"],
        actual_value=event["actualValue"],
        cleared=event.get("cleared", False),  # absent means false (OCPP 2.0.1 EventDataType.cleared)
        details=details,
    )


async def handle_notify_event(ctx: StationContext, payload: Payload) -> Payload:
    """Record each reported event (batched; answered once stored: OCPP 2.0.1 N07, the station may drop
    it once answered) and log it as one structured line."""
    for data in payload["eventData"]:
        event = station_event(ctx.charge_point_id, data, payload)
        ctx.log.info(
            "station_event",
            event_id=event.event_id,
            trigger=event.trigger,
            component=event.component,
            variable=event.variable,
            actual_value=event.actual_value,
            cleared=event.cleared,
        )
        ctx.domain.stations.event_reported(event)
    return {}


async def handle_data_transfer(ctx: StationContext, payload: Payload) -> Payload:
    """Answer UnknownVendorId: no vendor extensions are implemented yet."""
    ctx.log.info("data_transfer", vendor_id=payload["vendorId"], data_message_id=payload.get("messageId"))
    return {"status": "UnknownVendorId"}
