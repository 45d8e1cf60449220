"""`/api/v1/locations` and connector specs: the OCPI facts operators configure (OCPI 2.2.1 Locations)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from csms.api import create_app
from csms.config import Config
from csms.domain.core import Domain
from csms.domain.models import ChargePoint
from csms.domain.services import Services
from csms.store.writer import BatchedWriter
from ocpi import admin_api
from ocpi.models import Tariff
from tests.api.conftest import NOW, NOW_TEXT, ApiClient, error_of
from tests.api.openapi_check import OpenApiChecker
from tests.fakes.memory_store import MemoryStore
from tests.fakes.ocpi_memory_store import MemoryOcpiStore

EXAMPLES = Path("/work/shared/ocpi-examples")
LATER = NOW + timedelta(minutes=5)
LATER_TEXT = "2025-01-02T03:09:05.678Z"


class MovableClock:
    """A clock tests set by hand (`now`), shared by the services and the OCPI store."""

    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> Any:
        return self.now


@pytest.fixture
def clock() -> MovableClock:
    """The clock of this module's services and OCPI store, at `NOW` until a test moves it."""
    return MovableClock()


@pytest.fixture
def services(config: Config, store: MemoryStore, writer: BatchedWriter, clock: MovableClock) -> Services:
    """Services on the in-memory store with the movable clock."""
    return Services(config=config, store=store, writer=writer, clock=clock)


@pytest.fixture
def ocpi_store(clock: MovableClock) -> MemoryOcpiStore:
    """An empty in-memory OCPI store on the same clock."""
    return MemoryOcpiStore(clock=clock)


@pytest.fixture
async def ocpi_client(domain: Domain, ocpi_store: MemoryOcpiStore) -> AsyncIterator[ApiClient]:
    """A client of the app with the OCPI routes and store; every response is checked against the OpenAPI
    document."""
    app: web.Application = create_app(domain, extra_routes=admin_api.ROUTES)
    admin_api.install(app, ocpi_store)
    failures: list[str] = []
    app.middlewares.append(OpenApiChecker.shared().middleware(failures))
    async with TestClient(TestServer(app)) as client:
        yield client
    assert not failures, "responses that do not match the OpenAPI document:\n" + "\n".join(failures)


@pytest.fixture
async def charge_points(store: MemoryStore) -> list[str]:
    """Three registered charge points."""
    ids = ["CP-1", "CP-2", "CP-3"]
    for charge_point_id in ids:
        await store.add_charge_point(ChargePoint(charge_point_id, created_at=NOW, updated_at=NOW))
    return ids


def location_body(**changes: Any) -> dict[str, Any]:
    """A valid `POST /locations` body with every field, changed by `changes` (None removes a field)."""
    body: dict[str, Any] = {
        "id": "LOC-1",
        "name": "Gent Zuid",
        "address": "F.Rooseveltlaan 3A",
        "city": "Gent",
        "postal_code": "9000",
        "state": "Oost-Vlaanderen",
        "country": "BEL",
        "coordinates": {"latitude": "51.047599", "longitude": "3.729944"},
        "time_zone": "Europe/Brussels",
        "parking_type": "ON_STREET",
        "facilities": ["CAFE", "WIFI"],
        "opening_times": {
            "twentyfourseven": False,
            "regular_hours": [{"weekday": 1, "period_begin": "07:00", "period_end": "18:00"}],
            "exceptional_closings": [
                {"period_begin": "2025-12-25T03:00:00+01:00", "period_end": "2025-12-25T05:00:00Z"}
            ],
        },
        "operator": {"name": "BeCharged", "website": "https://becharged.example"},
        "charging_when_closed": True,
        "publish": True,
        "charge_point_ids": ["CP-1", "CP-2"],
    }
    for key, value in changes.items():
        if value is None:
            body.pop(key, None)
        else:
            body[key] = value
    return body


EXPECTED_LOCATION = {
    "id": "LOC-1",
    "country_code": "NL",
    "party_id": "CSM",
    "publish": True,
    "name": "Gent Zuid",
    "address": "F.Rooseveltlaan 3A",
    "city": "Gent",
    "postal_code": "9000",
    "state": "Oost-Vlaanderen",
    "country": "BEL",
    "coordinates": {"latitude": "51.047599", "longitude": "3.729944"},
    "time_zone": "Europe/Brussels",
    "parking_type": "ON_STREET",
    "facilities": ["CAFE", "WIFI"],
    "opening_times": {
        "twentyfourseven": False,
        "regular_hours": [{"weekday": 1, "period_begin": "07:00", "period_end": "18:00"}],
        "exceptional_openings": [],
        "exceptional_closings": [
            {"period_begin": "2025-12-25T02:00:00Z", "period_end": "2025-12-25T05:00:00Z"}
        ],
    },
    "operator": {"name": "BeCharged", "website": "https://becharged.example"},
    "charging_when_closed": True,
    "charge_point_ids": ["CP-1", "CP-2"],
    "tariff_ids": [],
    "last_updated": NOW_TEXT,
}


async def test_create_then_get(
    ocpi_client: ApiClient, auth: dict[str, str], charge_points: list[str], ocpi_store: MemoryOcpiStore
) -> None:
    """A created location is answered 201 with our country code and party, stored, and shown by GET."""
    response = await ocpi_client.post("/api/v1/locations", json=location_body(), headers=auth)
    assert response.status == 201, await response.text()
    assert response.headers["Location"] == "/api/v1/locations/LOC-1"
    assert await response.json() == EXPECTED_LOCATION
    got = await ocpi_client.get("/api/v1/locations/LOC-1", headers=auth)
    assert await got.json() == EXPECTED_LOCATION
    stored = await ocpi_store.get_location("LOC-1")
    assert stored is not None
    assert (stored.latitude, stored.time_zone, stored.country_code) == ("51.047599", "Europe/Brussels", "NL")
    assert (await ocpi_store.location_of("CP-2")) is not None


async def test_minimal_location_has_defaults(
    ocpi_client: ApiClient, auth: dict[str, str], charge_points: list[str]
) -> None:
    """With only the OCPI-required fields, the location is published, without charge points, others null."""
    body = {
        "id": "L",
        "address": "Main street 1",
        "city": "Utrecht",
        "country": "NLD",
        "coordinates": {"latitude": "52.09073", "longitude": "5.1214201"},
        "time_zone": "Europe/Amsterdam",
    }
    response = await ocpi_client.post("/api/v1/locations", json=body, headers=auth)
    assert response.status == 201, await response.text()
    got = await response.json()
    assert got["publish"] is True
    assert got["charge_point_ids"] == [] and got["facilities"] == []
    assert got["name"] is None and got["opening_times"] is None and got["charging_when_closed"] is None


async def test_numeric_coordinates_get_six_decimals(
    ocpi_client: ApiClient, auth: dict[str, str], charge_points: list[str]
) -> None:
    """Coordinates given as JSON numbers are read exactly and written with six decimals."""
    raw = json.dumps(location_body(coordinates={"latitude": 0, "longitude": 0}))
    raw = raw.replace('"latitude": 0', '"latitude": 51.0475994999').replace(
        '"longitude": 0', '"longitude": -3.1'
    )
    response = await ocpi_client.post(
        "/api/v1/locations", data=raw, headers={**auth, "Content-Type": "application/json"}
    )
    assert response.status == 201, await response.text()
    assert (await response.json())["coordinates"] == {"latitude": "51.047599", "longitude": "-3.100000"}


@pytest.mark.parametrize(
    ("changes", "field", "reason_part"),
    [
        ({"id": "has space"}, "id", "pattern"),
        ({"id": "x" * 37}, "id", "at most 36"),
        ({"address": "a" * 46}, "address", "at most 45"),
        ({"city": ""}, "city", "at least 1"),
        ({"country": "BE"}, "country", "pattern"),
        ({"country": "bel"}, "country", "pattern"),
        ({"coordinates": {"latitude": "51.04", "longitude": "3.729944"}}, "coordinates.latitude", "match"),
        ({"coordinates": {"latitude": 91.5, "longitude": "3.729944"}}, "coordinates.latitude", "between"),
        ({"coordinates": {"latitude": "51.047599", "longitude": 181}}, "coordinates.longitude", "between"),
        ({"coordinates": {"latitude": True, "longitude": 1}}, "coordinates.latitude", "number"),
        ({"coordinates": {"latitude": "51.047599"}}, "coordinates.longitude", "required"),
        ({"time_zone": "Mars/Olympus_Mons"}, "time_zone", "IANA"),
        ({"parking_type": "ROOFTOP"}, "parking_type", "ON_STREET"),
        ({"facilities": ["SPA"]}, "facilities.0", "WIFI"),
        ({"opening_times": {"twentyfourseven": False}}, "opening_times", "at least one"),
        (
            {
                "opening_times": {
                    "twentyfourseven": True,
                    "regular_hours": [{"weekday": 1, "period_begin": "07:00", "period_end": "18:00"}],
                }
            },
            "opening_times",
            "empty",
        ),
        (
            {
                "opening_times": {
                    "twentyfourseven": False,
                    "regular_hours": [{"weekday": 8, "period_begin": "07:00", "period_end": "18:00"}],
                }
            },
            "opening_times.regular_hours.0.weekday",
            "7",
        ),
        (
            {
                "opening_times": {
                    "twentyfourseven": False,
                    "regular_hours": [{"weekday": 1, "period_begin": "24:00", "period_end": "18:00"}],
                }
            },
            "opening_times.regular_hours.0.period_begin",
            "pattern",
        ),
        (
            {
                "opening_times": {
                    "twentyfourseven": True,
                    "exceptional_closings": [
                        {"period_begin": "2025-01-02T00:00:00Z", "period_end": "2025-01-01T00:00:00Z"}
                    ],
                }
            },
            "opening_times.exceptional_closings.0",
            "after",
        ),
        ({"operator": {"website": "https://x.example"}}, "operator.name", "required"),
        ({"operator": {"name": "X", "website": "ftp://x"}}, "operator.website", "pattern"),
        ({"publish": "yes please"}, "publish", "boolean"),
        ({"country_code": "NLD", "party_id": "CSM"}, "country_code", "pattern"),
        ({"country_code": "NL", "party_id": "C*M"}, "party_id", "pattern"),
        ({"evses": []}, "evses", "not permitted"),
    ],
)
async def test_invalid_fields_are_named(
    ocpi_client: ApiClient,
    auth: dict[str, str],
    charge_points: list[str],
    changes: dict[str, Any],
    field: str,
    reason_part: str,
) -> None:
    """Each invalid field is refused with 400 `invalid_request` naming the field and why."""
    response = await ocpi_client.post("/api/v1/locations", json=location_body(**changes), headers=auth)
    error = await error_of(response, 400)
    assert error["code"] == "invalid_request"
    details = {d["field"]: d["reason"] for d in error["details"]}
    assert field in details, details
    assert reason_part in details[field], details


@pytest.mark.parametrize("method", ["POST", "PUT"])
async def test_out_of_range_numeric_coordinates_are_refused(
    ocpi_client: ApiClient, auth: dict[str, str], charge_points: list[str], method: str
) -> None:
    """A numeric latitude far out of range (found by the OpenAPI fuzzer: it used to answer 500) is a 400
    `invalid_request` naming the coordinate, on create and on replace."""
    body = location_body(coordinates={"latitude": 7.95839761529957e51, "longitude": 1.0})
    if method == "PUT":
        body.pop("id")
    path = "/api/v1/locations" if method == "POST" else "/api/v1/locations/LOC-1"
    error = await error_of(await ocpi_client.request(method, path, json=body, headers=auth), 400)
    assert error["code"] == "invalid_request"
    assert any("latitude" in d["field"] for d in error["details"]), error


async def test_missing_required_fields_are_listed(ocpi_client: ApiClient, auth: dict[str, str]) -> None:
    """An empty object lists every required field."""
    error = await error_of(await ocpi_client.post("/api/v1/locations", json={}, headers=auth), 400)
    assert {d["field"] for d in error["details"]} == {
        "id",
        "address",
        "city",
        "country",
        "coordinates",
        "time_zone",
    }


async def test_invalid_json_is_refused(ocpi_client: ApiClient, auth: dict[str, str]) -> None:
    """A body that is not JSON, or uses NaN, is 400 `invalid_json`."""
    headers = {**auth, "Content-Type": "application/json"}
    for raw in ("{", '{"coordinates": {"latitude": NaN}}', ""):
        response = await ocpi_client.post("/api/v1/locations", data=raw, headers=headers)
        assert (await error_of(response, 400))["code"] == "invalid_json"


async def test_unknown_charge_points_are_named(
    ocpi_client: ApiClient, auth: dict[str, str], charge_points: list[str], ocpi_store: MemoryOcpiStore
) -> None:
    """Charge points that are not registered are each named in the 400, and nothing is stored."""
    body = location_body(charge_point_ids=["CP-1", "CP-9", "CP-8"])
    error = await error_of(await ocpi_client.post("/api/v1/locations", json=body, headers=auth), 400)
    assert error["code"] == "invalid_request"
    assert error["details"] == [
        {"field": "charge_point_ids.1", "reason": "unknown charge point 'CP-9'"},
        {"field": "charge_point_ids.2", "reason": "unknown charge point 'CP-8'"},
    ]
    assert "CP-9" in error["message"]
    assert await ocpi_store.get_location("LOC-1") is None


async def test_charge_point_in_another_location_is_a_conflict(
    ocpi_client: ApiClient, auth: dict[str, str], charge_points: list[str]
) -> None:
    """A charge point can be in one location only: adding it to a second one is 409."""
    assert (await ocpi_client.post("/api/v1/locations", json=location_body(), headers=auth)).status == 201
    body = location_body(id="LOC-2", charge_point_ids=["CP-3", "CP-2"])
    error = await error_of(await ocpi_client.post("/api/v1/locations", json=body, headers=auth), 409)
    assert error["code"] == "charge_point_in_location"
    assert error["details"] == {"charge_point_id": "CP-2", "location_id": "LOC-1"}


async def test_duplicate_id_is_a_conflict(
    ocpi_client: ApiClient, auth: dict[str, str], charge_points: list[str]
) -> None:
    """Creating a location whose id exists is 409 `conflict`."""
    assert (await ocpi_client.post("/api/v1/locations", json=location_body(), headers=auth)).status == 201
    body = location_body(charge_point_ids=[])
    error = await error_of(await ocpi_client.post("/api/v1/locations", json=body, headers=auth), 409)
    assert error["code"] == "conflict"


async def test_unknown_location_is_not_found(ocpi_client: ApiClient, auth: dict[str, str]) -> None:
    """GET, PUT and DELETE of an unknown location are 404 `not_found`."""
    assert (await error_of(await ocpi_client.get("/api/v1/locations/NOPE", headers=auth), 404))["code"] == (
        "not_found"
    )
    body = location_body(id=None, charge_point_ids=[])
    response = await ocpi_client.put("/api/v1/locations/NOPE", json=body, headers=auth)
    assert (await error_of(response, 404))["code"] == "not_found"
    response = await ocpi_client.delete("/api/v1/locations/NOPE", headers=auth)
    assert (await error_of(response, 404))["code"] == "not_found"


async def test_put_replaces_everything(
    ocpi_client: ApiClient,
    auth: dict[str, str],
    charge_points: list[str],
    clock: MovableClock,
    ocpi_store: MemoryOcpiStore,
) -> None:
    """PUT clears absent optional fields, changes the charge points and sets a new `last_updated`."""
    assert (await ocpi_client.post("/api/v1/locations", json=location_body(), headers=auth)).status == 201
    clock.now = LATER
    body = location_body(
        id=None,
        name=None,
        opening_times=None,
        operator=None,
        facilities=None,
        publish=False,
        charge_point_ids=["CP-3"],
        address="Other street 2",
    )
    response = await ocpi_client.put("/api/v1/locations/LOC-1", json=body, headers=auth)
    assert response.status == 200, await response.text()
    got = await response.json()
    assert got["address"] == "Other street 2"
    assert got["publish"] is False
    assert got["name"] is None and got["opening_times"] is None and got["operator"] is None
    assert got["facilities"] == []
    assert got["charge_point_ids"] == ["CP-3"]
    assert got["last_updated"] == LATER_TEXT
    assert await ocpi_store.location_of("CP-1") is None


async def test_location_tariffs_are_set_stored_and_shown(
    ocpi_client: ApiClient, auth: dict[str, str], charge_points: list[str], ocpi_store: MemoryOcpiStore
) -> None:
    """POST stores the location's `tariff_ids` (each once) and shows them; a PUT without them clears them."""
    for tariff_id in ("T1", "T2"):
        data = {"id": tariff_id, "currency": "EUR", "elements": []}
        await ocpi_store.save_tariff(Tariff(tariff_id, "EUR", data))
    body = location_body(tariff_ids=["T2", "T1", "T2"])
    response = await ocpi_client.post("/api/v1/locations", json=body, headers=auth)
    assert response.status == 201, await response.text()
    assert (await response.json())["tariff_ids"] == ["T2", "T1"]
    stored = await ocpi_store.get_location("LOC-1")
    assert stored is not None and stored.tariff_ids == ["T2", "T1"]
    got = await ocpi_client.get("/api/v1/locations/LOC-1", headers=auth)
    assert (await got.json())["tariff_ids"] == ["T2", "T1"]

    response = await ocpi_client.put("/api/v1/locations/LOC-1", json=location_body(id=None), headers=auth)
    assert response.status == 200, await response.text()
    assert (await response.json())["tariff_ids"] == []


async def test_unknown_location_tariffs_are_named(
    ocpi_client: ApiClient, auth: dict[str, str], charge_points: list[str], ocpi_store: MemoryOcpiStore
) -> None:
    """A tariff id that does not exist is 400 `invalid_request` naming it, on POST and PUT; nothing is
    stored or changed."""
    await ocpi_store.save_tariff(Tariff("T1", "EUR", {"id": "T1", "currency": "EUR", "elements": []}))
    response = await ocpi_client.post(
        "/api/v1/locations", json=location_body(tariff_ids=["T1", "NOPE"]), headers=auth
    )
    error = await error_of(response, 400)
    assert error["code"] == "invalid_request"
    assert error["details"] == [{"field": "tariff_ids.1", "reason": "unknown tariff 'NOPE'"}]
    assert await ocpi_store.get_location("LOC-1") is None

    assert (await ocpi_client.post("/api/v1/locations", json=location_body(), headers=auth)).status == 201
    body = location_body(id=None, tariff_ids=["NOPE"])
    response = await ocpi_client.put("/api/v1/locations/LOC-1", json=body, headers=auth)
    error = await error_of(response, 400)
    assert error["code"] == "invalid_request"
    assert error["details"] == [{"field": "tariff_ids.0", "reason": "unknown tariff 'NOPE'"}]
    stored = await ocpi_store.get_location("LOC-1")
    assert stored is not None and stored.tariff_ids == []


async def test_put_with_another_id_is_refused(
    ocpi_client: ApiClient, auth: dict[str, str], charge_points: list[str]
) -> None:
    """A PUT body whose `id` is not the path's is 400 naming `id`."""
    assert (await ocpi_client.post("/api/v1/locations", json=location_body(), headers=auth)).status == 201
    response = await ocpi_client.put("/api/v1/locations/LOC-1", json=location_body(id="LOC-2"), headers=auth)
    error = await error_of(response, 400)
    assert error["details"][0]["field"] == "id"
    same = await ocpi_client.put("/api/v1/locations/LOC-1", json=location_body(), headers=auth)
    assert same.status == 200


async def test_delete_frees_the_charge_points(
    ocpi_client: ApiClient, auth: dict[str, str], charge_points: list[str]
) -> None:
    """After DELETE (204) the location is gone and its charge points can join another location."""
    assert (await ocpi_client.post("/api/v1/locations", json=location_body(), headers=auth)).status == 201
    response = await ocpi_client.delete("/api/v1/locations/LOC-1", headers=auth)
    assert response.status == 204
    assert (await ocpi_client.get("/api/v1/locations/LOC-1", headers=auth)).status == 404
    response = await ocpi_client.post("/api/v1/locations", json=location_body(id="LOC-2"), headers=auth)
    assert response.status == 201


async def test_list_pages(
    ocpi_client: ApiClient, auth: dict[str, str], charge_points: list[str], clock: MovableClock
) -> None:
    """Locations list least recently changed first, in pages linked by `next_cursor` and `Link`."""
    for index, location_id in enumerate(["B", "A", "C"]):
        clock.now = NOW + timedelta(seconds=index)
        body = location_body(id=location_id, charge_point_ids=[])
        assert (await ocpi_client.post("/api/v1/locations", json=body, headers=auth)).status == 201
    first = await ocpi_client.get("/api/v1/locations?limit=2", headers=auth)
    page = await first.json()
    assert [loc["id"] for loc in page["items"]] == ["B", "A"]
    assert page["next_cursor"] == "2"
    assert first.headers["Link"] == '</api/v1/locations?limit=2&cursor=2>; rel="next"'
    second = await (await ocpi_client.get("/api/v1/locations?limit=2&cursor=2", headers=auth)).json()
    assert [loc["id"] for loc in second["items"]] == ["C"]
    assert second["next_cursor"] is None
    for bad in ("cursor=abc", "cursor=-1", "limit=0"):
        response = await ocpi_client.get(f"/api/v1/locations?{bad}", headers=auth)
        assert (await error_of(response, 400))["details"][0]["field"] == bad.split("=")[0]


async def test_official_example_is_accepted(
    ocpi_client: ApiClient, auth: dict[str, str], charge_points: list[str]
) -> None:
    """The official OCPI example with opening hours, less what the CSMS owns, is accepted unchanged."""
    example = json.loads((EXAMPLES / "location_example_parking_garage_opening_hours.json").read_text())
    for owned in ("country_code", "party_id", "evses", "last_updated"):
        del example[owned]
    response = await ocpi_client.post("/api/v1/locations", json=example, headers=auth)
    assert response.status == 201, await response.text()
    got = await response.json()
    for key in ("id", "name", "address", "city", "postal_code", "country", "coordinates", "time_zone"):
        assert got[key] == example[key]
    assert got["opening_times"]["regular_hours"] == example["opening_times"]["regular_hours"]
    assert got["parking_type"] == "PARKING_GARAGE" and got["charging_when_closed"] is True


async def test_roles(
    ocpi_client: ApiClient, role_headers: dict[str, dict[str, str]], charge_points: list[str]
) -> None:
    """Viewers and members read locations; only admins create, replace and delete them."""
    for role in ("viewer", "member"):
        response = await ocpi_client.post(
            "/api/v1/locations", json=location_body(), headers=role_headers[role]
        )
        assert (await error_of(response, 403))["code"] == "forbidden"
    admin = role_headers["admin"]
    assert (await ocpi_client.post("/api/v1/locations", json=location_body(), headers=admin)).status == 201
    viewer = role_headers["viewer"]
    assert (await ocpi_client.get("/api/v1/locations", headers=viewer)).status == 200
    assert (await ocpi_client.get("/api/v1/locations/LOC-1", headers=viewer)).status == 200
    member = role_headers["member"]
    put = await ocpi_client.put("/api/v1/locations/LOC-1", json=location_body(), headers=member)
    assert put.status == 403
    assert (await ocpi_client.delete("/api/v1/locations/LOC-1", headers=member)).status == 403
    assert (await ocpi_client.get("/api/v1/locations")).status == 401


async def test_without_ocpi_store_the_endpoints_are_disabled(client: ApiClient, auth: dict[str, str]) -> None:
    """An app created without an OCPI store answers 503 `ocpi_disabled` on the OCPI endpoints."""
    for method, path in (
        ("GET", "/api/v1/locations"),
        ("POST", "/api/v1/locations"),
        ("GET", "/api/v1/locations/L"),
        ("GET", "/api/v1/charge-points/CP-1/connectors/1/1/spec"),
    ):
        response = await client.request(method, path, json=location_body(), headers=auth)
        assert (await error_of(response, 503))["code"] == "ocpi_disabled"


# -- connector specs --------------------------------------------------------------------------------------

SPEC_PATH = "/api/v1/charge-points/CP-1/connectors/1/1/spec"
SPEC = {
    "standard": "IEC_60309_2_single_16",
    "format": "CABLE",
    "power_type": "AC_1_PHASE",
    "max_voltage": 230,
    "max_amperage": 16,
    "max_electric_power": 3680,
    "tariff_ids": [],
}


async def test_spec_defaults_until_set(
    ocpi_client: ApiClient, auth: dict[str, str], charge_points: list[str]
) -> None:
    """An unset connector spec shows the defaults OCPI reports with `configured: false`."""
    response = await ocpi_client.get(SPEC_PATH, headers=auth)
    assert response.status == 200
    assert await response.json() == {
        "charge_point_id": "CP-1",
        "evse_id": 1,
        "connector_id": 1,
        "standard": "IEC_62196_T2",
        "format": "SOCKET",
        "power_type": "AC_3_PHASE",
        "max_voltage": 230,
        "max_amperage": 32,
        "max_electric_power": None,
        "tariff_ids": [],
        "configured": False,
        "last_updated": None,
    }


async def test_spec_put_then_get(
    ocpi_client: ApiClient,
    auth: dict[str, str],
    charge_points: list[str],
    ocpi_store: MemoryOcpiStore,
) -> None:
    """A spec with a mixed-case standard and an existing tariff is stored and shown as configured."""
    await ocpi_store.save_tariff(Tariff("T1", "EUR", {"id": "T1", "currency": "EUR", "elements": []}))
    body = {**SPEC, "tariff_ids": ["T1"]}
    response = await ocpi_client.put(SPEC_PATH, json=body, headers=auth)
    assert response.status == 200, await response.text()
    expected = {
        "charge_point_id": "CP-1",
        "evse_id": 1,
        "connector_id": 1,
        **body,
        "configured": True,
        "last_updated": NOW_TEXT,
    }
    assert await response.json() == expected
    assert await (await ocpi_client.get(SPEC_PATH, headers=auth)).json() == expected
    (spec,) = await ocpi_store.list_connector_specs("CP-1")
    assert (spec.standard, spec.tariff_ids) == ("IEC_60309_2_single_16", ["T1"])
    other = await (
        await ocpi_client.get("/api/v1/charge-points/CP-1/connectors/2/1/spec", headers=auth)
    ).json()
    assert other["configured"] is False


async def test_spec_change_bumps_the_location(
    ocpi_client: ApiClient,
    auth: dict[str, str],
    charge_points: list[str],
    clock: MovableClock,
) -> None:
    """Changing a connector gives its charge point's location a new `last_updated` (OCPI 2.2.1 Locations)."""
    assert (await ocpi_client.post("/api/v1/locations", json=location_body(), headers=auth)).status == 201
    clock.now = LATER
    assert (await ocpi_client.put(SPEC_PATH, json=SPEC, headers=auth)).status == 200
    location = await (await ocpi_client.get("/api/v1/locations/LOC-1", headers=auth)).json()
    assert location["last_updated"] == LATER_TEXT


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"standard": "iec_62196_t2"}, "standard"),
        ({"standard": "IEC_60309_2_SINGLE_16"}, "standard"),
        ({"format": "PLUG"}, "format"),
        ({"power_type": "AC"}, "power_type"),
        ({"max_voltage": -1}, "max_voltage"),
        ({"max_amperage": 16.5}, "max_amperage"),
        ({"max_electric_power": "lots"}, "max_electric_power"),
        ({"tariff_ids": ["bad id"]}, "tariff_ids.0"),
        ({"colour": "blue"}, "colour"),
    ],
)
async def test_spec_invalid_fields_are_named(
    ocpi_client: ApiClient,
    auth: dict[str, str],
    charge_points: list[str],
    changes: dict[str, Any],
    field: str,
) -> None:
    """Each invalid spec field is refused with 400 naming it."""
    response = await ocpi_client.put(SPEC_PATH, json={**SPEC, **changes}, headers=auth)
    error = await error_of(response, 400)
    assert field in {d["field"] for d in error["details"]}


async def test_spec_unknown_tariff_is_named(
    ocpi_client: ApiClient, auth: dict[str, str], charge_points: list[str]
) -> None:
    """A tariff id that does not exist is 400 naming it."""
    response = await ocpi_client.put(SPEC_PATH, json={**SPEC, "tariff_ids": ["NOPE"]}, headers=auth)
    error = await error_of(response, 400)
    assert error["details"] == [{"field": "tariff_ids.0", "reason": "unknown tariff 'NOPE'"}]


async def test_spec_bad_address(
    ocpi_client: ApiClient, auth: dict[str, str], charge_points: list[str]
) -> None:
    """An unknown charge point is 404; EVSE or connector 0 or not a number is 400 naming it."""
    response = await ocpi_client.get("/api/v1/charge-points/CP-9/connectors/1/1/spec", headers=auth)
    assert (await error_of(response, 404))["code"] == "not_found"
    response = await ocpi_client.put(
        "/api/v1/charge-points/CP-9/connectors/1/1/spec", json=SPEC, headers=auth
    )
    assert (await error_of(response, 404))["code"] == "not_found"
    for path, field in (("0/1", "evse_id"), ("1/0", "connector_id"), ("x/1", "evse_id")):
        response = await ocpi_client.get(f"/api/v1/charge-points/CP-1/connectors/{path}/spec", headers=auth)
        assert (await error_of(response, 400))["details"][0]["field"] == field


async def test_spec_roles(
    ocpi_client: ApiClient, role_headers: dict[str, dict[str, str]], charge_points: list[str]
) -> None:
    """Viewers read connector specs; only admins set them."""
    assert (await ocpi_client.get(SPEC_PATH, headers=role_headers["viewer"])).status == 200
    response = await ocpi_client.put(SPEC_PATH, json=SPEC, headers=role_headers["member"])
    assert (await error_of(response, 403))["code"] == "forbidden"
    assert (await ocpi_client.put(SPEC_PATH, json=SPEC, headers=role_headers["admin"])).status == 200
