"""The domain's `SessionCostSource` (csms.domain.costs) filled with the OCPI session pricing: what an OCPP
2.0.1 station showing costs is told (totalCost, CostUpdated) is what the OCPI Session and CDR of the same
transaction cost, incl. VAT, with the tariff pinned at its start (`ocpi.sessions.price_transaction`)."""

from __future__ import annotations

from csms.domain.costs import CostQuote
from csms.domain.models import Transaction
from ocpi.context import OcpiContext
from ocpi.sessions import price_transaction, transaction_link


class OcpiSessionCosts:
    """Quotes a transaction's cost as its OCPI Session is priced; a station in no location has no Session
    and gets no quote."""

    def __init__(self, ctx: OcpiContext) -> None:
        self._ctx = ctx

    async def quote(self, transaction: Transaction) -> CostQuote | None:
        """The session's `total_cost.incl_vat` so far (final once stopped) in the tariff's currency; a
        session without a tariff is free (0 in `[ocpi] currency`). None: the station is in no location."""
        location = await self._ctx.store.location_of(transaction.charge_point_id)
        if location is None:
            return None
        link = await transaction_link(self._ctx, transaction)
        priced = await price_transaction(self._ctx, transaction, location, link)
        return CostQuote(priced.cost.total.incl_vat, priced.currency)


def install(ctx: OcpiContext) -> None:
    """Make the domain price the running cost of 2.0.1 transactions with the OCPI session pricing."""
    ctx.domain.costs.install(OcpiSessionCosts(ctx))
