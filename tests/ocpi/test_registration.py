"""Registering with a partner (ocpi/registration.py) and calling it (ocpi/client.py).

Our OCPI app and the stub eMSP of tests/ocpi/test_credentials.py run as two real aiohttp apps on
127.0.0.1: we register with the stub given its versions URL and token A, and the stub calls us back with
the token B we send it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import pytest
from structlog.testing import capture_logs

from ocpi.client import PartnerClient, PartnerUnreachable, endpoint
from ocpi.models import Partner, PartnerStatus
from ocpi.partners import issue_partner, receivers
from ocpi.registration import RegistrationError, register_with
from ocpi.store import OcpiStore
from ocpi.transport import Status, encode_token, hash_token
from tests.ocpi.test_credentials import Cpo, closed_port_url, make_context, start_cpo, stop_cpo
from tests.utils import MS


@pytest.fixture
async def cpo(memory_ocpi_store: OcpiStore) -> AsyncIterator[Cpo]:
    """Our OCPI app (versions and credentials) on the in-memory OCPI store."""
    async with aiohttp.ClientSession() as session:
        started = await start_cpo(make_context(memory_ocpi_store), session)
        try:
            yield started
        finally:
            await stop_cpo(started)


async def test_register_with_partner(cpo: Cpo) -> None:
    """We register with a partner: it calls us back with our token B, answers its token C, and we store C as
    the token we call it with; the partner is REGISTERED with its identifiers and endpoints."""
    emsp = await cpo.stub(country_code="BE", party_id="XYZ", name="Stub Roaming")
    token_a = emsp.issue_token_a()

    partner = await register_with(cpo.ctx, emsp.versions_url, token_a)

    assert partner.status == PartnerStatus.REGISTERED
    assert (partner.name, partner.country_code, partner.party_id, partner.role) == (
        "Stub Roaming",
        "BE",
        "XYZ",
        "EMSP",
    )
    token_b = emsp.cpo_token  # what we gave the partner to call us with
    assert token_b is not None
    assert partner.token_c_hash == hash_token(token_b)
    assert partner.token_b is not None and emsp.accepted[partner.token_b] == "C"
    assert token_a not in emsp.accepted  # the partner's token A is used up
    assert partner.endpoints["sessions:RECEIVER"] == f"{emsp.base_url}/2.2.1/sessions"
    assert partner.versions_url == emsp.versions_url and partner.version == "2.2.1"
    assert emsp.cpo_credentials is not None
    assert emsp.cpo_credentials["url"] == cpo.versions_url
    assert emsp.cpo_credentials["roles"][0]["role"] == "CPO"
    assert await cpo.store.get_partner(partner.id) == partner

    # The partner calls us with token B, on any module now that it is registered...
    status, body = await cpo.get(cpo.ctx.module_url("credentials"), token_b)
    assert status == 200 and body["data"]["token"] == token_b
    # ...and we call it with its token C.
    url = endpoint(partner, "credentials", "SENDER")
    assert url is not None
    response = await cpo.ctx.client.request(partner, "GET", url)
    assert response.success and response.data["token"] == partner.token_b


async def test_register_with_a_name(cpo: Cpo) -> None:
    """The operator's --name wins over the partner's business name."""
    emsp = await cpo.stub()
    partner = await register_with(cpo.ctx, emsp.versions_url, emsp.issue_token_a(), name="Roaming Inc")
    assert partner.name == "Roaming Inc"


@pytest.mark.parametrize(
    ("options", "status_code", "text"),
    [
        ({"versions_http_status": 502}, Status.CLIENT_API_ERROR, "HTTP 502"),
        ({"versions_list": [{"version": "2.1.1", "url": "x"}]}, Status.UNSUPPORTED_VERSION, "2.1.1"),
        ({"endpoint_list": (("credentials", "SENDER"),)}, Status.NO_MATCHING_ENDPOINTS, "no matching"),
        (
            {"endpoint_list": (("sessions", "RECEIVER"), ("cdrs", "RECEIVER"))},
            Status.NO_MATCHING_ENDPOINTS,
            "credentials",
        ),
    ],
    ids=["versions-down", "no-2.2.1", "no-usable-endpoint", "no-credentials-endpoint"],
)
async def test_unusable_partner_versions_store_nothing(
    cpo: Cpo, options: dict[str, object], status_code: Status, text: str
) -> None:
    """When the partner's versions are unusable we do not POST, raise RegistrationError and store nothing."""
    emsp = await cpo.stub(**options)
    token_a = emsp.issue_token_a()
    with pytest.raises(RegistrationError) as caught:
        await register_with(cpo.ctx, emsp.versions_url, token_a)
    assert caught.value.status_code == status_code
    assert text in str(caught.value)
    assert await cpo.store.list_partners() == []
    assert not [c for c in emsp.calls if c.method == "POST"]


async def test_unreachable_partner(cpo: Cpo) -> None:
    """A versions URL where nothing listens raises RegistrationError 3001 and stores nothing."""
    with pytest.raises(RegistrationError) as caught:
        await register_with(cpo.ctx, closed_port_url(), "token-a")
    assert caught.value.status_code == Status.CLIENT_API_ERROR
    assert "cannot reach" in caught.value.message
    assert await cpo.store.list_partners() == []


async def test_wrong_token_a(cpo: Cpo) -> None:
    """A token A the partner does not know (401 on its versions) raises RegistrationError 3001."""
    emsp = await cpo.stub()
    with pytest.raises(RegistrationError) as caught:
        await register_with(cpo.ctx, emsp.versions_url, "not-issued")
    assert caught.value.status_code == Status.CLIENT_API_ERROR
    assert "401" in caught.value.message
    assert await cpo.store.list_partners() == []


async def test_partner_refusing_our_credentials_leaves_nothing_registered(cpo: Cpo) -> None:
    """The partner uses our token B, then refuses the POST: RegistrationError with its status, the partner
    record is UNREGISTERED without tokens, and token B no longer opens our API."""
    emsp = await cpo.stub(post_answer="refuse")
    token_a = emsp.issue_token_a()
    with pytest.raises(RegistrationError) as caught:
        await register_with(cpo.ctx, emsp.versions_url, token_a)
    # 3003 (its refusal) rather than 3001 proves it could use our versions with token B during the POST.
    assert caught.value.status_code == Status.NO_MATCHING_ENDPOINTS
    assert "we need your tariffs" in caught.value.message
    [partner] = await cpo.store.list_partners()
    assert partner.status == PartnerStatus.UNREGISTERED
    assert (partner.token_a_hash, partner.token_b, partner.token_c_hash) == (None, None, None)
    our_b = emsp.posted[-1]["token"]
    assert (await cpo.get(cpo.versions_url, our_b))[0] == 401
    assert await receivers(cpo.ctx, "sessions") == []

    # A retry with a working partner succeeds despite the leftover record.
    emsp.post_answer = "ok"
    partner = await register_with(cpo.ctx, emsp.versions_url, token_a)
    assert partner.status == PartnerStatus.REGISTERED


async def test_malformed_partner_credentials(cpo: Cpo) -> None:
    """A partner answering malformed credentials raises RegistrationError; nothing stays registered."""
    emsp = await cpo.stub(post_answer="malformed")
    with pytest.raises(RegistrationError) as caught:
        await register_with(cpo.ctx, emsp.versions_url, emsp.issue_token_a())
    assert "malformed" in caught.value.message
    assert [p.status for p in await cpo.store.list_partners()] == [PartnerStatus.UNREGISTERED]


async def test_already_registered_versions_url(cpo: Cpo) -> None:
    """Registering again with a partner we are registered with raises RegistrationError before any call."""
    emsp = await cpo.stub()
    await register_with(cpo.ctx, emsp.versions_url, emsp.issue_token_a())
    calls = len(emsp.calls)
    with pytest.raises(RegistrationError) as caught:
        await register_with(cpo.ctx, emsp.versions_url, emsp.issue_token_a())
    assert "already registered" in caught.value.message
    assert len(emsp.calls) == calls


async def test_partner_we_registered_with_rotates_and_unregisters(cpo: Cpo) -> None:
    """A partner we registered with may PUT new credentials (we rotate its token) and DELETE them."""
    emsp = await cpo.stub()
    partner = await register_with(cpo.ctx, emsp.versions_url, emsp.issue_token_a())
    token_b = emsp.cpo_token
    assert token_b is not None

    status, body, new_token_for_us = await emsp.update(cpo.versions_url)

    assert status == 200 and body["status_code"] == 1000
    stored = await cpo.store.get_partner(partner.id)
    assert stored is not None and stored.token_b == new_token_for_us
    assert (await cpo.get(cpo.versions_url, token_b))[0] == 401
    assert emsp.cpo_token is not None
    assert (await cpo.get(cpo.versions_url, emsp.cpo_token))[0] == 200

    status, body = await emsp.unregister(cpo.versions_url)
    assert status == 200
    stored = await cpo.store.get_partner(partner.id)
    assert stored is not None and stored.status == PartnerStatus.UNREGISTERED


async def test_both_directions_with_several_partners(cpo: Cpo) -> None:
    """One partner registers with us while we register with two others at once; each keeps its own tokens."""
    inbound = await cpo.stub(country_code="DE", party_id="INB")
    outbound = [
        await cpo.stub(country_code="FR", party_id="OU1"),
        await cpo.stub(country_code="IT", party_id="OU2"),
    ]
    issued, token_a = await issue_partner(cpo.ctx, name="Inbound", country_code="DE", party_id="INB")

    results = await asyncio.gather(
        inbound.register(cpo.versions_url, token_a),
        *(register_with(cpo.ctx, emsp.versions_url, emsp.issue_token_a()) for emsp in outbound),
    )

    assert results[0][1]["status_code"] == 1000
    partners = await cpo.store.list_partners()
    assert [(p.country_code, p.party_id, p.status) for p in partners] == [
        ("DE", "INB", PartnerStatus.REGISTERED),
        ("FR", "OU1", PartnerStatus.REGISTERED),
        ("IT", "OU2", PartnerStatus.REGISTERED),
    ]
    assert partners[0].id == issued.id
    assert len({p.token_b for p in partners}) == 3
    assert len({p.token_c_hash for p in partners}) == 3
    # Each partner's token to us identifies that partner.
    for emsp, partner in zip([inbound, *outbound], partners, strict=True):
        assert emsp.cpo_token is not None
        found = await cpo.store.find_partner_by_token_hash(hash_token(emsp.cpo_token))
        assert found is not None and found.id == partner.id
    assert [p.party_id for p, _ in await receivers(cpo.ctx, "cdrs")] == ["INB", "OU1", "OU2"]


# -- the client ------------------------------------------------------------------------------------


async def test_client_headers(cpo: Cpo) -> None:
    """The client sends base64 Token, new X-Request-ID, the given X-Correlation-ID and routing headers."""
    emsp = await cpo.stub()
    seen: list[dict[str, str]] = []
    partner = await register_with(cpo.ctx, emsp.versions_url, emsp.issue_token_a())

    async def trace(session: object, context: object, params: aiohttp.TraceRequestStartParams) -> None:
        seen.append(dict(params.headers))

    tracing = aiohttp.TraceConfig()
    tracing.on_request_start.append(trace)
    async with aiohttp.ClientSession(trace_configs=[tracing]) as session:
        client = PartnerClient(session, cpo.ctx.config, timeout=2000 * MS)
        url = endpoint(partner, "credentials", "SENDER")
        assert url is not None
        first = await client.request(partner, "GET", url, correlation_id="corr-9")
        second = await client.request(partner, "GET", url, routing=False)
    assert first.success and second.success
    headers = seen[0]
    assert partner.token_b is not None
    assert headers["Authorization"] == encode_token(partner.token_b)
    assert headers["X-Correlation-ID"] == "corr-9"
    assert headers["OCPI-from-country-code"] == "NL" and headers["OCPI-from-party-id"] == "CSM"
    assert headers["OCPI-to-country-code"] == "DE" and headers["OCPI-to-party-id"] == "EMS"
    assert seen[1]["X-Request-ID"] != headers["X-Request-ID"]
    assert "OCPI-to-party-id" not in seen[1]
    assert first.headers["X-Request-ID"]  # the stub's error middleware echoes it


async def test_client_unreachable_and_timeout(cpo: Cpo) -> None:
    """Connection refused and a partner slower than the timeout both raise PartnerUnreachable."""
    partner = Partner(id=7, name="x", country_code="DE", party_id="ABC", token_b="t")
    with pytest.raises(PartnerUnreachable):
        await cpo.ctx.client.request(partner, "GET", closed_port_url())

    # A server that accepts the connection and never answers.
    release = asyncio.Event()

    async def never_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await release.wait()
        writer.close()

    server = await asyncio.start_server(never_answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        with pytest.raises(PartnerUnreachable):
            await cpo.ctx.client.request(partner, "GET", f"http://127.0.0.1:{port}/x", timeout=50 * MS)
    finally:
        release.set()
        server.close()
        await server.wait_closed()


async def test_client_without_token_is_refused(cpo: Cpo) -> None:
    """Calling a partner we hold no token for raises ValueError before any request."""
    with pytest.raises(ValueError):
        await cpo.ctx.client.request(
            Partner(id=1, name="x", country_code="DE", party_id="ABC"), "GET", "http://x"
        )


async def test_client_reads_non_envelope_answers(cpo: Cpo) -> None:
    """A non-OCPI answer (plain text) is returned with status_code and data None, not success."""
    emsp = await cpo.stub(versions_http_status=503)
    partner = Partner(id=1, name="x", country_code="DE", party_id="ABC", token_b=emsp.issue_token_a())
    response = await cpo.ctx.client.request(partner, "GET", emsp.versions_url)
    assert (response.http_status, response.status_code, response.data) == (503, None, None)
    assert not response.success


async def test_tokens_never_logged(cpo: Cpo) -> None:
    """No log event of a registration in either direction carries a token."""
    emsp_in, emsp_out = await cpo.stub(), await cpo.stub(party_id="OUT")
    _, token_a = await issue_partner(cpo.ctx, name="In", country_code="DE", party_id="EMS")
    out_a = emsp_out.issue_token_a()
    with capture_logs() as logs:
        await emsp_in.register(cpo.versions_url, token_a)
        partner = await register_with(cpo.ctx, emsp_out.versions_url, out_a)
        await emsp_in.update(cpo.versions_url)
    secrets = {token_a, out_a, partner.token_b, emsp_out.cpo_token, emsp_in.cpo_token, *emsp_in.accepted}
    text = repr(logs)
    assert any(event["event"] == "ocpi_call" for event in logs)
    for secret in secrets:
        assert secret and secret not in text
