"""OCPP 1.6J: every action a charge point may send us, and its handler — the whole 1.6 surface."""

from __future__ import annotations

from csms.ocpp.router import Route, route_table
from csms.ocpp.status_reports import (
    firmware_progress,
    handle_security_event_notification,
    log_progress,
)
from csms.ocpp.v16.authorize import handle_authorize
from csms.ocpp.v16.boot_notification import handle_boot_notification
from csms.ocpp.v16.data_transfer import handle_data_transfer
from csms.ocpp.v16.heartbeat import handle_heartbeat
from csms.ocpp.v16.meter_values import handle_meter_values
from csms.ocpp.v16.sign_certificate import handle_sign_certificate
from csms.ocpp.v16.start_transaction import handle_start_transaction
from csms.ocpp.v16.status_notification import handle_status_notification
from csms.ocpp.v16.stop_transaction import handle_stop_transaction

ROUTES = route_table(
    Route("BootNotification", handle_boot_notification, before_registration=True),
    Route("Heartbeat", handle_heartbeat),
    Route("StatusNotification", handle_status_notification),
    Route("Authorize", handle_authorize),
    Route("StartTransaction", handle_start_transaction),
    Route("StopTransaction", handle_stop_transaction),
    Route("MeterValues", handle_meter_values),
    Route("DataTransfer", handle_data_transfer),
    Route("DiagnosticsStatusNotification", log_progress("diagnostics_status")),
    Route("FirmwareStatusNotification", firmware_progress("firmware_status")),
    # OCPP 1.6 Security Whitepaper (edition 2) §4.3, §4.4: signed firmware updates and log uploads.
    Route("SignedFirmwareStatusNotification", firmware_progress("firmware_status")),
    Route("LogStatusNotification", log_progress("log_status")),
    # OCPP 1.6 Security Whitepaper (edition 2) §3.1: the security extension's event notification.
    Route("SecurityEventNotification", handle_security_event_notification),
    Route("SignCertificate", handle_sign_certificate),
)
