"""`/v1`: Chargeprice-style price estimates (`ocpi.chargeprice`), prices checked against the pricing engine
and worked out by hand, to the cent."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from csms.api import create_app
from csms.config import Config
from csms.domain.core import Domain
from csms.domain.pricing import EnergyReading, parse_tariff, price_session
from csms.domain.services import Services
from csms.store.writer import BatchedWriter
from ocpi import chargeprice
from ocpi.chargeprice.vehicles import load_vehicles, vehicle_plan
from ocpi.models import ConnectorSpec, Location, Tariff
from tests.api.conftest import NOW, ApiClient, KeyFactory
from tests.fakes.memory_store import MemoryStore
from tests.fakes.ocpi_memory_store import MemoryOcpiStore

CENT = Decimal("0.01")
VIENNA_NOON = datetime(2025, 1, 2, 11, 0, tzinfo=UTC)  # 12:00 in Europe/Vienna on NOW's date (a Thursday)

T1 = {  # €0.50 FLAT at 20 % VAT, €0.25/kWh at 10 %, €1.20/h at 20 %
    "id": "T-1",
    "currency": "EUR",
    "type": "AD_HOC_PAYMENT",
    "tariff_alt_text": [{"language": "en", "text": "Ad hoc"}],
    "tariff_alt_url": "https://example.com/prices",
    "elements": [
        {
            "price_components": [
                {"type": "FLAT", "price": "0.50", "vat": "20", "step_size": 1},
                {"type": "ENERGY", "price": "0.25", "vat": "10", "step_size": 1},
                {"type": "TIME", "price": "1.20", "vat": "20", "step_size": 1},
            ]
        }
    ],
}
THURSDAY = {  # €0.40/kWh on Thursdays, else €0.30, no VAT
    "id": "T-THU",
    "currency": "EUR",
    "elements": [
        {
            "price_components": [{"type": "ENERGY", "price": "0.40", "step_size": 1}],
            "restrictions": {"day_of_week": ["THURSDAY"]},
        },
        {"price_components": [{"type": "ENERGY", "price": "0.30", "step_size": 1}]},
    ],
}
BLOCKING = {  # €0.30/kWh; €6/h from the fourth hour on (a blocking fee at 180 minutes)
    "id": "T-BLOCK",
    "currency": "EUR",
    "elements": [
        {"price_components": [{"type": "ENERGY", "price": "0.30", "step_size": 1}]},
        {
            "price_components": [{"type": "TIME", "price": "6", "step_size": 60}],
            "restrictions": {"min_duration": 10800},
        },
    ],
}
SWISS = {
    "id": "T-CHF",
    "currency": "CHF",
    "elements": [{"price_components": [{"type": "ENERGY", "price": "0.50", "step_size": 1}]}],
}
TARIFFS = (T1, THURSDAY, BLOCKING, SWISS)


@pytest.fixture
def services(config: Config, store: MemoryStore, writer: BatchedWriter) -> Services:
    """Services whose clock stands at `NOW` (Thursday 2025-01-02, 03:04 UTC)."""
    return Services(config=config, store=store, writer=writer, clock=lambda: NOW)


@pytest.fixture
async def ocpi_store() -> MemoryOcpiStore:
    """An OCPI store with the module's tariffs and one location in Los Angeles whose connector charges by
    T-THU."""
    store = MemoryOcpiStore(clock=lambda: NOW)
    for data in TARIFFS:
        await store.save_tariff(Tariff(id=str(data["id"]), currency=str(data["currency"]), data=dict(data)))
    await store.save_location(
        Location(
            id="LA",
            name="Los Angeles",
            address="1 Main St",
            city="Los Angeles",
            country="USA",
            latitude="34.05000",
            longitude="-118.25000",
            time_zone="America/Los_Angeles",
            country_code="NL",
            party_id="CSM",
            charge_point_ids=["LA-1"],
        )
    )
    await store.save_connector_spec(ConnectorSpec("LA-1", 1, 1, tariff_ids=["T-THU"]))
    return store


@pytest.fixture
def vehicles_file(tmp_path: Path) -> Path:
    """An operator's catalogue addition: one vehicle."""
    path = tmp_path / "vehicles.json"
    extra = {
        "id": "test-1p",
        "brand": "Test",
        "name": "Single phase",
        "usable_battery_kwh": "40",
        "ac_phases": 1,
        "max_ac_kw": "7.4",
        "max_dc_kw": "50",
        "dc_curve": [[0, "50"], [100, "50"]],
    }
    path.write_text(json.dumps({"source": "test", "vehicles": [extra]}), encoding="utf-8")
    return path


@pytest.fixture
async def cp_client(
    domain: Domain, ocpi_store: MemoryOcpiStore, vehicles_file: Path
) -> AsyncIterator[ApiClient]:
    """A client of the root application with `/v1` mounted as `csms.app` mounts it."""
    app: web.Application = create_app(domain)
    app.add_subapp("/v1", chargeprice.create_app(ocpi_store, str(vehicles_file)))
    async with TestClient(TestServer(app)) as client:
        yield client


@pytest.fixture
async def key(make_api_key: KeyFactory) -> dict[str, str]:
    """An `Api-Key` header with a viewer key."""
    return {"Api-Key": await make_api_key("viewer")}


def request_body(
    options: dict[str, Any],
    *,
    points: list[dict[str, Any]] | None = None,
    relationships: dict[str, Any] | None = None,
    country: str = "AT",
    network: str = "CSM",
    where: tuple[float, float] = (14.13117, 48.289453),
) -> dict[str, Any]:
    """A `charge_price_request` (the first seed request of the Chargeprice document, changed)."""
    return {
        "data": {
            "type": "charge_price_request",
            "attributes": {
                "data_adapter": "chargeprice",
                "station": {
                    "longitude": where[0],
                    "latitude": where[1],
                    "country": country,
                    "network": network,
                    "charge_points": points or [{"power": 22, "plug": "ccs"}],
                },
                "options": options,
            },
            "relationships": relationships or {},
        }
    }


def only(tariff_ids: list[str], include: str = "filter") -> dict[str, Any]:
    """`relationships.tariffs` naming `tariff_ids`."""
    return {
        "tariffs": {"data": [{"id": i, "type": "tariff"} for i in tariff_ids], "meta": {"include": include}}
    }


def engine_price(data: dict[str, Any], start: datetime, minutes: int, wh: int, zone: str) -> Decimal:
    """The engine's total incl. VAT to the cent."""
    cost = price_session(
        parse_tariff(data), start=start, end=start + timedelta(minutes=minutes), energy_wh=wh, time_zone=zone
    )
    return cost.total.incl_vat.quantize(CENT, rounding=ROUND_HALF_UP)


async def post(client: ApiClient, body: dict[str, Any], headers: dict[str, str]) -> tuple[int, Any]:
    response = await client.post("/v1/charge_prices", json=body, headers=headers)
    return response.status, await response.json(content_type=None)


def errors_of(status: int, body: Any, expected: int, code: str) -> str:
    """Assert a JSON:API error document with one error; return its title."""
    assert status == expected, body
    (error,) = body["errors"]
    assert set(error) == {"status", "code", "title"}
    assert (error["status"], error["code"]) == (str(expected), code)
    return str(error["title"])


async def test_energy_and_duration_seed_request(cp_client: ApiClient, key: dict[str, str]) -> None:
    """Seed 1 (energy 30 kWh, 30 min, start 12:00, tariffs filter): by hand 0.50×1.2 + 30×0.25×1.1 + 0.5 h ×
    1.20×1.2 = 0.60 + 8.25 + 0.72 = €9.57, the engine's total; the same at every charge point."""
    points = [{"power": 22, "plug": "ccs"}, {"power": 11, "plug": "Type2"}]
    options = {"energy": 30, "duration": 30, "start_time": 720}
    status, body = await post(
        cp_client, request_body(options, points=points, relationships=only(["T-1"])), key
    )
    assert status == 200, body
    (item,) = body["data"]
    assert engine_price(T1, VIENNA_NOON, 30, 30000, "Europe/Vienna") == Decimal("9.57")
    assert item["type"] == "charge_price" and item["relationships"]["tariff"]["data"] == {
        "id": "T-1",
        "type": "tariff",
    }
    attributes = item["attributes"]
    assert attributes["provider"] == "Open CSMS" and attributes["tariff_name"] == "Ad hoc"
    assert attributes["url"] == "https://example.com/prices" and attributes["direct_payment"] is True
    assert (attributes["currency"], attributes["start_time"], attributes["total_monthly_fee"]) == (
        "EUR",
        720,
        0,
    )
    shares = {"session": 0.0627, "kwh": 0.8621, "minute": 0.0752}  # 0.60, 8.25, 0.72 of 9.57
    expected = {
        "price": 9.57,
        "price_distribution": shares,
        "blocking_fee_start": None,
        "no_price_reason": None,
    }
    assert attributes["charge_point_prices"] == [
        {"plug": "ccs", "power": 22, **expected},
        {"plug": "type2", "power": 11, **expected},
    ]
    assert body["meta"]["charge_points"] == [
        {"plug": "ccs", "power": 22, "duration": 30, "energy": 30},
        {"plug": "type2", "power": 11, "duration": 30, "energy": 30},
    ]


async def test_without_tariffs_every_priceable_tariff_in_the_currency(
    cp_client: ApiClient, key: dict[str, str]
) -> None:
    """No `relationships.tariffs`: every tariff priced in EUR (in the store's order); the CHF one is left
    out. A Thursday in Vienna: €0.40/kWh (10 kWh → €4.00); the blocking fee starts at 180 minutes."""
    status, body = await post(cp_client, request_body({"energy": 10, "duration": 60}), key)
    assert status == 200, body
    prices = {item["id"]: item["attributes"]["charge_point_prices"][0] for item in body["data"]}
    assert list(prices) == ["T-1", "T-BLOCK", "T-THU"]
    assert prices["T-THU"]["price"] == 4 and prices["T-THU"]["price_distribution"] == {"kwh": 1}
    assert engine_price(THURSDAY, VIENNA_NOON, 60, 10000, "Europe/Vienna") == Decimal("4.00")
    assert prices["T-BLOCK"]["blocking_fee_start"] == 180 and prices["T-BLOCK"]["price"] == 3


async def test_our_location_at_the_coordinates_gives_the_time_zone(
    cp_client: ApiClient, key: dict[str, str]
) -> None:
    """At our Los Angeles location, 12:00 of "today" is Wednesday 2025-01-01 there (NOW is Thursday 03:04
    UTC): €0.30/kWh, 10 kWh → €3.00 — the country (AT) would have said Thursday."""
    body = request_body({"energy": 10, "duration": 60}, relationships=only(["T-THU"]), where=(-118.25, 34.05))
    status, answer = await post(cp_client, body, key)
    assert status == 200, answer
    assert answer["data"][0]["attributes"]["charge_point_prices"][0]["price"] == 3
    la_noon = datetime(2025, 1, 1, 20, 0, tzinfo=UTC)
    assert engine_price(THURSDAY, la_noon, 60, 10000, "America/Los_Angeles") == Decimal("3.00")


async def test_at_our_location_only_the_tariffs_of_its_connectors(
    cp_client: ApiClient, key: dict[str, str]
) -> None:
    """Without `relationships.tariffs`, a station at our location is offered the tariffs its connectors name
    (T-THU), not every tariff of ours."""
    body = request_body({"energy": 10, "duration": 60}, where=(-118.25, 34.05))
    status, answer = await post(cp_client, body, key)
    assert status == 200, answer
    assert [item["id"] for item in answer["data"]] == ["T-THU"]


async def test_at_our_location_its_own_tariffs_too(
    cp_client: ApiClient, key: dict[str, str], ocpi_store: MemoryOcpiStore
) -> None:
    """The tariffs the location names (for its connectors that name none) are offered with its connectors'
    (T-THU and T-BLOCK), still not every tariff of ours."""
    location = await ocpi_store.get_location("LA")
    assert location is not None
    location.tariff_ids = ["T-BLOCK"]
    await ocpi_store.save_location(location)
    body = request_body({"energy": 10, "duration": 60}, where=(-118.25, 34.05))
    status, answer = await post(cp_client, body, key)
    assert status == 200, answer
    assert sorted(item["id"] for item in answer["data"]) == ["T-BLOCK", "T-THU"]


async def test_vehicle_and_battery_range_seed_request(cp_client: ApiClient, key: dict[str, str]) -> None:
    """Seed 2 (vehicle + battery_range [20, 80], "going_electric" spelling): a Zoe ZE50 (52 kWh) takes 31.2
    kWh; at a 22 kW type2 point at 22 kW: 31.2/22 h = 85.1 min; at a 50 kW CCS point along its DC curve.
    Prices are the engine's for those plans."""
    body = request_body(
        {"battery_range": [20.0, 80.0]},
        points=[{"power": 22, "plug": "type2"}, {"power": 50, "plug": "CCS"}],
        relationships={**only(["T-1"]), "vehicle": {"data": {"id": "renault-zoe-r135-ze50", "type": "car"}}},
    )
    body["data"]["attributes"]["data_adapter"] = "going_electric"
    status, answer = await post(cp_client, body, key)
    assert status == 200, answer
    ac, dc = answer["meta"]["charge_points"]
    assert ac == {"plug": "type2", "power": 22, "duration": 85.1, "energy": 31.2}
    assert dc["energy"] == 31.2 and 40 < dc["duration"] < 60
    zoe = load_vehicles()["renault-zoe-r135-ze50"]
    window = (Decimal(20), Decimal(80))
    expected = []
    for plug, power in (("type2", Decimal(22)), ("ccs", Decimal(50))):
        plan = vehicle_plan(zoe, window, plug, power)
        assert plan is not None
        readings = [EnergyReading(VIENNA_NOON + at, Decimal(wh)) for at, wh in plan.readings]
        cost = price_session(
            parse_tariff(T1),
            start=VIENNA_NOON,
            end=VIENNA_NOON + plan.duration,
            energy_wh=plan.energy_wh,
            readings=readings,
            time_zone="Europe/Vienna",
        )
        expected.append(float(cost.total.incl_vat.quantize(CENT, rounding=ROUND_HALF_UP)))
    prices = answer["data"][0]["attributes"]["charge_point_prices"]
    assert [p["price"] for p in prices] == expected
    # By hand at the AC point: 0.60 + 31.2×0.25×1.1 (8.58) + 5105 s × 1.20/h × 1.2 (2.0420) = €11.22.
    assert expected[0] == 11.22


async def test_single_phase_car_on_ac(cp_client: ApiClient, key: dict[str, str]) -> None:
    """A single-phase car (the operator-added vehicle, 7.4 kW AC) on a 22 kW type2 point takes one phase:
    4.5 kW without unbalanced load (40 kWh × 50 % = 20 kWh in 266.7 min); with it, 22/3 = 7.33 kW
    (163.6 min)."""
    relationships = {"vehicle": {"data": {"id": "test-1p", "type": "car"}}}
    points = [{"power": 22, "plug": "type2"}]
    durations = []
    for unbalanced in (False, True):
        options = {"battery_range": [30, 80], "allow_unbalanced_load": unbalanced}
        status, body = await post(
            cp_client, request_body(options, points=points, relationships=relationships), key
        )
        assert status == 200, body
        durations.append(body["meta"]["charge_points"][0]["duration"])
    assert durations == [266.7, 163.6]


async def test_include_always_and_exclusive(cp_client: ApiClient, key: dict[str, str]) -> None:
    """A CHF tariff asked for in EUR: `filter` drops it; `always` adds it to the others, `exclusive` answers
    it alone — without a price, so only with `show_price_unavailable` (then price null and a reason)."""
    options: dict[str, Any] = {"energy": 10, "duration": 60}
    ids = {}
    for include, show in (("filter", False), ("always", False), ("always", True), ("exclusive", True)):
        body = request_body(
            {**options, "show_price_unavailable": show}, relationships=only(["T-CHF"], include)
        )
        status, answer = await post(cp_client, body, key)
        assert status == 200, answer
        ids[(include, show)] = [item["id"] for item in answer["data"]]
        if show:
            chf = next(i for i in answer["data"] if i["id"] == "T-CHF")["attributes"]["charge_point_prices"][
                0
            ]
            assert chf["price"] is None and "CHF" in chf["no_price_reason"]
    assert ids == {
        ("filter", False): [],
        ("always", False): ["T-1", "T-BLOCK", "T-THU"],
        ("always", True): ["T-1", "T-BLOCK", "T-CHF", "T-THU"],
        ("exclusive", True): ["T-CHF"],
    }


async def test_another_network_has_no_tariffs_of_ours(cp_client: ApiClient, key: dict[str, str]) -> None:
    """A station of another CPO: no charge prices, the charge points still described."""
    status, body = await post(cp_client, request_body({"energy": 10, "duration": 60}, network="XYZ"), key)
    assert status == 200 and body["data"] == []
    assert body["meta"]["charge_points"] == [{"plug": "ccs", "power": 22, "duration": 60, "energy": 10}]


@pytest.mark.parametrize(
    ("options", "relationships", "field"),
    [
        ({}, {}, "options.energy"),
        ({"energy": 10}, {}, "options.duration"),
        ({"duration": 10}, {}, "options.energy"),
        ({"energy": -1, "duration": 10}, {}, "options.energy"),
        ({"energy": 1, "duration": -10}, {}, "options.duration"),
        ({"energy": 1, "duration": 0}, {}, "options.duration"),
        ({"energy": 1, "duration": 10, "start_time": 1440}, {}, "options.start_time"),
        ({"energy": 1, "duration": 10, "car_ac_phases": 2}, {}, "options.car_ac_phases"),
        (
            {"energy": 1, "duration": 10, "battery_range": [20, 80]},
            {"vehicle": {"data": {"id": "nissan-leaf-40", "type": "car"}}},
            "options.energy",
        ),
        ({"battery_range": [20, 80]}, {}, "relationships.vehicle"),
        (
            {"battery_range": [80, 20]},
            {"vehicle": {"data": {"id": "nissan-leaf-40", "type": "car"}}},
            "battery_range",
        ),
        (
            {"battery_range": [20, 80]},
            {"vehicle": {"data": {"id": "nope", "type": "car"}}},
            "relationships.vehicle",
        ),
    ],
)
async def test_bad_requests_name_the_field(
    cp_client: ApiClient,
    key: dict[str, str],
    options: dict[str, Any],
    relationships: dict[str, Any],
    field: str,
) -> None:
    """Energy and duration both missing, one of them missing, negative, or with a vehicle + battery range;
    a battery range without a vehicle, backwards, or an unknown vehicle: 400 BAD_REQUEST naming the field."""
    status, body = await post(cp_client, request_body(options, relationships=relationships), key)
    assert field in errors_of(status, body, 400, "BAD_REQUEST")


async def test_keys(cp_client: ApiClient, key: dict[str, str]) -> None:
    """No key or a wrong one: 403 FORBIDDEN; the key as `Api-Key` or as a bearer token: answered."""
    body = request_body({"energy": 10, "duration": 60})
    assert errors_of(*await post(cp_client, body, {}), 403, "FORBIDDEN") == "api_key missing"
    wrong = {"Api-Key": key["Api-Key"][:-2] + "xx"}
    assert errors_of(*await post(cp_client, body, wrong), 403, "FORBIDDEN") == "api_key invalid"
    assert (
        errors_of(*await post(cp_client, body, {"Api-Key": "nonsense"}), 403, "FORBIDDEN")
        == "api_key invalid"
    )
    status, _ = await post(cp_client, body, {"Authorization": f"Bearer {key['Api-Key']}"})
    assert status == 200
    response = await cp_client.get("/v1/vehicles")
    assert response.status == 403


async def test_unknown_currency(cp_client: ApiClient, key: dict[str, str]) -> None:
    """A currency that is not in the euro reference rates: 404 NOT_FOUND."""
    status, body = await post(cp_client, request_body({"energy": 10, "duration": 60, "currency": "ATS"}), key)
    assert errors_of(status, body, 404, "NOT_FOUND") == "No currency with iso ATS"


async def test_lists_of_tariffs_and_vehicles(cp_client: ApiClient, key: dict[str, str]) -> None:
    """`GET /v1/tariffs` lists our tariffs, `GET /v1/vehicles` the shipped catalogue plus the operator's
    file."""
    tariffs = await (await cp_client.get("/v1/tariffs", headers=key)).json(content_type=None)
    assert [(t["id"], t["type"]) for t in tariffs["data"]] == [
        ("T-1", "tariff"),
        ("T-BLOCK", "tariff"),
        ("T-CHF", "tariff"),
        ("T-THU", "tariff"),
    ]
    vehicles = await (await cp_client.get("/v1/vehicles", headers=key)).json(content_type=None)
    ids = [v["id"] for v in vehicles["data"]]
    assert "renault-zoe-r135-ze50" in ids and ids[-1] == "test-1p"
    leaf = next(v for v in vehicles["data"] if v["id"] == "nissan-leaf-40")
    assert leaf["type"] == "car" and leaf["attributes"]["ac_phases"] == 1


async def test_unknown_paths_and_methods_are_jsonapi_errors(
    cp_client: ApiClient, key: dict[str, str]
) -> None:
    """What aiohttp refuses itself (unknown path, wrong method) is a JSON:API error too; a body that is not
    JSON is a 400 naming the body."""
    response = await cp_client.get("/v1/nothing", headers=key)
    errors_of(response.status, await response.json(content_type=None), 404, "NOT_FOUND")
    response = await cp_client.get("/v1/charge_prices", headers=key)
    errors_of(response.status, await response.json(content_type=None), 405, "METHOD_NOT_ALLOWED")
    response = await cp_client.post("/v1/charge_prices", data=b"{", headers=key)
    title = errors_of(response.status, await response.json(content_type=None), 400, "BAD_REQUEST")
    assert title.startswith("body")


async def test_an_unexpected_failure_is_a_jsonapi_500(
    cp_client: ApiClient, key: dict[str, str], ocpi_store: MemoryOcpiStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failure nobody foresaw answers 500 INTERNAL_SERVER_ERROR without telling its cause."""

    async def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("secret detail")

    monkeypatch.setattr(ocpi_store, "list_tariffs", broken)
    response = await cp_client.get("/v1/tariffs", headers=key)
    title = errors_of(response.status, await response.json(content_type=None), 500, "INTERNAL_SERVER_ERROR")
    assert "secret" not in title
