"""One running CSMS: store, batched writer, OCPP server, HTTP API and OCPI bridge, started and stopped
in order.

Shutdown order is what makes SIGTERM safe: stop accepting HTTP, close every station socket (no new
message can be acknowledged after that), then stop the batched writer, which commits everything it was
given, then close the store. Nothing a station was answered for is lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import signal
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import structlog
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from csms.api import create_app
from csms.api.power_limits import POWER_LIMIT_CHANGED, SITE_LIMIT_STORE
from csms.api.solar import MEASUREMENT_REPORTED, SOLAR_MODE_CHANGED, SOLAR_STORE
from csms.api.webhooks import WEBHOOK_STORE, WEBHOOKS_CHANGED
from csms.cluster.counters import RedisCounters
from csms.cluster.node import ClusterNode
from csms.config import Config
from csms.domain.commands import RegistryGateway
from csms.domain.core import Domain
from csms.domain.load_balancing import LoadBalancer
from csms.domain.ports import Pagination
from csms.domain.secrets import SecretVerifier
from csms.domain.services import Services
from csms.domain.smart_charging import SiteLimit, SiteLimitStore
from csms.logging import configure_logging
from csms.metrics import Metrics
from csms.ocpp.server import OcppServer
from csms.site_feeds.forecasts import ForecastSource
from csms.site_feeds.solar_meter import SolarMeter
from csms.store.sql import open_store
from csms.store.sql.site_limits import SqlSiteLimitStore
from csms.store.sql.solar import SqlSolarStore
from csms.store.sql.webhooks import SqlWebhookStore
from csms.store.writer import BatchedWriter
from csms.ui.app import mount_ui
from csms.webhooks.outbox import WebhookFeeder, WebhookWorker
from ocpi import admin_api, chargeprice
from ocpi.admin_api import emsp_scope
from ocpi.admin_api.dashboard import roaming
from ocpi.agent import app as agent_app
from ocpi.agent.bookings import BookingService
from ocpi.agent.store import SqlAgentStore
from ocpi.agent.webhooks import WebhookNotifier
from ocpi.bridge import OcpiBridge
from ocpi.emsp import server as emsp_server
from ocpi.emsp.role import EmspRole
from ocpi.emsp.sql_store import SqlEmspStore
from ocpi.emsp.token_push import TokenPusher
from ocpi.store import OcpiStore

log = structlog.get_logger("csms.app")

# The eMSP role's `CpoNetwork` on the root HTTP app when `[emsp] enabled` (ADR 0023; the Agent API's source).
EMSP_NETWORK = web.AppKey("emsp_network", EmspRole)

PURGE_EVERY = 3600.0  # seconds between message-log retention passes
HTTP_SHUTDOWN_SECONDS = 5.0  # how long REST and OCPI requests in flight may finish at shutdown


@dataclass(frozen=True, slots=True)
class BridgeSites:
    """The load balancer's sites (`csms.domain.load_balancing.SiteDirectory`): a charge point's site is
    its OCPI location, the site's limit is the one stored for that location."""

    locations: OcpiStore
    limits: SiteLimitStore

    async def site_of(self, charge_point_id: str) -> str | None:
        location = await self.locations.location_of(charge_point_id)
        return None if location is None else location.id

    async def limit_of(self, site_id: str) -> SiteLimit | None:
        return await self.limits.site_limit_of(site_id)


@dataclass(slots=True)
class Csms:
    """A started CSMS; `ocpp_port` and `http_port` are the bound ports (useful when configured as 0)."""

    services: Services
    domain: Domain
    writer: BatchedWriter
    ocpp: OcppServer
    http: web.AppRunner
    ocpp_port: int
    http_port: int
    ocpi: OcpiBridge
    cluster: ClusterNode | None = None
    webhook_feeder: WebhookFeeder | None = None
    webhook_worker: WebhookWorker | None = None
    forecasts: ForecastSource | None = None
    balancer: LoadBalancer | None = None
    site_limits: SiteLimitStore | None = None
    solar_meter: SolarMeter | None = None
    # The eMSP role when `[emsp] enabled` (ADR 0023): the `ocpi.emsp.network.CpoNetwork` the Agent API uses;
    # also at `root[EMSP_NETWORK]` of the HTTP app.
    emsp: EmspRole | None = None
    agent: agent_app.Agent | None = None  # the Agent API under /agent/v1, with the eMSP role (ADR 0024)
    emsp_token_push: TokenPusher | None = None  # pushes our drivers' token changes to CPOs, with `emsp`
    _purge_task: asyncio.Task[None] | None = None

    @classmethod
    async def start(
        cls, config: Config, *, ocpp_sock: socket.socket | None = None, http_sock: socket.socket | None = None
    ) -> Csms:
        """Open the store (migrating it), start the writer, the OCPP server and the HTTP API.

        `ocpp_sock` and `http_sock` (a worker of `[server] workers`, `csms.workers`): listening sockets
        bound and logged by the supervisor, served instead of binding `[ocpp]`/`[http]` host and port.
        """
        store = await open_store(config.database)
        metrics = Metrics()  # this CSMS's own registry, served at GET /metrics
        writer = BatchedWriter(
            store,
            max_items=config.database.batch_max_items,
            interval=config.database.batch_interval_ms / 1000,
            outage_timeout=config.database.outage_retry_seconds,
            on_flush=metrics.batch_flushed,
        )
        await writer.start()
        services = Services(config=config, store=store, writer=writer, metrics=metrics)
        metrics.watch(services.registry, writer)
        # In a cluster, commands reach stations on other nodes through Redis (csms.cluster).
        cluster = None
        if config.cluster.redis_url:
            cluster = ClusterNode(config, services.registry, services.events)
            # Rate limits count across every process and node (csms.api.limits).
            services.request_counters = RedisCounters(cluster.redis, config.cluster.key_prefix)
        domain = Domain(services, cluster.gateway if cluster is not None else None)
        # Every charge point in memory before the first handshake: admission and boot read no database.
        await domain.stations.start()
        await domain.energy.start()  # stored forecasts and needs (ADR 0019)
        if cluster is not None:
            cluster.gateway.forwarded = domain.sessions.forwarded
            await cluster.start()
        ocpp = OcppServer(domain)
        ocpp_port = await ocpp.start(ocpp_sock)
        # Expiry is tracked by the CSMS itself, stations online or not.
        await domain.reservations.start()
        await domain.certificates.start()  # renewal before expiry (ADR 0014)
        await domain.local_lists.start()  # local lists follow token changes (ADR 0016)
        bridge = OcpiBridge.build(domain, store.engine)
        metrics.watch_outbox(lambda: bridge.outbox.depth)
        forecasts = _energy(domain, bridge)
        await forecasts.start()
        # Webhooks: the feeder notes domain events from now on; the worker delivers them (ADR 0011).
        webhook_store = SqlWebhookStore(store.engine, clock=services.clock)

        async def charge_point_org(charge_point_id: str) -> str | None:
            cp = await services.store.get_charge_point(charge_point_id)
            return None if cp is None else cp.org_id

        # Load balancing (ADR 0018): sessions at a location with a power limit share it.
        gateway = cluster.gateway if cluster is not None else RegistryGateway(services.registry)
        site_limits = SqlSiteLimitStore(store.engine, clock=services.clock)
        # Solar surplus (ADR 0022): sessions in a solar mode share the site's PV surplus first.
        solar = SqlSolarStore(store.engine, clock=services.clock)
        balancer = LoadBalancer(
            gateway, BridgeSites(bridge.ctx.store, site_limits), services.clock, solar=solar
        )
        solar_meter = _solar_meter(config, solar, bridge, balancer, services)
        await solar_meter.start()
        balancer.subscribe(services.events)
        # A planned session's schedule stays within the share the balancer gives it (ADR 0018, 0019).
        domain.energy.site_share = balancer.allocation_w
        balancer.on_share = domain.energy.share_changed
        domain.energy.departure_stated = balancer.departure_stated
        # External limits (2.0.1 NotifyChargingLimit) cap their station's sessions (ADR 0021).
        balancer.external_cap_w = domain.charging_limits.cap_w
        domain.charging_limits.on_change = balancer.station_limited
        webhook_feeder = WebhookFeeder(webhook_store, config.webhooks, services.clock, charge_point_org)
        webhook_feeder.subscribe(services.events)
        await webhook_feeder.start()
        webhook_worker = WebhookWorker(
            webhook_store, config.webhooks, services.clock, node_id=config.cluster.node_id or None
        )
        await webhook_worker.start()
        root = create_app(domain, extra_routes=admin_api.ROUTES)
        root[WEBHOOK_STORE] = webhook_store
        root[SITE_LIMIT_STORE] = site_limits
        root[POWER_LIMIT_CHANGED] = balancer.site_changed
        root[SOLAR_STORE] = solar
        root[MEASUREMENT_REPORTED] = balancer.site_changed
        root[SOLAR_MODE_CHANGED] = balancer.session_changed
        root[WEBHOOKS_CHANGED] = webhook_feeder.webhooks_changed
        admin_api.install(root, bridge.ctx.store, bridge.ctx)
        root.add_subapp("/ocpi", bridge.app())
        emsp: EmspRole | None = None
        agent: agent_app.Agent | None = None
        if config.emsp.enabled:  # our eMSP role, its own OCPI root (ADR 0023)
            emsp = EmspRole(
                config.emsp,
                SqlEmspStore(store.engine, clock=services.clock),
                store,
                bridge.session,
                services.clock,
            )
            root[EMSP_NETWORK] = emsp
            root.add_subapp("/emsp/ocpi", emsp_server.create_app(emsp))
            agent = _agent(config, store.engine, services, emsp)
            root.add_subapp("/agent/v1", agent_app.create_app(agent))
            emsp_scope.install(root, emsp_scope.EmspAdmin(emsp, agent.store, config.emsp.org_id))
        # The operator dashboard under /ui, reading the bridge's records through its hook (ADR 0020).
        mount_ui(root, domain, roaming(domain, bridge.ctx.store, bridge.ctx))
        root.add_subapp(
            "/v1", chargeprice.create_app(bridge.ctx.store, config.ocpi.chargeprice_vehicles_file)
        )
        # Requests still running at shutdown get HTTP_SHUTDOWN_SECONDS, not aiohttp's 60 s: SIGTERM must stop
        # the CSMS promptly (stations are closed next; what they were answered for is committed after).
        runner = web.AppRunner(root, access_log=None, shutdown_timeout=HTTP_SHUTDOWN_SECONDS)
        await runner.setup()
        site: web.BaseSite
        if http_sock is None:
            site = web.TCPSite(runner, config.http.host, config.http.port, backlog=config.ocpp.backlog)
        else:
            site = web.SockSite(runner, http_sock, backlog=config.ocpp.backlog)
        await site.start()
        server = site._server  # aiohttp exposes the bound port only through the asyncio server
        assert server is not None
        http_port = int(next(iter(server.sockets)).getsockname()[1])  # type: ignore[attr-defined]
        if http_sock is None:
            log.info("http_listening", host=config.http.host, port=http_port)
        await bridge.start(http_port)
        token_push: TokenPusher | None = None
        if emsp is not None:
            await emsp.start(bridge.ctx.base_url + "/emsp/ocpi")
            token_push = TokenPusher(emsp, services.events)
            await token_push.start()
        if agent is not None:
            await agent.webhooks.start()
            await agent.bookings.start()
        csms = cls(
            services,
            domain,
            writer,
            ocpp,
            runner,
            ocpp_port,
            http_port,
            bridge,
            cluster,
            webhook_feeder,
            webhook_worker,
            forecasts,
            balancer,
            site_limits,
            solar_meter,
            emsp,
            agent,
            token_push,
        )
        if config.ocpp.message_log:
            csms._purge_task = asyncio.create_task(csms._purge_loop())
        return csms

    async def purge_message_log(self) -> int:
        """Delete logged frames older than `[ocpp] message_log_retention_days`; returns how many."""
        retention = timedelta(days=self.services.config.ocpp.message_log_retention_days)
        removed = await self.services.store.purge_frames(self.services.clock() - retention)
        if removed:
            log.info("message_log_purged", frames=removed)
        return removed

    async def _purge_loop(self) -> None:
        while True:
            try:
                await self.purge_message_log()
            except Exception:
                log.exception("message_log_purge_failed")
            await asyncio.sleep(PURGE_EVERY)

    async def stop(self) -> None:
        """Shut down in the order described in the module docstring; safe to call once."""
        log.info("shutting_down")
        if self._purge_task is not None:
            self._purge_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._purge_task
        await self.http.cleanup()
        log.info("http_stopped")
        if self.forecasts is not None:
            await self.forecasts.stop()
        if self.solar_meter is not None:
            await self.solar_meter.stop()
        await self.domain.energy.close()
        await self.ocpp.close()
        log.info("ocpp_stopped")
        if self.cluster is not None:  # after the sockets closed: the others see these stations offline
            await self.cluster.stop()
            log.info("cluster_stopped")
        if self.balancer is not None:
            await self.balancer.close()
        await self.domain.reservations.stop()
        await self.domain.costs.stop()
        await self.domain.firmware.stop()
        await self.domain.certificates.stop()
        await self.domain.local_lists.stop()
        await self.domain.stations.stop()
        log.info("domain_stopped")
        if self.agent is not None:
            await self.agent.bookings.stop()
            await self.agent.webhooks.stop()
        if self.emsp_token_push is not None:
            await self.emsp_token_push.stop()
        if self.emsp is not None:
            await self.emsp.stop()
        await self.ocpi.stop()
        log.info("ocpi_stopped")
        if self.webhook_worker is not None:
            await self.webhook_worker.stop()
        if self.webhook_feeder is not None:  # after the stations: it stores every event they caused
            await self.webhook_feeder.stop()
        await self.writer.stop()
        log.info("writer_stopped")
        await self.services.store.close()
        log.info("stopped")


def _energy(domain: Domain, bridge: OcpiBridge) -> ForecastSource:
    """Wire the energy planner to the OCPI locations (a charge point's site) and its HTTP forecast source."""
    ocpi_store = bridge.ctx.store

    async def site_of(charge_point_id: str) -> str | None:
        location = await ocpi_store.location_of(charge_point_id)
        return None if location is None else location.id

    async def sites() -> list[str]:
        ids: list[str] = []
        offset = 0
        while True:
            page, total = await ocpi_store.list_locations(Pagination(offset=offset, limit=500))
            ids += [location.id for location in page]
            offset += len(page)
            if not page or offset >= total:
                return ids

    domain.energy.site_of = site_of
    return ForecastSource(domain.energy, sites)


def _solar_meter(
    config: Config, solar: SqlSolarStore, bridge: OcpiBridge, balancer: LoadBalancer, services: Services
) -> SolarMeter:
    """The HTTP meter of `[solar] meter_url`, read for every OCPI location; a reading re-balances its site."""
    ocpi_store = bridge.ctx.store

    async def sites() -> list[tuple[str, str]]:
        found: list[tuple[str, str]] = []
        offset = 0
        while True:
            page, total = await ocpi_store.list_locations(Pagination(offset=offset, limit=500))
            found += [(location.org_id, location.id) for location in page]
            offset += len(page)
            if not page or offset >= total:
                return found

    return SolarMeter(
        config.solar.meter_url, config.solar.poll_seconds, solar, sites, balancer.site_changed, services.clock
    )


def _agent(config: Config, engine: AsyncEngine, services: Services, network: EmspRole) -> agent_app.Agent:
    """The Agent API's parts (ADR 0024): its store on the CSMS database, the booking service following the
    eMSP role's events, and the client webhooks."""
    store = SqlAgentStore(engine, clock=services.clock)
    webhooks = WebhookNotifier(store, config.agent, services.clock)
    bookings = BookingService(store, network, config.agent, services.clock, webhooks.notify)
    return agent_app.Agent(
        store, network, bookings, config.agent, services.request_counters, services.clock, SecretVerifier(),
        webhooks,
    )  # fmt: skip


def tune_gc() -> None:
    """The garbage collector settings of a running CSMS (`csms run`, and the benchmarks' server).

    Long-lived start-up objects never need collecting: freezing them keeps full GC passes short with many
    connections (performance-notes.md: GC pauses at 10k connections). Each message briefly owns a handful
    of tracked objects (parsed frame, samples, queued writes); the default generation-0 threshold (700)
    would collect many times per batch. Fewer, larger young collections cut GC CPU and pauses
    (bench/ocpp_roundtrip.py, docs/topics/performance.md).
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)


async def serve_until_signal(
    config: Config, *, ocpp_sock: socket.socket | None = None, http_sock: socket.socket | None = None
) -> None:
    """Run until SIGINT or SIGTERM, then stop cleanly (on pre-bound sockets: see `Csms.start`).

    The signal handlers are in place before the start: a signal that arrives while the CSMS starts (it may
    already serve stations then) lets the start finish and then stops it cleanly, rather than killing the
    process half-way."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    csms = await Csms.start(config, ocpp_sock=ocpp_sock, http_sock=http_sock)
    tune_gc()
    try:
        await stop.wait()
    finally:
        await csms.stop()


def event_loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's loop when it is importable (a dependency except on Windows), else None: asyncio's own."""
    try:
        import uvloop
    except ImportError:
        return None
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


def run(config: Config) -> None:
    """Configure logging and serve until a signal (the `csms run` command), on uvloop when available."""
    configure_logging(config.log)
    factory = event_loop_factory()
    with asyncio.Runner(loop_factory=factory) as runner:
        log.info("event_loop", loop="uvloop" if factory is not None else "asyncio")
        runner.run(serve_until_signal(config))
