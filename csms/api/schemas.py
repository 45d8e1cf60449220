"""Request bodies of the operator API as pydantic models (unknown fields are rejected).

The CLI validates its arguments with the same models, so `csms chargepoint add` and
`POST /api/v1/charge-points` accept exactly the same input. The OpenAPI document takes its request body
schemas from these models (`model_json_schema()`), so what is documented is what is validated.

Bodies that name a connector accept the OCPP 1.6 word `connector_id` or the 2.0.1 word `evse_id`; which one
means what is stated per field (see `csms.api.params.pick_evse` and `evse_and_connector`).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    StringConstraints,
)

from csms.domain.clock import to_utc
from csms.domain.commands import ChargingProfile, ChargingSchedulePeriod, ResetKind
from csms.domain.models import ChargePoint, IdToken, RegistrationStatus, StoredChargingProfile, TokenStatus
from csms.domain.webhooks import EVENT_TYPES

# Characters a URL path segment carries unescaped (RFC 3986 unreserved plus a few sub-delims), so the id
# can be the last segment of the station's websocket URL; ':' is left out because OCPP 2.0.1 forbids it
# in the identity (it separates user and password in HTTP Basic auth).
CHARGE_POINT_ID_PATTERN = r"^[A-Za-z0-9\-_.~*+|@]+$"

ChargePointIdText = Annotated[
    str, StringConstraints(min_length=1, max_length=48, pattern=CHARGE_POINT_ID_PATTERN)
]
# OCPP 2.0.1 BasicAuthPassword / 1.6 security profile 1-2 AuthorizationKey: 16 to 40 characters.
PasswordText = Annotated[str, StringConstraints(min_length=16, max_length=40)]
# OCPP 2.0.1 IdTokenType.idToken: identifierString, at most 36 characters.
IdTokenText = Annotated[str, StringConstraints(min_length=1, max_length=36)]
# OCPP integers are 32-bit signed; EVSE / connector 0 is the station itself where allowed.
OcppId = Annotated[int, Field(ge=0, le=2**31 - 1)]
PositiveOcppId = Annotated[int, Field(ge=1, le=2**31 - 1)]
# A 1.6 configuration key (CiString50) or a 2.0.1 key `Component[instance]@evse:connector.Variable[instance]`.
ConfigurationKeyText = Annotated[str, StringConstraints(min_length=1, max_length=200)]
# 1.6 ChangeConfiguration value is CiString500; 2.0.1 attributeValue is string(1000).
ConfigurationValueText = Annotated[str, StringConstraints(max_length=1000)]
ConfigurationValues = Annotated[
    dict[ConfigurationKeyText, ConfigurationValueText], Field(min_length=1, max_length=50)
]


class IdTokenType(StrEnum):
    """OCPP 2.0.1 IdTokenEnumType."""

    CENTRAL = "Central"
    EMAID = "eMAID"
    ISO14443 = "ISO14443"
    ISO15693 = "ISO15693"
    KEY_CODE = "KeyCode"
    LOCAL = "Local"
    MAC_ADDRESS = "MacAddress"
    NO_AUTHORIZATION = "NoAuthorization"


# Fields of the bodies that name an EVSE in either version's words and an id token whose type may be left out
# (`csms.api.params.pick_evse`, `id_token_type_for`).
EvseIdWord = Annotated[
    OcppId | None, Field(description="OCPP 2.0.1 word, same meaning as connector_id; give one of them.")
]
IdTokenTypeOrDefault = Annotated[
    IdTokenType | None,
    Field(description="2.0.1 IdTokenEnumType; default: the registered token's type, else Central."),
]


# OCPP security profile (1.6 Security Whitepaper §2, 2.0.1 A00): 1 Basic auth over ws://, 2 Basic auth over
# wss://, 3 mutual TLS (client certificate CN = charge point id). A station of 2 or 3 is refused on ws://.
SecurityProfile = Annotated[
    int,
    Field(
        ge=1, le=3, strict=True,
        description="1: Basic auth (ws://), 2: TLS + Basic auth, 3: mutual TLS; no downgrade.",
    ),
]


class ChargePointCreate(BaseModel):
    """Body of `POST /charge-points`: a charge point an operator registers before (or after) it connects."""

    model_config = ConfigDict(extra="forbid")

    charge_point_id: ChargePointIdText
    password: PasswordText | None = None
    registration_status: RegistrationStatus = RegistrationStatus.ACCEPTED
    security_profile: SecurityProfile = 1

    def to_charge_point(self, password_hash: str | None, now: datetime) -> ChargePoint:
        """The record to store; `password_hash` is the bcrypt hash of `password` (never the password)."""
        return ChargePoint(
            charge_point_id=self.charge_point_id,
            registration_status=self.registration_status,
            password_hash=password_hash,
            security_profile=self.security_profile,
            created_at=now,
            updated_at=now,
        )


class IdTokenCreate(BaseModel):
    """Body of `POST /id-tokens`: an id token the CSMS will authorize (or refuse) by its `status`."""

    model_config = ConfigDict(extra="forbid")

    id_token: IdTokenText
    type: IdTokenType = IdTokenType.ISO14443
    status: TokenStatus = TokenStatus.ACCEPTED
    expiry_date: datetime | None = None
    group_id_token: IdTokenText | None = None

    def to_id_token(self, now: datetime) -> IdToken:
        """The record to store; a naive `expiry_date` is taken as UTC."""
        return IdToken(
            id_token=self.id_token,
            type=str(self.type),
            status=self.status,
            expiry_date=None if self.expiry_date is None else to_utc(self.expiry_date),
            group_id_token=self.group_id_token,
            created_at=now,
            updated_at=now,
        )


class ChargePointUpdate(BaseModel):
    """Body of `PATCH /charge-points/{charge_point_id}` (admin): only the fields given change.

    `password: null` removes the password (the station may then connect without HTTP Basic auth unless
    `[ocpp] require_password`); a new password is stored as a bcrypt hash only.
    """

    model_config = ConfigDict(extra="forbid")

    # Absent means unchanged; null is refused (the type is not optional, the default only marks absence).
    registration_status: RegistrationStatus = Field(  # type: ignore[assignment]
        default=None, description="Answered in the next BootNotification."
    )
    password: PasswordText | None = Field(default=None, description="16-40 characters; null removes it.")
    # Absent means unchanged (a factory default: no `default: null` in the OpenAPI document).
    security_profile: SecurityProfile = Field(default_factory=lambda: None)  # type: ignore[assignment]


class IdTokenUpdate(BaseModel):
    """Body of `PATCH /id-tokens/{id_token}`: only the fields given change; `null` clears
    `expiry_date` and `group_id_token`."""

    model_config = ConfigDict(extra="forbid")

    # Absent means unchanged; null is refused (the type is not optional, the default only marks absence).
    type: IdTokenType = Field(default=None)  # type: ignore[assignment]
    status: TokenStatus = Field(default=None)  # type: ignore[assignment]
    expiry_date: AwareDatetime | None = None
    group_id_token: IdTokenText | None = None


class _ForIdToken(BaseModel):
    """What a reservation and a remote start both name: the station, the EVSE (as 2.0.1 `evse_id` or the
    1.6 word `connector_id`) and the id token with its type and group."""

    model_config = ConfigDict(extra="forbid")

    charge_point_id: ChargePointIdText
    connector_id: OcppId | None = Field(
        default=None,
        description="OCPP 1.6 word for the EVSE; 0 or absent: none in particular (a reservation holds the "
        "whole station, a start lets the station choose).",
    )
    evse_id: EvseIdWord = None
    id_tag: IdTokenText = Field(description="The id token (1.6 idTag).")
    id_token_type: IdTokenTypeOrDefault = None
    group_id_token: IdTokenText | None = Field(
        default=None, description="Group (1.6 parentIdTag) whose members may also use a reservation."
    )


class ReservationCreate(_ForIdToken):
    """Body of `POST /reservations`: hold an EVSE (or, 0/absent, any EVSE of the station) for an id token."""

    expiry_date: AwareDatetime = Field(description="ISO 8601 with a timezone; must be in the future.")
    connector_type: Annotated[str, StringConstraints(min_length=1, max_length=20)] | None = Field(
        default=None, description="2.0.1 ConnectorEnumType (e.g. cType2); ignored by 1.6 stations."
    )


class SessionStart(_ForIdToken):
    """Body of `POST /sessions`: ask a station to start charging for an id token (remote start)."""


class SessionClose(BaseModel):
    """Body of `POST /sessions/{id}/close`: end a session its station will not report the end of."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field(
        min_length=1,
        max_length=64,
        description="kept as the session's stop reason (e.g. `StationGone`)",
    )
    force: bool = Field(
        default=False, description="close it even though the station is connected (it lost track of it)"
    )


class ResetRequest(BaseModel):
    """Body of `POST /charge-points/{id}/reset`.

    1.6 sends soft and on_idle as Soft, hard and immediate as Hard; 2.0.1 sends soft and on_idle as OnIdle,
    hard and immediate as Immediate.
    """

    model_config = ConfigDict(extra="forbid")

    type: ResetKind
    evse_id: PositiveOcppId | None = Field(default=None, description="2.0.1 only: reset one EVSE.")


class UnlockRequest(BaseModel):
    """Body of `POST /charge-points/{id}/unlock`: with `evse_id` (2.0.1), `connector_id` is the connector of
    that EVSE (default 1); without it, `connector_id` is the 1.6 connector."""

    model_config = ConfigDict(extra="forbid")

    evse_id: PositiveOcppId | None = None
    connector_id: PositiveOcppId | None = None


class AvailabilityRequest(BaseModel):
    """Body of `POST /charge-points/{id}/availability`: give `operative` or `type`.

    With `evse_id` (2.0.1), `connector_id` is a connector of that EVSE; without it, `connector_id` is the
    1.6 connector. EVSE / connector 0 or absent: the whole station.
    """

    model_config = ConfigDict(extra="forbid")

    operative: bool | None = None
    type: Literal["Operative", "Inoperative"] | None = None
    evse_id: OcppId | None = None
    connector_id: OcppId | None = None


class TriggerWord(StrEnum):
    """MessageTrigger words of OCPP 1.6 and 2.0.1; one the station's version lacks is `not_supported`."""

    BOOT_NOTIFICATION = "BootNotification"
    DIAGNOSTICS_STATUS_NOTIFICATION = "DiagnosticsStatusNotification"
    FIRMWARE_STATUS_NOTIFICATION = "FirmwareStatusNotification"
    HEARTBEAT = "Heartbeat"
    LOG_STATUS_NOTIFICATION = "LogStatusNotification"
    METER_VALUES = "MeterValues"
    PUBLISH_FIRMWARE_STATUS_NOTIFICATION = "PublishFirmwareStatusNotification"
    SIGN_CHARGING_STATION_CERTIFICATE = "SignChargingStationCertificate"
    SIGN_V2G_CERTIFICATE = "SignV2GCertificate"
    SIGN_COMBINED_CERTIFICATE = "SignCombinedCertificate"
    STATUS_NOTIFICATION = "StatusNotification"
    TRANSACTION_EVENT = "TransactionEvent"


class TriggerRequest(BaseModel):
    """Body of `POST /charge-points/{id}/trigger`: ask the station to send `message` now.

    With `evse_id` (2.0.1), `connector_id` is a connector of that EVSE; without it, `connector_id` is the
    1.6 connector.
    """

    model_config = ConfigDict(extra="forbid")

    message: TriggerWord
    evse_id: PositiveOcppId | None = None
    connector_id: PositiveOcppId | None = None


class DataTransferRequest(BaseModel):
    """Body of `POST /charge-points/{id}/data-transfer`; `data` is sent as text to 1.6 stations."""

    model_config = ConfigDict(extra="forbid")

    vendor_id: Annotated[str, StringConstraints(min_length=1, max_length=255)]
    message_id: Annotated[str, StringConstraints(min_length=1, max_length=50)] | None = None
    data: JsonValue = None


class ReportBase(StrEnum):
    """2.0.1 ReportBaseEnumType."""

    CONFIGURATION_INVENTORY = "ConfigurationInventory"
    FULL_INVENTORY = "FullInventory"
    SUMMARY_INVENTORY = "SummaryInventory"


class ReportRequest(BaseModel):
    """Body of `POST /charge-points/{id}/report` (may be empty): GetBaseReport; the NotifyReport stream
    that follows is stored as the station's device model (1.6: GetConfiguration of every key)."""

    model_config = ConfigDict(extra="forbid")

    report_base: ReportBase = ReportBase.FULL_INVENTORY


class ConfigurationChange(BaseModel):
    """Body of `PATCH /charge-points/{id}/configuration`: `{"key", "value"}` or `{"values": {key: value}}`.

    Keys are 1.6 key names or 2.0.1 `Component.Variable` (in full:
    `Component[instance]@evse:connector.Variable[instance]`).
    """

    model_config = ConfigDict(extra="forbid")

    key: ConfigurationKeyText | None = None
    value: ConfigurationValueText | None = None
    values: ConfigurationValues | None = None


class ChargingSchedulePeriodBody(BaseModel):
    """One period of a charging schedule: from `start_period` seconds, at most `limit` (A or W)."""

    model_config = ConfigDict(extra="forbid")

    start_period: Annotated[int, Field(ge=0, le=2**31 - 1)]
    limit: Annotated[Decimal, Field(ge=0, allow_inf_nan=False)] = Field(
        description="A number or a decimal string; kept exact."
    )
    number_phases: Annotated[int, Field(ge=1, le=3)] | None = None


class ChargingProfileSet(BaseModel):
    """Body of `PUT /charge-points/{id}/charging-profile`: a charging profile in version-neutral words.

    `session_id` ties a TxProfile to a running session (its OCPP transaction id is sent). `purpose`
    ChargePointMaxProfile is the 1.6 word for ChargingStationMaxProfile.
    """

    model_config = ConfigDict(extra="forbid")

    evse_id: OcppId = Field(description="EVSE (1.6 connector) to install the profile on; 0: the station.")
    id: PositiveOcppId = Field(description="chargingProfileId; installing the same id again replaces it.")
    stack_level: OcppId
    purpose: Literal["TxProfile", "TxDefaultProfile", "ChargingStationMaxProfile", "ChargePointMaxProfile"]
    kind: Literal["Absolute", "Recurring", "Relative"]
    rate_unit: Literal["A", "W"]
    periods: Annotated[list[ChargingSchedulePeriodBody], Field(min_length=1, max_length=1024)]
    session_id: Annotated[int, Field(ge=1, le=2**63 - 1)] | None = None
    recurrency_kind: Literal["Daily", "Weekly"] | None = None
    valid_from: AwareDatetime | None = None
    valid_to: AwareDatetime | None = None
    duration: Annotated[int, Field(ge=0, le=2**31 - 1)] | None = None
    start_schedule: AwareDatetime | None = None
    min_charging_rate: Annotated[Decimal, Field(ge=0, allow_inf_nan=False)] | None = None

    @property
    def station_purpose(self) -> str:
        """`purpose` in the domain's (2.0.1) word: ChargePointMaxProfile is ChargingStationMaxProfile."""
        return "ChargingStationMaxProfile" if self.purpose == "ChargePointMaxProfile" else self.purpose

    def stored_json(self) -> dict[str, Any]:
        """The body as JSON (Decimals as exact text, datetimes in UTC), as kept with the stored profile."""
        data: dict[str, Any] = self.model_dump(mode="json", exclude_none=True)
        data["purpose"] = self.station_purpose
        return data

    def to_stored(self, charge_point_id: str, now: datetime) -> StoredChargingProfile:
        """The record kept once the station accepted the profile: the body as JSON (`stored_json`)."""
        return StoredChargingProfile(
            charge_point_id,
            self.evse_id,
            self.id,
            self.station_purpose,
            self.stack_level,
            profile=self.stored_json(),
            transaction_pk=self.session_id,
            created_at=now,
        )

    def to_charging_profile(self, ocpp_transaction_id: str | None) -> ChargingProfile:
        """The profile to send, in the domain's words; the body's other fields are the profile's, by name.

        Args:
            ocpp_transaction_id: the station's id of the session a TxProfile is for (`session_id`), if any.
        """
        fields = self.model_dump(exclude={"evse_id", "session_id", "purpose", "periods"})
        periods = [ChargingSchedulePeriod(p.start_period, p.limit, p.number_phases) for p in self.periods]
        return ChargingProfile(
            **fields, purpose=self.station_purpose, periods=periods, ocpp_transaction_id=ocpp_transaction_id
        )


class WebhookCreate(BaseModel):
    """`POST /webhooks`: where to send which events, and the secret to sign them with."""

    model_config = ConfigDict(extra="forbid")

    url: Annotated[str, StringConstraints(min_length=1, max_length=2048, pattern=r"^https?://[^\s]+$")] = (
        Field(description="http(s) URL the events are POSTed to")
    )
    events: list[Annotated[str, StringConstraints(min_length=1, max_length=64)]] = Field(
        min_length=1, description="event types: " + ", ".join(EVENT_TYPES)
    )
    secret: Annotated[str, StringConstraints(min_length=16, max_length=255)] = Field(
        description="shared secret for the X-Webhook-Signature HMAC (at least 16 characters)"
    )


InstallableCertificate = Literal[
    "CSMSRootCertificate", "ManufacturerRootCertificate", "V2GRootCertificate", "MORootCertificate"
]
InstalledCertificateType = Literal[
    "CSMSRootCertificate",
    "ManufacturerRootCertificate",
    "V2GRootCertificate",
    "MORootCertificate",
    "V2GCertificateChain",
]


class InstallCertificateRequest(BaseModel):
    """Body of `POST /charge-points/{id}/certificates/install`: a PEM root certificate and its use
    (2.0.1 InstallCertificateUseEnumType words; a 1.6 station takes CSMSRootCertificate and
    ManufacturerRootCertificate only)."""

    model_config = ConfigDict(extra="forbid")

    certificate_type: InstallableCertificate
    certificate: str = Field(min_length=1, max_length=5500)


class InstalledCertificatesRequest(BaseModel):
    """Body of `POST /charge-points/{id}/certificates/installed`: the types to list (all when empty; a 1.6
    station needs exactly one of CSMSRootCertificate, ManufacturerRootCertificate)."""

    model_config = ConfigDict(extra="forbid")

    certificate_types: list[InstalledCertificateType] = Field(default_factory=list, max_length=5)


class DeleteCertificateRequest(BaseModel):
    """Body of `POST /charge-points/{id}/certificates/delete`: the certificate's CertificateHashDataType,
    as GetInstalledCertificateIds reported it."""

    model_config = ConfigDict(extra="forbid")

    hash_algorithm: Literal["SHA256", "SHA384", "SHA512"]
    issuer_name_hash: str = Field(min_length=1, max_length=128)
    issuer_key_hash: str = Field(min_length=1, max_length=128)
    serial_number: str = Field(min_length=1, max_length=40)
