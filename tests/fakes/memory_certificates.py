"""`CertificateStore` in memory (the test fake)."""

from __future__ import annotations

from csms.domain.certificates import IssuedCertificate


class MemoryCertificates:
    """Issued station certificates, in insertion order, with their organization."""

    def __init__(self) -> None:
        self.station_certificates: list[tuple[str, IssuedCertificate]] = []

    async def add_station_certificate(self, certificate: IssuedCertificate, org_id: str) -> None:
        self.station_certificates.append((org_id, certificate))

    async def list_station_certificates(self, charge_point_id: str | None = None) -> list[IssuedCertificate]:
        return [c for _, c in self.station_certificates if charge_point_id in (None, c.charge_point_id)]
