"""Admission at the handshake and registration at boot."""

from __future__ import annotations

from dataclasses import replace

from csms.domain.core import Domain
from csms.domain.models import BootInfo, ChargePoint, RegistrationStatus
from csms.domain.secrets import hash_secret
from csms.domain.stations import Refusal, StationService, is_registered


def with_policy(domain: Domain, **ocpp: object) -> StationService:
    services = domain.services
    cfg = replace(services.config.ocpp, **ocpp)  # type: ignore[arg-type]
    return StationService(replace(services, config=replace(services.config, ocpp=cfg)))


async def test_unknown_charge_point_follows_the_policy(domain: Domain) -> None:
    """accept records it Accepted, pending records it Pending, reject refuses and records nothing."""
    store = domain.services.store
    assert (await with_policy(domain, unknown_charge_points="accept").admit("A", None, None)).charge_point
    assert (await store.get_charge_point("A")).registration_status is RegistrationStatus.ACCEPTED  # type: ignore[union-attr]
    await with_policy(domain, unknown_charge_points="pending").admit("P", None, None)
    assert (await store.get_charge_point("P")).registration_status is RegistrationStatus.PENDING  # type: ignore[union-attr]
    refused = await with_policy(domain, unknown_charge_points="reject").admit("R", None, None)
    assert refused.refusal is Refusal.UNKNOWN and await store.get_charge_point("R") is None


async def test_unknown_charge_point_lands_in_the_configured_organization(domain: Domain) -> None:
    """A charge point recorded by the unknown-charge-point policy belongs to `[ocpp]
    unknown_charge_points_org` (default: the default organization)."""
    store = domain.services.store
    await with_policy(domain, unknown_charge_points_org="org-x").admit("X", None, None)
    await with_policy(domain, unknown_charge_points="pending").admit("D", None, None)
    x, d = await store.get_charge_point("X"), await store.get_charge_point("D")
    assert x is not None and x.org_id == "org-x"
    assert d is not None and d.org_id == "default"


async def test_password_is_checked_and_username_must_match(domain: Domain) -> None:
    """A stored password needs the right password and the charge point id as username."""
    await domain.services.store.add_charge_point(
        ChargePoint("S", password_hash=hash_secret("pw-0123456789abcd", 4))
    )
    stations = domain.stations
    assert (await stations.admit("S", "S", "pw-0123456789abcd")).charge_point is not None
    assert (await stations.admit("S", "S", "wrong")).refusal is Refusal.UNAUTHORIZED
    assert (await stations.admit("S", "T", "pw-0123456789abcd")).refusal is Refusal.UNAUTHORIZED
    assert (await stations.admit("S", None, None)).refusal is Refusal.UNAUTHORIZED


async def test_require_password_refuses_charge_points_without_one(domain: Domain) -> None:
    """With require_password, a known charge point without a password is refused."""
    await domain.services.store.add_charge_point(ChargePoint("N"))
    assert (
        await with_policy(domain, require_password=True).admit("N", None, None)
    ).refusal is Refusal.UNAUTHORIZED


async def test_boot_answers_the_stored_status_with_the_right_interval(domain: Domain) -> None:
    """Accepted gets the heartbeat interval; Pending and Rejected get the retry interval; boot data kept."""
    store = domain.services.store
    cfg = domain.services.config.ocpp
    for cp_id, status in (
        ("A", RegistrationStatus.ACCEPTED),
        ("P", RegistrationStatus.PENDING),
        ("R", RegistrationStatus.REJECTED),
    ):
        await store.add_charge_point(ChargePoint(cp_id, registration_status=status))
        decision = await domain.stations.boot(
            cp_id, "1.6", BootInfo(vendor="V", model="M", serial_number="SN")
        )
        assert decision.status is status
        expected = (
            cfg.heartbeat_interval if status is RegistrationStatus.ACCEPTED else cfg.boot_retry_interval
        )
        assert decision.interval == expected
    await domain.writes.sync()  # boot data goes through the batched writer
    cp = await store.get_charge_point("A")
    assert cp is not None and cp.vendor == "V" and cp.serial_number == "SN" and cp.ocpp_version == "1.6"
    pending = await store.get_charge_point("P")
    assert is_registered(cp) and pending is not None and not is_registered(pending)


async def test_security_profiles_at_admission(domain: Domain) -> None:
    """Profile 2 and 3 stations are refused without TLS (downgrade); profile 2 needs its password over TLS;
    profile 3 needs a client certificate CN equal to its id (OCPP 2.0.1 A00, 1.6 Security Whitepaper)."""
    store, stations = domain.services.store, domain.stations
    await store.add_charge_point(
        ChargePoint("P2", password_hash=hash_secret("p2-password-0123456", rounds=4), security_profile=2)
    )
    await store.add_charge_point(ChargePoint("P3", security_profile=3))
    await store.add_charge_point(ChargePoint("P2-NOPW", security_profile=2))
    assert (await stations.admit("P2", "P2", "p2-password-0123456")).refusal is Refusal.DOWNGRADE
    assert (await stations.admit("P3", None, None, client_cn="P3")).refusal is Refusal.DOWNGRADE
    assert (await stations.admit("P2", "P2", "p2-password-0123456", tls=True)).charge_point is not None
    assert (await stations.admit("P2", "P2", "wrong-password-0000", tls=True)).refusal is Refusal.UNAUTHORIZED
    assert (await stations.admit("P2-NOPW", None, None, tls=True)).refusal is Refusal.UNAUTHORIZED
    assert (await stations.admit("P3", None, None, tls=True, client_cn="P3")).charge_point is not None
    assert (await stations.admit("P3", None, None, tls=True, client_cn="P4")).refusal is Refusal.CERTIFICATE
    assert (await stations.admit("P3", None, None, tls=True)).refusal is Refusal.CERTIFICATE
