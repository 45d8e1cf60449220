"""Station certificates end to end: SignCertificate, CertificateSigned, renewal; security events."""

from __future__ import annotations

from datetime import timedelta

import pytest
from cryptography import x509

from csms.app import Csms
from csms.domain.clock import isoformat_z, utcnow
from simulators.chargepoint import ChargePointSimulator, SimulatorConfig
from tests.e2e.conftest import Api, ocpp_url
from tests.utils import MS, until_async


async def _issued(csms: Csms, charge_point_id: str, count: int) -> bool:
    """Whether the CSMS keeps `count` certificates issued to the station (in its database)."""
    return len(await csms.domain.certificates.issued(charge_point_id)) == count


async def started(csms: Csms, charge_point_id: str, version: str = "2.0.1") -> ChargePointSimulator:
    """A booted simulator of that OCPP version, checking every message against the schemas."""
    sim = ChargePointSimulator(
        SimulatorConfig(charge_point_id, url=ocpp_url(csms), ocpp_version=version, strict=True)
    )
    await sim.connect()
    await sim.boot()
    return sim


@pytest.mark.parametrize(
    ("version", "trigger_action", "trigger"),
    [
        ("2.0.1", "TriggerMessage", {"requestedMessage": "SignChargingStationCertificate"}),
        ("1.6", "ExtendedTriggerMessage", {"requestedMessage": "SignChargePointCertificate"}),
    ],
)
async def test_station_certificate_is_signed_installed_and_renewed(
    csms: Csms, api: Api, version: str, trigger_action: str, trigger: dict[str, str]
) -> None:
    """A CSR is Accepted, the chain arrives by CertificateSigned and verifies against the CA; near its
    expiry the CSMS triggers a new CSR (2.0.1 TriggerMessage, 1.6 ExtendedTriggerMessage) and the station
    gets a new certificate."""
    sim = await started(csms, "CERT1", version)
    assert await sim.sign_certificate() == {"status": "Accepted"}
    await sim.wait_until(lambda: bool(sim.certificates.station_chain), timeout=5000 * MS)
    await until_async(lambda: _issued(csms, "CERT1", 1))
    ca = await csms.domain.certificates.authority()
    leaf = sim.certificates.station_chain[0]
    leaf.verify_directly_issued_by(ca.cert)
    assert leaf.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value == "CERT1"
    issued = await csms.domain.certificates.issued("CERT1")
    assert [c.serial_number for c in issued] == [format(leaf.serial_number, "x")]

    status, body = await api.get("/api/v1/charge-points/CERT1/certificates")
    assert status == 200, body
    assert body["items"] == [
        {
            "serial_number": issued[0].serial_number,
            "certificate_type": "ChargingStationCertificate",
            "not_after": isoformat_z(issued[0].not_after),
        }
    ]
    # Not yet due now; due once the clock is within renew_before_days (30) of the 365-day expiry.
    assert await csms.domain.certificates.check_renewals() == []
    later = utcnow() + timedelta(days=340)
    assert await csms.domain.certificates.check_renewals(later) == ["CERT1"]
    assert await sim.wait_for_call(trigger_action, timeout=5000 * MS) == trigger
    await until_async(lambda: _issued(csms, "CERT1", 2))
    assert sim.certificates.station_chain[0].serial_number != leaf.serial_number
    assert sim.violations == []
    await sim.close()


async def test_ca_certificate_download_and_renewal_over_rest(csms: Csms, api: Api) -> None:
    """The CA certificate is served as PEM; POST .../certificates/renew triggers a new CSR and the
    station's new certificate verifies against the served CA."""
    sim = await started(csms, "CERT4")
    await api.post("/api/v1/charge-points", {"id": "CERT4"})
    async with api.session.get(f"{api.base}/api/v1/certificates/ca.pem") as response:
        assert response.status == 200
        assert response.content_type == "application/x-pem-file"
        ca = x509.load_pem_x509_certificate(await response.read())
    status, body = await api.post("/api/v1/charge-points/CERT4/certificates/renew", {})
    assert status == 200, body
    assert body["command"]["status"] == "Accepted"
    await until_async(lambda: _issued(csms, "CERT4", 1))
    sim.certificates.station_chain[0].verify_directly_issued_by(ca)
    await sim.close()


@pytest.mark.parametrize("version", ["2.0.1", "1.6"])
async def test_root_certificate_install_list_delete_over_rest(csms: Csms, api: Api, version: str) -> None:
    """The CA certificate is installed as CSMS root, listed with its hash data, deleted, then not found."""
    sim = await started(csms, "CERT5", version)
    await api.post("/api/v1/charge-points", {"id": "CERT5"})
    ca = await csms.domain.certificates.authority()
    base = "/api/v1/charge-points/CERT5/certificates"
    install = {"certificate_type": "CSMSRootCertificate", "certificate": ca.cert_pem}
    status, body = await api.post(f"{base}/install", install)
    assert (status, body["command"]["status"]) == (200, "Accepted"), body
    assert [c for certs in sim.certificates.installed.values() for c in certs] == [ca.cert]
    status, body = await api.post(f"{base}/installed", {"certificate_types": ["CSMSRootCertificate"]})
    assert (status, body["command"]["status"]) == (200, "Accepted"), body
    [listed] = body["command"]["data"]["certificates"]
    assert listed["certificate_type"] == "CSMSRootCertificate"
    assert listed["serial_number"] == format(ca.cert.serial_number, "x")
    delete = {key: value for key, value in listed.items() if key != "certificate_type"}
    status, body = await api.post(f"{base}/delete", delete)
    assert (status, body["command"]["status"]) == (200, "Accepted"), body
    status, body = await api.post(f"{base}/installed", {"certificate_types": ["CSMSRootCertificate"]})
    assert (status, body["command"]["status"]) == (200, "NotFound"), body
    assert sim.violations == []
    await sim.close()


@pytest.mark.parametrize("version", ["2.0.1", "1.6"])
async def test_bad_csr_is_rejected(csms: Csms, version: str) -> None:
    """A CSR whose CN is not the station id is Rejected and nothing is signed."""
    sim = await started(csms, "CERT2", version)
    sim.certificates.common_name = "SOMEONE-ELSE"
    assert await sim.sign_certificate() == {"status": "Rejected"}
    assert await csms.domain.certificates.issued("CERT2") == []
    assert not any(action == "CertificateSigned" for action, _ in sim.calls_received)
    await sim.close()


@pytest.mark.parametrize("version", ["2.0.1", "1.6"])
async def test_security_events_are_listed(csms: Csms, api: Api, version: str) -> None:
    """A SecurityEventNotification is listed among the station's events of kind security."""
    sim = await started(csms, "CERT3", version)
    await api.post("/api/v1/charge-points", {"id": "CERT3"})
    assert await sim.send_security_event("InvalidFirmwareSignature", "bad signature") == {}
    status, body = await api.get("/api/v1/charge-points/CERT3/events", kind="SecurityEventNotification")
    assert status == 200, body
    items = body["items"] if isinstance(body, dict) else body
    assert [(e["type"], e.get("tech_info")) for e in items] == [("InvalidFirmwareSignature", "bad signature")]
    await sim.close()
