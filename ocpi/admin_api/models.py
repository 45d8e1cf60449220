"""Response bodies of the OCPI bridge's operator endpoints: locations, connector specs, tariffs, partners,
the push outbox and the Agent API's client accounts. Nested OCPI objects reuse the request body types
(`ocpi.admin_api.bodies`)."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

from csms.api.models import DecimalText, NonNegative, Page, ResponseModel, Timestamp
from ocpi.admin_api.bodies import (
    LATITUDE_PATTERN,
    LONGITUDE_PATTERN,
    BusinessDetails,
    DisplayText,
    EnergyMix,
    Hours,
    OcpiPrice,
    TariffElement,
)
from ocpi.agent.accounts import MAX_RESERVATION_FEE, MAX_SECRET, MIN_SECRET
from ocpi.enums import ConnectorFormat, ConnectorType, Facility, ParkingType, PowerType, TariffType


class Coordinates(ResponseModel):
    """OCPI GeoLocation, as exact decimal text."""

    latitude: str = Field(pattern=LATITUDE_PATTERN)
    longitude: str = Field(pattern=LONGITUDE_PATTERN)


class OursWithId(ResponseModel):
    """An OCPI object the CSMS owns: its id and the party of ours it belongs to (`[ocpi] country_code`,
    `party_id`, or one of `extra_parties` for a location)."""

    id: str
    country_code: str = Field(description="ours, from [ocpi] (default party or extra_parties)")
    party_id: str = Field(description="ours, from [ocpi] (default party or extra_parties)")


class Location(OursWithId):
    """A location as the operator configured it (EVSEs come from the OCPP side)."""

    publish: bool
    name: str | None
    address: str
    city: str
    postal_code: str | None
    state: str | None
    country: str = Field(pattern="^[A-Z]{3}$")
    coordinates: Coordinates
    time_zone: str
    parking_type: ParkingType | None
    facilities: list[Facility]
    opening_times: Hours | None
    operator: BusinessDetails | None
    charging_when_closed: bool | None
    charge_point_ids: list[str]
    tariff_ids: list[str]
    last_updated: Timestamp


class LocationPage(Page[Location]):
    """A page of locations."""


class ConnectorSpec(ResponseModel):
    """What OCPP does not report about a connector: its standard, format, power and tariffs."""

    charge_point_id: str
    evse_id: int
    connector_id: int
    standard: ConnectorType
    format: ConnectorFormat
    power_type: PowerType
    max_voltage: int
    max_amperage: int
    max_electric_power: int | None
    tariff_ids: list[str]
    configured: bool = Field(description="false: never set; these are the defaults")
    last_updated: Timestamp | None


class Tariff(OursWithId):
    """An OCPI tariff as stored."""

    currency: str
    type: TariffType | None
    tariff_alt_text: list[DisplayText] | None
    tariff_alt_url: str | None
    min_price: OcpiPrice | None
    max_price: OcpiPrice | None
    elements: list[TariffElement]
    start_date_time: Timestamp | None
    end_date_time: Timestamp | None
    energy_mix: EnergyMix | None
    last_updated: Timestamp


class TariffPage(Page[Tariff]):
    """A page of tariffs."""


class OcpiPartner(ResponseModel):
    """A roaming partner, without its tokens."""

    id: int
    name: str
    country_code: str
    party_id: str
    role: str = Field(description="EMSP, HUB, ...")
    status: Literal["pending", "registered", "unregistered"]
    version: str | None
    versions_url: str | None
    endpoints: dict[str, str] = Field(
        description='"<module>:<ROLE>" (e.g. "sessions:RECEIVER") to the partner\'s URL'
    )
    created_at: Timestamp | None
    updated_at: Timestamp | None


class OcpiPartnerPage(Page[OcpiPartner]):
    """A page of partners."""


class OutboxEntry(ResponseModel):
    """One push to a partner and how its delivery went."""

    id: int
    partner_id: int
    module: str = Field(description="locations, sessions, cdrs, tariffs, commands")
    object_key: str = Field(description="pushes with the same key go to a partner in id order")
    method: Literal["PUT", "PATCH", "POST", "DELETE"]
    url: str
    body: dict[str, object] | None = Field(description="the OCPI object sent")
    status: Literal["pending", "sent", "failed"]
    attempts: NonNegative
    next_attempt_at: Timestamp | None
    last_error: str | None
    created_at: Timestamp | None
    sent_at: Timestamp | None


class OutboxPage(Page[OutboxEntry]):
    """A page of outbox entries."""


class ClientInfo(ResponseModel):
    """A party a hub connects, as the hub last told us (OCPI 2.2.1 HubClientInfo)."""

    country_code: str
    party_id: str
    role: str = Field(description="CPO, EMSP, HUB, NAP, NSP, OTHER or SCSP")
    status: Literal["CONNECTED", "OFFLINE", "PLANNED", "SUSPENDED"]
    partner_id: int | None = Field(description="the hub that sent it")
    last_updated: Timestamp | None


class ClientInfoPage(Page[ClientInfo]):
    """A page of hub client infos."""


class MoneyAmount(ResponseModel):
    """An amount excl. and incl. VAT, exact decimal text (4 decimals at most, as OCPI carries them)."""

    excl_vat: DecimalText
    incl_vat: DecimalText


class CostAmounts(ResponseModel):
    """The amount of each price dimension (not clamped to the tariff's min/max price)."""

    energy: MoneyAmount
    time: MoneyAmount
    parking: MoneyAmount
    flat: MoneyAmount
    reservation: MoneyAmount = Field(description="charging sessions have no reservation time: zero")


class PriceDistribution(ResponseModel):
    """Each part's share of the incl.-VAT amounts, summing to exactly 1 (all 0 for a free session)."""

    session: DecimalText = Field(description="flat and reservation fees")
    kwh: DecimalText = Field(description="energy")
    minute: DecimalText = Field(description="charging and parking time")


class CostBreakdown(ResponseModel):
    """A session's cost per dimension: priced now while it runs, the CDR's once it exists."""

    session_id: NonNegative
    currency: str = Field(description="ISO 4217")
    total: MoneyAmount = Field(description="clamped to the tariff's min/max price (OCPI 2.2.1)")
    amounts: CostAmounts
    price_distribution: PriceDistribution
    tariff_id: str | None = Field(description="the tariff pinned at the start; null: no tariff, free")
    blocking_fee_starts_at: Timestamp | None = Field(
        description="when a time fee applying only after a minimum duration starts counting; null: none"
    )
    final: bool = Field(description="the session ended: the amounts no longer change")
    billed: bool = Field(description="the amounts are the CDR's")


# JSON numbers as the CDR carries them (OCPI 2.2.1 "number", at most 4 decimals): an int stays an int.
OcpiNumber = int | float


class CdrPrice(BaseModel):
    """OCPI 2.2.1 Price of a CDR (negative in a credit CDR's `total_cost`)."""

    model_config = ConfigDict(extra="forbid")

    excl_vat: OcpiNumber
    incl_vat: OcpiNumber | None = None


class OcpiCdr(BaseModel):
    """An OCPI 2.2.1 CDR object, exactly as partners get it (`GET /ocpi/2.2.1/cdrs`, POSTed to their CDRs
    receivers); the fields not listed here are those of the OCPI CDR object."""

    model_config = ConfigDict(extra="allow")

    id: Annotated[str, Field(max_length=39)]
    session_id: str | None = None
    currency: str
    total_cost: CdrPrice
    total_energy: OcpiNumber = Field(description="kWh")
    total_time: OcpiNumber = Field(description="hours")
    credit: bool | None = Field(default=None, description="true: a credit CDR")
    credit_reference_id: Annotated[str, Field(max_length=39)] | None = Field(
        default=None, description="a credit CDR's: the id of the CDR it credits"
    )
    remark: str | None = None
    last_updated: str


class CdrCorrection(ResponseModel):
    """A correction: the credit CDR of the corrected CDR, and the CDR that replaces it."""

    credit: OcpiCdr
    replacement: OcpiCdr


class SessionCdrs(ResponseModel):
    """A session's CDRs, oldest first: its CDR, then the credit and replacement CDR of each correction."""

    session_id: NonNegative
    effective_cdr_id: str | None = Field(
        description="the CDR that bills the session: neither a credit nor credited (null: no CDR yet)"
    )
    cdrs: list[OcpiCdr]


# -- the booking Agent API's client accounts (ADR 0024) ------------------------------------------------------


def _account_decimal_schema(places: int, high: int) -> WithJsonSchema:
    """How a body's Decimal in [0, high] with at most `places` decimals is documented: a JSON number (read
    exactly, never as a float) or decimal text."""
    return WithJsonSchema(
        {
            "anyOf": [
                {"type": "number", "minimum": 0, "maximum": high},
                {"type": "string", "pattern": rf"^[0-9]+(\.[0-9]{{1,{places}}})?$"},
            ],
            "description": f"0 to {high}, at most {places} decimals; a number or decimal text (exact)",
        },
        mode="validation",
    )


FeeAmount = Annotated[
    Decimal,
    Field(ge=0, le=MAX_RESERVATION_FEE, decimal_places=2, allow_inf_nan=False),
    _account_decimal_schema(2, int(MAX_RESERVATION_FEE)),
]
Percent = Annotated[
    Decimal, Field(ge=0, le=100, decimal_places=4, allow_inf_nan=False), _account_decimal_schema(4, 100)
]


class AgentClientCreate(BaseModel):
    """`POST /agent-clients`: a client application of the booking Agent API."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    reservation_fee: FeeAmount = Field(default=Decimal(0), description="EUR added to every booking's price")
    commission_percent: Percent = Field(
        default=Decimal(0), description="percent of the CPO's cost added to every booking's price"
    )
    monthly_quota: int | None = Field(
        default=None, ge=0, le=2**31 - 1, description="requests per calendar month (UTC); null: no quota"
    )
    webhook_url: str | None = Field(
        default=None, max_length=500, pattern=r"^https?://", description="booking moves are POSTed here"
    )
    webhook_secret: str | None = Field(
        default=None,
        min_length=MIN_SECRET,
        max_length=MAX_SECRET,
        description="signs each POST (`X-Webhook-Signature`, as the operator webhooks); never shown again",
    )


class AgentClient(ResponseModel):
    """A client account of the booking Agent API (never its key: shown once, when created or rotated)."""

    id: int
    name: str
    key_prefix: str = Field(
        description="the prefix of its current key (`agk_<prefix>_...`), to tell keys apart"
    )
    reservation_fee: DecimalText = Field(description="EUR per booking")
    commission_percent: DecimalText = Field(description="percent of the CPO's cost")
    monthly_quota: int | None
    webhook_url: str | None
    webhook_signed: bool = Field(description="a webhook secret is set (the secret itself is never shown)")
    created_at: Timestamp | None
    rotated_at: Timestamp | None


class AgentClientCreated(AgentClient):
    """A new client account, or one whose key was just rotated, with the key in `key`: hand it to the client
    now, it cannot be shown again (only its bcrypt hash is stored)."""

    key: str = Field(description="send as `Authorization: Bearer <key>` to /agent/v1")


class AgentClientPage(Page[AgentClient]):
    """A page of client accounts."""


# -- the eMSP role's CPOs (ADR 0023) ------------------------------------------------------------------------


class EmspCpoInvite(BaseModel):
    """`POST /emsp/cpos/invitations`: the terms of a CPO invited to register with our eMSP role."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, max_length=100, description="default: its business name")
    max_reservation_minutes: int | None = Field(
        default=None, ge=1, le=10_080, description="longest reservation it accepts (default: [emsp])"
    )
    cancellation_fee: FeeAmount = Field(default=Decimal(0), description="EUR it charges to cancel")


class EmspCpo(ResponseModel):
    """A CPO our eMSP role roams with (never its tokens)."""

    id: int
    name: str | None = Field(description="null until an invited CPO registers, unless given")
    country_code: str | None
    party_id: str | None
    status: Literal["INVITED", "PENDING", "REGISTERED", "UNREGISTERED"]
    versions_url: str | None
    endpoints: dict[str, str] = Field(description='"<module>:<ROLE>" to the URL of the CPO')
    max_reservation_minutes: int
    cancellation_fee: DecimalText = Field(description="EUR")
    locations_pulled_at: Timestamp | None
    tariffs_pulled_at: Timestamp | None


class EmspCpoPage(Page[EmspCpo]):
    """A page of CPOs."""


class EmspCpoInvitation(ResponseModel):
    """An invited CPO with what it registers with: our versions URL and its token A (shown this once)."""

    cpo: EmspCpo
    versions_url: str = Field(description="our eMSP role's OCPI versions endpoint")
    token_a: str = Field(description="CREDENTIALS_TOKEN_A: the CPO calls our versions and credentials with")
