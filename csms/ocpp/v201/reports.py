"""2.0.1 notifications the CSMS records and acknowledges: reports, events, security events, data transfer."""

from __future__ import annotations

from typing import Any

from csms.domain.models import DeviceVariable
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


async def handle_data_transfer(ctx: StationContext, payload: Payload) -> Payload:
    """Answer UnknownVendorId: no vendor extensions are implemented yet."""
    ctx.log.info("data_transfer", vendor_id=payload["vendorId"], data_message_id=payload.get("messageId"))
    return {"status": "UnknownVendorId"}
