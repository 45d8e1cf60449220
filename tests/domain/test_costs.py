"""Running cost on OCPP 2.0.1 stations (csms.domain.costs): who is told, the amount, the CostUpdated pace."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from csms.domain.commands import Command, CommandResult, CommandService, CostUpdated, Outcome
from csms.domain.costs import CostQuote, CostService, shows_cost, to_minor_unit
from csms.domain.events import EventBus, TransactionMeterAdvanced, TransactionStopped
from csms.domain.models import OCPP_16, OCPP_201, DeviceVariable, Transaction, TransactionStatus
from tests.fakes.memory_store import MemoryStore

T0 = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)
CP = "CP-COST"


def var(
    variable: str, value: str, instance: str | None = "Cost", component: str = "TariffCostCtrlr"
) -> DeviceVariable:
    """One reported TariffCostCtrlr variable of CP."""
    return DeviceVariable(CP, component, variable, value, variable_instance=instance)


SHOWS = [var("Available", "true"), var("Enabled", "true"), var("Currency", "EUR", None)]


class Clock:
    """A clock the test moves."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


class Gateway:
    """A station gateway that records the commands and answers them at once."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, Command]] = []

    def ocpp_version(self, charge_point_id: str) -> str | None:
        return OCPP_201

    async def execute(self, charge_point_id: str, command: Command) -> CommandResult:
        self.sent.append((charge_point_id, command))
        return CommandResult(Outcome.ANSWERED)


class Source:
    """A cost source quoting a fixed amount (None: cannot price)."""

    def __init__(self, quote: CostQuote | None) -> None:
        self.quote_value = quote

    async def quote(self, transaction: Transaction) -> CostQuote | None:
        return self.quote_value


def tx(version: str = OCPP_201, pk: int = 1) -> Transaction:
    """A running transaction of CP."""
    return Transaction(pk, CP, 1, 1, f"uuid-{pk}", TransactionStatus.ACTIVE, T0, ocpp_version=version)


async def service(
    variables: list[DeviceVariable], quote: CostQuote | None, interval: float = 60.0
) -> tuple[CostService, Gateway, EventBus, Clock]:
    store = MemoryStore()
    await store.upsert_device_variables(variables)
    gateway, bus, clock = Gateway(), EventBus(), Clock()
    costs = CostService(store, CommandService(gateway), clock, bus, update_interval=interval)
    costs.install(Source(quote))
    return costs, gateway, bus, clock


async def settled(costs: CostService) -> None:
    """Wait until the background CostUpdated calls have finished."""
    await asyncio.gather(*costs._tasks)


def test_minor_unit_rounding() -> None:
    """Amounts are rounded half up to the currency's minor unit: cents by default, yen, fils for KWD."""
    assert to_minor_unit(Decimal("0.93935"), "EUR") == Decimal("0.94")
    assert to_minor_unit(Decimal("0.125"), "eur") == Decimal("0.13")
    assert to_minor_unit(Decimal("0.1249"), "EUR") == Decimal("0.12")
    assert to_minor_unit(Decimal("123.5"), "JPY") == Decimal("124")
    assert to_minor_unit(Decimal("1.2345"), "KWD") == Decimal("1.235")
    assert to_minor_unit(Decimal("0"), "EUR") == Decimal("0.00")


def test_shows_cost_needs_available_and_enabled_cost() -> None:
    """The block counts only when Available and Enabled (instance Cost or none) are true and none is false."""
    assert shows_cost(SHOWS).enabled and shows_cost(SHOWS).currency == "EUR"
    assert shows_cost([var("Available", "true", None), var("Enabled", "TRUE", None)]).enabled
    assert not shows_cost([var("Available", "true")]).enabled  # Enabled not reported
    assert not shows_cost([var("Enabled", "true")]).enabled  # Available not reported
    assert not shows_cost([var("Available", "true"), var("Enabled", "true", "Tariff")]).enabled
    assert not shows_cost([*SHOWS, var("Enabled", "false", None)]).enabled
    other = var("Enabled", "true", component="ReservationCtrlr")
    assert not shows_cost([var("Available", "true"), other]).enabled
    assert not shows_cost([]).enabled and shows_cost([]).currency is None


async def test_total_cost_rounded_for_a_station_showing_costs() -> None:
    """A 2.0.1 station showing costs gets the quote incl. VAT rounded to cents."""
    costs, _, _, _ = await service(SHOWS, CostQuote(Decimal("0.93935"), "EUR"))
    assert await costs.total_cost(tx()) == Decimal("0.94")


@pytest.mark.parametrize(
    ("variables", "quote", "version"),
    [
        ([], CostQuote(Decimal("1"), "EUR"), OCPP_201),  # no TariffCostCtrlr reported
        ([var("Available", "false"), var("Enabled", "true")], CostQuote(Decimal("1"), "EUR"), OCPP_201),
        (SHOWS, CostQuote(Decimal("1"), "EUR"), OCPP_16),  # 1.6 stations get nothing new
        (SHOWS, None, OCPP_201),  # the source cannot price it (no location)
        (SHOWS, CostQuote(Decimal("1"), "CHF"), OCPP_201),  # the display shows EUR, the tariff is in CHF
    ],
    ids=["not-reported", "not-available", "ocpp-1.6", "no-quote", "other-currency"],
)
async def test_no_total_cost(variables: list[DeviceVariable], quote: CostQuote | None, version: str) -> None:
    """No totalCost for stations that do not show costs, 1.6, unpriceable or other-currency transactions."""
    costs, _, _, _ = await service(variables, quote)
    assert await costs.total_cost(tx(version)) is None


async def test_no_total_cost_without_a_source() -> None:
    """Until the composition root installs a source, nothing is priced."""
    store = MemoryStore()
    await store.upsert_device_variables(SHOWS)
    costs = CostService(store, CommandService(Gateway()), Clock(), EventBus(), update_interval=60)
    assert await costs.total_cost(tx()) is None


async def test_cost_updated_at_most_once_per_interval() -> None:
    """A meter advance sends CostUpdated with the rounded cost; another within the interval sends none, one
    after it sends again; each transaction has its own pace."""
    costs, gateway, bus, clock = await service(SHOWS, CostQuote(Decimal("2.3456"), "EUR"), interval=60)
    running = tx()
    bus.emit(TransactionMeterAdvanced(running))
    await settled(costs)
    assert gateway.sent == [(CP, CostUpdated(Decimal("2.35"), "uuid-1"))]
    clock.now = T0 + timedelta(seconds=59)
    bus.emit(TransactionMeterAdvanced(running))
    await settled(costs)
    assert len(gateway.sent) == 1
    bus.emit(TransactionMeterAdvanced(tx(pk=2)))
    await settled(costs)
    assert gateway.sent[-1] == (CP, CostUpdated(Decimal("2.35"), "uuid-2"))
    clock.now = T0 + timedelta(seconds=60)
    bus.emit(TransactionMeterAdvanced(running))
    await settled(costs)
    assert [cmd for _, cmd in gateway.sent].count(CostUpdated(Decimal("2.35"), "uuid-1")) == 2


async def test_no_cost_updated_when_not_shown_or_ended_or_off() -> None:
    """No CostUpdated for a station not showing costs, a 1.6 or ended transaction, or with interval 0."""
    costs, gateway, bus, _ = await service([], CostQuote(Decimal("1"), "EUR"))
    bus.emit(TransactionMeterAdvanced(tx()))
    await settled(costs)
    costs, gateway16, bus, _ = await service(SHOWS, CostQuote(Decimal("1"), "EUR"))
    bus.emit(TransactionMeterAdvanced(tx(OCPP_16)))
    ended = tx(pk=3)
    ended.status = TransactionStatus.COMPLETED
    bus.emit(TransactionMeterAdvanced(ended))
    await settled(costs)
    costs, gateway_off, bus, _ = await service(SHOWS, CostQuote(Decimal("1"), "EUR"), interval=0)
    bus.emit(TransactionMeterAdvanced(tx()))
    await settled(costs)
    assert gateway.sent == gateway16.sent == gateway_off.sent == []


async def test_a_stopped_transaction_is_forgotten() -> None:
    """TransactionStopped drops the transaction's pace entry (no memory kept per ended transaction)."""
    costs, _, bus, _ = await service(SHOWS, CostQuote(Decimal("1"), "EUR"))
    running = tx()
    bus.emit(TransactionMeterAdvanced(running))
    await settled(costs)
    assert running.id in costs._last_update
    await bus.publish(TransactionStopped(running))
    assert running.id not in costs._last_update


async def test_stop_cancels_pending_updates() -> None:
    """`stop` cancels CostUpdated calls still running and waits for them."""
    costs, _, bus, _ = await service(SHOWS, CostQuote(Decimal("1"), "EUR"))
    blocked = asyncio.Event()

    class Slow:
        async def quote(self, transaction: Transaction) -> CostQuote | None:
            await blocked.wait()  # never set: the quote is still running at stop
            return CostQuote(Decimal("1"), "EUR")

    costs.install(Slow())
    bus.emit(TransactionMeterAdvanced(tx()))
    (pending,) = costs._tasks
    await costs.stop()
    assert pending.cancelled()
