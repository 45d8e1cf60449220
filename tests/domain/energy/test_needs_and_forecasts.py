"""EV needs from OCPP 2.0.1 and OCPI 2.2.1, and forecasts from CSV and the HTTP source's JSON."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from csms.domain.energy.forecasts import ForecastError, parse_carbon_csv, parse_price_csv, parse_source_json
from csms.domain.energy.needs import PreferencesResponse, ProfileType, needs_from_ocpi, needs_from_ocpp


def test_ac_needs_give_energy_departure_and_the_power_range_of_the_phases() -> None:
    """AC three-phase, 6–16 A at 230 V: 4140–11040 W; energyAmount in Wh; departureTime in UTC."""
    needs = needs_from_ocpp(
        {
            "requestedEnergyTransfer": "AC_three_phase",
            "departureTime": "2026-01-01T06:00:00+01:00",
            "acChargingParameters": {
                "energyAmount": 20000,
                "evMinCurrent": 6,
                "evMaxCurrent": 16,
                "evMaxVoltage": 230,
            },
        }
    )
    assert needs.energy_wh == 20000
    assert needs.departure == datetime(2026, 1, 1, 5, tzinfo=UTC)
    assert (needs.min_power_w, needs.max_power_w) == (4140, 11040)


def test_dc_needs_take_ev_max_power() -> None:
    """DC: evMaxPower is the maximum; energyAmount optional."""
    needs = needs_from_ocpp(
        {
            "requestedEnergyTransfer": "DC",
            "dcChargingParameters": {"evMaxCurrent": 200, "evMaxVoltage": 400, "evMaxPower": 50000},
        }
    )
    assert (needs.energy_wh, needs.departure, needs.max_power_w) == (None, None, 50000)


@pytest.mark.parametrize(
    ("body", "answer"),
    [
        (
            {"profile_type": "CHEAP", "departure_time": "2026-01-01T06:00:00Z", "energy_need": 12.5},
            "ACCEPTED",
        ),
        ({"profile_type": "GREEN", "energy_need": 10}, "DEPARTURE_REQUIRED"),
        ({"profile_type": "CHEAP", "departure_time": "2026-01-01T06:00:00Z"}, "ENERGY_NEED_REQUIRED"),
        ({"profile_type": "FAST"}, "ACCEPTED"),
        ({"profile_type": "REGULAR", "discharge_allowed": True}, "NOT_POSSIBLE"),
    ],
)
def test_ocpi_preferences_answers(body: dict[str, object], answer: str) -> None:
    """CHEAP and GREEN need a departure and an energy need; V2G is not possible; FAST needs neither."""
    needs, response = needs_from_ocpi(body)
    assert response is PreferencesResponse(answer)
    assert (needs is not None) == (answer == "ACCEPTED")


def test_ocpi_energy_need_is_kept_in_wh() -> None:
    """energy_need 12.5 kWh is 12500 Wh; the profile type is kept."""
    needs, _ = needs_from_ocpi(
        {"profile_type": "CHEAP", "departure_time": "2026-01-01T06:00:00Z", "energy_need": 12.5}
    )
    assert needs is not None and needs.energy_wh == 12500 and needs.profile_type is ProfileType.CHEAP


def test_unknown_profile_type_is_an_error() -> None:
    """A profile_type outside the OCPI enum raises ValueError (the receiver answers it)."""
    with pytest.raises(ValueError):
        needs_from_ocpi({"profile_type": "SOLAR"})


def test_price_csv_is_parsed_sorted() -> None:
    """Lines in any order come back sorted by start, prices exact."""
    points = parse_price_csv(
        "start,end,price\n2026-01-01T01:00:00Z,2026-01-01T02:00:00Z,0.10\n2026-01-01T00:00:00Z,2026-01-01T01:00:00Z,0.3\n"
    )
    assert [p.price_per_kwh for p in points] == [Decimal("0.3"), Decimal("0.10")]


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("start,end,price\n", "at least one interval"),
        (
            "s,e,v\n2026-01-01T00:00:00Z,2026-01-01T02:00:00Z,1\n2026-01-01T01:00:00Z,2026-01-01T03:00:00Z,1\n",
            "overlap",
        ),
        ("s,e,v\n2026-01-01T00:00:00Z,2026-01-01T01:00:00Z,abc\n", "line 2"),
        ("s,e,v\n2026-01-01T01:00:00Z,2026-01-01T00:00:00Z,1\n", "end is not after start"),
        ("s,e,v\n2026-01-01T00:00:00,2026-01-01T01:00:00Z,1\n", "UTC offset"),
    ],
)
def test_bad_price_csv_says_why(text: str, reason: str) -> None:
    """Malformed uploads raise ForecastError naming the problem."""
    with pytest.raises(ForecastError, match=reason):
        parse_price_csv(text)


def test_carbon_csv_takes_integers_only() -> None:
    """Carbon intensity is integer gCO2/kWh: 120.5 is refused."""
    with pytest.raises(ForecastError, match="integer"):
        parse_carbon_csv("s,e,v\n2026-01-01T00:00:00Z,2026-01-01T01:00:00Z,120.5\n")


def test_source_json_gives_both_series() -> None:
    """The HTTP source's JSON: currency, prices (string or number) and carbon intensity."""
    forecast = parse_source_json(
        "LOC1",
        {
            "currency": "EUR",
            "prices": [
                {"start": "2026-01-01T00:00:00Z", "end": "2026-01-01T01:00:00Z", "price_per_kwh": "0.25"}
            ],
            "carbon_intensity": [
                {"start": "2026-01-01T00:00:00Z", "end": "2026-01-01T01:00:00Z", "g_co2_per_kwh": 80}
            ],
        },
    )
    assert forecast.currency == "EUR"
    assert forecast.price_at(datetime(2026, 1, 1, 0, 30, tzinfo=UTC)) == Decimal("0.25")
    assert forecast.carbon_at(datetime(2026, 1, 1, 0, 30, tzinfo=UTC)) == 80


def test_source_json_prices_need_a_currency() -> None:
    """Prices without a currency are refused."""
    with pytest.raises(ForecastError, match="currency"):
        parse_source_json(
            "L",
            {
                "prices": [
                    {"start": "2026-01-01T00:00:00Z", "end": "2026-01-01T01:00:00Z", "price_per_kwh": 1}
                ]
            },
        )
