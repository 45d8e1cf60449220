"""`/api/v1/tariffs`: OCPI 2.2.1 tariffs managed by operators, prices kept exact."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from decimal import Decimal
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
from ocpi.models import ConnectorSpec, Location
from tests.api.conftest import NOW, NOW_TEXT, ApiClient, error_of
from tests.api.openapi_check import OpenApiChecker
from tests.fakes.memory_store import MemoryStore
from tests.fakes.ocpi_memory_store import MemoryOcpiStore

EXAMPLES = Path("/work/shared/ocpi-examples")
LATER = NOW + timedelta(minutes=5)
LATER_TEXT = "2025-01-02T03:09:05.678Z"
JSON_HEADERS = {"Content-Type": "application/json"}


class MovableClock:
    """A clock tests set by hand (`now`), shared by the services and the OCPI store."""

    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
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


def tariff_body(**changes: Any) -> dict[str, Any]:
    """A valid `POST /tariffs` body (d2 check: €0.50 FLAT at 20 % + €0.25/kWh at 10 %), changed by
    `changes` (None removes a field)."""
    body: dict[str, Any] = {
        "id": "T-1",
        "currency": "EUR",
        "type": "REGULAR",
        "tariff_alt_text": [{"language": "en", "text": "0.50 start, 0.25 per kWh"}],
        "elements": [
            {
                "price_components": [
                    {"type": "FLAT", "price": "0.50", "vat": "20", "step_size": 1},
                    {"type": "ENERGY", "price": "0.25", "vat": "10", "step_size": 1},
                ]
            }
        ],
    }
    for key, value in changes.items():
        if value is None:
            body.pop(key, None)
        else:
            body[key] = value
    return body


def with_component(**component: Any) -> dict[str, Any]:
    """A tariff body whose only price component is TIME 1.00 per hour changed by `component`."""
    return tariff_body(
        elements=[{"price_components": [{"type": "TIME", "price": "1.00", "step_size": 60, **component}]}]
    )


def with_restrictions(restrictions: dict[str, Any], kind: str = "TIME") -> dict[str, Any]:
    """A tariff body with one `kind` component under `restrictions`."""
    component = {"type": kind, "price": "1", "step_size": 1}
    return tariff_body(elements=[{"price_components": [component], "restrictions": restrictions}])


async def post_raw(client: ApiClient, auth: dict[str, str], raw: str) -> Any:
    """POST `raw` JSON text to /tariffs (so numbers reach the server exactly as written)."""
    return await client.post("/api/v1/tariffs", data=raw, headers={**auth, **JSON_HEADERS})


async def test_create_then_get(
    ocpi_client: ApiClient, auth: dict[str, str], ocpi_store: MemoryOcpiStore
) -> None:
    """A created tariff is answered 201 as the OCPI Tariff with our party, and shown by GET."""
    response = await ocpi_client.post("/api/v1/tariffs", json=tariff_body(), headers=auth)
    assert response.status == 201, await response.text()
    assert response.headers["Location"] == "/api/v1/tariffs/T-1"
    expected = {
        "id": "T-1",
        "country_code": "NL",
        "party_id": "CSM",
        "currency": "EUR",
        "type": "REGULAR",
        "tariff_alt_text": [{"language": "en", "text": "0.50 start, 0.25 per kWh"}],
        "tariff_alt_url": None,
        "min_price": None,
        "max_price": None,
        "elements": tariff_body()["elements"],
        "start_date_time": None,
        "end_date_time": None,
        "energy_mix": None,
        "last_updated": NOW_TEXT,
    }
    assert await response.json() == expected
    assert await (await ocpi_client.get("/api/v1/tariffs/T-1", headers=auth)).json() == expected
    stored = await ocpi_store.get_tariff("T-1")
    assert stored is not None and stored.currency == "EUR"
    assert stored.data["elements"][0]["price_components"][1]["price"] == "0.25"
    assert "country_code" not in stored.data and "last_updated" not in stored.data


async def test_prices_never_pass_through_float(
    ocpi_client: ApiClient, auth: dict[str, str], ocpi_store: MemoryOcpiStore
) -> None:
    """Numbers in the body are kept digit for digit as decimal text (0.1 stays 0.1, large values exact)."""
    raw = (
        '{"id": "EXACT", "currency": "EUR", "min_price": {"excl_vat": 0.1, "incl_vat": 0.12},'
        ' "elements": [{"price_components": [{"type": "ENERGY", "price": 12345678901234567.8901,'
        ' "vat": 21, "step_size": 1}, {"type": "TIME", "price": 1e1, "step_size": 0}],'
        ' "restrictions": {"max_kwh": 0.3, "min_power": 11.0}}]}'
    )
    response = await post_raw(ocpi_client, auth, raw)
    assert response.status == 201, await response.text()
    got = await response.json()
    component, time = got["elements"][0]["price_components"]
    assert component == {"type": "ENERGY", "price": "12345678901234567.8901", "vat": "21", "step_size": 1}
    assert time["price"] == "10"
    assert got["min_price"] == {"excl_vat": "0.1", "incl_vat": "0.12"}
    assert got["elements"][0]["restrictions"] == {"max_kwh": "0.3", "min_power": "11.0"}
    stored = await ocpi_store.get_tariff("EXACT")
    assert stored is not None
    price = stored.data["elements"][0]["price_components"][0]["price"]
    assert Decimal(price) == Decimal("12345678901234567.8901")


@pytest.mark.parametrize(
    "name",
    sorted(path.name for path in EXAMPLES.glob("tariff_*.json")),
)
async def test_official_examples_are_accepted(
    ocpi_client: ApiClient, auth: dict[str, str], name: str
) -> None:
    """Every official OCPI tariff example, less what the CSMS owns, is accepted with the same values."""
    raw = (EXAMPLES / name).read_text()
    example = json.loads(raw, parse_float=Decimal)
    for owned in ("country_code", "party_id", "last_updated"):
        example.pop(owned, None)
    body = json.dumps(example, default=str)  # Decimals as text: what the server reads back exactly
    response = await post_raw(ocpi_client, auth, body)
    assert response.status == 201, (name, await response.text())
    got = await response.json()
    assert got["id"] == example["id"] and got["currency"] == example["currency"]
    for got_element, element in zip(got["elements"], example["elements"], strict=True):
        for got_component, component in zip(
            got_element["price_components"], element["price_components"], strict=True
        ):
            assert Decimal(got_component["price"]) == Decimal(str(component["price"]))
            assert got_component["type"] == component["type"]
        assert set(got_element.get("restrictions") or {}) == set(element.get("restrictions") or {})


@pytest.mark.parametrize(
    ("body", "field", "reason_part"),
    [
        (tariff_body(id="a/b"), "id", "pattern"),
        (tariff_body(currency="eur"), "currency", "pattern"),
        (tariff_body(currency=None), "currency", "required"),
        (tariff_body(type="CHEAP"), "type", "REGULAR"),
        (tariff_body(elements=[]), "elements", "at least 1"),
        (tariff_body(elements=None), "elements", "required"),
        (tariff_body(elements=[{"price_components": []}]), "elements.0.price_components", "at least 1"),
        (with_component(type="KWH"), "elements.0.price_components.0.type", "ENERGY"),
        (with_component(price="-1"), "elements.0.price_components.0.price", "greater than or equal to 0"),
        (with_component(price="0.12345"), "elements.0.price_components.0.price", "4 decimal places"),
        (with_component(price="cheap"), "elements.0.price_components.0.price", "decimal"),
        (
            tariff_body(elements=[{"price_components": [{"type": "TIME", "step_size": 1}]}]),
            "elements.0.price_components.0.price",
            "required",
        ),
        (with_component(vat="-5"), "elements.0.price_components.0.vat", "greater than or equal to 0"),
        (with_component(step_size=-1), "elements.0.price_components.0.step_size", "greater than or equal"),
        (with_component(step_size=1.5), "elements.0.price_components.0.step_size", "integer"),
        (with_restrictions({"day_of_week": ["MON"]}), "elements.0.restrictions.day_of_week.0", "MONDAY"),
        (with_restrictions({"start_time": "9:00"}), "elements.0.restrictions.start_time", "pattern"),
        (with_restrictions({"start_date": "2025-13-01"}), "elements.0.restrictions.start_date", "pattern"),
        (with_restrictions({"reservation": "MAYBE"}), "elements.0.restrictions.reservation", "RESERVATION"),
        (with_restrictions({"min_kwh": "5", "max_kwh": "5"}), "elements.0.restrictions", "min_kwh"),
        (with_restrictions({"min_duration": -1}), "elements.0.restrictions.min_duration", "greater"),
        (with_restrictions({"reservation": "RESERVATION"}, "ENERGY"), "elements.0", "FLAT and TIME"),
        (with_restrictions({"max_speed": 3}), "elements.0.restrictions.max_speed", "not permitted"),
        (
            tariff_body(tariff_alt_text=[{"language": "eng", "text": "x"}]),
            "tariff_alt_text.0.language",
            "pattern",
        ),
        (tariff_body(tariff_alt_url="not a url"), "tariff_alt_url", "pattern"),
        (tariff_body(min_price={"incl_vat": "1"}), "min_price.excl_vat", "required"),
        (tariff_body(min_price={"excl_vat": "5"}, max_price={"excl_vat": "1"}), "body", "min_price"),
        (tariff_body(start_date_time="2025-01-01T00:00:00"), "start_date_time", "timezone"),
        (
            tariff_body(start_date_time="2025-02-01T00:00:00Z", end_date_time="2025-01-01T00:00:00Z"),
            "body",
            "end_date_time",
        ),
        (tariff_body(energy_mix={"supplier_name": "x"}), "energy_mix.is_green_energy", "required"),
        (tariff_body(country_code="NL"), "country_code", "not permitted"),
        (tariff_body(last_updated="2025-01-01T00:00:00Z"), "last_updated", "not permitted"),
    ],
)
async def test_invalid_fields_are_named(
    ocpi_client: ApiClient, auth: dict[str, str], body: dict[str, Any], field: str, reason_part: str
) -> None:
    """Each invalid field is refused with 400 `invalid_request` naming the field and why."""
    response = await ocpi_client.post("/api/v1/tariffs", json=body, headers=auth)
    error = await error_of(response, 400)
    assert error["code"] == "invalid_request"
    details = {d["field"]: d["reason"] for d in error["details"]}
    assert field in details, details
    assert reason_part in details[field], details


async def test_optional_fields_round_trip(ocpi_client: ApiClient, auth: dict[str, str]) -> None:
    """Alt URL, prices, validity period (in UTC) and energy mix are kept and shown."""
    body = tariff_body(
        tariff_alt_url="https://example.com/tariffs/1",
        min_price={"excl_vat": "0.50", "incl_vat": "0.55"},
        max_price={"excl_vat": "20"},
        start_date_time="2025-01-01T01:00:00+01:00",
        end_date_time="2026-01-01T00:00:00Z",
        energy_mix={
            "is_green_energy": True,
            "energy_sources": [{"source": "SOLAR", "percentage": "80"}, {"source": "WIND", "percentage": 20}],
            "supplier_name": "Green Power",
        },
    )
    response = await ocpi_client.post("/api/v1/tariffs", json=body, headers=auth)
    assert response.status == 201, await response.text()
    got = await response.json()
    assert got["tariff_alt_url"] == "https://example.com/tariffs/1"
    assert got["min_price"] == {"excl_vat": "0.50", "incl_vat": "0.55"}
    assert got["max_price"] == {"excl_vat": "20"}
    assert (got["start_date_time"], got["end_date_time"]) == ("2025-01-01T00:00:00Z", "2026-01-01T00:00:00Z")
    assert got["energy_mix"] == {
        "is_green_energy": True,
        "energy_sources": [{"source": "SOLAR", "percentage": "80"}, {"source": "WIND", "percentage": "20"}],
        "supplier_name": "Green Power",
    }


async def test_invalid_json_is_refused(ocpi_client: ApiClient, auth: dict[str, str]) -> None:
    """A body that is not JSON, or holds Infinity, is 400 `invalid_json`."""
    for raw in ("[", '{"id": "T", "elements": [{"price_components": [{"price": Infinity}]}]}'):
        assert (await error_of(await post_raw(ocpi_client, auth, raw), 400))["code"] == "invalid_json"


async def test_duplicate_id_is_a_conflict(ocpi_client: ApiClient, auth: dict[str, str]) -> None:
    """Creating a tariff whose id exists is 409 `conflict`."""
    assert (await ocpi_client.post("/api/v1/tariffs", json=tariff_body(), headers=auth)).status == 201
    response = await ocpi_client.post("/api/v1/tariffs", json=tariff_body(), headers=auth)
    assert (await error_of(response, 409))["code"] == "conflict"


async def test_put_replaces_the_tariff(
    ocpi_client: ApiClient, auth: dict[str, str], clock: MovableClock
) -> None:
    """PUT replaces every field (absent optional ones are cleared) and sets a new `last_updated`."""
    assert (await ocpi_client.post("/api/v1/tariffs", json=tariff_body(), headers=auth)).status == 201
    clock.now = LATER
    body = with_component(price="2.00")
    del body["id"], body["type"], body["tariff_alt_text"]
    response = await ocpi_client.put("/api/v1/tariffs/T-1", json=body, headers=auth)
    assert response.status == 200, await response.text()
    got = await response.json()
    assert got["type"] is None and got["tariff_alt_text"] is None
    assert got["elements"] == [{"price_components": [{"type": "TIME", "price": "2.00", "step_size": 60}]}]
    assert got["last_updated"] == LATER_TEXT
    assert (await (await ocpi_client.get("/api/v1/tariffs/T-1", headers=auth)).json()) == got


async def test_put_with_another_id_is_refused(ocpi_client: ApiClient, auth: dict[str, str]) -> None:
    """A PUT body whose `id` is not the path's is 400 naming `id`; the same id is fine."""
    assert (await ocpi_client.post("/api/v1/tariffs", json=tariff_body(), headers=auth)).status == 201
    response = await ocpi_client.put("/api/v1/tariffs/T-1", json=tariff_body(id="T-2"), headers=auth)
    assert (await error_of(response, 400))["details"][0]["field"] == "id"
    assert (await ocpi_client.put("/api/v1/tariffs/T-1", json=tariff_body(), headers=auth)).status == 200


async def test_unknown_tariff_is_not_found(ocpi_client: ApiClient, auth: dict[str, str]) -> None:
    """GET, PUT and DELETE of an unknown tariff are 404 `not_found`."""
    assert (await error_of(await ocpi_client.get("/api/v1/tariffs/NOPE", headers=auth), 404))["code"] == (
        "not_found"
    )
    response = await ocpi_client.put("/api/v1/tariffs/NOPE", json=tariff_body(id=None), headers=auth)
    assert (await error_of(response, 404))["code"] == "not_found"
    response = await ocpi_client.delete("/api/v1/tariffs/NOPE", headers=auth)
    assert (await error_of(response, 404))["code"] == "not_found"


async def test_delete(ocpi_client: ApiClient, auth: dict[str, str], ocpi_store: MemoryOcpiStore) -> None:
    """DELETE of an unused tariff is 204 and it is gone."""
    assert (await ocpi_client.post("/api/v1/tariffs", json=tariff_body(), headers=auth)).status == 201
    assert (await ocpi_client.delete("/api/v1/tariffs/T-1", headers=auth)).status == 204
    assert await ocpi_store.get_tariff("T-1") is None
    assert (await ocpi_client.get("/api/v1/tariffs/T-1", headers=auth)).status == 404


async def test_delete_of_a_tariff_in_use_is_a_conflict(
    ocpi_client: ApiClient, auth: dict[str, str], store: MemoryStore, ocpi_store: MemoryOcpiStore
) -> None:
    """A tariff a connector spec names cannot be deleted: 409 `tariff_in_use` lists the connectors."""
    assert (await ocpi_client.post("/api/v1/tariffs", json=tariff_body(), headers=auth)).status == 201
    await store.add_charge_point(ChargePoint("CP-1", created_at=NOW, updated_at=NOW))
    await ocpi_store.save_connector_spec(ConnectorSpec("CP-1", 2, 1, tariff_ids=["T-1"]))
    error = await error_of(await ocpi_client.delete("/api/v1/tariffs/T-1", headers=auth), 409)
    assert error["code"] == "tariff_in_use"
    assert error["details"] == {
        "connectors": [{"charge_point_id": "CP-1", "evse_id": 2, "connector_id": 1}],
        "locations": [],
    }
    await ocpi_store.save_connector_spec(ConnectorSpec("CP-1", 2, 1, tariff_ids=[]))
    assert (await ocpi_client.delete("/api/v1/tariffs/T-1", headers=auth)).status == 204


async def test_delete_of_a_tariff_a_location_names_is_a_conflict(
    ocpi_client: ApiClient, auth: dict[str, str], ocpi_store: MemoryOcpiStore
) -> None:
    """A tariff a location names (for its connectors without their own) cannot be deleted: 409
    `tariff_in_use` lists the location; once the location no longer names it, it can."""
    assert (await ocpi_client.post("/api/v1/tariffs", json=tariff_body(), headers=auth)).status == 201
    location = Location(
        "LOC-1", None, "Main 1", "Gent", "BEL", "51.04759", "3.72994", "Europe/Brussels", "NL", "CSM",
        tariff_ids=["T-1"],
    )
    await ocpi_store.save_location(location)
    error = await error_of(await ocpi_client.delete("/api/v1/tariffs/T-1", headers=auth), 409)
    assert error["code"] == "tariff_in_use"
    assert error["details"] == {"connectors": [], "locations": ["LOC-1"]}
    location.tariff_ids = []
    await ocpi_store.save_location(location)
    assert (await ocpi_client.delete("/api/v1/tariffs/T-1", headers=auth)).status == 204


async def test_list_pages(ocpi_client: ApiClient, auth: dict[str, str], clock: MovableClock) -> None:
    """Tariffs list least recently changed first, in pages linked by `next_cursor` and `Link`."""
    for index, tariff_id in enumerate(["B", "C", "A"]):
        clock.now = NOW + timedelta(seconds=index)
        assert (
            await ocpi_client.post("/api/v1/tariffs", json=tariff_body(id=tariff_id), headers=auth)
        ).status == 201
    first = await ocpi_client.get("/api/v1/tariffs?limit=2", headers=auth)
    page = await first.json()
    assert [t["id"] for t in page["items"]] == ["B", "C"]
    assert first.headers["Link"] == '</api/v1/tariffs?limit=2&cursor=2>; rel="next"'
    second = await (
        await ocpi_client.get(f"/api/v1/tariffs?limit=2&cursor={page['next_cursor']}", headers=auth)
    ).json()
    assert [t["id"] for t in second["items"]] == ["A"] and second["next_cursor"] is None
    response = await ocpi_client.get("/api/v1/tariffs?cursor=x", headers=auth)
    assert (await error_of(response, 400))["details"][0]["field"] == "cursor"


async def test_roles(ocpi_client: ApiClient, role_headers: dict[str, dict[str, str]]) -> None:
    """Viewers and members read tariffs; only admins create, replace and delete them."""
    for role in ("viewer", "member"):
        response = await ocpi_client.post("/api/v1/tariffs", json=tariff_body(), headers=role_headers[role])
        assert (await error_of(response, 403))["code"] == "forbidden"
    admin, member = role_headers["admin"], role_headers["member"]
    assert (await ocpi_client.post("/api/v1/tariffs", json=tariff_body(), headers=admin)).status == 201
    assert (await ocpi_client.get("/api/v1/tariffs", headers=role_headers["viewer"])).status == 200
    assert (await ocpi_client.get("/api/v1/tariffs/T-1", headers=role_headers["viewer"])).status == 200
    assert (await ocpi_client.put("/api/v1/tariffs/T-1", json=tariff_body(), headers=member)).status == 403
    assert (await ocpi_client.delete("/api/v1/tariffs/T-1", headers=member)).status == 403
    assert (await ocpi_client.get("/api/v1/tariffs")).status == 401


async def test_without_ocpi_store_the_endpoints_are_disabled(client: ApiClient, auth: dict[str, str]) -> None:
    """An app created without an OCPI store answers 503 `ocpi_disabled` on the tariff endpoints."""
    for method, path in (
        ("GET", "/api/v1/tariffs"),
        ("POST", "/api/v1/tariffs"),
        ("GET", "/api/v1/tariffs/T"),
        ("PUT", "/api/v1/tariffs/T"),
        ("DELETE", "/api/v1/tariffs/T"),
    ):
        response = await client.request(method, path, json=tariff_body(), headers=auth)
        assert (await error_of(response, 503))["code"] == "ocpi_disabled"
