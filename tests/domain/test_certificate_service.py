"""CertificateService: background signing, Rejected CSRs, periodic renewal with a fixed clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cryptography.hazmat.primitives.asymmetric import rsa

from csms.config import CertificatesConfig
from csms.domain.certificate_service import CertificateService
from csms.domain.commands import (
    CertificateSigned,
    Command,
    CommandResult,
    CommandService,
    Outcome,
    RenewCertificate,
)
from tests.domain.test_certificates import make_csr
from tests.fakes.memory_store import MemoryStore
from tests.utils import until

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


class AcceptingStations:
    """A `StationGateway` at the network edge: every station is a 2.0.1 one that accepts every command,
    and what was sent is recorded."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, Command]] = []

    def ocpp_version(self, charge_point_id: str) -> str | None:
        return "2.0.1"

    async def execute(self, charge_point_id: str, command: Command) -> CommandResult:
        self.sent.append((charge_point_id, command))
        return CommandResult(Outcome.ANSWERED, status="Accepted")


async def test_signs_in_background_and_renews_periodically() -> None:
    """An accepted CSR is signed and sent with CertificateSigned; once the fixed clock is within
    renew_before_days of its expiry, the periodic check sends RenewCertificate; a bad CSR sends nothing."""
    now = [NOW]
    stations = AcceptingStations()
    config = CertificatesConfig(
        ca_cert_file="", ca_key_file="", validity_days=60, renew_before_days=10, renewal_check_interval=0.001
    )  # the CA in memory
    store = MemoryStore()

    async def org_of(charge_point_id: str) -> str:
        return "org-1"

    service = CertificateService(config, CommandService(stations), lambda: now[0], store, org_of)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    assert not service.request_signature("CP1", make_csr("CP2", key), "ChargingStationCertificate")
    assert service.request_signature("CP1", make_csr("CP1", key), "ChargingStationCertificate")
    await until(lambda: bool(store.station_certificates))
    [(charge_point_id, signed)] = stations.sent
    assert charge_point_id == "CP1" and isinstance(signed, CertificateSigned)
    [(org_id, issued)] = store.station_certificates
    assert org_id == "org-1" and (await service.issued("CP1")) == [issued]
    assert issued.not_after == NOW + timedelta(days=60)
    await service.start()
    try:
        assert await service.due_for_renewal() == []
        now[0] = NOW + timedelta(days=50)  # exactly renew_before_days before expiry: due
        await until(lambda: any(isinstance(cmd, RenewCertificate) for _, cmd in stations.sent))
    finally:
        await service.stop()
