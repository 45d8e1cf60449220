"""The domain services of one CSMS, built from `Services`; what the OCPP adapters call."""

from __future__ import annotations

from dataclasses import dataclass

from csms.config import Config
from csms.domain.authorization import AuthorizationService
from csms.domain.clock import Clock
from csms.domain.commands import CommandService, RegistryGateway
from csms.domain.device_model import DeviceModelService
from csms.domain.events import EventBus, Order, TransactionStarted
from csms.domain.ports import Store, WriteQueue
from csms.domain.registry import ConnectionRegistry
from csms.domain.remote_start import RemoteStartCorrelator
from csms.domain.reservations import ReservationService
from csms.domain.services import Services
from csms.domain.sessions import SessionControl
from csms.domain.stations import StationService
from csms.domain.transactions import TransactionService


@dataclass(slots=True)
class Domain:
    """Stations, authorization, transactions, commands and reservations, sharing one store, writer,
    registry, clock and event bus. `reservations` runs a background expiry task: the app starts and stops it.

    Edges subscribe to `events` (csms.domain.events), read through `store` (the domain's ports; call
    `writes.sync()` first to read what was only queued), and ask `registry` who is connected.
    """

    services: Services
    remote_starts: RemoteStartCorrelator
    stations: StationService
    authorization: AuthorizationService
    transactions: TransactionService
    commands: CommandService
    sessions: SessionControl
    reservations: ReservationService
    device_model: DeviceModelService

    @property
    def config(self) -> Config:
        """The process's configuration."""
        return self.services.config

    @property
    def clock(self) -> Clock:
        """The clock every service uses (fixed in tests)."""
        return self.services.clock

    @property
    def store(self) -> Store:
        """The domain's store ports, for edges that read."""
        return self.services.store

    @property
    def writes(self) -> WriteQueue:
        """The queue of batched writes; `await writes.sync()` before reading what was only queued."""
        return self.services.writer

    @property
    def registry(self) -> ConnectionRegistry:
        """Who is connected right now."""
        return self.services.registry

    @property
    def events(self) -> EventBus:
        """The domain's event bus."""
        return self.services.events

    @classmethod
    def build(cls, services: Services) -> Domain:
        """Wire the services from the shared objects (no I/O happens here)."""
        cfg = services.config.ocpp
        events = services.events
        remote_starts = RemoteStartCorrelator(services.clock)
        authorization = AuthorizationService(services.store, services.clock, cfg.unknown_id_tokens)
        transactions = TransactionService(services, authorization, remote_starts)
        commands = CommandService(RegistryGateway(services.registry))
        reservations = ReservationService(
            services.store,
            commands,
            services.clock,
            check_interval=cfg.reservation_check_interval,
            group_of=authorization.group_of,
        )

        async def mark_reservation_used(event: TransactionStarted) -> None:
            # A start with a reservation id marks the reservation used (OCPP 1.6 ReserveNow, 2.0.1 H01).
            await reservations.transaction_started(event.transaction)

        events.subscribe(TransactionStarted, mark_reservation_used, order=Order.DOMAIN)
        stations = StationService(services)
        return cls(
            services=services,
            remote_starts=remote_starts,
            stations=stations,
            authorization=authorization,
            transactions=transactions,
            commands=commands,
            sessions=SessionControl(commands, transactions, remote_starts),
            reservations=reservations,
            device_model=DeviceModelService(services.store, services.clock),
        )
