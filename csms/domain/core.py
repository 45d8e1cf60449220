"""The domain services of one CSMS, built from `Services`; what the OCPP adapters call."""

from __future__ import annotations

from dataclasses import dataclass

from csms.domain.authorization import AuthorizationService
from csms.domain.commands import CommandService, RegistryGateway
from csms.domain.device_model import DeviceModelService
from csms.domain.reservations import ReservationService
from csms.domain.services import Services
from csms.domain.sessions import SessionControl
from csms.domain.stations import StationService
from csms.domain.transactions import TransactionService


@dataclass(slots=True)
class Domain:
    """Stations, authorization, transactions, commands and reservations, sharing one store, writer,
    registry and clock. `reservations` runs a background expiry task: the app starts and stops it."""

    services: Services
    stations: StationService
    authorization: AuthorizationService
    transactions: TransactionService
    commands: CommandService
    sessions: SessionControl
    reservations: ReservationService
    device_model: DeviceModelService

    @classmethod
    def build(cls, services: Services) -> Domain:
        """Wire the services from the shared objects (no I/O happens here)."""
        cfg = services.config.ocpp
        authorization = AuthorizationService(services.store, services.clock, cfg.unknown_id_tokens)
        transactions = TransactionService(services.store, services.writer, authorization, services.clock)
        commands = CommandService(RegistryGateway(services.registry))
        reservations = ReservationService(
            services.store,
            commands,
            services.clock,
            check_interval=cfg.reservation_check_interval,
            tokens=services.store,
            authorize=authorization.authorize,
        )
        # Told about every transaction start, so a start with a reservation id marks the reservation used.
        transactions.listeners.append(reservations)
        return cls(
            services=services,
            stations=StationService(services.store, services.writer, services.verifier, cfg, services.clock),
            authorization=authorization,
            transactions=transactions,
            commands=commands,
            sessions=SessionControl(commands, transactions, services.clock),
            reservations=reservations,
            device_model=DeviceModelService(services.store, services.clock),
        )
