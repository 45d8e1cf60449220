"""Charge point admission, registration (BootNotification), heartbeats and connector status.

Boot storms (issue 9): after a power cut thousands of stations reconnect at once. Admission and
BootNotification of a known charge point therefore cost no database round trip: `StationService` keeps what
they need (id, registration status, password hash, last boot data) in memory, loaded by `start()` and kept
current by the operator changes that go through it (`register`, `change`, `delete`: the REST API) and by a
periodic reload of rows changed by another process (the CLI; `[ocpp] station_refresh_interval`). Boot data
goes to the batched writer. While more than `[ocpp] boot_concurrency` boots wait for their commit, a
BootNotification is answered Pending with a randomized retry interval, which spreads the storm out.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Awaitable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

import structlog

from csms.domain.events import ConnectorStatusChanged
from csms.domain.models import BootInfo, ChargePoint, RegistrationStatus, StationEvent, StatusChange
from csms.domain.ports import (
    AlreadyExists,
    BootRecorded,
    HeartbeatSeen,
    NotFound,
    StationFieldsChanged,
    StationStore,
)
from csms.domain.services import Services

log = structlog.get_logger("csms.stations")

LOAD_PAGE = 500  # charge points read per query (loading them all at start, and reloads)
# How far back each reload of operator changes looks, before the previous reload's time (`refresh`).
REFRESH_OVERLAP = timedelta(seconds=30)


class Refusal(StrEnum):
    """Why a connection is refused at the handshake; the server turns it into an HTTP status."""

    UNKNOWN = "unknown_charge_point"  # HTTP 404 (OCPP-J: unknown identity)
    UNAUTHORIZED = "unauthorized"  # HTTP 401 (security profile 1: wrong or missing password)
    # HTTP 403: a profile 2/3 station on the plain ws:// listener (no downgrade: OCPP 2.0.1 A00.FR.206,
    # 1.6 Security Whitepaper §2.1 "a Charge Point SHALL NOT fall back to a lower profile").
    DOWNGRADE = "security_profile_downgrade_refused"
    # HTTP 403: profile 3 without a client certificate whose subject CN is the charge point id
    # (OCPP 2.0.1 A00.FR.4xx; 1.6 Security Whitepaper §2.3).
    CERTIFICATE = "client_certificate_refused"


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
    """Stations as the OCPP adapters see them; the adapters translate their messages into these calls.

    The in-memory charge points (see the module docstring) answer admission and boot; a charge point that
    is not there (added by another process since the last reload) is read from the store once.
    """

    def __init__(self, services: Services, rng: random.Random | None = None) -> None:
        """Stations served with `services`' store, write queue, secret verifier, `[ocpp]` policy, clock and
        event bus; `rng` draws the Pending retry intervals."""
        self._services = services
        self._rng = rng or random.Random()
        self._known: dict[str, ChargePoint] = {}
        self._changed_since: datetime | None = None  # operator changes up to here are in `_known`
        self._unsettled = 0  # boots put on the writer and not yet committed
        self._settler: asyncio.Task[None] | None = None
        self._refresher: asyncio.Task[None] | None = None

    # -- the in-memory charge points ---------------------------------------------------------------

    async def start(self) -> None:
        """Load every charge point, then reload changed ones every `[ocpp] station_refresh_interval`."""
        await self.refresh()
        every = self._services.config.ocpp.station_refresh_interval
        if every > 0 and self._refresher is None:
            self._refresher = asyncio.create_task(self._refresh_loop(every))

    async def stop(self) -> None:
        """Stop the periodic reload."""
        if self._refresher is not None:
            self._refresher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._refresher
            self._refresher = None

    async def refresh(self) -> int:
        """Take in charge points added or changed by an operator since the last call (all of them the
        first time); returns how many. Boot data known here is kept: the writer may not have stored it yet.
        """
        store = self._services.store
        since = self._changed_since
        now = self._services.clock()
        changed = await _changed(store, since) if since is not None else await _all(store)
        for cp in changed:
            cached = self._known.get(cp.charge_point_id)
            if cached is None:
                self._known[cp.charge_point_id] = cp
            else:
                cached.registration_status, cached.password_hash = cp.registration_status, cp.password_hash
        # The next reload overlaps this one by REFRESH_OVERLAP: a row another process stamped just before
        # `now` (or with a clock a little behind ours) may be committed after this read. Not the oldest
        # stamp read: after the first load that is the oldest charge point's, and every reload would read
        # every charge point again.
        self._changed_since = now - REFRESH_OVERLAP
        return len(changed)

    async def _refresh_loop(self, every: float) -> None:
        """`refresh()` every `every` seconds until cancelled; a failed reload is logged and retried."""
        while True:
            await asyncio.sleep(every)
            failed = await _failure_of(self.refresh())
            if failed is not None:
                log.error("station_refresh_failed", error=repr(failed))

    async def _charge_point(self, charge_point_id: str) -> ChargePoint | None:
        cp = self._known.get(charge_point_id)
        if cp is None:
            cp = await self._services.store.get_charge_point(charge_point_id)
            if cp is not None:
                self._known[charge_point_id] = cp
        return cp

    async def org_of(self, charge_point_id: str) -> str | None:
        """The organization of a registered charge point (None: not registered); read from memory, so
        cheap enough for every Authorize."""
        cp = await self._charge_point(charge_point_id)
        return cp.org_id if cp is not None else None

    async def is_registered(self, charge_point_id: str) -> bool:
        """True if the charge point booted before and is Accepted (`is_registered`), as this process knows
        it: a boot just answered counts before the writer committed it."""
        cp = await self._charge_point(charge_point_id)
        return cp is not None and is_registered(cp)

    # -- operator changes ----------------------------------------------------------------------------

    async def register(self, charge_point: ChargePoint) -> ChargePoint:
        """Store a new charge point (raises AlreadyExists) and admit it from now on."""
        stored = await self._services.store.add_charge_point(charge_point)
        self._known[stored.charge_point_id] = replace(stored)
        return stored

    async def change(self, charge_point_id: str, **changes: object) -> ChargePoint:
        """Set `registration_status`, `password_hash` and/or `security_profile`; the next handshake and boot
        see it.

        Raises:
            NotFound: no such charge point.
        """
        await self._services.writer.sync()  # queued boot data lands first: the update rewrites it
        current = await self._services.store.get_charge_point(charge_point_id)
        if current is None:
            raise NotFound(f"charge point {charge_point_id!r}")
        updated = replace(current, **changes, updated_at=self._services.clock())  # type: ignore[arg-type]
        await self._services.store.update_charge_point(updated)
        self._known[charge_point_id] = replace(updated)
        return updated

    async def delete(self, charge_point_id: str) -> None:
        """Delete a charge point (see `AdminStore.delete_charge_point`); raises NotFound."""
        await self._services.writer.sync()  # queued status and meter writes for it land before the delete
        self._known.pop(charge_point_id, None)
        await self._services.store.delete_charge_point(charge_point_id)

    # -- the station's side ----------------------------------------------------------------------------

    async def admit(
        self,
        charge_point_id: str,
        username: str | None,
        password: str | None,
        *,
        tls: bool = False,
        client_cn: str | None = None,
    ) -> Admission:
        """Decide at the websocket handshake whether this charge point may connect.

        Known charge point with a stored password: HTTP Basic credentials must be present, the username
        must equal the charge point id (OCPP 1.6 Security Whitepaper, security profile 1) and the password
        must match. Known charge point without a password: admitted unless `[ocpp] require_password`.
        Unknown charge point: per `[ocpp] unknown_charge_points`, recorded as Accepted, recorded as Pending,
        or refused. A known charge point costs no database round trip (bcrypt runs off the event loop, once
        per distinct password: `SecretVerifier`).

        `tls` says the connection came in on the TLS listener and `client_cn` is the subject CN of the
        verified client certificate, if any. A station of security profile 2 or 3 is refused without TLS
        (DOWNGRADE); profile 3 needs `client_cn == charge_point_id` (CERTIFICATE) and is then admitted on
        the certificate alone; profile 2 always needs its Basic password.
        """
        cp = await self._charge_point(charge_point_id)
        if cp is None:
            return await self._admit_unknown(charge_point_id)
        if cp.security_profile >= 2 and not tls:
            return Admission(None, Refusal.DOWNGRADE)
        if cp.security_profile == 3:
            if client_cn != charge_point_id:
                return Admission(None, Refusal.CERTIFICATE)
            return Admission(cp)
        if cp.security_profile == 2 and cp.password_hash is None:
            return Admission(None, Refusal.UNAUTHORIZED)  # profile 2 is TLS *and* HTTP Basic
        if cp.password_hash is None:
            if self._services.config.ocpp.require_password:
                return Admission(None, Refusal.UNAUTHORIZED)
            return Admission(cp)
        if username != charge_point_id or password is None:
            return Admission(None, Refusal.UNAUTHORIZED)
        if not await self._services.verifier.verify(password, cp.password_hash):
            return Admission(None, Refusal.UNAUTHORIZED)
        return Admission(cp)

    async def _admit_unknown(self, charge_point_id: str) -> Admission:
        policy = self._services.config.ocpp.unknown_charge_points
        if policy == "reject" or self._services.config.ocpp.require_password:
            return Admission(None, Refusal.UNKNOWN)
        status = RegistrationStatus.ACCEPTED if policy == "accept" else RegistrationStatus.PENDING
        cp = ChargePoint(
            charge_point_id,
            registration_status=status,
            created_at=self._services.clock(),
            org_id=self._services.config.ocpp.unknown_charge_points_org,
        )
        try:
            cp = await self._services.store.add_charge_point(cp)
        except AlreadyExists:  # two first connections raced; the other one recorded it
            found = await self._services.store.get_charge_point(charge_point_id)
            if found is None:  # pragma: no cover - deleted in between
                return Admission(None, Refusal.UNKNOWN)
            cp = found
        cp = self._known.setdefault(charge_point_id, cp)
        log.info("charge_point_recorded", charge_point_id=charge_point_id, registration_status=status)
        return Admission(cp)

    async def boot(self, charge_point_id: str, ocpp_version: str, info: BootInfo) -> BootDecision:
        """Decide the registration status from the charge point and queue its boot data for the writer.

        Accepted → `interval` is the heartbeat interval; Pending/Rejected → `interval` is when to retry. An
        unknown (deleted) charge point is Rejected. Beyond `[ocpp] boot_concurrency` boots not yet
        committed, the answer is Pending with a retry interval drawn uniformly from
        [boot_retry_interval/2, boot_retry_interval*1.5] and nothing is recorded.
        """
        cfg = self._services.config.ocpp
        now = self._services.clock()
        if self._unsettled >= cfg.boot_concurrency:
            retry = cfg.boot_retry_interval
            interval = self._rng.randint(max(1, retry // 2), max(1, retry + retry // 2))
            log.info("boot_deferred", charge_point_id=charge_point_id, unsettled=self._unsettled)
            return BootDecision(RegistrationStatus.PENDING, interval, now)
        cp = await self._charge_point(charge_point_id)
        if cp is None:
            return BootDecision(RegistrationStatus.REJECTED, cfg.boot_retry_interval, now)
        self._services.writer.put(BootRecorded(charge_point_id, ocpp_version, info, now))
        apply_boot(cp, ocpp_version, info, now)
        self._unsettled += 1
        if self._settler is None or self._settler.done():
            self._settler = asyncio.create_task(self._settle())
        status = cp.registration_status
        accepted = status is RegistrationStatus.ACCEPTED
        return BootDecision(status, cfg.heartbeat_interval if accepted else cfg.boot_retry_interval, now)

    @property
    def unsettled_boots(self) -> int:
        """Boots put on the writer and not yet committed (what `[ocpp] boot_concurrency` bounds)."""
        return self._unsettled

    async def _settle(self) -> None:
        """Count boots as settled once the writer has committed them: many boots share one commit."""
        while self._unsettled:
            queued = self._unsettled
            try:
                await self._services.writer.sync()
            except Exception:  # the writer logs its own failures; its items are settled either way
                log.exception("boot_settle_failed")
            self._unsettled -= queued

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

    def event_reported(self, event: StationEvent) -> None:
        """Record an event the station reported (SecurityEventNotification, NotifyEvent): batched and
        durable, so the station is answered once it is stored; listed by `StationEventStore`."""
        self._services.writer.put(event)

    def station_reported(self, charge_point_id: str, **fields: str | None) -> None:
        """Record station-level status reports (firmware_status, diagnostics_status, log_status): batched."""
        self._services.writer.put(StationFieldsChanged(charge_point_id, dict(fields)))


async def _failure_of(step: Awaitable[object]) -> Exception | None:
    """Await `step`; the exception it raised, or None."""
    try:
        await step
    except Exception as exc:
        return exc
    return None


async def _changed(store: StationStore, since: datetime) -> list[ChargePoint]:
    """The charge points changed at or after `since`, page by page: thousands changed at once (an import)
    are read `LOAD_PAGE` at a time, so no single read holds the event loop for long."""
    found: list[ChargePoint] = []
    while True:
        after = found[-1].charge_point_id if found else None
        page = await store.list_charge_points_changed(since, after=after, limit=LOAD_PAGE)
        found.extend(page)
        if len(page) < LOAD_PAGE:
            return found


async def _all(store: StationStore) -> list[ChargePoint]:
    """Every charge point, page by page."""
    found: list[ChargePoint] = []
    cursor: str | None = None
    while True:
        page, cursor = await store.list_charge_points(limit=LOAD_PAGE, cursor=cursor)
        found.extend(page)
        if cursor is None:
            return found


def apply_boot(cp: ChargePoint, ocpp_version: str, info: BootInfo, at: datetime) -> None:
    """What a BootNotification said, onto a charge point record (not `updated_at`)."""
    cp.vendor, cp.model, cp.serial_number = info.vendor, info.model, info.serial_number
    cp.firmware_version, cp.iccid, cp.imsi = info.firmware_version, info.iccid, info.imsi
    cp.meter_type, cp.meter_serial_number = info.meter_type, info.meter_serial_number
    cp.boot_reason, cp.ocpp_version, cp.last_boot_at = info.reason, ocpp_version, at
