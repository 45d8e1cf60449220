"""The `EnergyStore` contract on every backend (memory, SQLite, PostgreSQL): forecasts and needs round-trip
exactly (Decimal prices, integer Wh, UTC times), replace by key, and needs go with their transaction."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from csms.domain.energy.forecasts import CarbonPoint, PricePoint, SiteForecast
from csms.domain.energy.needs import EvNeeds, ProfileType
from csms.domain.models import NewTransaction
from csms.domain.ports import Store

from .conftest import T0

H = timedelta(hours=1)


async def test_a_forecast_round_trips_and_is_replaced(store: Store) -> None:
    """Prices keep their exact decimals, carbon its integers; saving the site again replaces it."""
    forecast = SiteForecast(
        "LOC1",
        "EUR",
        [PricePoint(T0, T0 + H, Decimal("0.1234")), PricePoint(T0 + H, T0 + 2 * H, Decimal("0.30"))],
        [CarbonPoint(T0, T0 + H, 120)],
        updated_at=T0,
    )
    await store.save_site_forecast(forecast)
    [back] = await store.list_site_forecasts()
    assert back == forecast
    await store.save_site_forecast(
        SiteForecast("LOC1", None, [], [CarbonPoint(T0, T0 + H, 80)], updated_at=T0)
    )
    [replaced] = await store.list_site_forecasts()
    assert (replaced.currency, replaced.prices, replaced.carbon) == (None, [], [CarbonPoint(T0, T0 + H, 80)])


async def test_needs_round_trip_and_are_deleted(store: Store) -> None:
    """A session's needs come back as saved; saving again replaces them; delete forgets them."""
    tx = await store.add_transaction(NewTransaction("CP1", 1, 1, T0, meter_start_wh=0))
    needs = EvNeeds(20500, T0 + 8 * H, 4140, 11040, "AC_three_phase", ProfileType.CHEAP, False, "ocpi")
    await store.save_ev_needs(tx.id, needs, T0)
    assert await store.list_ev_needs() == [(tx.id, needs)]
    again = EvNeeds(1000, None, source="ocpp")
    await store.save_ev_needs(tx.id, again, T0)
    assert await store.list_ev_needs() == [(tx.id, again)]
    await store.delete_ev_needs(tx.id)
    await store.delete_ev_needs(tx.id)
    assert await store.list_ev_needs() == []
