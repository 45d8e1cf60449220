"""What the energy planner needs from the store (`EnergyStore`, part of `csms.domain.ports.Store`)."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from csms.domain.energy.forecasts import SiteForecast
from csms.domain.energy.needs import EvNeeds
from csms.domain.models import Transaction


class EnergyStore(Protocol):
    """Sites' forecasts and sessions' needs of the energy planner (`csms.domain.energy`, ADR 0019)."""

    async def save_site_forecast(self, forecast: SiteForecast) -> None:
        """Insert or replace the site's forecast (both series, currency, updated_at)."""
        ...

    async def list_site_forecasts(self) -> list[SiteForecast]:
        """Every stored forecast."""
        ...

    async def save_ev_needs(self, transaction_id: int, needs: EvNeeds, at: datetime) -> None:
        """Insert or replace the transaction's needs."""
        ...

    async def delete_ev_needs(self, transaction_id: int) -> None:
        """Forget the transaction's needs (none: nothing happens)."""
        ...

    async def list_ev_needs(self) -> list[tuple[int, EvNeeds]]:
        """(transaction id, needs) of every transaction with stored needs."""
        ...

    async def get_transaction(self, pk: int, *, org_id: str | None = None) -> Transaction | None:
        """The transaction (as `TransactionStore.get_transaction`)."""
        ...
