"""Security profiles 2 and 3 end to end: the CSMS's wss:// listener and simulated stations over TLS."""

from __future__ import annotations

import ssl
import time
import warnings
from pathlib import Path

import pytest
from structlog.testing import capture_logs
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidHandshake, InvalidStatus

from csms.app import Csms
from csms.domain.models import ChargePoint
from csms.domain.secrets import hash_secret
from csms.domain.throttle import FailureThrottle
from simulators.chargepoint import ChargePointSimulator, SimulatorConfig
from tests.e2e.conftest import StartCsms, ocpp_url
from tests.tls_pki import Pki, make_pki

PASSWORD = "profile-two-secret-0123"


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    """A throwaway CA, a server certificate for 127.0.0.1 and the means to make client certificates."""
    directory = tmp_path / "pki"
    directory.mkdir()
    return make_pki(directory)


@pytest.fixture
async def tls_csms(start_csms: StartCsms, pki: Pki) -> Csms:
    """A CSMS with the wss:// listener on a free port, trusting the test CA for client certificates."""
    csms = await start_csms(
        tls_port=0,
        tls_cert_file=str(pki.server_cert),
        tls_key_file=str(pki.server_key),
        tls_client_ca_file=str(pki.ca_cert),
    )
    await csms.services.store.add_charge_point(
        ChargePoint("P2", password_hash=hash_secret(PASSWORD, rounds=4), security_profile=2)
    )
    await csms.services.store.add_charge_point(ChargePoint("P3", security_profile=3))
    return csms


def wss_url(csms: Csms) -> str:
    """The wss:// endpoint base of a CSMS started with `[ocpp.tls]`."""
    return f"wss://127.0.0.1:{csms.ocpp.tls_port}/ocpp"


def sim(charge_point_id: str, url: str, pki: Pki, **config: object) -> ChargePointSimulator:
    """A 2.0.1 simulator trusting the test CA."""
    return ChargePointSimulator(
        SimulatorConfig(charge_point_id, url=url, ocpp_version="2.0.1", ca_file=str(pki.ca_cert), **config)  # type: ignore[arg-type]
    )


async def test_profile_2_connects_over_wss_with_basic_auth(tls_csms: Csms, pki: Pki) -> None:
    """A profile 2 station connects over TLS with its Basic password and boots Accepted."""
    station = sim("P2", wss_url(tls_csms), pki, password=PASSWORD)
    await station.connect()
    try:
        assert (await station.boot())["status"] == "Accepted"
    finally:
        await station.close()


async def test_profile_2_without_password_is_refused(tls_csms: Csms, pki: Pki) -> None:
    """TLS alone is not profile 2: the Basic password is still required (401)."""
    station = sim("P2", wss_url(tls_csms), pki)
    with pytest.raises(InvalidStatus):
        await station.connect()
    assert station.handshake_status == 401


async def test_profile_3_connects_with_its_client_certificate(tls_csms: Csms, pki: Pki) -> None:
    """A profile 3 station presenting a CA-signed certificate with CN = its id connects and boots."""
    cert, key = pki.client("P3")
    station = sim("P3", wss_url(tls_csms), pki, client_cert_file=str(cert), client_key_file=str(key))
    await station.connect()
    try:
        assert (await station.boot())["status"] == "Accepted"
    finally:
        await station.close()


async def test_profile_3_wrong_common_name_is_refused(tls_csms: Csms, pki: Pki) -> None:
    """A valid certificate whose CN names another station is refused at the handshake (403)."""
    cert, key = pki.client("SOMEONE-ELSE")
    station = sim("P3", wss_url(tls_csms), pki, client_cert_file=str(cert), client_key_file=str(key))
    with pytest.raises(InvalidStatus):
        await station.connect()
    assert station.handshake_status == 403


async def test_profile_3_without_certificate_is_refused(tls_csms: Csms, pki: Pki) -> None:
    """A profile 3 station without a client certificate is refused even with TLS (403)."""
    station = sim("P3", wss_url(tls_csms), pki)
    with pytest.raises(InvalidStatus):
        await station.connect()
    assert station.handshake_status == 403


async def test_untrusted_client_certificate_fails_the_tls_handshake(tls_csms: Csms, pki: Pki) -> None:
    """A self-signed client certificate with the right CN is rejected by TLS itself (with TLS 1.3 the
    client learns it when the server drops the connection before answering the HTTP upgrade)."""
    cert, key = pki.client("P3", ca=False)
    station = sim("P3", wss_url(tls_csms), pki, client_cert_file=str(cert), client_key_file=str(key))
    with pytest.raises((ssl.SSLError, OSError, InvalidHandshake)):
        await station.connect()
    assert station.handshake_status != 101


@pytest.mark.parametrize("charge_point_id", ["P2", "P3"])
async def test_downgrade_to_the_plain_port_is_refused(tls_csms: Csms, pki: Pki, charge_point_id: str) -> None:
    """A profile 2 or 3 station is refused on ws:// even with the right password (403)."""
    station = sim(charge_point_id, ocpp_url(tls_csms), pki, password=PASSWORD)
    with pytest.raises(InvalidStatus):
        await station.connect()
    assert station.handshake_status == 403


async def test_profile_1_still_connects_on_the_plain_port(tls_csms: Csms, pki: Pki) -> None:
    """Stations of profile 1 keep using ws:// while the TLS listener runs."""
    station = sim("P1", ocpp_url(tls_csms), pki)
    await station.connect()
    try:
        assert (await station.boot())["status"] == "Accepted"
    finally:
        await station.close()


async def test_tls_1_1_client_is_refused(tls_csms: Csms, pki: Pki) -> None:
    """A client limited to TLS 1.1 cannot complete the TLS handshake (TLS 1.2+ only)."""
    ctx = ssl.create_default_context(cafile=str(pki.ca_cert))
    ctx.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
    ctx.set_ciphers("DEFAULT:@SECLEVEL=0")  # let the client itself speak TLS 1.1 (the server must refuse)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # TLSv1_1 is deprecated: that is the point
        ctx.maximum_version = ssl.TLSVersion.TLSv1_1
    with pytest.raises((ssl.SSLError, ConnectionResetError)) as info:
        async with connect(wss_url(tls_csms) + "/P1", ssl=ctx, subprotocols=["ocpp2.0.1"]):  # type: ignore[list-item]
            pass
    # The server refused (alert or reset), not the client's own OpenSSL before sending anything.
    assert "no protocols available" not in str(info.value).lower()


async def test_only_ocpp_cipher_suites_are_offered(tls_csms: Csms, pki: Pki) -> None:
    """A TLS 1.2 client offering only a non-OCPP suite (no ECDHE/GCM) is refused."""
    ctx = ssl.create_default_context(cafile=str(pki.ca_cert))
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_ciphers("AES128-SHA256")
    with pytest.raises((ssl.SSLError, ConnectionError, EOFError, OSError)):
        async with connect(wss_url(tls_csms) + "/P1", ssl=ctx, subprotocols=["ocpp2.0.1"]):  # type: ignore[list-item]
            pass


async def test_tls_listener_is_off_without_certificate(csms: Csms) -> None:
    """Without `[ocpp.tls] cert_file`/`key_file` no wss:// port is opened."""
    assert csms.ocpp.tls_port is None


async def test_wrong_passwords_are_throttled_and_success_resets(tls_csms: Csms, pki: Pki) -> None:
    """Repeated wrong station passwords from one address are delayed and logged; a success clears them."""
    tls_csms.ocpp.throttle = FailureThrottle(time.monotonic, free_failures=1, base_delay=0.01)
    with capture_logs() as logs:
        for _ in range(3):
            station = sim("P2", wss_url(tls_csms), pki, password="wrong-password-00000")
            with pytest.raises(InvalidStatus):
                await station.connect()
            assert station.handshake_status == 401
    throttled = [e for e in logs if e["event"] == "auth_failure_throttled"]
    assert [e["failures"] for e in throttled] == [2, 3] and throttled[0]["source"] == "127.0.0.1"
    assert tls_csms.ocpp.throttle.failures("127.0.0.1") == 3
    station = sim("P2", wss_url(tls_csms), pki, password=PASSWORD)
    await station.connect()
    await station.close()
    assert tls_csms.ocpp.throttle.failures("127.0.0.1") == 0
