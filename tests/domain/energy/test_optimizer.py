"""The schedule optimizer, on hand-worked forecasts (four hours, 11 kW allowed)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from csms.domain.energy.forecasts import CarbonPoint, PricePoint, SiteForecast
from csms.domain.energy.optimizer import Objective, plan_schedule, tx_profile

T0 = datetime(2026, 1, 1, tzinfo=UTC)
H = timedelta(hours=1)
PRICES = ["0.30", "0.10", "0.20", "0.40"]
CARBON = [300, 400, 100, 200]


def forecast(hours: int = 4) -> SiteForecast:
    """Prices 0.30 / 0.10 / 0.20 / 0.40 EUR/kWh and carbon 300 / 400 / 100 / 200 g/kWh, hour by hour."""
    return SiteForecast(
        "LOC1",
        "EUR",
        [PricePoint(T0 + i * H, T0 + (i + 1) * H, Decimal(PRICES[i])) for i in range(hours)],
        [CarbonPoint(T0 + i * H, T0 + (i + 1) * H, CARBON[i]) for i in range(hours)],
    )


def plan(need_wh: int, objective: Objective, *, start: datetime = T0, min_w: int = 0, hours: int = 4):  # type: ignore[no-untyped-def]
    return plan_schedule(
        energy_need_wh=need_wh,
        start=start,
        departure=T0 + 4 * H,
        max_power_w=11000,
        min_power_w=min_w,
        forecast=forecast(hours),
        objective=objective,
    )


def test_cost_fills_the_cheapest_hours_first() -> None:
    """15 kWh by 04:00 at lowest cost: 11 kWh in the 0.10 hour, the 4 kWh left in the 0.20 hour."""
    result = plan(15000, Objective.COST)
    assert [i.power_w for i in result.intervals] == [0, 11000, 4000, 0]
    assert result.energy_wh == 15000
    assert result.target_met
    assert result.cost == Decimal("1.9")  # 11 × 0.10 + 4 × 0.20
    assert result.carbon_g == 11 * 400 + 4 * 100


def test_carbon_fills_the_cleanest_hours_first() -> None:
    """The same need at lowest carbon: the 100 g hour in full, then 4 kWh in the 200 g hour."""
    result = plan(15000, Objective.CARBON)
    assert [i.power_w for i in result.intervals] == [0, 0, 11000, 4000]
    assert result.carbon_g == 1900
    assert result.cost == Decimal("3.8")  # 11 × 0.20 + 4 × 0.40


def test_a_need_beyond_reach_charges_at_the_maximum_and_says_so() -> None:
    """50 kWh cannot fit in 4 h at 11 kW: every hour at 11 kW, target not met."""
    result = plan(50000, Objective.COST)
    assert [i.power_w for i in result.intervals] == [11000] * 4
    assert result.energy_wh == 44000
    assert not result.target_met


def test_the_last_interval_never_goes_below_the_ev_minimum() -> None:
    """11.5 kWh with a 4 kW minimum: the 500 Wh left are planned at 4 kW, not 500 W."""
    result = plan(11500, Objective.COST, min_w=4000)
    assert [i.power_w for i in result.intervals] == [0, 11000, 4000, 0]


def test_intervals_are_cut_at_the_start() -> None:
    """Starting at 00:30, the first interval is half an hour long and 11 kW there give 5.5 kWh."""
    result = plan(44000, Objective.COST, start=T0 + H / 2)
    assert result.intervals[0].start == T0 + H / 2
    assert result.intervals[0].energy_wh == 5500
    assert result.energy_wh == 38500 and not result.target_met


def test_hours_without_forecast_rank_last() -> None:
    """With prices only until 02:00, 30 kWh take both priced hours first, then 8 kWh over the unpriced
    02:00-04:00 (one interval: 4 kW)."""
    result = plan(30000, Objective.COST, hours=2)
    assert [i.power_w for i in result.intervals] == [11000, 11000, 4000]
    assert result.intervals[2].energy_wh == 8000
    assert result.intervals[2].cost is None
    assert result.cost == Decimal("4.4")  # 11 × 0.30 + 11 × 0.10


def test_fast_charges_from_the_start() -> None:
    """FAST ignores prices: 15 kWh in the first two hours."""
    result = plan(15000, Objective.FAST)
    assert [i.power_w for i in result.intervals] == [11000, 4000, 0, 0]


def test_the_tx_profile_is_absolute_in_watts_until_the_departure() -> None:
    """The plan becomes one period per change of power, offsets from the start, lasting until departure."""
    result = plan(15000, Objective.COST)
    profile = tx_profile(result, profile_id=7, ocpp_transaction_id="tx-1")
    assert (profile.purpose, profile.kind, profile.rate_unit) == ("TxProfile", "Absolute", "W")
    assert [(p.start_period, p.limit) for p in profile.periods] == [
        (0, Decimal(0)),
        (3600, Decimal(11000)),
        (7200, Decimal(4000)),
        (10800, Decimal(0)),
    ]
    assert profile.duration == 4 * 3600
    assert profile.start_schedule == T0
    assert profile.ocpp_transaction_id == "tx-1"
