"""The planner: keeps each site's forecast and each session's needs, plans the session's schedule
(`optimizer.plan_schedule`) and sends it to the station as a TxProfile through SetChargingProfile; plans again
when the needs or the site's forecast change, forgets a session when it stops.

Forecasts and needs are stored (`EnergyStore`) and read back by `start`; the planner works from its memory
(ADR 0019), so another process learns of a change only at its next start.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

import structlog

from csms.config import EnergyConfig
from csms.domain.clock import Clock
from csms.domain.commands import CommandResult, CommandService, SetChargingProfile
from csms.domain.energy.forecasts import CarbonPoint, PricePoint, SiteForecast
from csms.domain.energy.needs import EvNeeds, ProfileType
from csms.domain.energy.optimizer import Objective, Plan, plan_schedule, tx_profile
from csms.domain.energy.store import EnergyStore
from csms.domain.events import EventBus, Order, TransactionStopped
from csms.domain.models import Transaction, TransactionStatus

log = structlog.get_logger("csms.energy")

# TxProfiles of the planner carry ids from here on (transaction id added), apart from operators' own.
PROFILE_ID_BASE = 1_000_000_000
PROFILE_ID_SPAN = 500_000_000  # below OCPI's ids (ocpi.charging_profiles: 1_500_000_000 on)

SiteOf = Callable[[str], Awaitable[str | None]]


def _no_share(transaction_pk: int) -> int | None:
    return None


def _ignore_departure(transaction_pk: int, departure: datetime | None) -> None:
    return None


async def _no_site(charge_point_id: str) -> str | None:
    return None


@dataclass(frozen=True, slots=True)
class SessionSchedule:
    """A session's current plan, the site it was planned for, and what the station answered (None: not sent
    yet, or the station is offline)."""

    transaction_id: int
    location_id: str | None
    needs: EvNeeds
    plan: Plan | None
    reason: str | None = None  # why there is no plan: no_departure, no_energy_need, no_forecast, ...
    station_status: str | None = None


class EnergyPlanner:
    """Forecasts per site, needs per session, and the schedules built from them."""

    def __init__(
        self,
        config: EnergyConfig,
        commands: CommandService,
        clock: Clock,
        events: EventBus,
        store: EnergyStore,
    ) -> None:
        """Nothing runs yet; `site_of` (charge point id → OCPI location id) is installed by the composition
        root; without it no session has a site and schedules plan with an empty forecast."""
        self.config = config
        self._commands = commands
        self._store = store
        self._clock = clock
        self.site_of: SiteOf = _no_site
        # The site's share of a session (W) from the load balancer (`LoadBalancer.allocation_w`), installed
        # by the composition root; None: the session's site has no limit (or it is not balanced yet).
        self.site_share: Callable[[int], int | None] = _no_share
        # Told of each session's stated departure (the load balancer serves those sessions first).
        self.departure_stated: Callable[[int, datetime | None], None] = _ignore_departure
        self._forecasts: dict[str, SiteForecast] = {}
        self._needs: dict[int, tuple[Transaction, EvNeeds]] = {}
        self._schedules: dict[int, SessionSchedule] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        events.subscribe(TransactionStopped, self._stopped, order=Order.DOMAIN)

    def allowed_power_w(self, tx: Transaction, needs: EvNeeds) -> int:
        """What the session may draw (W): the EV's maximum within `[energy] max_power_w` and within the
        site's share the load balancer gave it (`site_share`), so a schedule never exceeds the site limit.
        The planner's TxProfile stacks above the balancer's (`[energy] stack_level` > 1), so it governs."""
        caps = [self.config.max_power_w]
        if needs.max_power_w is not None:
            caps.append(needs.max_power_w)
        share = self.site_share(tx.id)
        if share is not None:
            caps.append(share)
        return min(caps)

    async def share_changed(self, tx: Transaction, power_w: int) -> None:
        """The load balancer gave the session a new share (W): re-plan it within the new share if it has
        needs (a session without a plan follows the balancer's own profile)."""
        if tx.id in self._needs:
            await self.replan(self._needs[tx.id][0])

    def objective(self, needs: EvNeeds) -> Objective:
        """The driver's choice (OCPI CHEAP → cost, GREEN → carbon, FAST → as fast as allowed), else the
        site operator's `[energy] optimize`."""
        if needs.profile_type is ProfileType.CHEAP:
            return Objective.COST
        if needs.profile_type is ProfileType.GREEN:
            return Objective.CARBON
        if needs.profile_type is ProfileType.FAST:
            return Objective.FAST
        return Objective(self.config.optimize)

    # Forecasts

    def forecast(self, location_id: str) -> SiteForecast:
        """The site's forecast in use (empty when none was imported)."""
        return self._forecasts.get(location_id) or SiteForecast(location_id)

    def known_sites(self) -> list[str]:
        """Sites that have a forecast or a planned session (the HTTP source refreshes these)."""
        sites = set(self._forecasts)
        sites |= {s.location_id for s in self._schedules.values() if s.location_id is not None}
        return sorted(sites)

    async def set_prices(self, location_id: str, currency: str, prices: list[PricePoint]) -> int:
        """Replace the site's price forecast; plan its sessions again. Returns how many were planned."""
        forecast = self.forecast(location_id)
        forecast.currency, forecast.prices, forecast.updated_at = currency, prices, self._clock()
        self._forecasts[location_id] = forecast
        await self._store.save_site_forecast(forecast)
        return await self.replan_site(location_id)

    async def set_carbon(self, location_id: str, carbon: list[CarbonPoint]) -> int:
        """Replace the site's carbon forecast; plan its sessions again. Returns how many were planned."""
        forecast = self.forecast(location_id)
        forecast.carbon, forecast.updated_at = carbon, self._clock()
        self._forecasts[location_id] = forecast
        await self._store.save_site_forecast(forecast)
        return await self.replan_site(location_id)

    async def set_forecast(self, forecast: SiteForecast) -> int:
        """Replace both series of a site (the HTTP source) when they changed; plan its sessions again."""
        old = self._forecasts.get(forecast.location_id)
        if old is not None and (old.prices, old.carbon, old.currency) == (
            forecast.prices,
            forecast.carbon,
            forecast.currency,
        ):
            return 0
        forecast.updated_at = self._clock()
        self._forecasts[forecast.location_id] = forecast
        await self._store.save_site_forecast(forecast)
        return await self.replan_site(forecast.location_id)

    async def replan_site(self, location_id: str) -> int:
        """Plan and send again every session with needs at the site; returns how many."""
        txs = [tx for tx_id, (tx, _) in list(self._needs.items()) if self._site_cached(tx_id) == location_id]
        for tx in txs:
            # As stored now: the energy delivered so far counts against the need.
            await self.replan(await self._store.get_transaction(tx.id) or tx)
        return len(txs)

    def _site_cached(self, transaction_id: int) -> str | None:
        schedule = self._schedules.get(transaction_id)
        return schedule.location_id if schedule is not None else None

    # Sessions

    def needs_of(self, transaction_id: int) -> EvNeeds | None:
        """The session's needs, if any were stated."""
        entry = self._needs.get(transaction_id)
        return entry[1] if entry is not None else None

    def schedule_of(self, transaction_id: int) -> SessionSchedule | None:
        """The session's current schedule (None: no needs stated)."""
        return self._schedules.get(transaction_id)

    def set_needs_later(self, tx: Transaction, needs: EvNeeds) -> None:
        """`set_needs` in the background: for a station's own CALL handler, which must answer before the
        station can take our SetChargingProfile (OCPP 2.0.1 K15.FR.02: the CSMS sends it after answering)."""
        task = asyncio.get_running_loop().create_task(self._set_needs_logged(tx, needs))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _set_needs_logged(self, tx: Transaction, needs: EvNeeds) -> None:
        try:
            await self.set_needs(tx, needs)
        except Exception:  # a failed plan must not go unseen, nor kill the loop
            log.exception("schedule_failed", charge_point_id=tx.charge_point_id, transaction_id=tx.id)

    async def set_needs(self, tx: Transaction, needs: EvNeeds) -> SessionSchedule:
        """Record the session's needs (replacing earlier ones), plan and send its schedule."""
        self._needs[tx.id] = (tx, needs)
        self.departure_stated(tx.id, needs.departure)
        await self._store.save_ev_needs(tx.id, needs, self._clock())
        return await self.replan(tx)

    async def replan(self, tx: Transaction, *, send: bool = True) -> SessionSchedule:
        """Plan the session from its needs and its site's forecast now, and (`send`) send the TxProfile when
        there is a plan and the session is still active."""
        _, needs = self._needs[tx.id]
        location_id = await self.site_of(tx.charge_point_id)
        now = self._clock()
        plan, reason = None, None
        if needs.profile_type is not ProfileType.FAST and needs.departure is None:
            reason = "no_departure"
        elif needs.energy_wh is None:
            reason = "no_energy_need"
        else:
            delivered = tx.energy_wh or 0
            plan = plan_schedule(
                energy_need_wh=max(0, needs.energy_wh - delivered),
                start=now,
                departure=needs.departure or now,
                max_power_w=self.allowed_power_w(tx, needs),
                min_power_w=needs.min_power_w or 0,
                forecast=self.forecast(location_id) if location_id is not None else SiteForecast(""),
                objective=self.objective(needs),
            )
        schedule = SessionSchedule(tx.id, location_id, needs, plan, reason)
        self._schedules[tx.id] = schedule
        if send and plan is not None and plan.intervals and tx.status is TransactionStatus.ACTIVE:
            result = await self._send(tx, plan)
            schedule = SessionSchedule(
                tx.id, location_id, needs, plan, reason, result.status or result.outcome.value
            )
            self._schedules[tx.id] = schedule
        return schedule

    async def _send(self, tx: Transaction, plan: Plan) -> CommandResult:
        profile = tx_profile(
            plan,
            profile_id=PROFILE_ID_BASE + tx.id % PROFILE_ID_SPAN,
            ocpp_transaction_id=tx.ocpp_transaction_id,
            stack_level=self.config.stack_level,
        )
        result = await self._commands.send(tx.charge_point_id, SetChargingProfile(tx.evse_id, profile))
        log.info(
            "schedule_sent",
            charge_point_id=tx.charge_point_id,
            transaction_id=tx.id,
            objective=plan.objective.value,
            target_met=plan.target_met,
            outcome=result.outcome.value,
            status=result.status,
        )
        return result

    async def _stopped(self, event: TransactionStopped) -> None:
        if self._needs.pop(event.transaction.id, None) is not None:
            await self._store.delete_ev_needs(event.transaction.id)

    async def start(self) -> None:
        """Read the stored forecasts and the needs of active sessions back and plan those sessions (nothing
        is sent: the stations hold the profiles they were sent; a change plans and sends again). Needs of
        sessions that ended meanwhile are deleted."""
        for forecast in await self._store.list_site_forecasts():
            self._forecasts[forecast.location_id] = forecast
        for transaction_id, needs in await self._store.list_ev_needs():
            tx = await self._store.get_transaction(transaction_id)
            if tx is None or tx.status is not TransactionStatus.ACTIVE:
                await self._store.delete_ev_needs(transaction_id)
                continue
            self._needs[tx.id] = (tx, needs)
            await self.replan(tx, send=False)

    async def close(self) -> None:
        """Wait for schedules still being sent (the app calls it at shutdown, before the OCPP server)."""
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
