"""A charge point changed over REST is admitted or refused accordingly at once (the admission cache)."""

from __future__ import annotations

import pytest

from csms.config import Config, OcppConfig, SecurityConfig
from csms.domain.core import Domain
from csms.domain.models import BootInfo, RegistrationStatus
from csms.domain.stations import Refusal
from tests.api.conftest import ApiClient

BOOT = BootInfo(vendor="V", model="M")


@pytest.fixture
def config() -> Config:
    """Unknown charge points refused, so a deleted one cannot come back by connecting."""
    return Config(ocpp=OcppConfig(unknown_charge_points="reject"), security=SecurityConfig(bcrypt_rounds=4))


async def test_password_change_applies_to_the_next_handshake(
    client: ApiClient, auth: dict[str, str], domain: Domain
) -> None:
    """The old password stops working and the new one works right after the PATCH."""
    body = {"charge_point_id": "CP-1", "password": "old-password-0123"}
    assert (await client.post("/api/v1/charge-points", json=body, headers=auth)).status == 201
    stations = domain.stations
    assert (await stations.admit("CP-1", "CP-1", "old-password-0123")).charge_point is not None
    patch = {"password": "new-password-4567"}
    assert (await client.patch("/api/v1/charge-points/CP-1", json=patch, headers=auth)).status == 200
    assert (await stations.admit("CP-1", "CP-1", "old-password-0123")).refusal is Refusal.UNAUTHORIZED
    assert (await stations.admit("CP-1", "CP-1", "new-password-4567")).charge_point is not None
    assert (
        await client.patch("/api/v1/charge-points/CP-1", json={"password": None}, headers=auth)
    ).status == 200
    assert (await stations.admit("CP-1", None, None)).charge_point is not None


async def test_registration_status_change_applies_to_the_next_boot(
    client: ApiClient, auth: dict[str, str], domain: Domain
) -> None:
    """Rejected over REST → the next BootNotification is answered Rejected; Accepted again → Accepted."""
    body = {"charge_point_id": "CP-2"}
    assert (await client.post("/api/v1/charge-points", json=body, headers=auth)).status == 201
    stations = domain.stations
    assert (await stations.admit("CP-2", None, None)).charge_point is not None
    assert (await stations.boot("CP-2", "1.6", BOOT)).status is RegistrationStatus.ACCEPTED
    for status in (RegistrationStatus.REJECTED, RegistrationStatus.ACCEPTED):
        patch = {"registration_status": status.value}
        assert (await client.patch("/api/v1/charge-points/CP-2", json=patch, headers=auth)).status == 200
        assert (await stations.boot("CP-2", "1.6", BOOT)).status is status
    # The PATCH did not roll back the boot data queued before it.
    response = await client.get("/api/v1/charge-points/CP-2", headers=auth)
    assert (await response.json())["boot"]["vendor"] == "V"


async def test_deleted_charge_point_is_refused(
    client: ApiClient, auth: dict[str, str], domain: Domain
) -> None:
    """After DELETE the charge point is unknown at the handshake (refused under the reject policy)."""
    body = {"charge_point_id": "CP-3"}
    assert (await client.post("/api/v1/charge-points", json=body, headers=auth)).status == 201
    assert (await domain.stations.admit("CP-3", None, None)).charge_point is not None
    assert (await client.delete("/api/v1/charge-points/CP-3", headers=auth)).status == 204
    assert (await domain.stations.admit("CP-3", None, None)).refusal is Refusal.UNKNOWN
