"""The `charge_price_request` body (Chargeprice API, JSON:API) read into an `EstimateRequest`.

Every number is read as Decimal. What the body may not be, each a `RequestError` naming the field:
not the documented shape (400), neither `energy` + `duration` nor a vehicle + `battery_range`, or both, or
one half of a pair only (400), a negative figure, a duration of 0 with energy, or a `battery_range` not
within 0..100 ascending (400), a currency not among the euro foreign exchange reference rates' (404, as the
Chargeprice API answers).
Options the API documents but a CPO has nothing to apply to (`provider_customer_tariffs`, `foreign_tariffs`,
`show_all_brand_restricted_tariffs`) are accepted and ignored.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ocpi.chargeprice.vehicles import PLUGS

# The currencies of the ECB euro foreign exchange reference rates (the list the Chargeprice API names), and
# EUR itself.
CURRENCIES = frozenset(
    "EUR USD JPY BGN CZK DKK GBP HUF PLN RON SEK CHF ISK NOK TRY AUD BRL CAD CNY HKD IDR ILS INR KRW MXN MYR "
    "NZD PHP SGD THB ZAR".split()
)

NonNegative = Annotated[Decimal, Field(ge=0, allow_inf_nan=False)]


class RequestError(Exception):
    """A request the API refuses: HTTP `status`, JSON:API `code`, and a `title` naming the field."""

    def __init__(self, status: int, code: str, title: str) -> None:
        super().__init__(title)
        self.status, self.code, self.title = status, code, title

    def to_json(self) -> dict[str, Any]:
        """The JSON:API error document `{"errors": [{"status", "code", "title"}]}`."""
        return {"errors": [{"status": str(self.status), "code": self.code, "title": self.title}]}


def bad_request(title: str) -> RequestError:
    """A 400 BAD_REQUEST."""
    return RequestError(400, "BAD_REQUEST", title)


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class ChargePointIn(_Model):
    power: Annotated[Decimal, Field(gt=0, allow_inf_nan=False)]
    plug: str

    @field_validator("plug")
    @classmethod
    def _known_plug(cls, value: str) -> str:
        plug = value.strip().lower()  # other data adapters spell them "CCS", "Type2", ...
        if plug not in PLUGS:
            raise ValueError(f"must be one of {', '.join(sorted(PLUGS))}")
        return plug


class StationIn(_Model):
    longitude: Decimal
    latitude: Decimal
    country: str
    network: str
    charge_points: Annotated[list[ChargePointIn], Field(min_length=1)]


class OptionsIn(_Model):
    energy: NonNegative | None = None
    duration: NonNegative | None = None
    battery_range: Annotated[list[NonNegative], Field(min_length=2, max_length=2)] | None = None
    car_ac_phases: Literal[1, 3] = 3
    allow_unbalanced_load: bool = False
    currency: str = "EUR"
    start_time: Annotated[int, Field(ge=0, le=1439)] = 720
    max_monthly_fees: NonNegative | None = None
    show_price_unavailable: bool = False


class AttributesIn(_Model):
    data_adapter: str
    station: StationIn
    options: OptionsIn


class TariffRef(_Model):
    id: str
    type: Literal["tariff"]


class TariffsMeta(_Model):
    include: Literal["filter", "always", "exclusive"] = "filter"


class TariffsIn(_Model):
    data: list[TariffRef]
    meta: TariffsMeta = TariffsMeta()


class VehicleRef(_Model):
    id: str
    type: Literal["car"]


class VehicleIn(_Model):
    data: VehicleRef


class RelationshipsIn(_Model):
    tariffs: TariffsIn | None = None
    vehicle: VehicleIn | None = None


class DataIn(_Model):
    type: Literal["charge_price_request"]
    attributes: AttributesIn
    relationships: RelationshipsIn = RelationshipsIn()


class BodyIn(_Model):
    data: DataIn


@dataclass(frozen=True, slots=True)
class EstimateRequest:
    """A valid request: the station, either `energy_kwh` + `duration_min` or `vehicle_id` + `soc_window`,
    the tariff selection (`tariff_ids` None: all) and the options."""

    station: StationIn
    options: OptionsIn
    energy_kwh: Decimal | None
    duration_min: Decimal | None
    vehicle_id: str | None
    soc_window: tuple[Decimal, Decimal] | None
    tariff_ids: tuple[str, ...] | None
    include: str
    currency: str
    data_adapter: str


def _field(loc: tuple[int | str, ...]) -> str:
    path = [str(part) for part in loc]
    for prefix in (["data", "attributes"], ["data"]):
        if path[: len(prefix)] == prefix and len(path) > len(prefix):
            return ".".join(path[len(prefix) :])
    return ".".join(path) or "body"


def _charge_input(options: OptionsIn, vehicle: VehicleIn | None) -> None:
    """Exactly one of energy + duration and vehicle + battery_range, each pair complete."""
    by_energy = options.energy is not None or options.duration is not None
    by_vehicle = options.battery_range is not None or vehicle is not None
    if by_energy and by_vehicle:
        raise bad_request(
            "options.energy and options.duration cannot be given with relationships.vehicle and "
            "options.battery_range"
        )
    if not by_energy and not by_vehicle:
        raise bad_request(
            "options.energy and options.duration are missing (or relationships.vehicle and "
            "options.battery_range)"
        )
    for present, missing in (
        (options.energy is None, "options.energy"),
        (options.duration is None, "options.duration"),
    ):
        if by_energy and present:
            raise bad_request(f"{missing} is missing")
    if by_vehicle and vehicle is None:
        raise bad_request("relationships.vehicle is missing (options.battery_range needs a vehicle)")
    if by_vehicle and options.battery_range is None:
        raise bad_request("options.battery_range is missing (a vehicle needs a battery range)")
    if options.duration == 0 and options.energy:  # no time to charge in: the engine would bill no energy
        raise bad_request("options.duration must be above 0 when options.energy is")
    window = options.battery_range
    if window is not None and not window[0] < window[1] <= 100:
        raise bad_request("options.battery_range must be [start %, end %] with 0 <= start < end <= 100")


def parse_request(body: object) -> EstimateRequest:
    """The request in `body` (parsed JSON).

    Raises:
        RequestError: 400 BAD_REQUEST naming the field at fault; 404 NOT_FOUND for an unknown currency.
    """
    try:
        data = BodyIn.model_validate(body).data
    except ValidationError as exc:
        first = exc.errors()[0]
        raise bad_request(f"{_field(first['loc'])}: {first['msg']}") from None
    options, relationships = data.attributes.options, data.relationships
    _charge_input(options, relationships.vehicle)
    currency = options.currency.strip().upper()
    if currency not in CURRENCIES:
        raise RequestError(404, "NOT_FOUND", f"No currency with iso {options.currency}")
    window = options.battery_range
    tariffs = relationships.tariffs
    return EstimateRequest(
        station=data.attributes.station,
        options=options,
        energy_kwh=options.energy,
        duration_min=options.duration,
        vehicle_id=relationships.vehicle.data.id if relationships.vehicle is not None else None,
        soc_window=(window[0], window[1]) if window is not None else None,
        tariff_ids=tuple(ref.id for ref in tariffs.data) if tariffs is not None else None,
        include=tariffs.meta.include if tariffs is not None else "filter",
        currency=currency,
        data_adapter=data.attributes.data_adapter,
    )
