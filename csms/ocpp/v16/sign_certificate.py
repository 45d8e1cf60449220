"""1.6 SignCertificate (Security Whitepaper, "Improved security for OCPP 1.6-J"): a CSR for a new charge
point certificate; the 1.6 message has no certificate type."""

from __future__ import annotations

from csms.ocpp.router import Payload, StationContext

STATION_CERTIFICATE = "ChargingStationCertificate"  # the domain's word; 1.6 signs only this type


async def handle_sign_certificate(ctx: StationContext, payload: Payload) -> Payload:
    """Check the CSR and answer Accepted (CertificateSigned follows) or Rejected (logged by the domain)."""
    certificates = ctx.domain.certificates
    accepted = certificates.request_signature(ctx.charge_point_id, payload["csr"], STATION_CERTIFICATE)
    return {"status": "Accepted" if accepted else "Rejected"}
