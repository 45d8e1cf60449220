"""Several CPO parties in one installation (`[ocpi] extra_parties`): our credentials list a CPO role per
party (both ways of registration), the sender modules serve the locations of every party with that party in
the objects (Location, EVSE ids, Session, CDR), and requests a hub routes to any of our parties are accepted
(OCPI 2.2.1 Credentials object; transport and format: message routing)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer

from csms.config import OcpiConfig
from csms.domain.models import ConnectorStatus
from ocpi import cdrs
from ocpi.app import create_app
from ocpi.client import PartnerClient, sending_party
from ocpi.models import Partner, PartnerStatus
from ocpi.partners import issue_partner
from ocpi.registration import register_with
from ocpi.store import OcpiStore
from ocpi.transport import encode_token
from tests.fakes.ocpi_memory_store import MemoryOcpiStore
from tests.ocpi.schemas import assert_valid
from tests.ocpi.senders import TOKEN_C, Harness, harness
from tests.ocpi.test_commands import command_token
from tests.ocpi.test_credentials import Cpo, make_context, start_cpo, stop_cpo
from tests.ocpi.test_push import FakePartner
from tests.store.conftest import FakeClock
from tests.utils import MS

CONFIG = OcpiConfig(
    country_code="NL",
    party_id="CSM",
    business_name="Default CPO",
    extra_parties="BE*ABC:ABC Charging",
    max_page_limit=3,
)
ROLES = [
    {"role": "CPO", "business_details": {"name": "Default CPO"}, "party_id": "CSM", "country_code": "NL"},
    {"role": "CPO", "business_details": {"name": "ABC Charging"}, "party_id": "ABC", "country_code": "BE"},
]


@pytest.fixture
async def cpo(memory_ocpi_store: OcpiStore) -> AsyncIterator[Cpo]:
    """Our OCPI app (versions and credentials) serving NL*CSM and BE*ABC."""
    async with aiohttp.ClientSession() as session:
        started = await start_cpo(make_context(memory_ocpi_store, CONFIG), session)
        try:
            yield started
        finally:
            await stop_cpo(started)


async def test_credentials_list_a_cpo_role_per_party_when_a_partner_registers(cpo: Cpo) -> None:
    """A partner registering with us gets our credentials with one CPO role per party, default first."""
    _partner, token_a = await issue_partner(cpo.ctx, name="Stub", country_code="DE", party_id="EMS")
    emsp = await cpo.stub()
    status, body = await emsp.register(cpo.versions_url, token_a)
    assert status == 200 and body["status_code"] == 1000, body
    assert_valid("Credentials", body["data"])
    assert body["data"]["roles"] == ROLES


async def test_credentials_list_a_cpo_role_per_party_when_we_register(cpo: Cpo) -> None:
    """Registering with a partner, we POST credentials with one CPO role per party."""
    emsp = await cpo.stub(country_code="BE", party_id="XYZ", name="Stub Roaming")
    await register_with(cpo.ctx, emsp.versions_url, emsp.issue_token_a())
    assert emsp.cpo_credentials is not None
    assert_valid("Credentials", emsp.cpo_credentials)
    assert emsp.cpo_credentials["roles"] == ROLES


@pytest.fixture
async def h(memory_ocpi_store: MemoryOcpiStore, clock: FakeClock) -> AsyncIterator[Harness]:
    """A sender harness serving NL*CSM (CP1 in LOC-NL) and BE*ABC (CP2 in LOC-BE), both stations online."""
    async with harness(memory_ocpi_store, clock, config=CONFIG) as built:
        for charge_point_id in ("CP1", "CP2"):
            await built.add_station(charge_point_id)
            await built.status(charge_point_id, 1, ConnectorStatus.AVAILABLE, "Available")
        await built.add_location("LOC-NL", "CP1", country_code="NL", party_id="CSM")
        await built.add_location("LOC-BE", "CP2", country_code="BE", party_id="ABC")
        yield built


def party(obj: dict[str, Any]) -> tuple[str, str]:
    return obj["country_code"], obj["party_id"]


async def test_locations_of_every_party_are_served_with_their_party(h: Harness) -> None:
    """GET locations (list, one location, one EVSE) serves the locations of every party, each with its party
    and its EVSE ids (eMI3) of that party — the sender interface has no party in the URL."""
    listed, _pages = await h.get_all("locations")
    by_id = {location["id"]: location for location in listed}
    assert sorted(by_id) == ["LOC-BE", "LOC-NL"]
    for location in listed:
        assert_valid("Location", location)
    assert party(by_id["LOC-NL"]) == ("NL", "CSM")
    assert party(by_id["LOC-BE"]) == ("BE", "ABC")
    assert [e["evse_id"] for e in by_id["LOC-BE"]["evses"]] == ["BE*ABC*ECP2*1"]
    assert [e["evse_id"] for e in by_id["LOC-NL"]["evses"]] == ["NL*CSM*ECP1*1"]

    status, body, _ = await h.get("locations/LOC-BE")
    assert status == 200 and party(body["data"]) == ("BE", "ABC")
    uid = (await h.ocpi.evse_uid("CP2", 1)).uid
    status, body, _ = await h.get(f"locations/LOC-BE/{uid}")
    assert status == 200 and body["data"]["evse_id"] == "BE*ABC*ECP2*1"


async def test_sessions_and_cdrs_carry_the_party_of_their_location(h: Harness) -> None:
    """A session at a BE*ABC station, and its CDR, carry BE*ABC; one at the default party's station its
    party (OCPI 2.2.1 Session and CDR: country_code/party_id of the CPO)."""
    await h.partner_token()
    at_be = await h.start("CP2", 1, id_token="ROAM1")
    at_nl = await h.start("CP1", 1, id_token="ROAM1")
    listed, _pages = await h.get_all("sessions", date_from="2000-01-01T00:00:00Z")
    by_id = {session["id"]: session for session in listed}
    assert_valid("Session", by_id[str(at_be.id)])
    assert party(by_id[str(at_be.id)]) == ("BE", "ABC")
    assert party(by_id[str(at_nl.id)]) == ("NL", "CSM")

    h.advance(600)
    await h.stop(at_be, 5000)
    await h.stop(at_nl, 5000)
    await cdrs.settle(h.ctx)
    be_cdr = await h.ocpi.get_cdr(str(at_be.id))
    nl_cdr = await h.ocpi.get_cdr(str(at_nl.id))
    assert be_cdr is not None and nl_cdr is not None
    assert_valid("CDR", be_cdr.data)
    assert party(be_cdr.data) == ("BE", "ABC")
    assert be_cdr.data["cdr_location"]["evse_id"] == "BE*ABC*ECP2*1"
    assert party(nl_cdr.data) == ("NL", "CSM")


@pytest.mark.parametrize(
    ("to", "served"),
    [(("BE", "ABC"), True), (("nl", "csm"), True), (("FR", "ABC"), False), (("BE", "CSM"), False)],
)
async def test_routed_requests_are_accepted_for_each_of_our_parties(
    h: Harness, to: tuple[str, str], served: bool
) -> None:
    """A request a hub routes with OCPI-to-* headers to one of our parties (any case) is served, the answer
    swapping FROM and TO; one to a party we do not serve is refused with status 2000."""
    app = create_app(h.ctx)
    headers = {
        "Authorization": encode_token(TOKEN_C),
        "OCPI-from-country-code": "NL",
        "OCPI-from-party-id": "EMS",
        "OCPI-to-country-code": to[0],
        "OCPI-to-party-id": to[1],
    }
    async with TestClient(TestServer(app)) as client:
        response = await client.get("/2.2.1/locations/LOC-BE", headers=headers)
        body = await response.json()
        # Without TO headers (a direct connection), nothing is checked.
        direct = await client.get("/2.2.1/locations/LOC-BE", headers={"Authorization": encode_token(TOKEN_C)})
        assert (await direct.json())["status_code"] == 1000
        # Versions and credentials never carry routing headers: not checked there either.
        versions = await client.get("/versions", headers=headers)
        assert (await versions.json())["status_code"] == 1000
    assert response.status == 200
    assert (response.headers["OCPI-from-country-code"], response.headers["OCPI-from-party-id"]) == to
    assert (response.headers["OCPI-to-country-code"], response.headers["OCPI-to-party-id"]) == ("NL", "EMS")
    if served:
        assert body["status_code"] == 1000 and body["data"]["id"] == "LOC-BE"
    else:
        assert body["status_code"] == 2000 and "data" not in body, body


def test_the_sending_party_of_a_push() -> None:
    """A push is from the party after the partner's receiver endpoint in its URL (Locations, Sessions,
    Tariffs), else from its body's (a CDR POSTed to the endpoint); a command result names none."""
    partner = Partner(
        id=1,
        name="eMSP",
        country_code="DE",
        party_id="EMS",
        status=PartnerStatus.REGISTERED,
        endpoints={
            "locations:RECEIVER": "https://emsp.example/ocpi/2.2.1/locations/",
            "cdrs:RECEIVER": "https://emsp.example/ocpi/2.2.1/cdrs",
        },
    )
    url = "https://emsp.example/ocpi/2.2.1/locations/BE/ABC/LOC-1/EVSE-1"
    assert sending_party(partner, "locations", url, {"status": "CHARGING"}) == ("BE", "ABC")
    cdr = {"country_code": "BE", "party_id": "ABC", "id": "1"}
    assert sending_party(partner, "cdrs", "https://emsp.example/ocpi/2.2.1/cdrs", cdr) == ("BE", "ABC")
    assert sending_party(partner, "commands", "https://emsp.example/cmd/1", {"result": "ACCEPTED"}) is None


@pytest.mark.parametrize(
    ("sender", "from_party"),
    [(("be", "abc"), ("BE", "ABC")), (None, ("NL", "CSM")), (("FR", "XXX"), ("NL", "CSM"))],
)
async def test_calls_are_from_the_sending_party(
    sender: tuple[str, str] | None, from_party: tuple[str, str]
) -> None:
    """OCPI-from-* name the sending party when it is one of ours, else the default party."""
    receiver = FakePartner()
    await receiver.start()
    try:
        async with aiohttp.ClientSession() as session:
            client = PartnerClient(session, CONFIG, timeout=2000 * MS)
            partner = Partner(id=1, name="eMSP", country_code="DE", party_id="EMS", token_b="b")
            await client.request(partner, "PUT", f"{receiver.url}/locations/x", {"id": "x"}, sender=sender)
    finally:
        await receiver.close()
    sent = receiver.headers[0]
    assert (sent["OCPI-from-country-code"], sent["OCPI-from-party-id"]) == from_party
    assert (sent["OCPI-to-country-code"], sent["OCPI-to-party-id"]) == ("DE", "EMS")


@pytest.mark.parametrize(("location_id", "status_code"), [("LOC-BE", 1000), ("LOC-NL", 2003)])
async def test_a_routed_command_names_a_location_of_the_party_it_is_routed_to(
    h: Harness, location_id: str, status_code: int
) -> None:
    """A command a hub routes to BE*ABC may name only BE*ABC's locations: another party's location is
    unknown to that receiver (2003, REJECTED); its own passes the location check (here refused later, for
    an unknown EVSE, with status 1000)."""
    headers = {
        "Authorization": encode_token(TOKEN_C),
        "OCPI-from-country-code": "NL",
        "OCPI-from-party-id": "EMS",
        "OCPI-to-country-code": "BE",
        "OCPI-to-party-id": "ABC",
    }
    body = {
        "response_url": "http://127.0.0.1:1/result",
        "token": command_token("APPUSER1"),
        "location_id": location_id,
        "evse_uid": "NO-SUCH-EVSE",
    }
    async with TestClient(TestServer(create_app(h.ctx))) as client:
        response = await client.post("/2.2.1/commands/START_SESSION", json=body, headers=headers)
        answer = await response.json()
    assert response.status == 200 and answer["status_code"] == status_code, answer
    assert answer["data"]["result"] == "REJECTED"
    assert ("unknown location" in answer["data"]["message"][0]["text"]) == (status_code == 2003), answer
