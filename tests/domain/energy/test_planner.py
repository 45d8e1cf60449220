"""The energy planner: needs and forecasts give a schedule sent as a TxProfile; a new forecast plans the
site's sessions again; a stopped session is forgotten. Commands go to a recording station gateway (the
network edge), never a mocked connection."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from csms.config import EnergyConfig
from csms.domain.commands import Command, CommandResult, CommandService, Outcome, SetChargingProfile
from csms.domain.energy.forecasts import CarbonPoint, PricePoint
from csms.domain.energy.needs import EvNeeds, ProfileType
from csms.domain.energy.optimizer import Objective
from csms.domain.energy.planner import PROFILE_ID_BASE, EnergyPlanner
from csms.domain.events import EventBus, TransactionStopped
from csms.domain.models import NewTransaction, Transaction, TransactionStatus
from tests.fakes.memory_store import MemoryStore

T0 = datetime(2026, 1, 1, tzinfo=UTC)
H = timedelta(hours=1)


class Station:
    """A StationGateway that records what it was sent and answers `status`."""

    def __init__(self, status: str = "Accepted") -> None:
        self.sent: list[Command] = []
        self.status = status

    def ocpp_version(self, charge_point_id: str) -> str | None:
        return "2.0.1"

    async def execute(self, charge_point_id: str, command: Command) -> CommandResult:
        self.sent.append(command)
        return CommandResult(Outcome.ANSWERED, self.status)


def planner(
    station: Station, events: EventBus | None = None, store: MemoryStore | None = None, **config: object
) -> EnergyPlanner:
    made = EnergyPlanner(
        EnergyConfig(**config),  # type: ignore[arg-type]
        CommandService(station),
        lambda: T0,
        events or EventBus(),
        store if store is not None else MemoryStore(clock=lambda: T0),
    )

    async def site_of(charge_point_id: str) -> str | None:
        return "LOC1"

    made.site_of = site_of
    return made


def tx() -> Transaction:
    return Transaction(
        5, "CP1", 1, 1, "tx-5", TransactionStatus.ACTIVE, T0, meter_start_wh=0, last_meter_wh=0
    )


NEEDS = EvNeeds(energy_wh=11000, departure=T0 + 3 * H, max_power_w=22000)


async def test_needs_and_prices_give_a_tx_profile_in_the_cheapest_hour() -> None:
    """11 kWh in 3 h at 11 kW (the site maximum caps the EV's 22 kW): the cheapest hour only."""
    station = Station()
    p = planner(station)
    prices = [
        PricePoint(T0 + i * H, T0 + (i + 1) * H, Decimal(v)) for i, v in enumerate(["0.3", "0.2", "0.1"])
    ]
    await p.set_prices("LOC1", "EUR", prices)
    schedule = await p.set_needs(tx(), NEEDS)
    assert schedule.plan is not None and schedule.plan.target_met
    assert [i.power_w for i in schedule.plan.intervals] == [0, 0, 11000]
    assert schedule.station_status == "Accepted"
    [command] = station.sent
    assert isinstance(command, SetChargingProfile) and command.evse_id == 1
    assert command.profile.id == PROFILE_ID_BASE + 5
    assert [(p.start_period, p.limit) for p in command.profile.periods] == [(0, 0), (7200, 11000)]


async def test_a_new_forecast_plans_the_sites_sessions_again() -> None:
    """Carbon for a GREEN driver arriving after the needs sends a new profile following it."""
    station = Station()
    p = planner(station)
    await p.set_needs(tx(), EvNeeds(11000, T0 + 3 * H, profile_type=ProfileType.GREEN, source="ocpi"))
    carbon = [CarbonPoint(T0 + i * H, T0 + (i + 1) * H, g) for i, g in enumerate([50, 300, 200])]
    assert await p.set_carbon("LOC1", carbon) == 1
    assert len(station.sent) == 2
    schedule = p.schedule_of(5)
    assert schedule is not None and schedule.plan is not None
    assert schedule.plan.objective is Objective.CARBON
    assert [i.power_w for i in schedule.plan.intervals] == [11000, 0, 0]


async def test_missing_departure_is_no_plan_and_nothing_is_sent() -> None:
    """Needs without a departure (and not FAST) are kept but not planned: reason no_departure."""
    station = Station()
    p = planner(station)
    schedule = await p.set_needs(tx(), EvNeeds(11000, None))
    assert (schedule.plan, schedule.reason) == (None, "no_departure")
    assert station.sent == []


async def test_a_stopped_session_is_forgotten() -> None:
    """After TransactionStopped the session's needs are gone and a new forecast plans nothing."""
    events = EventBus()
    station = Station()
    p = planner(station, events)
    await p.set_needs(tx(), NEEDS)
    await events.publish(TransactionStopped(tx()))
    assert p.needs_of(5) is None
    assert await p.set_carbon("LOC1", []) == 0


def test_objective_follows_the_driver_then_the_site() -> None:
    """CHEAP → cost, GREEN → carbon, FAST → fast; REGULAR or none → `[energy] optimize`."""
    p = planner(Station(), optimize="carbon")
    assert p.objective(EvNeeds(1, None, profile_type=ProfileType.CHEAP)) is Objective.COST
    assert p.objective(EvNeeds(1, None, profile_type=ProfileType.FAST)) is Objective.FAST
    assert p.objective(EvNeeds(1, None, profile_type=ProfileType.REGULAR)) is Objective.CARBON
    assert p.objective(EvNeeds(1, None)) is Objective.CARBON


async def test_forecasts_and_needs_survive_a_restart() -> None:
    """A new planner on the same store reads the site's forecast and the active session's needs back and has
    its schedule, without sending anything; needs of a session stopped meanwhile are dropped."""
    store = MemoryStore(clock=lambda: T0)
    running = (await store.add_transaction(NewTransaction("CP1", 1, 1, T0, meter_start_wh=0))).id
    ended = await store.add_transaction(NewTransaction("CP1", 2, 1, T0, meter_start_wh=0))
    first = planner(Station(), store=store)
    prices = [
        PricePoint(T0 + i * H, T0 + (i + 1) * H, Decimal(v)) for i, v in enumerate(["0.3", "0.1", "0.2"])
    ]
    await first.set_prices("LOC1", "EUR", prices)
    active = await store.get_transaction(running)
    assert active is not None
    await first.set_needs(active, NEEDS)
    await first.set_needs(ended, NEEDS)
    ended.status = TransactionStatus.COMPLETED
    await store.save_transaction(ended)

    station = Station()
    second = planner(station, store=store)
    await second.start()
    assert second.forecast("LOC1").price_at(T0 + H) == Decimal("0.1")
    assert second.forecast("LOC1").currency == "EUR"
    assert second.needs_of(running) == NEEDS
    schedule = second.schedule_of(running)
    assert schedule is not None and schedule.plan is not None
    assert [i.power_w for i in schedule.plan.intervals] == [0, 11000, 0]
    assert station.sent == []
    assert second.needs_of(ended.id) is None
    assert [t for t, _ in await store.list_ev_needs()] == [running]


async def test_a_new_forecast_plans_what_is_still_needed() -> None:
    """Energy delivered since the needs were stated counts: 11 kWh needed, 5 kWh delivered → 6 kW planned."""
    store = MemoryStore(clock=lambda: T0)
    tx = await store.add_transaction(NewTransaction("CP1", 1, 1, T0, meter_start_wh=0))
    p = planner(Station(), store=store)
    await p.set_needs(tx, NEEDS)
    tx.last_meter_wh = 5000
    await store.save_transaction(tx)
    prices = [
        PricePoint(T0 + i * H, T0 + (i + 1) * H, Decimal(v)) for i, v in enumerate(["0.3", "0.1", "0.2"])
    ]
    assert await p.set_prices("LOC1", "EUR", prices) == 1
    schedule = p.schedule_of(tx.id)
    assert schedule is not None and schedule.plan is not None
    assert [i.power_w for i in schedule.plan.intervals] == [0, 6000, 0]


async def test_a_plan_stays_within_the_site_share_and_follows_it() -> None:
    """With a load balancer's share of the site limit (`site_share`), the plan never exceeds it; a new
    share re-plans the session within it (`share_changed`), so a planned session stays inside the site
    limit although its TxProfile stacks above the balancer's."""
    station = Station()
    p = planner(station)
    shares = {5: 3000}
    p.site_share = shares.get
    prices = [
        PricePoint(T0 + i * H, T0 + (i + 1) * H, Decimal(v)) for i, v in enumerate(["0.3", "0.2", "0.1"])
    ]
    await p.set_prices("LOC1", "EUR", prices)
    schedule = await p.set_needs(tx(), NEEDS)
    assert schedule.plan is not None and not schedule.plan.target_met  # 3 h at 3 kW < 11 kWh
    assert max(i.power_w for i in schedule.plan.intervals) == 3000
    assert p.config.stack_level > 1  # above the balancer's TxProfile (stack level 1)
    shares[5] = 11000
    await p.share_changed(tx(), 11000)
    latest = station.sent[-1]
    assert isinstance(latest, SetChargingProfile) and len(station.sent) == 2
    replanned = p.schedule_of(5)
    assert replanned is not None and replanned.plan is not None
    assert [i.power_w for i in replanned.plan.intervals] == [0, 0, 11000]
    await p.share_changed(Transaction(6, "CP1", 1, 1, "tx-6", TransactionStatus.ACTIVE, T0), 3000)
    assert len(station.sent) == 2  # a session without needs keeps the balancer's profile alone


async def test_stated_needs_tell_the_balancer_the_departure() -> None:
    """A session's needs report its departure (`departure_stated`), which the load balancer serves first."""
    p = planner(Station())
    told: list[tuple[int, datetime | None]] = []
    p.departure_stated = lambda pk, departure: told.append((pk, departure))
    await p.set_needs(tx(), NEEDS)
    assert told == [(5, NEEDS.departure)]
