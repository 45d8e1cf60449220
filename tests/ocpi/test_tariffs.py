"""OCPI 2.2.1 Tariffs sender (`ocpi.tariffs`): the stored tariffs as OCPI objects, paginated."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ocpi.models import Tariff
from ocpi.store import OcpiStore
from ocpi.tariffs import pricing_tariff
from ocpi.transport import ocpi_datetime
from tests.ocpi.schemas import assert_valid
from tests.ocpi.senders import harness
from tests.store.conftest import T0, FakeClock

EXAMPLES = Path("/work/shared/ocpi-examples")
NAMES = [
    "tariff_1_simple_2hour.json",
    "tariff_3_alt_url.json",
    "tariff_4_complex.json",
    "tariff_6_025kwh_start_max_price.json",
    "tariff_14_step_size.json",
]


def example(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((EXAMPLES / name).read_text(encoding="utf-8"))
    return data


async def test_list_pages_through_tariffs_as_our_own(ocpi_store: OcpiStore, clock: FakeClock) -> None:
    """GET tariffs pages (server limit 3) through every stored tariff, oldest first, each a valid Tariff with
    our country_code/party_id and the elements as stored — on every OCPI store backend."""
    async with harness(ocpi_store, clock) as h:
        for name in NAMES:
            await h.add_tariff(example(name))
            h.advance(1)
        status, body, headers = await h.get("tariffs")
        assert status == 200 and len(body["data"]) == 3 and headers["X-Total-Count"] == "5"
        items, pages = await h.get_all("tariffs")
        assert pages == 2
        assert [t["id"] for t in items] == [example(n)["id"] for n in NAMES]
        for item, name in zip(items, NAMES, strict=True):
            assert_valid("Tariff", item)
            assert (item["country_code"], item["party_id"]) == ("BE", "CSM")
            assert item["elements"] == example(name)["elements"]
        assert items[0]["last_updated"] == ocpi_datetime(T0)
        assert items[3]["max_price"] == {"excl_vat": 10, "incl_vat": 11}


async def test_numbers_stored_as_strings_are_emitted_as_numbers(
    ocpi_store: OcpiStore, clock: FakeClock
) -> None:
    """Prices kept as exact strings become JSON numbers with at most 4 decimals; step sizes integers."""
    async with harness(ocpi_store, clock) as h:
        await h.add_tariff(
            {
                "id": "S",
                "currency": "EUR",
                "min_price": {"excl_vat": "0.50", "incl_vat": "0.605"},
                "elements": [
                    {
                        "price_components": [
                            {"type": "ENERGY", "price": "0.123456", "vat": "21.0", "step_size": "1"}
                        ],
                        "restrictions": {"max_kwh": "10.5", "day_of_week": ["MONDAY"]},
                    }
                ],
            }
        )
        _, body, _ = await h.get("tariffs")
        (tariff,) = body["data"]
        assert_valid("Tariff", tariff)
        assert tariff["min_price"] == {"excl_vat": 0.5, "incl_vat": 0.605}
        assert tariff["elements"][0]["price_components"][0] == {
            "type": "ENERGY",
            "price": 0.1235,
            "vat": 21,
            "step_size": 1,
        }
        assert tariff["elements"][0]["restrictions"] == {"max_kwh": 10.5, "day_of_week": ["MONDAY"]}


async def test_window_filters_by_last_updated(ocpi_store: OcpiStore, clock: FakeClock) -> None:
    """date_from (inclusive) and date_to (exclusive) select tariffs by their last change."""
    async with harness(ocpi_store, clock) as h:
        for name in NAMES[:3]:
            await h.add_tariff(example(name))
            h.advance(10)
        items, _ = await h.get_all("tariffs", date_from=ocpi_datetime(T0.replace(second=10)))
        assert [t["id"] for t in items] == ["13", "14"]
        items, _ = await h.get_all("tariffs", date_to=ocpi_datetime(T0.replace(second=10)))
        assert [t["id"] for t in items] == ["12"]


def test_pricing_tariff_of_stored_records() -> None:
    """A stored tariff parses for the pricing engine with the record's id and currency; a malformed one
    gives None (it cannot price anything)."""
    parsed = pricing_tariff(Tariff(id="X", currency="EUR", data=example("tariff_1_simple_2hour.json")))
    assert parsed is not None and parsed.id == "X" and parsed.currency == "EUR"
    assert pricing_tariff(Tariff(id="B", currency="EUR", data={"elements": []})) is None
