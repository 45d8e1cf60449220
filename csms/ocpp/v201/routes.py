"""OCPP 2.0.1: every action a charging station may send us, and its handler — the whole 2.0.1 surface."""

from __future__ import annotations

from csms.ocpp.router import Route, route_table
from csms.ocpp.status_reports import (
    firmware_progress,
    handle_security_event_notification,
    log_progress,
)
from csms.ocpp.v201.authorize import handle_authorize
from csms.ocpp.v201.boot_notification import handle_boot_notification
from csms.ocpp.v201.charging_limits import (
    handle_cleared_charging_limit,
    handle_notify_charging_limit,
    handle_report_charging_profiles,
)
from csms.ocpp.v201.heartbeat import handle_heartbeat
from csms.ocpp.v201.meter_values import handle_meter_values
from csms.ocpp.v201.notify_ev_charging_needs import handle_notify_ev_charging_needs
from csms.ocpp.v201.reports import (
    handle_data_transfer,
    handle_notify_event,
    handle_notify_report,
)
from csms.ocpp.v201.reservation_status_update import handle_reservation_status_update
from csms.ocpp.v201.sign_certificate import handle_sign_certificate
from csms.ocpp.v201.status_notification import handle_status_notification
from csms.ocpp.v201.transaction_event import handle_transaction_event

ROUTES = route_table(
    Route("BootNotification", handle_boot_notification, before_registration=True),
    Route("Heartbeat", handle_heartbeat),
    Route("StatusNotification", handle_status_notification),
    Route("Authorize", handle_authorize),
    Route("TransactionEvent", handle_transaction_event),
    Route("MeterValues", handle_meter_values),
    Route("NotifyReport", handle_notify_report),
    Route("NotifyEvent", handle_notify_event),
    Route("SecurityEventNotification", handle_security_event_notification),
    Route("FirmwareStatusNotification", firmware_progress("firmware_status")),
    Route("LogStatusNotification", log_progress("log_status")),
    Route("DataTransfer", handle_data_transfer),
    Route("ReservationStatusUpdate", handle_reservation_status_update),
    Route("SignCertificate", handle_sign_certificate),
    Route("NotifyEVChargingNeeds", handle_notify_ev_charging_needs),
    Route("ReportChargingProfiles", handle_report_charging_profiles),
    Route("NotifyChargingLimit", handle_notify_charging_limit),
    Route("ClearedChargingLimit", handle_cleared_charging_limit),
)
