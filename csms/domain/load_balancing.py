"""The load balancing service: keeps each site's running sessions within its power limit by sending
TxProfiles (1.6 TxProfile, 2.0.1 SetChargingProfile purpose TxProfile, in A per phase) through the
command gateway.

Events only mark a site dirty and (re)arm a short debounce timer; the re-balance runs in its own task, so
the OCPP hot path never waits on it. A re-balance computes `balance` for the site and sends the changed
allocations in `ordered_changes` order (lower first, each awaited), so the site never overshoots while
commands are in flight. A station that is offline or does not accept the profile is counted at its
maximum from then on.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

import structlog

from csms.domain.clock import Clock
from csms.domain.commands import (
    ChargingProfile,
    ChargingSchedulePeriod,
    Outcome,
    SetChargingProfile,
    StationGateway,
)
from csms.domain.events import (
    EventBus,
    Order,
    TransactionMeterAdvanced,
    TransactionStarted,
    TransactionStopped,
)
from csms.domain.models import Transaction
from csms.domain.smart_charging import SessionLoad, SiteLimit, amps, ordered_changes
from csms.domain.solar import SiteMeasurement, SolarMode, balance_solar

log = structlog.get_logger("csms.load_balancing")

BALANCER_STACK_LEVEL = 1  # above a TxDefaultProfile at 0, within 1.6 ChargeProfileMaxStackLevel
MAX_DEBOUNCES = 5  # a burst postpones a re-balance by at most this many debounce intervals
BALANCER_PROFILE_ID_BASE = 900_000_000  # profile id = base + transaction pk: one profile per session


class SiteDirectory(Protocol):
    """Where the balancer learns sites; implemented over the OCPI bridge's locations and the site limit
    store by the composition root (csms never imports ocpi)."""

    async def site_of(self, charge_point_id: str) -> str | None:
        """The site (location id) of a charge point, or None when it is at no site."""
        ...

    async def limit_of(self, site_id: str) -> SiteLimit | None:
        """The site's power limit, or None when it has none."""
        ...


class SolarReadings(Protocol):
    """Where the balancer reads a site's PV surplus and its sessions' solar modes (`csms.domain.solar`;
    the `SolarStore` is one)."""

    async def measurement_of(self, location_id: str) -> SiteMeasurement | None:
        """The site's latest measurement, or None."""
        ...

    async def solar_modes(self, transaction_pks: Iterable[int]) -> dict[int, SolarMode]:
        """The sessions' solar modes other than `none`."""
        ...


@dataclass(slots=True)
class _Session:
    tx: Transaction
    phases: int
    max_power_w: int
    allocated_w: int | None = None
    measured_w: int | None = None
    controllable: bool = True
    departure: datetime | None = None  # the EV's stated departure (priority), from the energy planner

    def load(self) -> SessionLoad:
        return SessionLoad(
            key=str(self.tx.id),
            phases=self.phases,
            max_power_w=self.max_power_w,
            allocated_w=self.allocated_w,
            measured_w=self.measured_w,
            controllable=self.controllable,
            departure=self.departure,
        )


@dataclass(slots=True)
class _Site:
    sessions: dict[int, _Session] = field(default_factory=dict)
    timer: asyncio.TimerHandle | None = None
    task: asyncio.Task[None] | None = None
    dirty: bool = False
    armed_at: float | None = None  # loop time the pending timer was first armed (None: no timer)


class LoadBalancer:
    """Balances every site with a power limit; `subscribe` it to the event bus, `close` it at shutdown.

    Args:
        gateway: delivers SetChargingProfile to stations.
        sites: site membership and limits.
        clock: the current time (the site limit's schedule).
        debounce_s: how long events are gathered before a re-balance.
        session_max_w: what a session is assumed to draw at most (EV and EVSE) until known.
        phases: the phases a session is assumed to use (3, or 1 for single-phase sites).
        solar: the sites' PV surplus and the sessions' solar modes (ADR 0022); None: no solar charging.
    """

    def __init__(
        self,
        gateway: StationGateway,
        sites: SiteDirectory,
        clock: Clock,
        *,
        debounce_s: float = 0.2,
        session_max_w: int = 11_000,
        phases: int = 3,
        solar: SolarReadings | None = None,
    ) -> None:
        self._gateway = gateway
        self._sites = sites
        self._clock = clock
        self._debounce_s = debounce_s
        self._session_max_w = session_max_w
        self._phases = phases
        self._solar = solar
        self._by_site: dict[str, _Site] = {}
        self._site_of_tx: dict[int, str] = {}
        self._lookups: set[asyncio.Task[None]] = set()  # site look-ups of started sessions
        self._stopped: set[int] = set()  # stopped while their site was being looked up
        # Told of every new share a station accepted (the energy planner re-plans within it).
        self.on_share: Callable[[Transaction, int], Awaitable[None]] | None = None
        # The cap in W that external limits (OCPP 2.0.1 NotifyChargingLimit) put on a charge point's EVSE,
        # None: none; set by the composition root (`ChargingLimits.cap_w`, ADR 0021).
        self.external_cap_w: Callable[[str, int], int | None] | None = None

    def subscribe(self, events: EventBus) -> None:
        """Re-balance on transaction start and stop, and when a meter value's power changes a session's
        demand (MeterValues / TransactionEvent Power.Active.Import)."""
        events.subscribe(TransactionStarted, self._on_started, order=Order.DOMAIN)
        events.subscribe(TransactionStopped, self._on_stopped, order=Order.DOMAIN)
        events.subscribe_hot(TransactionMeterAdvanced, self._on_meter, order=Order.DOMAIN)

    def _on_meter(self, event: TransactionMeterAdvanced) -> None:
        if event.power_w is not None:
            self.power_reported(event.transaction.id, event.power_w)

    async def _on_started(self, event: TransactionStarted) -> None:
        # The site look-up reads the database: in a task of its own, so the station's answer never waits.
        task = asyncio.create_task(self.session_started(event.transaction), name="balance-lookup")
        self._lookups.add(task)
        task.add_done_callback(self._lookups.discard)

    async def _on_stopped(self, event: TransactionStopped) -> None:
        self.session_stopped(event.transaction)

    async def session_started(self, tx: Transaction) -> None:
        """Count `tx` at its site (if the site has a limit) and schedule a re-balance there."""
        site_id = await self._sites.site_of(tx.charge_point_id)
        if site_id is None or tx.id in self._stopped:
            self._stopped.discard(tx.id)
            return
        site = self._by_site.setdefault(site_id, _Site())
        site.sessions[tx.id] = _Session(tx, self._phases, self._session_max_w)
        self._site_of_tx[tx.id] = site_id
        self._schedule(site_id)

    def session_stopped(self, tx: Transaction) -> None:
        """Free `tx`'s share and schedule a re-balance of its site."""
        site_id = self._site_of_tx.pop(tx.id, None)
        if site_id is None:
            if any(not t.done() for t in self._lookups):
                self._stopped.add(tx.id)  # its start is still being looked up
            return
        self._by_site[site_id].sessions.pop(tx.id, None)
        self._schedule(site_id)

    def power_reported(self, transaction_pk: int, power_w: int) -> None:
        """A station reported `power_w` for a session (MeterValues Power.Active.Import); schedules a
        re-balance when it changes what the session would take. Synchronous: safe on the hot path."""
        site_id = self._site_of_tx.get(transaction_pk)
        if site_id is None:
            return
        session = self._by_site[site_id].sessions[transaction_pk]
        before = session.load().demand_w()
        session.measured_w = power_w
        if session.load().demand_w() != before:
            self._schedule(site_id)

    def departure_stated(self, transaction_pk: int, departure: datetime | None) -> None:
        """The EV of a session stated when it leaves (NotifyEVChargingNeeds, OCPI charging_preferences):
        sessions with a departure time get their share first. Synchronous; safe anywhere."""
        site_id = self._site_of_tx.get(transaction_pk)
        if site_id is None:
            return
        session = self._by_site[site_id].sessions[transaction_pk]
        if session.departure != departure:
            session.departure = departure
            self._schedule(site_id)

    def site_changed(self, site_id: str) -> None:
        """The site's limit changed: re-balance it (if it has sessions). Synchronous; safe anywhere."""
        if site_id in self._by_site:
            self._schedule(site_id)

    def session_changed(self, transaction_pk: int) -> None:
        """Something the balance reads of a session changed (its solar mode): re-balance its site."""
        site_id = self._site_of_tx.get(transaction_pk)
        if site_id is not None:
            self._schedule(site_id)

    def station_limited(self, charge_point_id: str) -> None:
        """An external limit on the station was set or cleared: re-balance the sites where it charges.
        Synchronous; safe anywhere."""
        for site_id, site in self._by_site.items():
            if any(s.tx.charge_point_id == charge_point_id for s in site.sessions.values()):
                self._schedule(site_id)

    def _apply_external_caps(self, site: _Site) -> None:
        """A session under an external limit wants at most that limit (the station enforces it anyway), so
        the rest of the site's power goes to the others."""
        for session in site.sessions.values():
            tx = session.tx
            cap = None if self.external_cap_w is None else self.external_cap_w(tx.charge_point_id, tx.evse_id)
            session.max_power_w = self._session_max_w if cap is None else min(self._session_max_w, cap)

    def allocation_w(self, transaction_pk: int) -> int | None:
        """The power last allocated to a session (None: not balanced, or not yet)."""
        site_id = self._site_of_tx.get(transaction_pk)
        if site_id is None:
            return None
        return self._by_site[site_id].sessions[transaction_pk].allocated_w

    def _schedule(self, site_id: str) -> None:
        site = self._by_site[site_id]
        site.dirty = True
        loop = asyncio.get_running_loop()
        if site.timer is not None:
            assert site.armed_at is not None
            if loop.time() - site.armed_at >= self._debounce_s * MAX_DEBOUNCES:
                return  # events keep coming (a meter read often): the pending re-balance runs anyway
            site.timer.cancel()  # debounce: the last event of a burst sets the time
        else:
            site.armed_at = loop.time()
        site.timer = loop.call_later(self._debounce_s, self._start, site_id)

    def _start(self, site_id: str) -> None:
        site = self._by_site[site_id]
        site.timer = None
        site.armed_at = None
        if site.task is None or site.task.done():
            site.task = asyncio.create_task(self._run(site_id), name=f"balance-{site_id}")
        # else: the running re-balance sees `dirty` and runs once more

    async def _run(self, site_id: str) -> None:
        site = self._by_site[site_id]
        while site.dirty:
            site.dirty = False
            try:
                await self.rebalance(site_id)
            except Exception:
                log.exception("rebalance_failed", site_id=site_id)

    async def rebalance(self, site_id: str) -> dict[int, int]:
        """Compute the site's allocation now and send the changes, lower first, each awaited.

        Returns:
            transaction pk -> allowed W of the controllable sessions (empty when the site has no limit).
        """
        site = self._by_site.get(site_id)
        if site is None:
            return {}
        limit = await self._sites.limit_of(site_id)
        modes = await self._solar.solar_modes(site.sessions) if self._solar is not None else {}
        if limit is None and not modes and all(s.allocated_w is None for s in site.sessions.values()):
            return {}  # nothing to limit, and nothing limited before (a solar mode set back to none)
        for session in site.sessions.values():  # an offline station is counted at its maximum
            if self._gateway.ocpp_version(session.tx.charge_point_id) is None:
                session.controllable = False
        self._apply_external_caps(site)
        loads = [s.load() for s in site.sessions.values()]
        if limit is None:  # no grid limit: only the surplus bounds solar sessions, the others get their max
            limit = SiteLimit()
            limit_w: int | None = sum(load.max_power_w for load in loads)
        else:
            limit_w = limit.limit_w_at(self._clock())
        if limit_w is None:
            return {}
        surplus_w = await self._surplus_w(site_id) if modes else 0
        by_key = {str(pk): mode for pk, mode in modes.items()}
        allocation = balance_solar(
            limit_w, limit.min_current_a, loads, surplus_w, by_key, limit.max_current_a
        )
        previous = {k: site.sessions[int(k)].allocated_w for k in allocation}
        for key, power_w in ordered_changes(previous, allocation):
            target = site.sessions.get(int(key))  # None: stopped while earlier commands were sent
            if target is not None:
                await self._send(site_id, target, power_w)
        log.info("site_rebalanced", site_id=site_id, limit_w=limit_w, sessions=len(loads),
                 surplus_w=surplus_w, solar_sessions=len(modes),
                 allocated_w=sum(allocation.values()))  # fmt: skip
        return {int(k): v for k, v in allocation.items()}

    async def _surplus_w(self, site_id: str) -> int:
        """The site's PV surplus by its latest measurement (0 when none was reported)."""
        measurement = None if self._solar is None else await self._solar.measurement_of(site_id)
        return 0 if measurement is None else measurement.surplus_w

    async def _send(self, site_id: str, session: _Session, power_w: int) -> None:
        tx = session.tx
        profile = ChargingProfile(
            id=BALANCER_PROFILE_ID_BASE + tx.id,
            stack_level=BALANCER_STACK_LEVEL,
            purpose="TxProfile",
            kind="Relative",
            rate_unit="A",
            periods=[ChargingSchedulePeriod(0, amps(power_w, session.phases), session.phases)],
            ocpp_transaction_id=tx.ocpp_transaction_id,
        )
        result = await self._gateway.execute(tx.charge_point_id, SetChargingProfile(tx.evse_id, profile))
        accepted = result.outcome == Outcome.ANSWERED and result.status == "Accepted"
        if accepted:
            session.allocated_w = power_w
            if self.on_share is not None:
                await self.on_share(tx, power_w)
        else:  # counted at its maximum from now on (it keeps drawing what it likes)
            session.controllable = False
            self._schedule(site_id)
        log.info("charging_limit_sent", charge_point_id=tx.charge_point_id, site_id=site_id,
                 transaction_id=tx.ocpp_transaction_id, power_w=power_w, accepted=accepted,
                 outcome=str(result.outcome), status=result.status)  # fmt: skip

    async def close(self) -> None:
        """Cancel pending timers and wait for running re-balances to end."""
        tasks = [t for t in self._lookups if not t.done()]
        for t in tasks:
            t.cancel()
        for site in self._by_site.values():
            if site.timer is not None:
                site.timer.cancel()
            if site.task is not None and not site.task.done():
                site.task.cancel()
                tasks.append(site.task)
        if tasks:
            await asyncio.wait(tasks)
