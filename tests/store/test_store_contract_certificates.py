"""The `CertificateStore` contract on every backend (memory, SQLite, PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta

from csms.domain.certificates import IssuedCertificate
from csms.domain.ports import Store
from csms.domain.tenancy import DEFAULT_ORG_ID

from .conftest import T0


def _issued(charge_point_id: str, serial: str, days: int) -> IssuedCertificate:
    return IssuedCertificate(
        charge_point_id, "ChargingStationCertificate", serial, T0 + timedelta(days=days), "-----PEM-----"
    )


async def test_issued_certificates_are_kept_per_station_oldest_first(store: Store) -> None:
    """Added certificates come back with every field, per station or all, in the order they were added."""
    first, other, second = _issued("CP1", "0a", 30), _issued("CP2", "0b", 60), _issued("CP1", "0c", 365)
    for cert in (first, other, second):
        await store.add_station_certificate(cert, DEFAULT_ORG_ID)
    assert await store.list_station_certificates("CP1") == [first, second]
    assert await store.list_station_certificates() == [first, other, second]
    assert await store.list_station_certificates("CP3") == []
