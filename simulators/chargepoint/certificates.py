"""The simulated station's certificates: its key and CSR for SignCertificate, the chain CertificateSigned
installs, and the CA certificates InstallCertificate / GetInstalledCertificateIds / DeleteCertificate
manage (OCPP 2.0.1 A02, M03-M05; the 1.6 Security Whitepaper messages are the same)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

JsonDict = dict[str, object]


def certificate_hash_data(cert: x509.Certificate) -> JsonDict:
    """CertificateHashDataType of a certificate (SHA256; issuer name and key hashes as the spec says:
    the DER issuer name, and the issuer's public key bytes, approximated here by the AKI when present)."""
    issuer_der = cert.issuer.public_bytes()
    try:
        aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value.key_identifier
    except x509.ExtensionNotFound:
        aki = None
    key_bytes = aki or cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return {
        "hashAlgorithm": "SHA256",
        "issuerNameHash": hashlib.sha256(issuer_der).hexdigest(),
        "issuerKeyHash": hashlib.sha256(key_bytes).hexdigest(),
        "serialNumber": format(cert.serial_number, "x"),
    }


@dataclass
class SimulatedCertificates:
    """What a station keeps: the key behind its last CSR, its signed chain, and installed CA certs."""

    charge_point_id: str
    rsa_bits: int = 2048
    common_name: str | None = None  # None: the charge point id, as the CSMS requires
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | None = None
    station_chain: list[x509.Certificate] = field(default_factory=list)
    # certificateType (e.g. CSMSRootCertificate) -> installed certificates
    installed: dict[str, list[x509.Certificate]] = field(default_factory=dict)

    def make_csr(self) -> str:
        """Generate a fresh key and return a PEM CSR for it (CN = `common_name` or the station id)."""
        key = rsa.generate_private_key(public_exponent=65537, key_size=self.rsa_bits)
        self.key = key
        cn = self.common_name if self.common_name is not None else self.charge_point_id
        csr = (
            x509.CertificateSigningRequestBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
            .sign(key, hashes.SHA256())
        )
        return csr.public_bytes(serialization.Encoding.PEM).decode()

    def on_certificate_signed(self, payload: JsonDict) -> JsonDict:
        """Install the chain if its leaf is for our current key (A02.FR.07: else Rejected)."""
        chain_pem = str(payload["certificateChain"]).encode()
        try:
            chain = x509.load_pem_x509_certificates(chain_pem)
        except ValueError:
            return {"status": "Rejected"}
        if self.key is None or not chain:
            return {"status": "Rejected"}
        ours = self.key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        theirs = chain[0].public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        if ours != theirs:
            return {"status": "Rejected"}
        self.station_chain = chain
        return {"status": "Accepted"}

    def on_install_certificate(self, payload: JsonDict) -> JsonDict:
        """Keep a CA certificate under its type (M05)."""
        try:
            cert = x509.load_pem_x509_certificate(str(payload["certificate"]).encode())
        except ValueError:
            return {"status": "Rejected"}
        self.installed.setdefault(str(payload["certificateType"]), []).append(cert)
        return {"status": "Accepted"}

    def on_get_installed_certificate_ids(self, payload: JsonDict) -> JsonDict:
        """List installed certificates of the asked types (all when none given; M03). 1.6 asks for one
        type (a string) and gets a flat `certificateHashData` list."""
        asked = payload.get("certificateType")
        if isinstance(asked, str):
            hashes_16 = [certificate_hash_data(cert) for cert in self.installed.get(asked, [])]
            if not hashes_16:
                return {"status": "NotFound"}
            return {"status": "Accepted", "certificateHashData": hashes_16}
        wanted = asked if isinstance(asked, list) else list(self.installed)
        chains = [
            {"certificateType": kind, "certificateHashData": certificate_hash_data(cert)}
            for kind in wanted
            for cert in self.installed.get(str(kind), [])
        ]
        if not chains:
            return {"status": "NotFound"}
        return {"status": "Accepted", "certificateHashDataChain": chains}

    def on_delete_certificate(self, payload: JsonDict) -> JsonDict:
        """Delete the certificate whose serial number and hashes match (M04)."""
        wanted = payload["certificateHashData"]
        for certs in self.installed.values():
            for cert in certs:
                if certificate_hash_data(cert) == wanted:
                    certs.remove(cert)
                    return {"status": "Accepted"}
        return {"status": "NotFound"}
