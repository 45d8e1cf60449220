"""Certificates the CSMS CA issued to stations (`csms.domain.certificates.CertificateStore`)."""

from __future__ import annotations

from sqlalchemy import select

from csms.domain.certificates import IssuedCertificate
from csms.store.sql.base import SqlBase
from csms.store.tables import StationCertificateRow

_FIELDS = ("charge_point_id", "certificate_type", "serial_number", "not_after", "pem_chain")


def _certificate(row: StationCertificateRow) -> IssuedCertificate:
    return IssuedCertificate(**{name: getattr(row, name) for name in _FIELDS})


class CertificateSql(SqlBase):
    """The station certificates; the contract is `CertificateStore`."""

    async def add_station_certificate(self, certificate: IssuedCertificate, org_id: str) -> None:
        row = StationCertificateRow(
            org_id=org_id,
            created_at=self._clock(),
            **{name: getattr(certificate, name) for name in _FIELDS},
        )
        async with self._sessions.begin() as session:
            session.add(row)

    async def list_station_certificates(self, charge_point_id: str | None = None) -> list[IssuedCertificate]:
        stmt = select(StationCertificateRow).order_by(StationCertificateRow.id)
        if charge_point_id is not None:
            stmt = stmt.where(StationCertificateRow.charge_point_id == charge_point_id)
        return await self._all(stmt, _certificate)
