"""Station certificates: SignCertificate requests are checked and signed by the CA, the signed chain is
sent back with CertificateSigned, and certificates nearing expiry are renewed (OCPP 2.0.1 A02/A03, 1.6
Security Whitepaper §3; ADR 0014).

The adapters call `request_signature`; it answers at once (Accepted/Rejected, OCPP 2.0.1 A02.FR.02) and
signs in the background, then `send`s CertificateSigned. Every certificate we issued is kept with its
expiry in the store (`issued`); `check_renewals`, run every `[certificates] renewal_check_interval` by
`start()`, asks each station whose certificate lapses within `renew_before_days` to send a new CSR
(2.0.1 TriggerMessage SignChargingStationCertificate, A03.FR.01; 1.6 ExtendedTriggerMessage
SignChargePointCertificate).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

import structlog
from cryptography import x509

from csms.config import CertificatesConfig
from csms.domain.certificates import (
    CertificateAuthority,
    CertificateStore,
    CsrRejected,
    IssuedCertificate,
    check_csr,
)
from csms.domain.clock import Clock
from csms.domain.commands import CertificateSigned, CommandResult, CommandService, RenewCertificate
from csms.domain.tenancy import DEFAULT_ORG_ID

log = structlog.get_logger("csms.certificates")

CHARGING_STATION_CERTIFICATE = "ChargingStationCertificate"
V2G_CERTIFICATE = "V2GCertificate"


class CertificateService:
    """The CA (created on first use) and the certificates it issued, per charge point."""

    def __init__(
        self,
        config: CertificatesConfig,
        commands: CommandService,
        clock: Clock,
        store: CertificateStore,
        org_of_station: Callable[[str], Awaitable[str | None]],
    ) -> None:
        """Certificates are kept in `store` under the station's organization (`org_of_station`), so the
        list and the renewals survive a restart and are shared by every node."""
        self._config = config
        self._commands = commands
        self._clock = clock
        self._store = store
        self._org_of_station = org_of_station
        self._ca: CertificateAuthority | None = None
        self._ca_lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()
        self._renewal_task: asyncio.Task[None] | None = None

    async def authority(self) -> CertificateAuthority:
        """The CA, loaded or created (in a thread: key generation takes a while) on first use."""
        async with self._ca_lock:
            if self._ca is None:
                self._ca = await asyncio.to_thread(
                    CertificateAuthority.load_or_create,
                    self._config.ca_cert_file,
                    self._config.ca_key_file,
                    self._clock(),
                )
                log.info("certificate_authority_ready", subject=self._ca.cert.subject.rfc4514_string())
            return self._ca

    async def issued(self, charge_point_id: str) -> list[IssuedCertificate]:
        """The certificates issued to the charge point (and accepted by it), oldest first."""
        return await self._store.list_station_certificates(charge_point_id)

    def request_signature(self, charge_point_id: str, csr_pem: str, certificate_type: str) -> bool:
        """Check the CSR; if it passes, sign it and send CertificateSigned in the background.

        Returns:
            True (answer Accepted) when the CSR passed the checks; False (Rejected, logged) otherwise.
            Both certificate types are signed by this CA (ADR 0014: V2G certificates are not refused).
        """
        try:
            csr = check_csr(csr_pem, charge_point_id, self._config.min_rsa_bits)
        except CsrRejected as exc:
            log.warning("csr_rejected", charge_point_id=charge_point_id, reason=str(exc))
            return False
        task = asyncio.get_running_loop().create_task(
            self._sign_and_send(charge_point_id, csr, certificate_type)
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return True

    async def _sign_and_send(
        self, charge_point_id: str, csr: x509.CertificateSigningRequest, certificate_type: str
    ) -> None:
        try:
            ca = await self.authority()
            issued = await asyncio.to_thread(
                ca.sign,
                csr,
                charge_point_id,
                certificate_type,
                self._clock(),
                self._config.validity_days,
            )
            result = await self._commands.send(
                charge_point_id, CertificateSigned(issued.pem_chain, certificate_type)
            )
            if result.accepted:
                org_id = await self._org_of_station(charge_point_id) or DEFAULT_ORG_ID
                await self._store.add_station_certificate(issued, org_id)
            log.info(
                "certificate_signed",
                charge_point_id=charge_point_id,
                serial_number=issued.serial_number,
                not_after=issued.not_after.isoformat(),
                outcome=result.outcome.value,
                status=result.status,
            )
        except Exception:
            log.exception("certificate_signing_failed", charge_point_id=charge_point_id)

    async def due_for_renewal(self, now: datetime | None = None) -> list[str]:
        """Charge points whose newest station certificate lapses within `renew_before_days` of `now`
        (default: the clock)."""
        horizon = (now or self._clock()) + timedelta(days=self._config.renew_before_days)
        newest: dict[str, datetime] = {}
        for c in await self._store.list_station_certificates():
            if c.certificate_type == CHARGING_STATION_CERTIFICATE:
                newest[c.charge_point_id] = max(c.not_after, newest.get(c.charge_point_id, c.not_after))
        return [cp for cp, not_after in newest.items() if not_after <= horizon]

    async def renew_now(self, charge_point_id: str) -> CommandResult:
        """Ask the station for a new CSR (2.0.1 TriggerMessage SignChargingStationCertificate, A03.FR.01;
        1.6 ExtendedTriggerMessage SignChargePointCertificate) and return its answer."""
        result = await self._commands.send(charge_point_id, RenewCertificate())
        log.info("certificate_renewal_triggered", charge_point_id=charge_point_id, status=result.status)
        return result

    async def renew(self, charge_point_id: str) -> bool:
        """`renew_now`; True when the station answered Accepted."""
        return (await self.renew_now(charge_point_id)).accepted

    async def check_renewals(self, now: datetime | None = None) -> list[str]:
        """Trigger a renewal for every certificate due at `now` (default: the clock); return the charge
        points that accepted."""
        return [cp for cp in await self.due_for_renewal(now) if await self.renew(cp)]

    async def start(self) -> None:
        """Run `check_renewals` every `renewal_check_interval` seconds until `stop`."""
        self._renewal_task = asyncio.get_running_loop().create_task(self._renewal_loop())

    async def _renewal_loop(self) -> None:
        while True:
            await asyncio.sleep(self._config.renewal_check_interval)
            try:
                await self.check_renewals()
            except Exception:
                log.exception("certificate_renewal_check_failed")

    async def stop(self) -> None:
        """Stop the renewal loop and wait for signings still running."""
        tasks = list(self._tasks)
        if self._renewal_task is not None:
            tasks.append(self._renewal_task)
        for task in tasks:
            task.cancel()
        with contextlib.suppress(Exception):
            await asyncio.gather(*tasks, return_exceptions=True)
