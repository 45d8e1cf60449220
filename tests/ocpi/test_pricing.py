"""The pricing engine (csms/domain/pricing.py) against the digest's check and the official tariff examples."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from csms.domain.pricing import (
    ENERGY,
    PARKING_TIME,
    TIME,
    EnergyProfile,
    EnergyReading,
    Price,
    SessionCost,
    TariffError,
    choose_tariff,
    decimal_number,
    energy_profile,
    parse_tariff,
    price_session,
    quantize,
    uses_energy_profile,
)

EXAMPLES = Path("/work/shared/ocpi-examples")
AMS = ZoneInfo("Europe/Amsterdam")
MONDAY = datetime(2024, 5, 6, 10, 0, tzinfo=UTC)  # a Monday


def tariff_example(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((EXAMPLES / name).read_text(encoding="utf-8"))
    return data


def price(excl: str, incl: str) -> Price:
    return Price(Decimal(excl), Decimal(incl))


def local(year: int, month: int, day: int, hour: int, minute: int, second: int = 0) -> datetime:
    """A wall-clock time in Amsterdam."""
    return datetime(year, month, day, hour, minute, second, tzinfo=AMS)


def run(name: str, **kwargs: Any) -> SessionCost:
    kwargs.setdefault("start", MONDAY)
    return price_session(parse_tariff(tariff_example(name)), **kwargs)


def dims(cost: SessionCost) -> list[dict[str, Decimal]]:
    """Each charging period's dimensions, volumes rounded to 4 decimals."""
    return [{k: quantize(v) for k, v in p.dimensions} for p in cost.charging_periods]


def test_digest_check_flat_plus_energy() -> None:
    """€0.50 FLAT @20% + €0.25/kWh @10% for 20 kWh costs 5.50 excl. and 6.10 incl. VAT (digest check)."""
    cost = run("tariff_9_025kwh_start.json", end=MONDAY + timedelta(hours=2), energy_wh=20_000)
    assert cost.total == price("5.5", "6.1")
    assert cost.fixed == price("0.5", "0.6") and cost.energy == price("5", "5.5")
    assert cost.time.is_zero() and cost.parking.is_zero()
    assert cost.total.to_ocpi() == {"excl_vat": 5.5, "incl_vat": 6.1}
    assert cost.total_energy_kwh == Decimal(20) and cost.total_time_hours == Decimal(2)
    assert [p.tariff_id for p in cost.charging_periods] == ["17"]
    assert dims(cost) == [{ENERGY: Decimal(20), TIME: Decimal(2)}]


def test_time_tariff_rounds_total_time_to_its_step() -> None:
    """tariff_1 (€2/h @10%, 60 s steps): 1 h 30 min 20 s is billed as 1 h 31 min = 3.0333 / 3.3367,
    3.03 / 3.34 to the cent."""
    cost = run("tariff_1_simple_2hour.json", end=MONDAY + timedelta(seconds=5420), energy_wh=7_000)
    assert cost.total == price("3.03", "3.34")
    # The periods report what was measured, not the rounded billing volume.
    assert dims(cost) == [{ENERGY: Decimal(7), TIME: Decimal("1.5056")}]


def test_energy_step_rounds_the_session_total_once() -> None:
    """4.3 kWh + 1.1 kWh under two elements with 500 Wh steps is billed 5.5 kWh, the extra 0.1 kWh at the
    last element's price (d2: never round at element switches)."""
    tariff = parse_tariff(
        {
            "id": "T",
            "currency": "EUR",
            "elements": [
                {
                    "price_components": [{"type": "ENERGY", "price": 0.20, "step_size": 500}],
                    "restrictions": {"end_time": "11:00"},
                },
                {"price_components": [{"type": "ENERGY", "price": 0.30, "step_size": 500}]},
            ],
        }
    )
    start = datetime(2024, 5, 6, 10, 0, tzinfo=UTC)
    cost = price_session(
        tariff,
        start=start,
        end=start + timedelta(hours=2),
        energy_wh=5_400,
        readings=[EnergyReading(start + timedelta(hours=1), Decimal(4_300))],
        time_zone="UTC",
    )
    # 4.3 × 0.20 + (1.1 + 0.1) × 0.30 = 0.86 + 0.36
    assert cost.energy == price("1.22", "1.22") and cost.total == cost.energy
    assert dims(cost) == [
        {ENERGY: Decimal("4.3"), TIME: Decimal(1)},
        {ENERGY: Decimal("1.1"), TIME: Decimal(1)},
    ]


def test_min_price_raises_a_small_session() -> None:
    """tariff_12 (€0.25/kWh, min €0.50 / €0.55): 1 kWh costs the minimum, excl. and incl. clamped apart."""
    cost = run("tariff_12_025kwh_min_price.json", end=MONDAY + timedelta(minutes=10), energy_wh=1_000)
    assert cost.energy == price("0.25", "0.28")  # 0.275 to the cent
    assert cost.total == price("0.5", "0.55")


def test_max_price_caps_a_large_session() -> None:
    """tariff_6 (start €0.50 + €0.25/kWh, max €10 / €11): 50 kWh is capped at the maximum."""
    cost = run("tariff_6_025kwh_start_max_price.json", end=MONDAY + timedelta(hours=5), energy_wh=50_000)
    assert cost.fixed + cost.energy == price("13", "14.35")
    assert cost.total == price("10", "11")


def test_free_tariff_costs_nothing() -> None:
    """tariff_5 (FLAT 0, no VAT): a session is free and still has its charging period."""
    cost = run("tariff_5_free_of_charge.json", end=MONDAY + timedelta(hours=1), energy_wh=11_000)
    assert cost.total.is_zero()
    assert dims(cost) == [{ENERGY: Decimal(11), TIME: Decimal(1)}]


def test_parking_after_charging_rounds_only_parking() -> None:
    """tariff_13 (€3/h charging, 60 s steps; €5/h parking, 300 s steps): 1 h 0 min 30 s charging and
    10 min 1 s parking bill the charging time as is and the parking as 15 min."""
    end_of_charging = MONDAY + timedelta(seconds=3630)
    cost = run(
        "tariff_13_simple_3hour_5parking.json",
        end=end_of_charging + timedelta(seconds=601),
        energy_wh=11_000,
        charging_end=end_of_charging,
    )
    assert cost.time == price("3.03", "3.33")  # 3630 s × €3/h = 3.025 / 3.3275, not rounded to 3660 s
    assert cost.parking == price("1.25", "1.5")  # 900 s × €5/h
    assert cost.total == price("4.28", "4.83")  # the sum of the rounded parts
    assert quantize(cost.total_parking_hours) == Decimal("0.1669")
    assert dims(cost) == [
        {ENERGY: Decimal(11), TIME: Decimal("1.0083")},
        {PARKING_TIME: Decimal("0.1669")},
    ]
    assert cost.charging_periods[1].start == end_of_charging


def test_flat_energy_and_parking() -> None:
    """tariff_10 (start €0.50 @20%, €0.25/kWh @10%, parking €2/h @20% in 15 min steps) adds up all three."""
    cost = run(
        "tariff_10_025kwh_parking_start.json",
        end=MONDAY + timedelta(hours=2, minutes=5),
        energy_wh=10_000,
        charging_end=MONDAY + timedelta(hours=2),
    )
    assert cost.fixed == price("0.5", "0.6")
    assert cost.energy == price("2.5", "2.75")
    assert cost.parking == price("0.5", "0.6")  # 5 min rounded to 15 min
    assert cost.total == price("3.5", "3.95")


def test_time_of_day_elements_switch_at_local_boundaries() -> None:
    """tariff_14 (no VAT): 16:50–17:10:20 in Amsterdam bills 10 min at €1.20/h and the rest at €2.40/h,
    total TIME rounded up to the last component's 15 min step (extra to the last period)."""
    cost = run(
        "tariff_14_step_size.json",
        start=local(2024, 5, 6, 16, 50),
        end=local(2024, 5, 6, 17, 10, 20),
        energy_wh=2_000,
        time_zone="Europe/Amsterdam",
    )
    # 600 s × 1.20/h + (620 s + 580 s extra) × 2.40/h
    assert cost.time == price("1", "1")
    assert [p.start for p in cost.charging_periods] == [local(2024, 5, 6, 16, 50), local(2024, 5, 6, 17, 0)]
    assert all(p.tariff_id == "22" for p in cost.charging_periods)


def test_time_restriction_wrapping_past_midnight() -> None:
    """tariff_14's 20:00–00:00 element applies until midnight, then the 00:00–17:00 element does; with one
    extra second the last element's 30 min step rounds the total up."""
    cost = run(
        "tariff_14_step_size.json",
        start=local(2024, 5, 6, 23, 30),
        end=local(2024, 5, 7, 0, 30, 1),
        energy_wh=5_000,
        time_zone="Europe/Amsterdam",
    )
    # 30 min × 2.40 + (30 min 1 s → rounded with 1800 s step: total 3601 s → 5400 s; extra 1799 s) × 1.20
    expected = Decimal(1800) * Decimal("2.40") / 3600 + Decimal(1801 + 1799) * Decimal("1.20") / 3600
    assert cost.time.excl_vat == quantize(expected)
    assert len(cost.charging_periods) == 2


def test_complex_tariff_days_and_parking_windows() -> None:
    """tariff_4: FLAT €2.50 @15%, TIME by the first element (current restrictions are not measured, so they
    do not exclude), weekday parking 09:00–18:00 at €5/h, Saturday 10:00–17:00 at €6/h, Sunday free."""
    tariff = parse_tariff(tariff_example("tariff_4_complex.json"))
    monday = local(2024, 5, 6, 10, 0)
    cost = price_session(
        tariff,
        start=monday,
        end=monday + timedelta(hours=1, minutes=20),
        energy_wh=10_000,
        charging_end=monday + timedelta(hours=1),
        time_zone=AMS,
    )
    assert cost.fixed == price("2.5", "2.88")  # 2.875 to the cent
    assert cost.time == price("1", "1.2")
    assert cost.parking == price("1.67", "1.83")  # 1.6667 / 1.8333
    assert cost.total == price("5.17", "5.91")

    saturday = local(2024, 5, 11, 11, 0)
    cost = price_session(
        tariff,
        start=saturday,
        end=saturday + timedelta(hours=1, minutes=30),
        energy_wh=10_000,
        charging_end=saturday + timedelta(hours=1),
        time_zone=AMS,
    )
    assert cost.parking == price("3", "3.3")

    sunday = local(2024, 5, 12, 11, 0)
    cost = price_session(
        tariff,
        start=sunday,
        end=sunday + timedelta(hours=1, minutes=30),
        energy_wh=10_000,
        charging_end=sunday + timedelta(hours=1),
        time_zone=AMS,
    )
    assert cost.parking.is_zero()
    assert dims(cost)[-1] == {PARKING_TIME: Decimal("0.5")}


def test_max_duration_elements_price_energy_by_session_age() -> None:
    """The official max_duration example: energy is free for 30 min, €0.25/kWh until 1 h, then €0.40."""
    cost = run(
        "tariffrestriction_example_max_duration.json",
        end=MONDAY + timedelta(minutes=90),
        energy_wh=30_000,  # evenly: 10 kWh per half hour
    )
    assert cost.energy == price("6.5", "7.8")
    assert [p.start - MONDAY for p in cost.charging_periods] == [
        timedelta(0),
        timedelta(minutes=30),
        timedelta(minutes=60),
    ]
    assert [d[ENERGY] for d in dims(cost)] == [Decimal(10)] * 3


def test_max_power_elements_use_average_power_between_readings() -> None:
    """The official max_power example: 20 kW in the first hour (below 32 kW: €0.35) and 10 kW in the second
    (below 16 kW: €0.20), from the meter readings."""
    cost = run(
        "tariffrestriction_example_max_power.json",
        end=MONDAY + timedelta(hours=2),
        energy_wh=30_000,
        readings=[EnergyReading(MONDAY + timedelta(hours=1), Decimal(20_000))],
    )
    assert cost.energy == price("9", "10.8")
    assert len(cost.charging_periods) == 2


def test_kwh_restrictions_split_where_the_energy_crosses() -> None:
    """min/max_kwh count the session's cumulative energy: the first 10 kWh at €0.30, the rest at €0.20."""
    tariff = parse_tariff(
        {
            "id": "K",
            "currency": "EUR",
            "elements": [
                {
                    "price_components": [{"type": "ENERGY", "price": "0.30", "vat": 21, "step_size": 1}],
                    "restrictions": {"max_kwh": 10},
                },
                {
                    "price_components": [{"type": "ENERGY", "price": "0.20", "vat": 21, "step_size": 1}],
                    "restrictions": {"min_kwh": 10},
                },
            ],
        }
    )
    cost = price_session(
        tariff,
        start=MONDAY,
        end=MONDAY + timedelta(hours=2),
        energy_wh=15_000,
        readings=[EnergyReading(MONDAY + timedelta(hours=1), Decimal(12_000))],
    )
    assert cost.energy == price("4", "4.84")
    # 10 kWh are reached 50 minutes in (12 kWh in the first hour).
    assert cost.charging_periods[1].start == MONDAY + timedelta(minutes=50)
    assert [d[ENERGY] for d in dims(cost)] == [Decimal(10), Decimal(5)]


@pytest.mark.parametrize(
    "name",
    [
        "tariff_15_reservation_5_euro_per_hour.json",
        "tariff_16_reservation_2_euro_fee_5_euro_per_hour.json",
        "tariff_17_reservation_with_expire_fee.json",
        "tariff_18_reservation_with_expire_time.json",
    ],
)
def test_reservation_elements_do_not_price_charging(name: str) -> None:
    """Elements restricted to reservations are skipped: 10 kWh cost €0.50 + 10 × €0.25 = 3.00 / 3.35."""
    cost = run(name, end=MONDAY + timedelta(hours=1), energy_wh=10_000)
    assert cost.total == price("3", "3.35")
    assert cost.time.is_zero()


def test_alt_text_tariffs_price_by_their_elements() -> None:
    """tariff_2 and tariff_11 (alt text, VAT 5.2%) price by their elements: TIME in 5 min steps."""
    cost = run("tariff_2_alt_text.json", end=MONDAY + timedelta(minutes=61), energy_wh=1)
    assert cost.total == price("2.06", "2.17")  # 65 min × €1.90/h = 2.0583; × 1.052 = 2.1654
    cost = run("tariff_11_not_possible_alt_text.json", end=MONDAY + timedelta(minutes=60), energy_wh=1)
    assert cost.total == price("2.3", "2.5")  # 0.40 × 1.25 = 0.50, + 1.90 × 1.052 = 1.9988 → 2.00


def test_energy_step_of_100_wh() -> None:
    """tariff_3 (€0.25/kWh in 100 Wh steps): 7.01 kWh is billed as 7.1 kWh."""
    cost = run("tariff_3_alt_url.json", end=MONDAY + timedelta(hours=1), energy_wh=7_010)
    assert cost.energy == price("1.78", "1.95")  # 1.775 / 1.9525 to the cent


def test_day_of_week_uses_the_local_calendar() -> None:
    """A weekend-only element applies by the location's local day, switching at local midnight."""
    tariff = parse_tariff(
        {
            "id": "W",
            "currency": "EUR",
            "elements": [
                {
                    "price_components": [{"type": "TIME", "price": 1, "step_size": 1}],
                    "restrictions": {"day_of_week": ["SATURDAY", "SUNDAY"]},
                },
                {"price_components": [{"type": "TIME", "price": 3, "step_size": 1}]},
            ],
        }
    )
    # Sunday 23:00 → Monday 01:00 in Amsterdam (21:00 → 23:00 UTC: Sunday in UTC all along).
    cost = price_session(
        tariff, start=local(2024, 5, 12, 23, 0), end=local(2024, 5, 13, 1, 0), energy_wh=0, time_zone=AMS
    )
    assert cost.time == price("4", "4")
    assert [p.start for p in cost.charging_periods] == [local(2024, 5, 12, 23, 0), local(2024, 5, 13, 0, 0)]


def test_start_and_end_dates_are_local_and_end_exclusive() -> None:
    """A start_date/end_date element applies from its first day up to (not including) its end day."""
    tariff = parse_tariff(
        {
            "id": "D",
            "currency": "EUR",
            "elements": [
                {
                    "price_components": [{"type": "ENERGY", "price": 0, "step_size": 1}],
                    "restrictions": {"start_date": "2024-05-06", "end_date": "2024-05-07"},
                },
                {"price_components": [{"type": "ENERGY", "price": 1, "step_size": 1}]},
            ],
        }
    )
    cost = price_session(
        tariff, start=local(2024, 5, 6, 23, 0), end=local(2024, 5, 7, 1, 0), energy_wh=2_000, time_zone=AMS
    )
    assert cost.energy == price("1", "1")


def test_zero_length_session_charges_flat_only() -> None:
    """A session that ends when it starts still pays its FLAT fee and has one period."""
    cost = run("tariff_9_025kwh_start.json", end=MONDAY, energy_wh=0)
    assert cost.total == price("0.5", "0.6")
    assert len(cost.charging_periods) == 1


def test_without_tariff_the_session_is_measured_but_free() -> None:
    """No tariff: zero cost, one charging period and one parking period with their volumes."""
    cost = price_session(
        None,
        start=MONDAY,
        end=MONDAY + timedelta(hours=2),
        energy_wh=Decimal(12_345),
        charging_end=MONDAY + timedelta(hours=1, minutes=30),
    )
    assert cost.total.is_zero() and cost.tariff_id is None
    assert dims(cost) == [{ENERGY: Decimal("12.345"), TIME: Decimal("1.5")}, {PARKING_TIME: Decimal("0.5")}]


def test_readings_outside_the_session_or_backwards_are_ignored() -> None:
    """Readings before the start, after the end of charging or lower than an earlier one do not bend the
    energy curve backwards or past the total."""
    cost = price_session(
        None,
        start=MONDAY,
        end=MONDAY + timedelta(hours=2),
        energy_wh=10_000,
        readings=[
            EnergyReading(MONDAY - timedelta(hours=1), Decimal(500)),
            EnergyReading(MONDAY + timedelta(minutes=30), Decimal(6_000)),
            EnergyReading(MONDAY + timedelta(minutes=45), Decimal(5_000)),
            EnergyReading(MONDAY + timedelta(hours=3), Decimal(99_000)),
        ],
    )
    assert cost.total_energy_kwh == Decimal(10)
    assert dims(cost) == [{ENERGY: Decimal(10), TIME: Decimal(2)}]


def test_unknown_time_zone_is_an_error() -> None:
    """Pricing with a time zone that does not exist raises ValueError."""
    with pytest.raises(ValueError, match="time zone"):
        price_session(None, start=MONDAY, end=MONDAY, energy_wh=0, time_zone="Mars/Olympus")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"id": "x"}, "elements"),
        ({"elements": [{"price_components": []}]}, "price_components"),
        ({"elements": [{"price_components": [{"type": "KWH", "price": 1, "step_size": 1}]}]}, "type"),
        ({"elements": [{"price_components": [{"type": "FLAT", "step_size": 1}]}]}, "price"),
        ({"elements": [{"price_components": [{"type": "FLAT", "price": "x", "step_size": 1}]}]}, "number"),
        ({"elements": [{"price_components": [{"type": "TIME", "price": 1, "step_size": 1.5}]}]}, "integer"),
        ({"elements": [{"price_components": [{"type": "TIME", "price": 1, "step_size": -1}]}]}, "negative"),
        (
            {
                "elements": [
                    {
                        "price_components": [{"type": "TIME", "price": 1, "step_size": 1}],
                        "restrictions": {"start_time": "25h"},
                    }
                ]
            },
            "HH:MM",
        ),
        (
            {
                "elements": [
                    {
                        "price_components": [{"type": "TIME", "price": 1, "step_size": 1}],
                        "restrictions": {"day_of_week": ["MONTAG"]},
                    }
                ]
            },
            "day_of_week",
        ),
        ({"elements": [{"price_components": [{"type": "FLAT", "price": 1}]}], "min_price": 3}, "min_price"),
        (
            {"elements": [{"price_components": [{"type": "FLAT", "price": 1}]}], "end_date_time": "soon"},
            "DateTime",
        ),
    ],
)
def test_malformed_tariffs_are_rejected(data: dict[str, Any], message: str) -> None:
    """parse_tariff raises TariffError naming what is wrong."""
    with pytest.raises(TariffError, match=message):
        parse_tariff(data)


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("tariff*.json")), ids=lambda p: p.name)
def test_every_official_tariff_parses(path: Path) -> None:
    """Every official tariff example parses, with Decimal prices equal to the JSON text."""
    data = json.loads(path.read_text(encoding="utf-8"))
    tariff = parse_tariff(data)
    assert tariff.id == data["id"] and tariff.currency == "EUR"
    first = data["elements"][0]["price_components"][0]
    assert tariff.elements[0].components[0].price == Decimal(str(first["price"]))


def test_choose_tariff_prefers_a_valid_regular_tariff() -> None:
    """choose_tariff skips tariffs not valid at the start and prefers REGULAR (or untyped) ones."""
    expired = parse_tariff(tariff_example("tariff_6_025kwh_start_max_price.json"))  # ends mid-2019
    ad_hoc = parse_tariff(tariff_example("tariff_2_alt_text.json"))
    regular = parse_tariff(tariff_example("tariff_4_complex.json"))
    assert expired.valid_at(datetime(2019, 6, 30, tzinfo=UTC))
    assert not expired.valid_at(datetime(2019, 7, 1, tzinfo=UTC))
    assert choose_tariff([expired, ad_hoc, regular], MONDAY) is regular
    assert choose_tariff([expired, ad_hoc], MONDAY) is ad_hoc
    assert choose_tariff([expired], MONDAY) is None
    future = parse_tariff(
        {**tariff_example("tariff_1_simple_2hour.json"), "start_date_time": "2030-01-01T00:00:00Z"}
    )
    assert not future.valid_at(MONDAY)


def test_decimal_number_writes_at_most_four_decimals() -> None:
    """decimal_number rounds half up to 4 decimals and returns ints for whole numbers."""
    assert decimal_number(Decimal("5.5000")) == 5.5
    assert decimal_number(Decimal("6")) == 6 and isinstance(decimal_number(Decimal("6.00001")), int)
    assert decimal_number(Decimal("0.33335")) == 0.3334
    assert decimal_number(Decimal("-1.23456")) == -1.2346


# -- the energy profile: bisect lookups -------------------------------------------------------------


def linear_energy_at(points: list[tuple[Decimal, Decimal]], t: Decimal) -> Decimal:
    """The reference: the first segment (in order) that ends at or after `t`, interpolated."""
    if t <= points[0][0]:
        return points[0][1]
    for (t0, e0), (t1, e1) in zip(points, points[1:], strict=False):
        if t <= t1:
            return e1 if t1 == t0 else e0 + (e1 - e0) * (t - t0) / (t1 - t0)
    return points[-1][1]


def linear_time_at(points: list[tuple[Decimal, Decimal]], wh: Decimal) -> Decimal | None:
    """The reference: the first segment (in order) whose energy passes `wh`, interpolated."""
    if wh <= points[0][1]:
        return None
    for (t0, e0), (t1, e1) in zip(points, points[1:], strict=False):
        if e0 < wh <= e1:
            return t0 + (wh - e0) * (t1 - t0) / (e1 - e0)
    return None


@pytest.mark.parametrize("seed", range(20))
def test_profile_bisect_agrees_with_a_linear_scan(seed: int) -> None:
    """`EnergyProfile.energy_at` / `time_at` (bisect) give exactly what a linear scan gives, on profiles as
    `energy_profile` builds them — flat stretches, equal instants (a zero-length charge), plateaus — at every
    point, between points, before the start and past the end."""
    rng = random.Random(seed)
    start = MONDAY
    charge_seconds = Decimal(rng.choice([0, 1, 60, 3600, 7200]))
    total = Decimal(rng.choice([0, 1, 500, 30_000]))
    readings = [
        EnergyReading(start + timedelta(seconds=rng.randint(-60, 7300)), Decimal(rng.randint(0, 31_000)))
        for _ in range(rng.randint(0, 40))
    ]
    profile = energy_profile(readings, start, charge_seconds, total)
    points = profile.points
    times = sorted({t for t, _ in points} | {Decimal(-5), charge_seconds + 10})
    probes = times + [(a + b) / 2 for a, b in zip(times, times[1:], strict=False)]
    probes += [Decimal(rng.randint(-100, 7400)) + Decimal(rng.randint(0, 999)) / 1000 for _ in range(50)]
    for t in probes:
        assert profile.energy_at(t) == linear_energy_at(points, t), t
    energies = sorted({e for _, e in points})
    targets = energies + [(a + b) / 2 for a, b in zip(energies, energies[1:], strict=False)]
    targets += [Decimal(-1), total + 1] + [Decimal(rng.randint(0, 31_000)) for _ in range(50)]
    for wh in targets:
        assert profile.time_at(wh) == linear_time_at(points, wh), wh


class Counted(Decimal):
    """A Decimal that counts the comparisons it takes part in (on either side)."""

    comparisons = 0

    def _count(self) -> None:
        Counted.comparisons += 1

    def __lt__(self, other: object) -> bool:
        self._count()
        return Decimal(self) < other  # type: ignore[operator]

    def __le__(self, other: object) -> bool:
        self._count()
        return Decimal(self) <= other  # type: ignore[operator]

    def __gt__(self, other: object) -> bool:
        self._count()
        return Decimal(self) > other  # type: ignore[operator]

    def __ge__(self, other: object) -> bool:
        self._count()
        return Decimal(self) >= other  # type: ignore[operator]


def test_profile_lookups_bisect() -> None:
    """A lookup in a profile of 10 000 points compares a handful of them (bisect), never scans them all
    (which made pricing quadratic with a cut at every reading)."""
    points = [(Counted(t), Counted(t * 5)) for t in range(10_000)]
    profile = EnergyProfile(points)  # type: ignore[arg-type]
    for probe in (Decimal("9998.5"), Decimal("5000.25"), Decimal(12_000)):
        Counted.comparisons = 0
        assert profile.energy_at(probe) == min(probe, Decimal(9999)) * 5
        assert Counted.comparisons <= 40
        Counted.comparisons = 0
        at = profile.time_at(probe * 4)
        assert Counted.comparisons <= 40
        assert at == (probe * 4 / 5 if probe * 4 <= 49_995 else None)


def test_power_restrictions_over_many_readings() -> None:
    """A long session sampled every second (14 400 readings, each a cut for the power restrictions) is
    priced as the one reading that shapes it: 20 kW for an hour (under 32 kW: €0.35/kWh), then 10 kW for
    three hours (under 16 kW: €0.20/kWh)."""
    readings = []
    for t in range(1, 4 * 3600):
        wh = Decimal(20_000 * t) / 3600 if t <= 3600 else 20_000 + Decimal(10_000 * (t - 3600)) / 3600
        readings.append(EnergyReading(MONDAY + timedelta(seconds=t), wh))
    cost = run(
        "tariffrestriction_example_max_power.json",
        end=MONDAY + timedelta(hours=4),
        energy_wh=50_000,
        readings=readings,
    )
    coarse = run(
        "tariffrestriction_example_max_power.json",
        end=MONDAY + timedelta(hours=4),
        energy_wh=50_000,
        readings=[EnergyReading(MONDAY + timedelta(hours=1), Decimal(20_000))],
    )
    assert cost.energy == coarse.energy == price("13", "15.6")
    assert [p.start for p in cost.charging_periods] == [MONDAY, MONDAY + timedelta(hours=1)]
    assert dims(cost) == dims(coarse)


def test_uses_energy_profile_only_with_restrictions() -> None:
    """Readings matter (and are worth loading) only when some element has restrictions."""
    assert not uses_energy_profile(None)
    assert not uses_energy_profile(parse_tariff(tariff_example("tariff_9_025kwh_start.json")))
    assert uses_energy_profile(parse_tariff(tariff_example("tariffrestriction_example_max_power.json")))
    assert uses_energy_profile(parse_tariff(tariff_example("tariff_14_step_size.json")))
