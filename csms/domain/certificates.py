"""The CSMS-managed certificate authority: checks station CSRs and signs them (OCPP 2.0.1 A02/A03, 1.6
Security Whitepaper "Improved security for OCPP 1.6-J" §3, SignCertificate).

`CertificateAuthority.load_or_create` reads the CA key and certificate from `[certificates] ca_key_file`
and `ca_cert_file`, or creates a fresh RSA CA there on first use (ADR 0014). `check_csr` enforces what a
station certificate must be (OCPP 2.0.1 A00.FR.403..405, Whitepaper §3.1.2 key sizes: RSA >= 2048 bits
or EC on P-256 or larger; the subject CN is the charge point id; the CSR's self-signature is valid);
`sign` issues a leaf certificate valid for `validity_days` and returns it with its expiry, ready to be
sent in CertificateSigned.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

MIN_EC_BITS = 256  # OCPP 2.0.1 A00.FR.405 / Whitepaper: secp256r1 or stronger
CA_VALIDITY_DAYS = 3650


class CsrRejected(ValueError):
    """A CSR the CA will not sign; the message says why (logged, and the station gets Rejected)."""


@dataclass(frozen=True, slots=True)
class IssuedCertificate:
    """A certificate we signed: its PEM chain (leaf then CA) and what is tracked about it."""

    charge_point_id: str
    certificate_type: str
    serial_number: str  # hex, as GetInstalledCertificateIds reports it
    not_after: datetime
    pem_chain: str


class CertificateStore(Protocol):
    """The certificates the CA issued and the stations accepted."""

    async def add_station_certificate(self, certificate: IssuedCertificate, org_id: str) -> None:
        """Keep an issued certificate of organization `org_id`'s station."""
        ...

    async def list_station_certificates(self, charge_point_id: str | None = None) -> list[IssuedCertificate]:
        """One station's certificates (every station's when None), oldest first."""
        ...


def _check_key(public_key: object, min_rsa_bits: int) -> None:
    if isinstance(public_key, rsa.RSAPublicKey):
        if public_key.key_size < min_rsa_bits:
            raise CsrRejected(f"RSA key of {public_key.key_size} bits, at least {min_rsa_bits} required")
        return
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        if public_key.curve.key_size < MIN_EC_BITS:
            raise CsrRejected(f"EC curve {public_key.curve.name} is below P-256")
        return
    raise CsrRejected(f"unsupported key type {type(public_key).__name__}")


def check_csr(csr_pem: str, charge_point_id: str, min_rsa_bits: int = 2048) -> x509.CertificateSigningRequest:
    """Parse and check a station's PEM CSR; return it for `CertificateAuthority.sign`.

    Raises:
        CsrRejected: not PEM, a bad self-signature, a weak key, or a CN other than `charge_point_id`.
    """
    try:
        csr = x509.load_pem_x509_csr(csr_pem.encode())
    except ValueError as exc:
        raise CsrRejected(f"not a PEM certificate signing request: {exc}") from exc
    if not csr.is_signature_valid:
        raise CsrRejected("the CSR's signature does not verify")
    _check_key(csr.public_key(), min_rsa_bits)
    names = csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    common_name = names[0].value if names else None
    # OCPP 2.0.1 A00.FR.404 (1.6 Whitepaper §3.1.2): the CN is the charging station's identity.
    if common_name != charge_point_id:
        raise CsrRejected(f"subject CN {common_name!r} is not the charge point id {charge_point_id!r}")
    return csr


class CertificateAuthority:
    """A CA key and self-signed certificate that signs station CSRs."""

    def __init__(self, key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey, cert: x509.Certificate) -> None:
        self.key = key
        self.cert = cert

    @property
    def cert_pem(self) -> str:
        """The CA certificate in PEM: what stations and the TLS listener (`client_ca_file`) trust."""
        return self.cert.public_bytes(serialization.Encoding.PEM).decode()

    @classmethod
    def create(cls, now: datetime, common_name: str = "CSMS Station CA") -> CertificateAuthority:
        """A new RSA-3072 CA whose self-signed certificate is valid from `now` for ten years."""
        key = rsa.generate_private_key(public_exponent=65537, key_size=3072)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=CA_VALIDITY_DAYS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
            )
            .sign(key, hashes.SHA256())
        )
        return cls(key, cert)

    @classmethod
    def load_or_create(cls, cert_file: str, key_file: str, now: datetime) -> CertificateAuthority:
        """Read the CA from the two PEM files, or create it and write them (key mode 0600) when neither
        exists; with both paths empty the CA lives in memory only (tests, a throwaway CSMS)."""
        if not cert_file and not key_file:
            return cls.create(now)
        cert_path, key_path = Path(cert_file), Path(key_file)
        if cert_path.exists() and key_path.exists():
            key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
            if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
                raise ValueError(f"{key_file}: the CA key must be RSA or EC")
            return cls(key, x509.load_pem_x509_certificate(cert_path.read_bytes()))
        if cert_path.exists() or key_path.exists():
            raise ValueError(f"only one of {cert_file} and {key_file} exists: give both or neither")
        ca = cls.create(now)
        key_path.parent.mkdir(parents=True, exist_ok=True)
        cert_path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(
                ca.key.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                )
            )
        cert_path.write_text(ca.cert_pem)
        return ca

    def sign(
        self,
        csr: x509.CertificateSigningRequest,
        charge_point_id: str,
        certificate_type: str,
        now: datetime,
        validity_days: int,
    ) -> IssuedCertificate:
        """Issue a client/server certificate for the CSR's key and subject, valid `validity_days` from
        `now`; the chain sent back is the leaf followed by this CA's certificate."""
        not_after = now + timedelta(days=validity_days)
        aki = x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(
            x509.SubjectKeyIdentifier.from_public_key(self.key.public_key())
        )
        cert = (
            x509.CertificateBuilder()
            .subject_name(csr.subject)
            .issuer_name(self.cert.subject)
            .public_key(csr.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.SERVER_AUTH]),
                critical=False,
            )
            .add_extension(aki, critical=False)
            .sign(self.key, hashes.SHA256())
        )
        leaf = cert.public_bytes(serialization.Encoding.PEM).decode()
        return IssuedCertificate(
            charge_point_id=charge_point_id,
            certificate_type=certificate_type,
            serial_number=format(cert.serial_number, "x"),
            not_after=not_after,
            pem_chain=leaf + self.cert_pem,
        )
