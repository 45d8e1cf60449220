"""Request bodies of the OCPI bridge's operator endpoints (locations, connector specs, tariffs) as pydantic
models: field names, enums and lengths of the OCPI 2.2.1 objects (Locations, Tariffs modules)."""

from __future__ import annotations

import re
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    StringConstraints,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from csms.api.schemas import ChargePointIdText
from csms.domain.clock import to_utc
from ocpi.enums import (
    ConnectorFormat,
    ConnectorType,
    DayOfWeek,
    EnergySourceCategory,
    EnvironmentalImpactCategory,
    Facility,
    ParkingType,
    PowerType,
    ReservationRestrictionType,
    TariffDimensionType,
    TariffType,
)

# -- OCPI: locations, connector specs and tariffs (what OCPP does not report) --------------------------------
#
# Field names, enums and lengths follow the OCPI 2.2.1 object definitions (Locations, Tariffs modules), so a
# body here is the OCPI object minus what the CSMS owns: `country_code`/`party_id` (from `[ocpi]`),
# `last_updated` (set on each change) and EVSEs (from the OCPP side). Numbers that are money, energy, power
# or current are Decimal and never pass through a float: the endpoints parse bodies with
# `json.loads(..., parse_float=Decimal)` and these types keep the exact digits (as JSON text on output).

# OCPI ids used in URLs: CiString(36); restricted to characters that need no escaping in a path segment.
OCPI_ID_PATTERN = r"^[A-Za-z0-9\-_.]+$"
OcpiIdText = Annotated[str, StringConstraints(min_length=1, max_length=36, pattern=OCPI_ID_PATTERN)]
# OCPI 2.2.1 Locations, GeoLocation: latitude `-?[0-9]{1,2}\.[0-9]{5,7}`,
# longitude `-?[0-9]{1,3}\.[0-9]{5,7}`.
LATITUDE_PATTERN = r"^-?[0-9]{1,2}\.[0-9]{5,7}$"
LONGITUDE_PATTERN = r"^-?[0-9]{1,3}\.[0-9]{5,7}$"
# OCPI 2.2.1 RegularHours / TariffRestrictions: time of day `HH:MM` (24 h), date `YYYY-MM-DD`.
TIME_OF_DAY_PATTERN = r"^([0-1][0-9]|2[0-3]):[0-5][0-9]$"
DATE_PATTERN = r"^([12][0-9]{3})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$"
TimeOfDayText = Annotated[str, StringConstraints(pattern=TIME_OF_DAY_PATTERN)]
OcpiInt = Annotated[int, Field(ge=0, le=2**31 - 1)]


def _plain_decimal(value: Decimal) -> str:
    return format(value, "f")


# OCPI numbers carry at most 4 decimals (OCPI 2.2.1 Transport and format, "Number"); more would be rounded
# on the way out, so they are refused on the way in. Serialised as exact decimal text.
OcpiDecimal = Annotated[
    Decimal,
    Field(ge=0, decimal_places=4, allow_inf_nan=False),
    PlainSerializer(_plain_decimal, return_type=str, when_used="json"),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "number", "minimum": 0},
                {"type": "string", "pattern": r"^[0-9]+(\.[0-9]+)?$"},
            ],
            "description": "≥ 0, at most 4 decimals; a number or decimal text, kept exact",
        },
        mode="validation",
    ),
]


def _ocpi_datetime_text(value: datetime) -> str:
    # OCPI DateTime: UTC, ending in Z, never +00:00 (OCPI 2.2.1 Transport and format, "DateTime").
    return to_utc(value).strftime("%Y-%m-%dT%H:%M:%SZ")


OcpiDateTime = Annotated[
    AwareDatetime, PlainSerializer(_ocpi_datetime_text, return_type=str, when_used="json")
]


def _coordinate(value: Any, pattern: str, limit: int, what: str) -> str:
    """An OCPI GeoLocation component: a matching string as given, or a number formatted with 6 decimals."""
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        raise ValueError(f"{what} must be a string like '51.047599' or a number")
    if isinstance(value, str):
        text = value
        if not re.fullmatch(pattern, text):
            raise ValueError(f"{what} must match {pattern}")
    else:
        # Through str() so a float keeps its shortest repr (51.047599), never its binary expansion.
        number = Decimal(str(value))
        if not number.is_finite():
            raise ValueError(f"{what} must be a finite number")
        if abs(number) > limit:  # checked first: quantizing 1e51 to 6 decimals overflows the context
            raise ValueError(f"{what} must be between -{limit} and {limit}")
        text = format(number.quantize(Decimal("0.000001"), rounding=ROUND_HALF_EVEN), "f")
        if text.startswith("-") and Decimal(text) == 0:
            text = text[1:]
        if not re.fullmatch(pattern, text):
            raise ValueError(f"{what} must be between -{limit} and {limit}")
    if abs(Decimal(text)) > limit:
        raise ValueError(f"{what} must be between -{limit} and {limit}")
    return text


def _latitude(value: Any) -> str:
    return _coordinate(value, LATITUDE_PATTERN[1:-1], 90, "latitude")


def _longitude(value: Any) -> str:
    return _coordinate(value, LONGITUDE_PATTERN[1:-1], 180, "longitude")


_COORDINATE_DOC = "a string as OCPI writes it, or a number (formatted with 6 decimals)"
LatitudeValue = Annotated[
    str,
    BeforeValidator(_latitude),
    WithJsonSchema(
        {"anyOf": [{"type": "string", "pattern": LATITUDE_PATTERN}, {"type": "number"}]},
        mode="validation",
    ),
    Field(description=f"-90..90: {_COORDINATE_DOC}"),
]
LongitudeValue = Annotated[
    str,
    BeforeValidator(_longitude),
    WithJsonSchema(
        {"anyOf": [{"type": "string", "pattern": LONGITUDE_PATTERN}, {"type": "number"}]},
        mode="validation",
    ),
    Field(description=f"-180..180: {_COORDINATE_DOC}"),
]


class GeoLocation(BaseModel):
    """OCPI 2.2.1 GeoLocation (WGS 84)."""

    model_config = ConfigDict(extra="forbid")

    latitude: LatitudeValue
    longitude: LongitudeValue


class RegularHours(BaseModel):
    """OCPI 2.2.1 RegularHours: open on `weekday` (1 = Monday ... 7 = Sunday) from `period_begin` to
    `period_end`, local time of the location."""

    model_config = ConfigDict(extra="forbid")

    weekday: Annotated[int, Field(ge=1, le=7)]
    period_begin: TimeOfDayText
    period_end: TimeOfDayText


class ExceptionalPeriod(BaseModel):
    """OCPI 2.2.1 ExceptionalPeriod (UTC timestamps)."""

    model_config = ConfigDict(extra="forbid")

    period_begin: OcpiDateTime
    period_end: OcpiDateTime

    @model_validator(mode="after")
    def _ordered(self) -> ExceptionalPeriod:
        if self.period_end <= self.period_begin:
            raise ValueError("period_end must be after period_begin")
        return self


class Hours(BaseModel):
    """OCPI 2.2.1 Hours: always open (`twentyfourseven`), or the `regular_hours` listed."""

    model_config = ConfigDict(extra="forbid")

    twentyfourseven: bool
    regular_hours: Annotated[list[RegularHours], Field(max_length=100)] = Field(default_factory=list)
    exceptional_openings: Annotated[list[ExceptionalPeriod], Field(max_length=100)] = Field(
        default_factory=list
    )
    exceptional_closings: Annotated[list[ExceptionalPeriod], Field(max_length=100)] = Field(
        default_factory=list
    )

    @model_validator(mode="after")
    def _regular_hours_fit(self) -> Hours:
        # OCPI 2.2.1 Hours: regular_hours "only to be used if twentyfourseven=false, then this field needs
        # to contain at least one RegularHours object".
        if self.twentyfourseven and self.regular_hours:
            raise ValueError("regular_hours must be empty when twentyfourseven is true")
        if not self.twentyfourseven and not self.regular_hours:
            raise ValueError("regular_hours needs at least one entry when twentyfourseven is false")
        return self


UrlText = Annotated[str, StringConstraints(min_length=1, max_length=255, pattern=r"^https?://")]


class BusinessDetails(BaseModel):
    """OCPI 2.2.1 BusinessDetails (without `logo`)."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    website: UrlText | None = None


def _time_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{value!r} is not an IANA time zone (e.g. Europe/Amsterdam)") from None
    return value


TimeZoneText = Annotated[str, StringConstraints(min_length=1, max_length=255), AfterValidator(_time_zone)]


class LocationFields(BaseModel):
    """What an operator says about a location; `last_updated` and the EVSEs (from the charge points' OCPP
    reports) are not given. `country_code`/`party_id` name the CPO party of ours the location belongs to
    (both or neither; default the `[ocpi]` default party)."""

    model_config = ConfigDict(extra="forbid")

    country_code: Annotated[str, StringConstraints(pattern=r"^[A-Za-z]{2}$")] | None = Field(
        default=None, description="one of our parties (`[ocpi]` country_code or extra_parties); default ours"
    )
    party_id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9]{3}$")] | None = Field(
        default=None, description="one of our parties (`[ocpi]` party_id or extra_parties); default ours"
    )
    name: Annotated[str, StringConstraints(min_length=1, max_length=255)] | None = None
    address: Annotated[str, StringConstraints(min_length=1, max_length=45)]
    city: Annotated[str, StringConstraints(min_length=1, max_length=45)]
    postal_code: Annotated[str, StringConstraints(min_length=1, max_length=10)] | None = None
    state: Annotated[str, StringConstraints(min_length=1, max_length=20)] | None = None
    country: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")] = Field(
        description="ISO 3166-1 alpha-3, e.g. NLD"
    )
    coordinates: GeoLocation
    time_zone: TimeZoneText = Field(description="IANA time zone, e.g. Europe/Amsterdam")
    parking_type: ParkingType | None = None
    facilities: Annotated[list[Facility], Field(max_length=20)] = Field(default_factory=list)
    opening_times: Hours | None = None
    operator: BusinessDetails | None = None
    charging_when_closed: bool | None = None
    publish: bool = Field(default=True, description="false: partners never see the location")
    charge_point_ids: Annotated[list[ChargePointIdText], Field(max_length=1000)] = Field(
        default_factory=list,
        description="Registered charge points; their EVSEs are the location's EVSEs. A charge point is in "
        "at most one location.",
    )
    tariff_ids: Annotated[list[OcpiIdText], Field(max_length=10)] = Field(
        default_factory=list,
        description="Existing tariffs (`/tariffs`) for the location's connectors that name none of their "
        "own (a connector's `tariff_ids` win); the one valid when a session starts prices it",
    )

    @field_validator("facilities", "charge_point_ids", "tariff_ids")
    @classmethod
    def _unique(cls, values: list[Any]) -> list[Any]:
        return list(dict.fromkeys(values))


class LocationCreate(LocationFields):
    """Body of `POST /locations`: a new location (OCPI Location without EVSEs), with its id."""

    id: OcpiIdText = Field(description="OCPI Location id: 1-36 of A-Z a-z 0-9 - _ .; never changes")


class LocationReplace(LocationFields):
    """Body of `PUT /locations/{location_id}`: every field again (absent optional fields are cleared);
    `id`, if given, must be the one in the path."""

    id: OcpiIdText | None = None


class ConnectorSpecSet(BaseModel):
    """Body of `PUT /charge-points/{id}/connectors/{evse_id}/{connector_id}/spec`: the OCPI Connector facts
    a station does not report (OCPI 2.2.1 Connector)."""

    model_config = ConfigDict(extra="forbid")

    standard: ConnectorType
    format: ConnectorFormat
    power_type: PowerType
    max_voltage: OcpiInt = Field(description="V (line to neutral for AC_3_PHASE)")
    max_amperage: OcpiInt = Field(description="A")
    max_electric_power: OcpiInt | None = Field(default=None, description="W; when less than V × A × phases")
    tariff_ids: Annotated[list[OcpiIdText], Field(max_length=10)] = Field(
        default_factory=list, description="Existing tariffs (`/tariffs`); one per tariff type"
    )

    @field_validator("tariff_ids")
    @classmethod
    def _unique(cls, values: list[str]) -> list[str]:
        return list(dict.fromkeys(values))


class PriceComponent(BaseModel):
    """OCPI 2.2.1 PriceComponent: `price` per unit of `type`, excluding VAT; `vat` in percent (absent: no
    VAT applies, which is not the same as 0)."""

    model_config = ConfigDict(extra="forbid")

    type: TariffDimensionType
    price: OcpiDecimal
    vat: OcpiDecimal | None = None
    step_size: OcpiInt = Field(description="billing step: Wh for ENERGY, seconds for (PARKING_)TIME")


class TariffRestrictions(BaseModel):
    """OCPI 2.2.1 TariffRestrictions: the element applies only while all of these hold."""

    model_config = ConfigDict(extra="forbid")

    start_time: TimeOfDayText | None = None
    end_time: TimeOfDayText | None = None
    start_date: Annotated[str, StringConstraints(pattern=DATE_PATTERN)] | None = None
    end_date: Annotated[str, StringConstraints(pattern=DATE_PATTERN)] | None = None
    min_kwh: OcpiDecimal | None = None
    max_kwh: OcpiDecimal | None = None
    min_current: OcpiDecimal | None = None
    max_current: OcpiDecimal | None = None
    min_power: OcpiDecimal | None = None
    max_power: OcpiDecimal | None = None
    min_duration: OcpiInt | None = None
    max_duration: OcpiInt | None = None
    day_of_week: Annotated[list[DayOfWeek], Field(max_length=7)] | None = None
    reservation: ReservationRestrictionType | None = None

    @model_validator(mode="after")
    def _ranges(self) -> TariffRestrictions:
        # min is inclusive and max exclusive (OCPI 2.2.1 TariffRestrictions): min ≥ max never applies.
        for name in ("kwh", "current", "power", "duration"):
            low, high = getattr(self, f"min_{name}"), getattr(self, f"max_{name}")
            if low is not None and high is not None and low >= high:
                raise ValueError(f"min_{name} must be less than max_{name}")
        if self.start_date is not None and self.end_date is not None and self.start_date >= self.end_date:
            raise ValueError("start_date must be before end_date")
        return self


class TariffElement(BaseModel):
    """OCPI 2.2.1 TariffElement: price components that apply together under the restrictions."""

    model_config = ConfigDict(extra="forbid")

    price_components: Annotated[list[PriceComponent], Field(min_length=1, max_length=20)]
    restrictions: TariffRestrictions | None = None

    @model_validator(mode="after")
    def _reservation_components(self) -> TariffElement:
        # OCPI 2.2.1 TariffRestrictions.reservation: such an element may only hold FLAT and TIME components.
        if self.restrictions is not None and self.restrictions.reservation is not None:
            for component in self.price_components:
                if component.type not in (TariffDimensionType.FLAT, TariffDimensionType.TIME):
                    raise ValueError("a reservation element may only have FLAT and TIME price components")
        return self


class OcpiPrice(BaseModel):
    """OCPI 2.2.1 Price."""

    model_config = ConfigDict(extra="forbid")

    excl_vat: OcpiDecimal
    incl_vat: OcpiDecimal | None = None


class DisplayText(BaseModel):
    """OCPI 2.2.1 DisplayText."""

    model_config = ConfigDict(extra="forbid")

    language: Annotated[str, StringConstraints(pattern=r"^[a-z]{2}$")] = Field(description="ISO 639-1")
    text: Annotated[str, StringConstraints(min_length=1, max_length=512)]


class EnergySource(BaseModel):
    """OCPI 2.2.1 EnergySource."""

    model_config = ConfigDict(extra="forbid")

    source: EnergySourceCategory
    percentage: Annotated[OcpiDecimal, Field(le=100)]


class EnvironmentalImpact(BaseModel):
    """OCPI 2.2.1 EnvironmentalImpact (g/kWh)."""

    model_config = ConfigDict(extra="forbid")

    category: EnvironmentalImpactCategory
    amount: OcpiDecimal


class EnergyMix(BaseModel):
    """OCPI 2.2.1 EnergyMix."""

    model_config = ConfigDict(extra="forbid")

    is_green_energy: bool
    energy_sources: Annotated[list[EnergySource], Field(max_length=20)] | None = None
    environ_impact: Annotated[list[EnvironmentalImpact], Field(max_length=20)] | None = None
    supplier_name: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = None
    energy_product_name: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = None


class TariffFields(BaseModel):
    """An OCPI 2.2.1 Tariff without what the CSMS owns (`country_code`, `party_id`: ours from `[ocpi]`;
    `last_updated`: set on each change)."""

    model_config = ConfigDict(extra="forbid")

    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")] = Field(description="ISO 4217")
    type: TariffType | None = None
    tariff_alt_text: Annotated[list[DisplayText], Field(max_length=20)] | None = None
    tariff_alt_url: UrlText | None = None
    min_price: OcpiPrice | None = None
    max_price: OcpiPrice | None = None
    elements: Annotated[list[TariffElement], Field(min_length=1, max_length=100)]
    start_date_time: OcpiDateTime | None = None
    end_date_time: OcpiDateTime | None = None
    energy_mix: EnergyMix | None = None

    @model_validator(mode="after")
    def _consistent(self) -> TariffFields:
        if (
            self.start_date_time is not None
            and self.end_date_time is not None
            and self.end_date_time <= self.start_date_time
        ):
            raise ValueError("end_date_time must be after start_date_time")
        if (
            self.min_price is not None
            and self.max_price is not None
            and self.min_price.excl_vat > self.max_price.excl_vat
        ):
            raise ValueError("min_price must not exceed max_price")
        return self

    def ocpi_data(self, tariff_id: str) -> dict[str, Any]:
        """The stored form: the OCPI Tariff object without country_code, party_id and last_updated; absent
        fields left out, numbers as exact decimal text, timestamps in UTC with `Z`."""
        data: dict[str, Any] = self.model_dump(mode="json", exclude_none=True, exclude={"id"})
        return {"id": tariff_id, **data}


class TariffCreate(TariffFields):
    """Body of `POST /tariffs`: a new tariff with its id."""

    id: OcpiIdText = Field(description="OCPI Tariff id: 1-36 of A-Z a-z 0-9 - _ .")


class TariffReplace(TariffFields):
    """Body of `PUT /tariffs/{tariff_id}`: the whole tariff again; `id`, if given, must be the path's."""

    id: OcpiIdText | None = None


class CdrCorrectionBody(BaseModel):
    """`POST /cdrs/{cdr_id}/corrections`: why, and what the replacement CDR is priced with instead of the
    session's own (nothing: the same tariff and energy, priced again)."""

    model_config = ConfigDict(extra="forbid")

    reason: Annotated[str, StringConstraints(min_length=1, max_length=255)] = Field(
        description="why the CDR is corrected; goes into both new CDRs' `remark`"
    )
    tariff_id: OcpiIdText | None = Field(default=None, description="price the replacement with this tariff")
    total_energy_wh: Annotated[int, Field(strict=True, ge=0, le=2**53)] | None = Field(
        default=None, description="the session's corrected energy (Wh)"
    )
