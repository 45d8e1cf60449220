"""Response bodies of the operator API as pydantic models: the one declaration of what the API answers.

Every JSON response of a route goes through the model its route declares for that status (`csms.api.routes`
validates the handler's data with it and writes `model_dump(mode="json")`), and the OpenAPI document's
response schemas are these models' JSON Schemas. Values arrive already in their JSON form (timestamps as
RFC 3339 text with `Z`, measured values as exact decimal text), so a model changes no value, only checks it.
"""

from __future__ import annotations

from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

Timestamp = Annotated[
    str, Field(json_schema_extra={"format": "date-time", "description": "RFC 3339 UTC, `Z`"})
]
DecimalText = Annotated[
    str, Field(pattern=r"^-?\d+(\.\d+)?$", json_schema_extra={"description": "exact decimal"})
]
NonNegative = Annotated[int, Field(ge=0)]


class ResponseModel(BaseModel):
    """A response object: exactly these fields (an unknown one is a server bug, not extra data)."""

    model_config = ConfigDict(extra="forbid")


ItemT = TypeVar("ItemT", bound=BaseModel)


class Page(ResponseModel, Generic[ItemT]):
    """A page of a list endpoint: `items` and the cursor of the next page (null on the last one)."""

    items: list[ItemT]
    next_cursor: str | None


class FieldError(ResponseModel):
    """One invalid field of a request."""

    field: str
    reason: str


class ErrorDetail(ResponseModel):
    """The error itself."""

    code: str = Field(description="stable machine-readable code")
    message: str = Field(description="human-readable; may change")
    details: list[FieldError] | dict[str, Any] | None = Field(
        description="null, a list of {field, reason} (400), or an object with context"
    )


class Error(ResponseModel):
    """Every error answer: `{"error": {"code", "message", "details"}}`."""

    error: ErrorDetail


ConnectorStatusWord = Literal["Available", "Occupied", "Reserved", "Unavailable", "Faulted"]


class ConnectorState(ResponseModel):
    """A connector's (or the station's own) status: the last one the station reported while it is
    connected; `Unknown` while it is offline, since nothing tells what happens there meanwhile (as OCPI
    2.2.1 shows the EVSEs of an offline station UNKNOWN). The last report stays in `last_status`."""

    status: ConnectorStatusWord | Literal["Unknown"] = Field(
        description="`Unknown` while the station is offline"
    )
    status_detail: str | None = Field(description="of the last report; null while offline")
    error_code: str | None = Field(description="of the last report; null while offline")
    info: str | None = Field(description="of the last report; null while offline")
    status_at: Timestamp | None = Field(description="when the station reported `status`; null while offline")
    last_status: ConnectorStatusWord = Field(description="the last status the station reported (history)")
    last_status_at: Timestamp | None = Field(description="when it reported it")


class Connector(ConnectorState):
    """One connector of an EVSE."""

    connector_id: int


class Evse(ResponseModel):
    """One EVSE and its connectors."""

    evse_id: int
    connectors: list[Connector]


class BootInfo(ResponseModel):
    """What the station said about itself in its last BootNotification."""

    vendor: str | None
    model: str | None
    serial_number: str | None
    firmware_version: str | None
    iccid: str | None
    imsi: str | None
    meter_type: str | None
    meter_serial_number: str | None
    reason: str | None


class ChargePoint(ResponseModel):
    """A charge point with its live connection and connectors."""

    charge_point_id: str
    registration_status: Literal["Accepted", "Pending", "Rejected"]
    ocpp_version: str | None
    connected: bool
    connected_at: Timestamp | None
    last_heartbeat_at: Timestamp | None
    last_boot_at: Timestamp | None
    boot: BootInfo
    firmware_status: str | None
    diagnostics_status: str | None
    log_status: str | None
    has_password: bool
    security_profile: int  # 1, 2 or 3 (OCPP security profile; 2 and 3 only over wss://)
    station_status: ConnectorState | None
    evses: list[Evse]
    created_at: Timestamp | None


class Frame(ResponseModel):
    """One logged OCPP-J frame."""

    direction: Literal["in", "out"]
    message_type: Literal[0, 2, 3, 4] = Field(description="2 CALL, 3 CALLRESULT, 4 CALLERROR; 0 not OCPP-J")
    message_id: str
    action: str | None
    frame: str = Field(description="the raw OCPP-J text")
    at: Timestamp


EXPANDED_CHARGE_POINT = Field(
    default=None, description="with `expand=charge_point` only: the charge point (null: no longer registered)"
)
EXPANDED_LOCATION = Field(
    default=None, description="with `expand=location` only: the charge point's location (null: none)"
)
EXPANDED_ID_TOKEN = Field(
    description="the id token's text; with `expand=id_token` the id token itself when the CSMS knows it"
)


class Session(ResponseModel):
    """A charging session (an OCPP transaction) in the API's words."""

    id: int
    charge_point_id: str
    evse_id: int
    connector_id: int
    transaction_id: str = Field(description="the station's transaction id")
    status: Literal["active", "completed"]
    id_token: str | IdToken | None = EXPANDED_ID_TOKEN
    id_token_type: str | None
    started_at: Timestamp
    stopped_at: Timestamp | None
    meter_start_wh: int | None
    meter_stop_wh: int | None
    energy_wh: int | None
    stop_reason: str | None
    reservation_id: int | None
    remote_start_id: int | None
    charging_state: str | None
    offline: bool
    charge_point: ChargePoint | None = EXPANDED_CHARGE_POINT
    location: dict[str, Any] | None = EXPANDED_LOCATION
    tariff: dict[str, Any] | None = Field(
        default=None, description="with `expand=tariff` only: the tariff pinned at the start (null: none)"
    )


class MeterSample(ResponseModel):
    """One sampled value as the station sent it (value as exact decimal text)."""

    timestamp: Timestamp
    measurand: str
    phase: str | None
    unit: str
    multiplier: int
    context: str | None
    location: str | None
    value: DecimalText


class SessionCost(ResponseModel):
    """A session's cost so far, by the tariff pinned at its start: the same amount as the OCPI Session's and
    CDR's `total_cost` (the CDR's once it exists); zero for a session without a tariff."""

    excl_vat: DecimalText
    incl_vat: DecimalText
    currency: str = Field(description="ISO 4217")
    final: bool = Field(description="the session ended: the amount no longer changes")


class SessionDetail(Session):
    """A session with its meter samples and its cost so far."""

    meter_samples: list[MeterSample]
    cost: SessionCost | None = Field(description="null when this server prices no sessions (no OCPI store)")


class IdToken(ResponseModel):
    """An id token the CSMS knows."""

    id_token: str
    type: str
    status: Literal["Accepted", "Blocked", "Expired", "Invalid"]
    expiry_date: Timestamp | None
    group_id_token: str | None
    created_at: Timestamp | None


class Reservation(ResponseModel):
    """A reservation and what became of it."""

    id: int = Field(description="allocated by the CSMS; the OCPP reservationId")
    charge_point_id: str
    evse_id: int | None = Field(description="null: any EVSE of the station")
    id_token: str | IdToken = EXPANDED_ID_TOKEN
    id_token_type: str
    group_id_token: str | None
    connector_type: str | None
    expiry_date: Timestamp
    status: Literal["active", "used", "expired", "cancelled", "rejected", "failed"]
    station_status: str | None = Field(description="what the station answered")
    session_id: int | None = Field(description="the session that used it")
    reason: str | None
    owner: str | None
    external_id: str | None
    created_at: Timestamp | None
    updated_at: Timestamp | None
    charge_point: ChargePoint | None = EXPANDED_CHARGE_POINT
    location: dict[str, Any] | None = EXPANDED_LOCATION


class CommandResult(ResponseModel):
    """What a station did with a command (successful responses only carry answered commands)."""

    outcome: Literal["answered"]
    status: str | None = Field(description="the station's own word: Accepted, Rejected, Unlocked, ...")
    data: dict[str, Any] = Field(description="the rest of the answer, in domain words")


class CommandResponse(ResponseModel):
    """The answer to a command."""

    command: CommandResult


class ReportResponse(CommandResponse):
    """The answer to a report request, with the request id the report messages will carry."""

    request_id: int


class SessionStarted(CommandResponse):
    """The answer to a remote start."""

    remote_start_id: int = Field(
        description="the session that follows carries it: GET /sessions?remote_start_id="
    )
    session_id: int | None = Field(description="null until the station reports it")


class DeviceVariable(ResponseModel):
    """One configuration key (1.6) or device model variable (2.0.1)."""

    key: str = Field(description="the name to use in keys= and PATCH")
    component: str | None
    component_instance: str | None
    evse_id: int | None
    connector_id: int | None
    variable: str
    variable_instance: str | None
    attribute_type: str
    value: str | None
    readonly: bool
    data_type: str | None
    updated_at: Timestamp | None


class Configuration(ResponseModel):
    """A station's configuration as stored, and the command that refreshed it (if asked)."""

    charge_point_id: str
    variables: list[DeviceVariable]
    command: CommandResult | None


class ConfigurationChanged(ResponseModel):
    """The station's answer per changed key."""

    charge_point_id: str
    results: dict[str, CommandResult]


class StoredChargingProfile(ResponseModel):
    """A charging profile the CSMS installed."""

    profile_id: int
    evse_id: int
    purpose: str
    stack_level: int
    session_id: int | None
    profile: dict[str, Any] = Field(description="the profile as installed (request body form)")
    created_at: Timestamp | None


class ChargingProfileList(ResponseModel):
    """The profiles installed on a charge point."""

    items: list[StoredChargingProfile]


class ChargingProfileInstalled(CommandResponse):
    """The station's answer to SetChargingProfile and the profile as stored when it was accepted."""

    profile: StoredChargingProfile | None


class CompositeSchedulePeriod(ResponseModel):
    """From `start_period` seconds after the schedule's start, at most `limit` (in the schedule's unit)."""

    start_period: NonNegative
    limit: DecimalText
    number_phases: int | None = None


class CompositeSchedule(ResponseModel):
    """The limits a station will apply to an EVSE, all its profiles combined (OCPP 1.6 §5.7, 2.0.1 K08)."""

    evse_id: NonNegative
    start: Timestamp
    duration: int | None
    rate_unit: Literal["A", "W"]
    periods: list[CompositeSchedulePeriod]


class CompositeScheduleAnswer(CommandResponse):
    """The station's answer to GetCompositeSchedule and, when it accepted, its composite schedule."""

    schedule: CompositeSchedule | None


class ReportedChargingProfile(ResponseModel):
    """A profile a station holds, as it reported it."""

    evse_id: NonNegative
    source: str = Field(description="who set it: CSO (the CSMS), EMS, SO or Other")
    profile: dict[str, Any] = Field(description="the station's ChargingProfileType (OCPP 2.0.1 names)")


class ChargingProfileReport(ResponseModel):
    """The profiles a station reported for one request (GetChargingProfiles / ReportChargingProfiles)."""

    request_id: int
    received_at: Timestamp
    complete: bool = Field(description="the last message (tbc false) arrived")
    profiles: list[ReportedChargingProfile]


class ChargingProfileReportList(ResponseModel):
    """A station's charging profile reports, oldest first."""

    items: list[ChargingProfileReport]


class ExternalChargingLimit(ResponseModel):
    """A limit an external source set on a station or EVSE (NotifyChargingLimit, until cleared)."""

    evse_id: NonNegative = Field(description="0: the whole station")
    source: str = Field(description="EMS, SO, Other (or CSO)")
    grid_critical: bool | None
    reported_at: Timestamp
    schedules: list[dict[str, Any]] = Field(description="its ChargingScheduleTypes as reported")


class ExternalChargingLimitList(ResponseModel):
    """The external limits in force on a station."""

    items: list[ExternalChargingLimit]


class ChargingProfileCleared(CommandResponse):
    """The station's answer to ClearChargingProfile and how many stored profiles went."""

    deleted: NonNegative


class Health(ResponseModel):
    """`GET /health`."""

    status: Literal["ok"]
    connected_charge_points: NonNegative


class OpenApiDocument(BaseModel):
    """This document."""

    model_config = ConfigDict(extra="allow")


class ChargePointPage(Page[ChargePoint]):
    """A page of charge points."""


class IssuedCertificate(ResponseModel):
    """A certificate our CA signed for a station and the station installed (CertificateSigned Accepted)."""

    serial_number: str = Field(description="hexadecimal, as GetInstalledCertificateIds reports it")
    certificate_type: Literal["ChargingStationCertificate", "V2GCertificate"]
    not_after: Timestamp = Field(
        description="when it expires; a renewal is triggered renew_before_days earlier"
    )


class IssuedCertificateList(ResponseModel):
    """The certificates issued to a station, oldest first."""

    items: list[IssuedCertificate]


class StationEvent(ResponseModel):
    """One event a station reported: SecurityEventNotification (OCPP 2.0.1, 1.6 security extension) or
    NotifyEvent (2.0.1)."""

    id: int
    kind: Literal["SecurityEventNotification", "NotifyEvent"] = Field(description="the message")
    type: str = Field(description="SecurityEventNotification `type`, or NotifyEvent `eventNotificationType`")
    timestamp: Timestamp = Field(description="when it happened, as the station says")
    received_at: Timestamp
    tech_info: str | None
    event_id: int | None = Field(description="NotifyEvent `eventId`")
    trigger: Literal["Alerting", "Delta", "Periodic"] | None = Field(description="NotifyEvent")
    component: str | None = Field(description="NotifyEvent component name")
    variable: str | None = Field(description="NotifyEvent variable name")
    actual_value: str | None = Field(description="NotifyEvent `actualValue`")
    cleared: bool | None = Field(description="NotifyEvent: the problem is gone")
    details: dict[str, Any] = Field(
        description="the rest of what the station sent (NotifyEvent: component and variable in full, "
        "cause, techCode, transactionId, variableMonitoringId, generatedAt, seqNo, tbc)"
    )


class StationEventPage(Page[StationEvent]):
    """A page of station events, newest first."""


class FramePage(Page[Frame]):
    """A page of logged frames."""


class SessionPage(Page[Session]):
    """A page of sessions."""


class IdTokenPage(Page[IdToken]):
    """A page of id tokens."""


class ReservationPage(Page[Reservation]):
    """A page of reservations."""


class Webhook(ResponseModel):
    """A webhook endpoint; its secret is shown in full only in the answer that created it."""

    id: int
    organization_id: str
    url: str
    events: list[str]
    secret: str = Field(
        description="the signing secret: in full when created, masked (`****` + last 4) after"
    )
    created_at: Timestamp


class WebhookList(ResponseModel):
    """The organization's webhooks, oldest first."""

    items: list[Webhook]


class WebhookDelivery(ResponseModel):
    """One event sent (or being sent) to a webhook."""

    id: int
    event_id: str
    event_type: str
    object_key: str = Field(description="events of one object (`session:12`) are delivered in order")
    status: Literal["pending", "delivered", "failed"]
    attempts: NonNegative
    response_code: int | None = Field(description="HTTP status of the last attempt (null: no answer)")
    last_error: str | None
    created_at: Timestamp
    last_attempt_at: Timestamp | None
    next_attempt_at: Timestamp | None
    delivered_at: Timestamp | None


class WebhookDeliveryList(ResponseModel):
    """A webhook's deliveries, newest first."""

    items: list[WebhookDelivery]
