"""Charge point admission, registration (BootNotification), heartbeats and connector status."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

import structlog

from csms.domain.events import ConnectorStatusChanged
from csms.domain.models import BootInfo, ChargePoint, RegistrationStatus, StatusChange
from csms.domain.ports import AlreadyExists, HeartbeatSeen, StationFieldsChanged
from csms.domain.services import Services

log = structlog.get_logger("csms.stations")


class Refusal(StrEnum):
    """Why a connection is refused at the handshake; the server turns it into an HTTP status."""

    UNKNOWN = "unknown_charge_point"  # HTTP 404 (OCPP-J: unknown identity)
    UNAUTHORIZED = "unauthorized"  # HTTP 401 (security profile 1: wrong or missing password)


@dataclass(slots=True)
class Admission:
    """The outcome of `StationService.admit`: the charge point, or why it is refused."""

    charge_point: ChargePoint | None
    refusal: Refusal | None = None


@dataclass(slots=True)
class BootDecision:
    """How to answer a BootNotification."""

    status: RegistrationStatus
    interval: int
    current_time: datetime


def is_registered(charge_point: ChargePoint) -> bool:
    """True if the charge point booted before and is Accepted: a reconnect needs no new BootNotification
    (OCPP-J: a station sends BootNotification again only when its boot data changed)."""
    return (
        charge_point.registration_status is RegistrationStatus.ACCEPTED
        and charge_point.last_boot_at is not None
    )


class StationService:
    """Stations as the OCPP adapters see them; the adapters translate their messages into these calls."""

    def __init__(self, services: Services) -> None:
        """Stations served with `services`' store, write queue, secret verifier, `[ocpp]` policy, clock and
        event bus."""
        self._services = services

    async def admit(self, charge_point_id: str, username: str | None, password: str | None) -> Admission:
        """Decide at the websocket handshake whether this charge point may connect.

        Known charge point with a stored password: HTTP Basic credentials must be present, the username
        must equal the charge point id (OCPP 1.6 Security Whitepaper, security profile 1) and the password
        must match. Known charge point without a password: admitted unless `[ocpp] require_password`.
        Unknown charge point: per `[ocpp] unknown_charge_points`, recorded as Accepted, recorded as Pending,
        or refused.
        """
        cp = await self._services.store.get_charge_point(charge_point_id)
        if cp is None:
            policy = self._services.config.ocpp.unknown_charge_points
            if policy == "reject" or self._services.config.ocpp.require_password:
                return Admission(None, Refusal.UNKNOWN)
            status = RegistrationStatus.ACCEPTED if policy == "accept" else RegistrationStatus.PENDING
            cp = ChargePoint(charge_point_id, registration_status=status, created_at=self._services.clock())
            try:
                cp = await self._services.store.add_charge_point(cp)
            except AlreadyExists:  # two first connections raced; the other one recorded it
                found = await self._services.store.get_charge_point(charge_point_id)
                if found is None:  # pragma: no cover - deleted in between
                    return Admission(None, Refusal.UNKNOWN)
                cp = found
            log.info("charge_point_recorded", charge_point_id=charge_point_id, registration_status=status)
            return Admission(cp)
        if cp.password_hash is None:
            if self._services.config.ocpp.require_password:
                return Admission(None, Refusal.UNAUTHORIZED)
            return Admission(cp)
        if username != charge_point_id or password is None:
            return Admission(None, Refusal.UNAUTHORIZED)
        if not await self._services.verifier.verify(password, cp.password_hash):
            return Admission(None, Refusal.UNAUTHORIZED)
        return Admission(cp)

    async def boot(self, charge_point_id: str, ocpp_version: str, info: BootInfo) -> BootDecision:
        """Record the boot data and decide the registration status from the stored charge point.

        Accepted → `interval` is the heartbeat interval; Pending/Rejected → `interval` is when to retry.
        """
        now = self._services.clock()
        await self._services.store.record_boot(charge_point_id, ocpp_version, info, now)
        cp = await self._services.store.get_charge_point(charge_point_id)
        status = cp.registration_status if cp is not None else RegistrationStatus.REJECTED
        interval = (
            self._services.config.ocpp.heartbeat_interval
            if status is RegistrationStatus.ACCEPTED
            else self._services.config.ocpp.boot_retry_interval
        )
        return BootDecision(status, interval, now)

    def heartbeat(self, charge_point_id: str) -> datetime:
        """Note that the station is alive (batched write) and return the time to answer with."""
        now = self._services.clock()
        self._services.writer.put(HeartbeatSeen(charge_point_id, now))
        return now

    def status_changed(self, change: StatusChange) -> None:
        """Record a connector (or station, EVSE 0) status change: batched, history kept; then emit
        `ConnectorStatusChanged` (the OCPI bridge pushes EVSE status)."""
        self._services.writer.put(change)
        self._services.events.emit(ConnectorStatusChanged(change))

    def station_reported(self, charge_point_id: str, **fields: str | None) -> None:
        """Record station-level status reports (firmware_status, diagnostics_status, log_status): batched."""
        self._services.writer.put(StationFieldsChanged(charge_point_id, dict(fields)))
