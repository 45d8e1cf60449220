"""The TLS side of security profiles 2 and 3: the server's SSL context and the client certificate's CN."""

from __future__ import annotations

import ssl
from typing import Any

from csms.config import OcppConfig

# OCPP 2.0.1 Part 2 A00 (and the 1.6 Security Whitepaper §3.1.5): TLS 1.2 or above with these suites.
OCPP_CIPHERS = ":".join(
    (
        "ECDHE-ECDSA-AES128-GCM-SHA256",
        "ECDHE-ECDSA-AES256-GCM-SHA384",
        "ECDHE-RSA-AES128-GCM-SHA256",
        "ECDHE-RSA-AES256-GCM-SHA384",
    )
)


def server_context(config: OcppConfig) -> ssl.SSLContext:
    """The SSL context of the wss:// listener: TLS 1.2+, the OCPP cipher suites, our certificate, and the
    client CA (client certificates are optional at the TLS layer: profile 2 stations have none; profile 3
    is enforced at the handshake by `StationService.admit`).

    Raises:
        OSError, ssl.SSLError: a file is missing or not a certificate/key.
    """
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_ciphers(OCPP_CIPHERS)
    ctx.load_cert_chain(config.tls_cert_file, config.tls_key_file)
    if config.tls_client_ca_file:
        ctx.load_verify_locations(cafile=config.tls_client_ca_file)
        ctx.verify_mode = ssl.CERT_OPTIONAL
    return ctx


def peer_common_name(transport: Any) -> tuple[bool, str | None]:
    """(over TLS?, subject CN of the verified client certificate or None) for a connection's transport."""
    ssl_object = transport.get_extra_info("ssl_object") if transport is not None else None
    if ssl_object is None:
        return False, None
    cert = ssl_object.getpeercert()
    if not cert:
        return True, None
    for rdn in cert.get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                return True, str(value)
    return True, None
