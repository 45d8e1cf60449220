"""The domain services of one CSMS, built from `Services`; what the OCPP adapters call."""

from __future__ import annotations

from csms.config import Config
from csms.domain.authorization import AuthorizationService
from csms.domain.certificate_service import CertificateService
from csms.domain.charging_limits import ChargingLimits
from csms.domain.clock import Clock
from csms.domain.commands import CommandService, RegistryGateway, StationGateway
from csms.domain.costs import CostService
from csms.domain.device_model import DeviceModelService
from csms.domain.energy.planner import EnergyPlanner
from csms.domain.events import EventBus, Order, TransactionStarted
from csms.domain.firmware import FirmwareService
from csms.domain.id_token_aliases import IdTokenAliases
from csms.domain.local_list_sync import LocalListService, SyncSettings
from csms.domain.ports import Store, WriteQueue
from csms.domain.registry import ConnectionRegistry
from csms.domain.remote_start import RemoteStartCorrelator
from csms.domain.reservations import ReservationService
from csms.domain.services import Services
from csms.domain.sessions import SessionControl
from csms.domain.stations import StationService
from csms.domain.transactions import TransactionService


class Domain:
    """Stations, authorization (and id token aliases), transactions, commands, reservations and running costs,
    sharing one store, writer, registry, clock and event bus. `reservations` runs a background expiry task:
    the app starts and stops it; the app stops `costs` too (CostUpdated calls still running).

    Edges subscribe to `events` (csms.domain.events), read through `store` (the domain's ports; call
    `writes.sync()` first to read what was only queued), and ask `registry` who is connected. These, with
    `config` and `clock`, are the objects of `services`, named here for the edges.
    """

    def __init__(self, services: Services, gateway: StationGateway | None = None) -> None:
        """Wire the services from the shared objects (no I/O happens here).

        `gateway` delivers commands to stations: by default this process's connections
        (`RegistryGateway`); a cluster passes one that routes to the node holding the station
        (csms.cluster)."""
        cfg = services.config.ocpp
        self.services = services
        self.config: Config = services.config
        self.clock: Clock = services.clock
        self.store: Store = services.store
        self.writes: WriteQueue = services.writer
        self.registry: ConnectionRegistry = services.registry
        self.events: EventBus = services.events
        self.remote_starts = RemoteStartCorrelator(services.clock)
        self.stations = StationService(services)
        # Version adapters whose id token is shorter than the domain's translate through it (OCPP 1.6).
        self.id_token_aliases = IdTokenAliases(services.store, services.clock)
        self.authorization = AuthorizationService(
            services.store, services.clock, cfg.unknown_id_tokens, org_of_station=self.stations.org_of
        )
        self.transactions = TransactionService(services, self.authorization, self.remote_starts)
        self.commands = CommandService(gateway or RegistryGateway(services.registry))
        self.sessions = SessionControl(self.commands, self.transactions, self.remote_starts)
        self.reservations = ReservationService(
            services.store,
            self.commands,
            services.clock,
            check_interval=cfg.reservation_check_interval,
            group_of=self.authorization.group_of,
            events=services.events,
        )
        self.device_model = DeviceModelService(services.store, services.clock)
        # Running cost on 2.0.1 stations showing it; priced by the source the composition root installs.
        self.costs = CostService(
            services.store,
            self.commands,
            services.clock,
            services.events,
            update_interval=cfg.cost_update_interval,
        )
        # Firmware updates, campaigns and log uploads (issue 14); the app stops its campaign tasks.
        self.firmware = FirmwareService(
            services.store,
            self.commands,
            services.clock,
            step_timeout=services.config.files.campaign_step_timeout,
        )
        # Station certificates: the CA, SignCertificate and renewal before expiry (ADR 0014).
        self.certificates = CertificateService(
            services.config.certificates,
            self.commands,
            services.clock,
            services.store,
            self.stations.org_of,
        )
        # Tariff- and carbon-aware schedules from EV needs and site forecasts (ADR 0019).
        self.energy = EnergyPlanner(
            services.config.energy, self.commands, services.clock, services.events, services.store
        )
        # Local authorization lists kept in sync with the organization's tokens (ADR 0016); the app runs it.
        self.local_lists = LocalListService(
            services.store,
            self.commands,
            services.clock,
            services.events,
            services.registry,
            self.stations.org_of,
            self.stations.is_registered,
            self.device_model,
            SyncSettings(cfg.local_list_sync, cfg.local_list_sync_delay, cfg.local_list_items_per_message),
        )
        # Charging profiles and external limits 2.0.1 stations report (K09, K12-K14; ADR 0021).
        self.charging_limits = ChargingLimits(services.clock)
        # A start with a reservation id marks the reservation used (OCPP 1.6 ReserveNow, 2.0.1 H01).
        services.events.subscribe(TransactionStarted, self._mark_reservation_used, order=Order.DOMAIN)

    async def _mark_reservation_used(self, event: TransactionStarted) -> None:
        await self.reservations.transaction_started(event.transaction)
