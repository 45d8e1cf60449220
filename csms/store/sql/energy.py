"""Sites' forecasts and sessions' needs of the energy planner (`EnergyStore`, ADR 0019)."""

from __future__ import annotations

from datetime import datetime

import orjson
from sqlalchemy import delete, select

from csms.domain.energy.forecasts import SiteForecast, carbon_json, forecast_of, prices_json
from csms.domain.energy.needs import EvNeeds, ProfileType
from csms.store.sql.base import SqlBase
from csms.store.tables import EnergyForecastRow, EvNeedsRow


class EnergySql(SqlBase):
    """Forecasts and needs; the contract is `csms.domain.ports.EnergyStore`."""

    async def save_site_forecast(self, forecast: SiteForecast) -> None:
        """Insert or replace the site's forecast."""
        row = EnergyForecastRow(
            location_id=forecast.location_id,
            currency=forecast.currency,
            prices=orjson.dumps(prices_json(forecast.prices)).decode(),
            carbon=orjson.dumps(carbon_json(forecast.carbon)).decode(),
            updated_at=forecast.updated_at or self._clock(),
        )
        async with self._sessions.begin() as session:
            await session.merge(row)

    async def list_site_forecasts(self) -> list[SiteForecast]:
        """Every stored forecast, by location id."""
        async with self._sessions() as session:
            rows = (
                await session.scalars(select(EnergyForecastRow).order_by(EnergyForecastRow.location_id))
            ).all()
        forecasts = []
        for row in rows:
            forecast = forecast_of(
                row.location_id, row.currency, orjson.loads(row.prices), orjson.loads(row.carbon)
            )
            forecast.updated_at = row.updated_at
            forecasts.append(forecast)
        return forecasts

    async def save_ev_needs(self, transaction_id: int, needs: EvNeeds, at: datetime) -> None:
        """Insert or replace the transaction's needs."""
        row = EvNeedsRow(
            transaction_id=transaction_id,
            energy_wh=needs.energy_wh,
            departure=needs.departure,
            min_power_w=needs.min_power_w,
            max_power_w=needs.max_power_w,
            energy_transfer=needs.energy_transfer,
            profile_type=needs.profile_type.value if needs.profile_type else None,
            discharge_allowed=needs.discharge_allowed,
            source=needs.source,
            updated_at=at,
        )
        async with self._sessions.begin() as session:
            await session.merge(row)

    async def delete_ev_needs(self, transaction_id: int) -> None:
        """Forget the transaction's needs."""
        async with self._sessions.begin() as session:
            await session.execute(delete(EvNeedsRow).where(EvNeedsRow.transaction_id == transaction_id))

    async def list_ev_needs(self) -> list[tuple[int, EvNeeds]]:
        """(transaction id, needs) of every stored needs row."""
        async with self._sessions() as session:
            rows = (await session.scalars(select(EvNeedsRow).order_by(EvNeedsRow.transaction_id))).all()
        return [
            (
                row.transaction_id,
                EvNeeds(
                    row.energy_wh,
                    row.departure,
                    row.min_power_w,
                    row.max_power_w,
                    row.energy_transfer,
                    ProfileType(row.profile_type) if row.profile_type else None,
                    row.discharge_allowed,
                    row.source,
                ),
            )
            for row in rows
        ]
