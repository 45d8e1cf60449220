"""The energy planner's store in memory (`csms.domain.ports.EnergyStore`)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from csms.domain.energy.forecasts import SiteForecast
from csms.domain.energy.needs import EvNeeds


class MemoryEnergy:
    """Forecasts by location id, needs by transaction id (copies, as the SQL store hands out new objects)."""

    def __init__(self) -> None:
        self._forecasts: dict[str, SiteForecast] = {}
        self._needs: dict[int, EvNeeds] = {}

    async def save_site_forecast(self, forecast: SiteForecast) -> None:
        self._forecasts[forecast.location_id] = replace(
            forecast, prices=list(forecast.prices), carbon=list(forecast.carbon)
        )

    async def list_site_forecasts(self) -> list[SiteForecast]:
        return [
            replace(f, prices=list(f.prices), carbon=list(f.carbon))
            for _, f in sorted(self._forecasts.items())
        ]

    async def save_ev_needs(self, transaction_id: int, needs: EvNeeds, at: datetime) -> None:
        self._needs[transaction_id] = needs

    async def delete_ev_needs(self, transaction_id: int) -> None:
        self._needs.pop(transaction_id, None)

    async def list_ev_needs(self) -> list[tuple[int, EvNeeds]]:
        return sorted(self._needs.items())
