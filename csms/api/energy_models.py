"""Response bodies of the energy-aware charging routes: site forecasts and a session's schedule."""

from __future__ import annotations

from typing import Literal

from csms.api.models import DecimalText, NonNegative, ResponseModel, Timestamp


class PriceInterval(ResponseModel):
    """The energy price over [start, end), per kWh in the forecast's currency."""

    start: Timestamp
    end: Timestamp
    price_per_kwh: DecimalText


class EnergyPrices(ResponseModel):
    """A site's energy price forecast in use (`items` empty: none imported)."""

    location_id: str
    currency: str | None
    updated_at: Timestamp | None
    items: list[PriceInterval]


class CarbonInterval(ResponseModel):
    """The grid's carbon intensity over [start, end), gCO2/kWh."""

    start: Timestamp
    end: Timestamp
    g_co2_per_kwh: NonNegative


class CarbonIntensity(ResponseModel):
    """A site's carbon intensity forecast in use (`items` empty: none imported)."""

    location_id: str
    updated_at: Timestamp | None
    items: list[CarbonInterval]


class ForecastImported(ResponseModel):
    """What an upload replaced: how many intervals, and how many sessions were planned again."""

    location_id: str
    intervals: NonNegative
    sessions_replanned: NonNegative


class ScheduleInterval(ResponseModel):
    """Planned power over [start, end) and the energy, cost (null: no price) and carbon expected."""

    start: Timestamp
    end: Timestamp
    power_w: NonNegative
    energy_wh: NonNegative
    price_per_kwh: DecimalText | None
    g_co2_per_kwh: NonNegative | None
    cost: DecimalText | None
    carbon_g: NonNegative | None


class SessionNeeds(ResponseModel):
    """The session's target as stated by the EV (ocpp) or the driver (ocpi)."""

    source: Literal["ocpp", "ocpi"]
    energy_wh: NonNegative | None
    departure_time: Timestamp | None
    min_power_w: NonNegative | None
    max_power_w: NonNegative | None
    profile_type: Literal["CHEAP", "FAST", "GREEN", "REGULAR"] | None


class SessionSchedule(ResponseModel):
    """A session's planned schedule: per interval, totals, whether the target is met, and what the station
    said to the TxProfile (null: not sent). `reason` says why there is no plan (no_departure,
    no_energy_need)."""

    session_id: int
    location_id: str | None
    needs: SessionNeeds
    objective: Literal["cost", "carbon", "fast"] | None
    target_met: bool | None
    energy_wh: NonNegative
    cost: DecimalText | None
    currency: str | None
    carbon_g: NonNegative
    intervals: list[ScheduleInterval]
    reason: str | None
    station_status: str | None
