"""The CA's CSR checks and signing (csms.domain.certificates)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from csms.domain.certificates import CertificateAuthority, CsrRejected, check_csr

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def make_csr(cn: str, key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> str:
    """A PEM CSR for `key` with subject CN `cn`."""
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
        .sign(key, hashes.SHA256())
    )
    return csr.public_bytes(serialization.Encoding.PEM).decode()


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    """One 2048-bit RSA key for the module."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def test_good_rsa_and_ec_csrs_pass(rsa_key: rsa.RSAPrivateKey) -> None:
    """An RSA-2048 or EC P-256 CSR whose CN is the charge point id passes."""
    assert check_csr(make_csr("CP1", rsa_key), "CP1").subject.rfc4514_string() == "CN=CP1"
    check_csr(make_csr("CP1", ec.generate_private_key(ec.SECP256R1())), "CP1")


def test_wrong_common_name_is_rejected(rsa_key: rsa.RSAPrivateKey) -> None:
    """A CN other than the charge point id is refused (OCPP 2.0.1 A00.FR.404)."""
    with pytest.raises(CsrRejected, match="CN"):
        check_csr(make_csr("OTHER", rsa_key), "CP1")


def test_small_rsa_key_is_rejected() -> None:
    """An RSA key below min_rsa_bits is refused."""
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    with pytest.raises(CsrRejected, match="1024 bits"):
        check_csr(make_csr("CP1", small), "CP1")
    check_csr(make_csr("CP1", small), "CP1", min_rsa_bits=1024)


def test_bad_signature_is_rejected(rsa_key: rsa.RSAPrivateKey) -> None:
    """A CSR whose self-signature does not verify (one signature byte flipped) is refused."""
    der = bytearray(
        x509.load_pem_x509_csr(make_csr("CP1", rsa_key).encode()).public_bytes(serialization.Encoding.DER)
    )
    der[-10] ^= 0xFF  # inside the signature bits, the last field of the DER
    tampered = x509.load_der_x509_csr(bytes(der)).public_bytes(serialization.Encoding.PEM).decode()
    with pytest.raises(CsrRejected, match="signature"):
        check_csr(tampered, "CP1")


def test_garbage_is_rejected() -> None:
    """Text that is no PEM CSR is refused."""
    with pytest.raises(CsrRejected, match="PEM"):
        check_csr("hello", "CP1")


def test_signed_certificate_chains_to_the_ca(rsa_key: rsa.RSAPrivateKey, tmp_path: Path) -> None:
    """The CA created in files is read back as the same CA; what it signs verifies against it and expires
    validity_days later."""
    cert_file, key_file = str(tmp_path / "ca.pem"), str(tmp_path / "ca.key")
    created = CertificateAuthority.load_or_create(cert_file, key_file, NOW)
    assert (tmp_path / "ca.key").stat().st_mode & 0o777 == 0o600
    ca = CertificateAuthority.load_or_create(cert_file, key_file, NOW)
    assert ca.cert == created.cert
    csr = check_csr(make_csr("CP1", rsa_key), "CP1")
    issued = ca.sign(csr, "CP1", "ChargingStationCertificate", NOW, validity_days=365)
    leaf, root = x509.load_pem_x509_certificates(issued.pem_chain.encode())
    assert root == ca.cert
    leaf.verify_directly_issued_by(ca.cert)
    assert leaf.not_valid_after_utc == issued.not_after == NOW + timedelta(days=365)
    assert format(leaf.serial_number, "x") == issued.serial_number


def test_only_one_ca_file_is_an_error(tmp_path: Path) -> None:
    """A CA key without its certificate (or the reverse) is a configuration error, not a new CA."""
    (tmp_path / "ca.pem").write_text("x")
    with pytest.raises(ValueError, match="only one"):
        CertificateAuthority.load_or_create(str(tmp_path / "ca.pem"), str(tmp_path / "ca.key"), NOW)
