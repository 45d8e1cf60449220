"""CertificateHashDataType in domain words, shared by the 1.6 (Security Whitepaper) and 2.0.1 translations of
DeleteCertificate and GetInstalledCertificateIds (the type has the same fields in both)."""

from __future__ import annotations

from typing import Any

from csms.domain.commands import DeleteCertificate

Payload = dict[str, Any]


def hash_data(command: DeleteCertificate) -> Payload:
    """The command's certificate as a CertificateHashDataType."""
    return {
        "hashAlgorithm": command.hash_algorithm,
        "issuerNameHash": command.issuer_name_hash,
        "issuerKeyHash": command.issuer_key_hash,
        "serialNumber": command.serial_number,
    }


def certificate_of(certificate_type: str, data: Payload) -> Payload:
    """A CertificateHashDataType of `certificate_type` in domain words."""
    return {
        "certificate_type": certificate_type,
        "hash_algorithm": data["hashAlgorithm"],
        "issuer_name_hash": data["issuerNameHash"],
        "issuer_key_hash": data["issuerKeyHash"],
        "serial_number": data["serialNumber"],
    }
