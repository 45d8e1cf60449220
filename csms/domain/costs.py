"""The running cost of a transaction shown on OCPP 2.0.1 stations (TariffAndCost, OCPP 2.0.1 I02/I03).

A station that reports the TariffAndCost functional block as available in its device model
(`TariffCostCtrlr.Available` and `TariffCostCtrlr.Enabled[Cost]` both `true`, from NotifyReport; a variable
without the `Cost` instance counts too, and any of them reported `false` turns costs off) is told what its
transactions cost:

- while it charges, with `CostUpdated` (CSMS → station, I02) when its meter advances, at most once per
  `[ocpp] cost_update_interval` seconds per transaction (0: never);
- once it has ended, with `totalCost` in the answer to the Ended TransactionEvent (I03; 0 for a free one):
  TransactionEventResponse.totalCost "SHALL only be sent when charging has ended" (the 2.0.1 adapter asks
  `CostService.total_cost` then).

The amount is the one the pricing engine gives the OCPI session (incl. VAT), rounded half up to the
currency's minor unit (`to_minor_unit`, the one rounding done here). The domain does not price by itself:
a `SessionCostSource` installed by the composition root (the OCPI bridge, `ocpi.running_cost`) quotes the
cost. Without a source, for an OCPP 1.6 transaction, for a station that does not show costs, for a
transaction the source cannot price (a station in no location), or when the station reported a
`TariffCostCtrlr.Currency` other than the tariff's, nothing is sent.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Protocol

import structlog

from csms.domain.clock import Clock
from csms.domain.commands import CommandService, CostUpdated
from csms.domain.events import EventBus, Order, TransactionMeterAdvanced, TransactionStopped
from csms.domain.models import OCPP_201, DeviceVariable, Transaction, TransactionStatus
from csms.domain.ports import DeviceModelStore

log = structlog.get_logger("csms.costs")

COMPONENT = "TariffCostCtrlr"
# The device model variables `shows_cost` reads (OCPP 2.0.1 part 2, TariffCostCtrlr).
TARIFF_COST_VARIABLES: tuple[tuple[str | None, str], ...] = (
    (COMPONENT, "Available"),
    (COMPONENT, "Enabled"),
    (COMPONENT, "Currency"),
)

# ISO 4217 currencies whose minor unit is not the cent (2 decimals); the others are rounded to cents.
_MINOR_UNITS = {
    "BHD": 3, "BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "IQD": 3, "ISK": 0, "JOD": 3, "JPY": 0, "KMF": 0,
    "KRW": 0, "KWD": 3, "LYD": 3, "OMR": 3, "PYG": 0, "RWF": 0, "TND": 3, "UGX": 0, "UYI": 0, "VND": 0,
    "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
}  # fmt: skip


def to_minor_unit(amount: Decimal, currency: str) -> Decimal:
    """`amount` rounded half up to `currency`'s minor unit (EUR: cents, JPY: yen, KWD: fils)."""
    places = _MINOR_UNITS.get(currency.upper(), 2)
    return amount.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


@dataclass(frozen=True, slots=True)
class CostQuote:
    """What a transaction costs so far: `amount` incl. VAT (unrounded), in `currency` (ISO 4217)."""

    amount: Decimal
    currency: str


class SessionCostSource(Protocol):
    """Prices a transaction with the tariff in force for it (filled in by the composition root)."""

    async def quote(self, transaction: Transaction) -> CostQuote | None:
        """The cost of `transaction` so far (final once it ended); None when it cannot be priced."""
        ...


@dataclass(frozen=True, slots=True)
class CostDisplay:
    """What a station reported about showing costs: whether it does, and in which currency (None: unsaid)."""

    enabled: bool
    currency: str | None = None


def _flag(variables: list[DeviceVariable], name: str) -> bool | None:
    """The TariffCostCtrlr boolean `name` (instance Cost or none): False if any says false, else True if
    one says true, else None (not reported)."""
    values = {
        (v.value or "").strip().lower()
        for v in variables
        if v.variable == name and v.variable_instance in (None, "Cost") and v.attribute_type == "Actual"
    }
    if "false" in values:
        return False
    return True if "true" in values else None


def shows_cost(variables: Collection[DeviceVariable]) -> CostDisplay:
    """Read the TariffAndCost block from a station's device model rows (see the module docstring)."""
    ours = [v for v in variables if v.component == COMPONENT]
    enabled = _flag(ours, "Available") is True and _flag(ours, "Enabled") is True
    currencies = [
        (v.value or "").strip().upper()
        for v in ours
        if v.variable == "Currency" and v.attribute_type == "Actual"
    ]
    return CostDisplay(enabled, next((c for c in currencies if c), None))


class CostService:
    """Tells 2.0.1 stations that show costs what their transactions cost (see the module docstring).

    The composition root calls `install` with a source (until then nothing is sent) and `stop` at shutdown
    (cancels the CostUpdated calls still running).
    """

    def __init__(
        self,
        store: DeviceModelStore,
        commands: CommandService,
        clock: Clock,
        events: EventBus,
        *,
        update_interval: float,
    ) -> None:
        self._store = store
        self._commands = commands
        self._clock = clock
        self._interval = timedelta(seconds=update_interval)
        self._source: SessionCostSource | None = None
        self._last_update: dict[int, datetime] = {}  # transaction pk -> when CostUpdated was last sent
        self._tasks: set[asyncio.Task[None]] = set()
        if update_interval > 0:
            events.subscribe_hot(TransactionMeterAdvanced, self._meter_advanced, order=Order.DOMAIN)
            events.subscribe(TransactionStopped, self._forget, order=Order.DOMAIN)

    def install(self, source: SessionCostSource) -> None:
        """Price transactions with `source` from now on (replaces the previous one)."""
        self._source = source

    async def total_cost(self, transaction: Transaction) -> Decimal | None:
        """The `totalCost` for a TransactionEventResponse about `transaction`, rounded to the currency's
        minor unit; None when the station is not to be told (see the module docstring)."""
        if self._source is None or transaction.ocpp_version != OCPP_201:
            return None
        rows = await self._store.list_device_variables_keyed(
            [transaction.charge_point_id], TARIFF_COST_VARIABLES
        )
        display = shows_cost(rows)
        if not display.enabled:
            return None
        quote = await self._source.quote(transaction)
        if quote is None:
            return None
        if display.currency is not None and display.currency != quote.currency.upper():
            log.warning(
                "cost_currency_mismatch",
                charge_point_id=transaction.charge_point_id,
                station_currency=display.currency,
                tariff_currency=quote.currency,
            )
            return None
        return to_minor_unit(quote.amount, quote.currency)

    def _meter_advanced(self, event: TransactionMeterAdvanced) -> None:
        """Hot path: decide without I/O whether a CostUpdated is due, and send it in the background."""
        tx = event.transaction
        if self._source is None or tx.ocpp_version != OCPP_201:
            return
        now = self._clock()
        last = self._last_update.get(tx.id)
        if last is not None and now - last < self._interval:
            return
        self._last_update[tx.id] = now
        task = asyncio.get_running_loop().create_task(self._send_update(tx))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _forget(self, event: TransactionStopped) -> None:
        # An ended transaction gets no more CostUpdated: its throttle entry goes.
        self._last_update.pop(event.transaction.id, None)

    async def _send_update(self, tx: Transaction) -> None:
        """Price `tx` and send CostUpdated (OCPP 2.0.1 I02.FR.03) unless it ended meanwhile (its answer to
        Ended carries the final cost); a failure is logged, never raised (it runs in the background)."""
        try:
            cost = await self.total_cost(tx)
            if cost is None or tx.status is TransactionStatus.COMPLETED:
                return
            result = await self._commands.send(tx.charge_point_id, CostUpdated(cost, tx.ocpp_transaction_id))
            log.debug(
                "cost_updated",
                charge_point_id=tx.charge_point_id,
                total_cost=str(cost),
                outcome=result.outcome,
            )
        except Exception:
            log.exception("cost_update_failed", charge_point_id=tx.charge_point_id, transaction_pk=tx.id)

    async def stop(self) -> None:
        """Cancel the CostUpdated calls still running and wait for them to end."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
