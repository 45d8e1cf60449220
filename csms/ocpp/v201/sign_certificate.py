"""2.0.1 SignCertificate: the station sends a CSR for a new certificate (OCPP 2.0.1 A02, A03)."""

from __future__ import annotations

from csms.ocpp.router import Payload, StationContext

# CertificateSigningUseEnumType; absent means ChargingStationCertificate (A02.FR.02 note).
DEFAULT_TYPE = "ChargingStationCertificate"


async def handle_sign_certificate(ctx: StationContext, payload: Payload) -> Payload:
    """Check the CSR and answer Accepted (the signed chain follows in a CertificateSigned call, A02.FR.06)
    or Rejected (A02.FR.03: a CSR the CSMS will not sign; the reason is logged by the domain)."""
    certificate_type = payload.get("certificateType", DEFAULT_TYPE)
    certificates = ctx.domain.certificates
    accepted = certificates.request_signature(ctx.charge_point_id, payload["csr"], certificate_type)
    return {"status": "Accepted" if accepted else "Rejected"}
