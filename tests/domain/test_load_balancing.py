"""The load balancing service: debounced re-balances, lower-first commands, uncontrollable stations."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from csms.domain.charging_limits import ChargingLimits, ExternalLimit, schedule_limit_w
from csms.domain.clock import parse_datetime
from csms.domain.commands import Command, CommandResult, Outcome, SetChargingProfile
from csms.domain.events import EventBus, TransactionMeterAdvanced, TransactionStarted, TransactionStopped
from csms.domain.load_balancing import BALANCER_STACK_LEVEL, LoadBalancer
from csms.domain.models import Transaction, TransactionStatus
from csms.domain.smart_charging import SiteLimit
from csms.domain.solar import SiteMeasurement, SolarMode
from tests.fakes.memory_solar import MemorySolarStore

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


class Gateway:
    """Records the commands; answers Accepted unless the station is listed as rejecting or offline."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, SetChargingProfile]] = []
        self.rejecting: set[str] = set()
        self.offline: set[str] = set()
        self.changed = asyncio.Event()

    def ocpp_version(self, charge_point_id: str) -> str | None:
        return None if charge_point_id in self.offline else "2.0.1"

    async def execute(self, charge_point_id: str, command: Command) -> CommandResult:
        assert isinstance(command, SetChargingProfile)
        self.sent.append((charge_point_id, command))
        self.changed.set()
        status = "Rejected" if charge_point_id in self.rejecting else "Accepted"
        return CommandResult(Outcome.ANSWERED, status)

    async def wait_for(self, count: int) -> None:
        async with asyncio.timeout(2):
            while len(self.sent) < count:
                self.changed.clear()
                await self.changed.wait()


class Sites:
    def __init__(self, limit: SiteLimit | None) -> None:
        self.limit = limit

    async def site_of(self, charge_point_id: str) -> str | None:
        return None if charge_point_id.startswith("ELSEWHERE") else "LOC1"

    async def limit_of(self, site_id: str) -> SiteLimit | None:
        return self.limit


def tx(pk: int, cp: str | None = None) -> Transaction:
    return Transaction(pk, cp or f"CP{pk}", 1, 1, f"T{pk}", TransactionStatus.ACTIVE, NOW)


def limits(gateway: Gateway) -> list[tuple[str, Decimal]]:
    return [(cp, c.profile.periods[0].limit) for cp, c in gateway.sent]


async def test_sessions_share_the_site_and_changes_go_lower_first() -> None:
    """A burst of starts gives one re-balance; a start later lowers the others before raising anyone;
    a stop gives its share back; TxProfiles are in A on three phases for the transaction."""
    gateway = Gateway()
    balancer = LoadBalancer(gateway, Sites(SiteLimit(max_power_w=22000)), lambda: NOW, debounce_s=0.01)
    bus = EventBus()
    balancer.subscribe(bus)
    await bus.publish(TransactionStarted(tx(1)))
    await bus.publish(TransactionStarted(tx(2)))
    await gateway.wait_for(2)
    assert sorted(limits(gateway)) == [("CP1", Decimal("15.9")), ("CP2", Decimal("15.9"))]
    command = gateway.sent[0][1]
    assert command.evse_id == 1
    assert (command.profile.purpose, command.profile.rate_unit, command.profile.kind) == (
        "TxProfile",
        "A",
        "Relative",
    )
    assert command.profile.stack_level == BALANCER_STACK_LEVEL
    assert command.profile.ocpp_transaction_id in ("T1", "T2")
    assert command.profile.periods[0].number_phases == 3

    gateway.sent.clear()
    await bus.publish(TransactionStarted(tx(3)))
    await gateway.wait_for(3)
    assert limits(gateway)[0] == ("CP3", Decimal("10.6"))  # new sessions count as drawing their max: first
    assert {cp for cp, _ in limits(gateway)} == {"CP1", "CP2", "CP3"}
    assert all(limit == Decimal("10.6") for _, limit in limits(gateway))
    assert balancer.allocation_w(1) == 7333

    gateway.sent.clear()
    await bus.publish(TransactionStopped(tx(3)))
    await gateway.wait_for(2)
    assert sorted(limits(gateway)) == [("CP1", Decimal("15.9")), ("CP2", Decimal("15.9"))]
    await balancer.close()


async def test_measured_power_frees_the_rest() -> None:
    """An EV drawing less than its allocation lets the others have the rest."""
    gateway = Gateway()
    balancer = LoadBalancer(gateway, Sites(SiteLimit(max_power_w=16000)), lambda: NOW, debounce_s=0.01)
    await balancer.session_started(tx(1))
    await balancer.session_started(tx(2))
    await gateway.wait_for(2)
    assert balancer.allocation_w(1) == 8000
    gateway.sent.clear()
    balancer.power_reported(1, 4000)
    await gateway.wait_for(2)
    assert (balancer.allocation_w(1), balancer.allocation_w(2)) == (4500, 11000)
    assert [cp for cp, _ in gateway.sent] == ["CP1", "CP2"]  # lowered before raised
    gateway.sent.clear()
    balancer.power_reported(2, 10990)  # using its share: no change, no command
    assert await balancer.rebalance("LOC1") == {1: 4500, 2: 11000}
    assert gateway.sent == []
    await balancer.close()


async def test_rejecting_and_offline_stations_count_at_their_maximum() -> None:
    """A station that rejects the profile, or is offline, keeps its maximum in the budget."""
    gateway = Gateway()
    gateway.rejecting.add("CP1")
    balancer = LoadBalancer(gateway, Sites(SiteLimit(max_power_w=22000)), lambda: NOW, debounce_s=0.01)
    await balancer.session_started(tx(1))
    await balancer.session_started(tx(2))
    await balancer.session_started(tx(3))
    await gateway.wait_for(4)  # 3 sends, CP1 rejects, then the others get what CP1 leaves
    await asyncio.sleep(0)
    assert await balancer.rebalance("LOC1") == {2: 5500, 3: 5500}
    gateway.offline.add("CP3")
    assert await balancer.rebalance("LOC1") == {2: 0}  # 22 kW - 2 x 11 kW: nothing left for CP2
    await balancer.close()


async def test_sessions_elsewhere_or_without_limit_are_left_alone() -> None:
    """No command for a charge point at no site, nor at a site without a limit."""
    gateway = Gateway()
    balancer = LoadBalancer(gateway, Sites(None), lambda: NOW, debounce_s=0.01)
    await balancer.session_started(tx(1, "ELSEWHERE"))
    assert balancer.allocation_w(1) is None
    await balancer.session_started(tx(2))
    assert await balancer.rebalance("LOC1") == {}
    balancer.session_stopped(tx(2))
    assert gateway.sent == []
    await balancer.close()


async def test_meter_values_power_reaches_the_balancer() -> None:
    """A TransactionMeterAdvanced carrying Power.Active.Import re-balances the site like power_reported."""
    gateway = Gateway()
    balancer = LoadBalancer(gateway, Sites(SiteLimit(max_power_w=16000)), lambda: NOW, debounce_s=0.01)
    bus = EventBus()
    balancer.subscribe(bus)
    await bus.publish(TransactionStarted(tx(1)))
    await bus.publish(TransactionStarted(tx(2)))
    await gateway.wait_for(2)
    bus.emit(TransactionMeterAdvanced(tx(1)))  # no power in the meter value: nothing changes
    bus.emit(TransactionMeterAdvanced(tx(1), power_w=4000))
    await gateway.wait_for(4)
    assert (balancer.allocation_w(1), balancer.allocation_w(2)) == (4500, 11000)
    await balancer.close()


async def test_the_energy_planner_hears_of_every_accepted_share() -> None:
    """`on_share` is told of each share a station accepted (the planner re-plans a scheduled session within
    it); a share the station refused is not reported."""
    gateway = Gateway()
    gateway.rejecting.add("CP2")
    balancer = LoadBalancer(gateway, Sites(SiteLimit(max_power_w=22000)), lambda: NOW, debounce_s=0.01)
    heard: list[tuple[int, int]] = []

    async def on_share(transaction: Transaction, power_w: int) -> None:
        heard.append((transaction.id, power_w))

    balancer.on_share = on_share
    bus = EventBus()
    balancer.subscribe(bus)
    await bus.publish(TransactionStarted(tx(1)))
    await bus.publish(TransactionStarted(tx(2)))
    await gateway.wait_for(2)
    await balancer.close()
    assert [pk for pk, _ in heard] == [1] and heard[0][1] == balancer.allocation_w(1)


async def test_a_stated_departure_gives_a_session_its_share_first() -> None:
    """Three sessions on 22 kW with 6 A minimum: once the planner reports that session 3's EV leaves soon,
    it is served first (departure priority), and the others share what is left."""
    from datetime import timedelta

    gateway = Gateway()
    balancer = LoadBalancer(gateway, Sites(SiteLimit(max_power_w=22000)), lambda: NOW, debounce_s=0.01)
    bus = EventBus()
    balancer.subscribe(bus)
    for pk in (1, 2, 3):
        await bus.publish(TransactionStarted(tx(pk)))
    await gateway.wait_for(3)
    even = balancer.allocation_w(3)
    assert even is not None and even == balancer.allocation_w(1)
    gateway.sent.clear()
    balancer.departure_stated(3, NOW + timedelta(hours=1))
    await gateway.wait_for(3)
    await balancer.close()
    first = balancer.allocation_w(3)
    assert first is not None and first > even
    assert first >= (balancer.allocation_w(1) or 0)


async def test_solar_sessions_follow_the_site_surplus() -> None:
    """A solar_only session gets the latest measurement's surplus (0 below its minimum), a normal one the
    grid; a new measurement (`site_changed`) or mode (`session_changed`) re-balances; with no grid limit
    only the surplus bounds the solar sessions."""
    gateway = Gateway()
    solar = MemorySolarStore()
    sites = Sites(SiteLimit(max_power_w=22000))
    balancer = LoadBalancer(gateway, sites, lambda: NOW, debounce_s=0.01, solar=solar)
    await solar.set_solar_mode(1, SolarMode.SOLAR_ONLY)
    await solar.put_measurement("default", "LOC1", SiteMeasurement(8000, 1000, NOW))
    await balancer.session_started(tx(1))
    await balancer.session_started(tx(2))
    await gateway.wait_for(2)
    assert (balancer.allocation_w(1), balancer.allocation_w(2)) == (7000, 11000)
    gateway.sent.clear()
    await solar.put_measurement("default", "LOC1", SiteMeasurement(4000, 1000, NOW))  # 3 kW < 4.14 kW
    balancer.site_changed("LOC1")
    await gateway.wait_for(1)
    assert limits(gateway) == [("CP1", Decimal(0))]  # paused
    gateway.sent.clear()
    await solar.set_solar_mode(1, SolarMode.NONE)
    balancer.session_changed(1)
    await gateway.wait_for(1)
    assert balancer.allocation_w(1) == 11000
    sites.limit = None  # no grid limit: solar sessions still bounded by the surplus, others untouched
    await solar.set_solar_mode(2, SolarMode.SOLAR_ONLY)
    await solar.put_measurement("default", "LOC1", SiteMeasurement(6000, 1000, NOW))
    assert await balancer.rebalance("LOC1") == {1: 11000, 2: 5000}
    await solar.set_solar_mode(2, SolarMode.NONE)  # back to normal: its solar limit is lifted
    assert await balancer.rebalance("LOC1") == {1: 11000, 2: 11000}
    await balancer.close()


async def test_a_stream_of_events_cannot_postpone_the_rebalance_forever() -> None:
    """Events arriving faster than the debounce (a meter read often) still let a re-balance run: a burst
    postpones it by at most MAX_DEBOUNCES intervals."""
    gateway = Gateway()
    balancer = LoadBalancer(gateway, Sites(SiteLimit(max_power_w=22000)), lambda: NOW, debounce_s=0.02)
    await balancer.session_started(tx(1))

    async def stream() -> None:
        while True:
            balancer.site_changed("LOC1")
            await asyncio.sleep(0.005)

    streaming = asyncio.create_task(stream())
    try:
        await gateway.wait_for(1)
    finally:
        streaming.cancel()
    assert limits(gateway) == [("CP1", Decimal("15.9"))]
    await balancer.close()


async def test_an_external_limit_caps_its_station_and_frees_the_rest() -> None:
    """A station under an external limit (NotifyChargingLimit with a schedule) is given at most that
    limit, the others share the rest; clearing it re-balances back to equal shares."""
    gateway = Gateway()
    balancer = LoadBalancer(gateway, Sites(SiteLimit(max_power_w=22000)), lambda: NOW, debounce_s=0.01)
    charging_limits = ChargingLimits(lambda: NOW)
    balancer.external_cap_w = charging_limits.cap_w
    charging_limits.on_change = balancer.station_limited
    bus = EventBus()
    balancer.subscribe(bus)
    for pk in (1, 2, 3):
        await bus.publish(TransactionStarted(tx(pk)))
    await gateway.wait_for(3)
    assert all(limit == Decimal("10.6") for _, limit in limits(gateway))
    gateway.sent.clear()
    schedule = {
        "id": 1,
        "chargingRateUnit": "W",
        "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 4000}],
    }
    charging_limits.set_limit("CP1", ExternalLimit(1, "EMS", None, NOW, [schedule]))
    await gateway.wait_for(3)
    assert balancer.allocation_w(1) == 4000
    assert balancer.allocation_w(2) == balancer.allocation_w(3) == 9000
    gateway.sent.clear()
    charging_limits.clear_limit("CP1", "EMS", None)
    await gateway.wait_for(3)
    assert balancer.allocation_w(1) == balancer.allocation_w(2) == 7333
    await balancer.close()


def test_external_schedule_limits() -> None:
    """The limit in force now: from startSchedule (or the first period), in W or A on numberPhases (default
    3 x 230 V), none before the start or after the duration; the lowest of the EVSE's and station's."""
    start = "2026-01-01T00:00:00Z"
    periods = [{"startPeriod": 0, "limit": 10}, {"startPeriod": 600, "limit": 6, "numberPhases": 1}]
    schedule = {
        "chargingRateUnit": "A",
        "startSchedule": start,
        "duration": 1200,
        "chargingSchedulePeriod": periods,
    }
    t0 = parse_datetime(start)
    assert schedule_limit_w(schedule, t0) == 6900
    assert schedule_limit_w(schedule, t0 + timedelta(seconds=700)) == 1380
    assert schedule_limit_w(schedule, t0 + timedelta(seconds=1200)) is None
    assert schedule_limit_w(schedule, t0 - timedelta(seconds=1)) is None
    clock = [t0]
    charging_limits = ChargingLimits(lambda: clock[0])
    assert charging_limits.cap_w("CP1", 1) is None
    charging_limits.set_limit("CP1", ExternalLimit(0, "SO", True, t0, [schedule]))
    charging_limits.set_limit(
        "CP1", ExternalLimit(2, "EMS", None, t0, [{**schedule, "chargingRateUnit": "W"}])
    )
    charging_limits.set_limit("CP1", ExternalLimit(1, "Other", None, t0))  # no schedule: no stated cap
    assert charging_limits.cap_w("CP1", 1) == 6900
    assert charging_limits.cap_w("CP1", 2) == 10
