"""Several CPO parties in one installation (`[ocpi] extra_parties`): `/api/v1/locations` takes the party a
location belongs to, and what is pushed of it carries that party (OCPI 2.2.1 Locations receiver URL
`{url}/{country_code}/{party_id}/{location_id}`, Location and EVSE fields)."""

from __future__ import annotations

from typing import Any

import pytest

from csms.config import Config, OcpiConfig, SecurityConfig
from ocpi.context import OcpiContext
from tests.api.conftest import ApiClient
from tests.api.test_locations import location_body
from tests.api.test_ocpi_publish import (  # noqa: F401 - fixtures
    add_partner,
    api,
    ctx,
    delivered,
    evse_uid,
    fake_partner,
    stations,
)
from tests.ocpi.schemas import assert_valid
from tests.ocpi.test_push import FakePartner

BE_ABC = {"country_code": "BE", "party_id": "ABC"}


@pytest.fixture
def config() -> Config:
    """The default party NL*CSM and two more, BE*ABC and DE*XYZ."""
    return Config(
        security=SecurityConfig(bcrypt_rounds=4),
        ocpi=OcpiConfig(extra_parties="BE*ABC:ABC Charging;DE*XYZ:XYZ Energy"),
    )


async def post_location(api: ApiClient, auth: dict[str, str], **changes: Any) -> tuple[int, dict[str, Any]]:
    response = await api.post("/api/v1/locations", json=location_body(**changes), headers=auth)
    return response.status, await response.json()


async def test_location_of_another_party_is_pushed_with_its_party(
    api: ApiClient, auth: dict[str, str], ctx: OcpiContext, stations: None, fake_partner: FakePartner
) -> None:
    """A location created for BE*ABC (any case) is stored with that party and PUT to the partner below
    /BE/ABC/, its Location object and EVSE ids (eMI3) of that party."""
    await add_partner(ctx, fake_partner.url)
    status, created = await post_location(api, auth, country_code="be", party_id="abc")
    assert status == 201, created
    assert (created["country_code"], created["party_id"]) == ("BE", "ABC")

    [(method, path, body)] = await delivered(ctx, fake_partner, 1)
    assert (method, path) == ("PUT", "/ocpi/2.2.1/locations/BE/ABC/LOC-1")
    assert_valid("Location", body)
    assert (body["country_code"], body["party_id"]) == ("BE", "ABC")
    uid = await evse_uid(ctx, "CP-1", 1)
    evse = next(e for e in body["evses"] if e["uid"] == uid)
    assert evse["evse_id"] == "BE*ABC*ECP1*1"
    # Sent on behalf of that party (OCPI 2.2.1 transport: routing headers, FROM = the sending party).
    sent = fake_partner.headers[0]
    assert (sent["OCPI-from-country-code"], sent["OCPI-from-party-id"]) == ("BE", "ABC")

    # An edit of the location's EVSE is pushed below the same party.
    response = await api.put(
        "/api/v1/charge-points/CP-1/connectors/1/1/spec",
        json={
            "standard": "IEC_62196_T2",
            "format": "SOCKET",
            "power_type": "AC_3_PHASE",
            "max_voltage": 230,
            "max_amperage": 16,
        },
        headers=auth,
    )
    assert response.status == 200, await response.text()
    requests = await delivered(ctx, fake_partner, 2)
    assert requests[1][1].startswith(f"/ocpi/2.2.1/locations/BE/ABC/LOC-1/{uid}")


async def test_location_without_a_party_is_the_default_partys(
    api: ApiClient, auth: dict[str, str], ctx: OcpiContext, stations: None, fake_partner: FakePartner
) -> None:
    """Without `country_code`/`party_id` a location belongs to the default party (`[ocpi] country_code`,
    `party_id`), as before several parties existed."""
    await add_partner(ctx, fake_partner.url)
    status, created = await post_location(api, auth)
    assert status == 201, created
    assert (created["country_code"], created["party_id"]) == ("NL", "CSM")
    [(_method, path, _body)] = await delivered(ctx, fake_partner, 1)
    assert path == "/ocpi/2.2.1/locations/NL/CSM/LOC-1"
    sent = fake_partner.headers[0]
    assert (sent["OCPI-from-country-code"], sent["OCPI-from-party-id"]) == ("NL", "CSM")


@pytest.mark.parametrize(
    "party",
    [
        {"country_code": "FR", "party_id": "ABC"},
        {"country_code": "BE", "party_id": "XYZ"},
        {"country_code": "BE"},
        {"party_id": "ABC"},
    ],
)
async def test_a_party_we_do_not_serve_is_refused(
    api: ApiClient, auth: dict[str, str], stations: None, party: dict[str, str]
) -> None:
    """A party that is not one of ours (or half of one) is refused with 400 `unknown_party`, naming ours;
    nothing is stored."""
    status, body = await post_location(api, auth, **party)
    error = body["error"]
    assert status == 400 and error["code"] == "unknown_party", error
    assert error["details"]["parties"] == ["NL*CSM", "BE*ABC", "DE*XYZ"]
    assert (await api.get("/api/v1/locations/LOC-1", headers=auth)).status == 404


async def test_replace_keeps_the_party_and_refuses_another(
    api: ApiClient, auth: dict[str, str], stations: None
) -> None:
    """A PUT without a party keeps the location's; naming the same party is fine; another party of ours is
    409 `location_party_fixed` (partners know a location by its party), one we do not serve 400."""
    status, _ = await post_location(api, auth, **BE_ABC)
    assert status == 201
    url = "/api/v1/locations/LOC-1"
    response = await api.put(url, json=location_body(id=None, name="Kept"), headers=auth)
    assert response.status == 200, await response.text()
    replaced = await response.json()
    assert (replaced["country_code"], replaced["party_id"], replaced["name"]) == ("BE", "ABC", "Kept")
    response = await api.put(url, json=location_body(id=None, **BE_ABC), headers=auth)
    assert response.status == 200, await response.text()

    response = await api.put(
        url, json=location_body(id=None, country_code="DE", party_id="XYZ"), headers=auth
    )
    assert response.status == 409 and (await response.json())["error"]["code"] == "location_party_fixed"
    response = await api.put(
        url, json=location_body(id=None, country_code="FR", party_id="XYZ"), headers=auth
    )
    assert response.status == 400 and (await response.json())["error"]["code"] == "unknown_party"
    stored = await (await api.get(url, headers=auth)).json()
    assert (stored["country_code"], stored["party_id"]) == ("BE", "ABC")
