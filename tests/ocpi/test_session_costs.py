"""A session's cost over the operator REST API (`ocpi.admin_api.session_costs`, `ocpi.session_costs`,
`ocpi.receipts`): cost so far on `GET /sessions/{id}`, `/cost-breakdown` and the PDF `/receipt`, all equal to
the OCPI Session's and the CDR's amounts to the cent."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from csms.api import create_app
from csms.config import OcpiConfig
from csms.domain.models import ConnectorStatus, Transaction
from csms.domain.pricing import parse_tariff
from csms.domain.secrets import hash_secret, new_api_key
from ocpi import admin_api, cdrs
from ocpi.session_costs import blocking_fee_start, shares_of
from ocpi.sessions import session_object
from tests.api.openapi_check import OpenApiChecker
from tests.fakes.ocpi_memory_store import MemoryOcpiStore
from tests.ocpi.senders import Harness, harness
from tests.store.conftest import T0, FakeClock

EXAMPLES = Path("/work/shared/ocpi-examples")
ApiClient = TestClient[web.Request, web.Application]
CONFIG = OcpiConfig(
    country_code="BE", party_id="CSM", business_name="Gent Laadpalen", business_address="Kouter 1, 9000 Gent"
)


def example(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((EXAMPLES / name).read_text(encoding="utf-8"))
    return data


@pytest.fixture
async def h(memory_ocpi_store: MemoryOcpiStore, clock: FakeClock) -> AsyncIterator[Harness]:
    """A harness with CP1 (online) in the published location LOC1, its connector on tariff 17 (€0.50 FLAT
    @20% + €0.25/kWh @10%)."""
    async with harness(memory_ocpi_store, clock, config=CONFIG) as built:
        await built.add_station("CP1")
        await built.add_location("LOC1", "CP1", postal_code="9000")
        await built.status("CP1", 1, ConnectorStatus.AVAILABLE, "Available")
        await built.add_tariff(example("tariff_9_025kwh_start.json"))
        await built.spec("CP1", 1, standard="IEC_62196_T2", format="CABLE", power_type="AC_3_PHASE",
                         tariff_ids=["17"])
        yield built


@pytest.fixture
async def api(h: Harness) -> AsyncIterator[ApiClient]:
    """The operator API as the server serves it (OCPI routes, store and bridge context), with an admin key;
    every response is checked against the OpenAPI document."""
    key, prefix = new_api_key()
    await h.store.add_api_key("test-admin", prefix, hash_secret(key, rounds=4), "admin")
    app = create_app(h.domain, extra_routes=admin_api.ROUTES)
    admin_api.install(app, h.ocpi, h.ctx)
    failures: list[str] = []
    app.middlewares.append(OpenApiChecker.shared().middleware(failures))
    async with TestClient(TestServer(app), headers={"Authorization": f"Bearer {key}"}) as client:
        yield client
    assert not failures, "responses that do not match the OpenAPI document:\n" + "\n".join(failures)


async def get_json(api: ApiClient, path: str, status: int = 200) -> Any:
    response = await api.get(f"/api/v1{path}")
    assert response.status == status, await response.text()
    return await response.json()


async def running(h: Harness) -> Transaction:
    """A session on CP1 that has charged 10 kWh in 1.5 h (meter 500 → 10 500 Wh)."""
    tx = await h.start("CP1", 1, id_token="TAG1", meter_start=500)
    h.advance(5400)
    return await h.meter(tx, 10_500)


def money(excl: str, incl: str) -> dict[str, str]:
    return {"excl_vat": excl, "incl_vat": incl}


def pdf_lines(pdf: bytes) -> list[str]:
    """The text lines of an uncompressed fpdf2 PDF (each `cell` is one `(...) Tj`)."""
    lines = re.findall(rb"\((.*?)\) Tj", pdf)
    return [re.sub(rb"\\(.)", rb"\1", line).decode("latin-1") for line in lines]


async def test_running_session_costs_so_far(h: Harness, api: ApiClient) -> None:
    """A running session shows its cost so far (0.50 + 10 kWh × 0.25 = 3.00 excl., 0.60 + 2.75 = 3.35 incl.)
    on GET /sessions/{id}, equal to the OCPI Session's total_cost, and per dimension in the breakdown."""
    tx = await running(h)
    session = await get_json(api, f"/sessions/{tx.id}")
    assert session["cost"] == {"excl_vat": "3.0000", "incl_vat": "3.3500", "currency": "EUR", "final": False}
    ocpi_session = await session_object(h.ctx, tx)
    assert ocpi_session is not None
    assert ocpi_session["total_cost"] == {"excl_vat": 3, "incl_vat": 3.35}
    breakdown = await get_json(api, f"/sessions/{tx.id}/cost-breakdown")
    assert breakdown == {
        "session_id": tx.id,
        "currency": "EUR",
        "total": money("3.0000", "3.3500"),
        "amounts": {
            "energy": money("2.5000", "2.7500"),
            "time": money("0.0000", "0.0000"),
            "parking": money("0.0000", "0.0000"),
            "flat": money("0.5000", "0.6000"),
            "reservation": money("0.0000", "0.0000"),
        },
        # 0.60 / 3.35 = 0.17910..., 2.75 / 3.35 = 0.82089...: the missing 0.0001 goes to the larger remainder
        "price_distribution": {"session": "0.1791", "kwh": "0.8209", "minute": "0.0000"},
        "tariff_id": "17",
        "blocking_fee_starts_at": None,
        "final": False,
        "billed": False,
    }


async def test_no_receipt_while_running(h: Harness, api: ApiClient) -> None:
    """A receipt is refused with 409 `session_active` until the session ends."""
    tx = await running(h)
    body = await get_json(api, f"/sessions/{tx.id}/receipt", 409)
    assert body["error"]["code"] == "session_active"
    assert body["error"]["details"] == {"session_id": tx.id}


async def test_finished_session_is_the_cdr(h: Harness, api: ApiClient) -> None:
    """Once the CDR exists, the cost, the breakdown and the receipt are the CDR's totals to the cent (20 kWh:
    5.50 excl., 6.10 incl.), even after the tariff's prices changed."""
    tx = await running(h)
    h.advance(1800)
    stopped = await h.stop(tx, 20_500)
    await cdrs.settle(h.ctx)
    cdr = await h.ocpi.get_cdr(str(tx.id))
    assert cdr is not None
    dearer = example("tariff_9_025kwh_start.json")
    dearer["elements"][0]["price_components"][1]["price"] = 9.99
    await h.add_tariff(dearer)  # the CDR is immutable: what was billed stays what is shown

    session = await get_json(api, f"/sessions/{tx.id}")
    assert session["cost"] == {"excl_vat": "5.5000", "incl_vat": "6.1000", "currency": "EUR", "final": True}
    assert cdr.data["total_cost"] == {"excl_vat": 5.5, "incl_vat": 6.1}
    breakdown = await get_json(api, f"/sessions/{tx.id}/cost-breakdown")
    assert breakdown["total"] == money("5.5000", "6.1000")
    assert breakdown["amounts"]["energy"] == money("5.0000", "5.5000")
    assert cdr.data["total_energy_cost"] == {"excl_vat": 5, "incl_vat": 5.5}
    assert breakdown["amounts"]["flat"] == money("0.5000", "0.6000")
    assert cdr.data["total_fixed_cost"] == {"excl_vat": 0.5, "incl_vat": 0.6}
    assert (breakdown["final"], breakdown["billed"], breakdown["tariff_id"]) == (True, True, "17")

    response = await api.get(f"/api/v1/sessions/{tx.id}/receipt")
    assert response.status == 200
    assert response.content_type == "application/pdf"
    pdf = await response.read()
    assert pdf.startswith(b"%PDF-")
    lines = pdf_lines(pdf)
    total = cdr.data["total_cost"]
    assert lines == [
        f"Receipt for session {tx.id}",
        "Gent Laadpalen",
        "Kouter 1, 9000 Gent",
        "Location: Gent Zuid, F.Rooseveltlaan 3A, 9000, Gent, BEL",
        "Charge point: CP1, EVSE 1",
        f"Start: {T0.isoformat().replace('+00:00', 'Z')}",
        f"End: {(T0 + timedelta(seconds=7200)).isoformat().replace('+00:00', 'Z')}",
        "Energy: 20.000 kWh",
        "Tariff: 17",
        "Session fee (excl. VAT): 0.5000 EUR",
        "Energy (excl. VAT): 5.0000 EUR",
        f"Total excl. VAT: {Decimal(str(total['excl_vat'])):.4f} EUR",
        "VAT: 0.6000 EUR",
        f"Total incl. VAT: {Decimal(str(total['incl_vat'])):.4f} EUR",
    ]
    assert stopped.stopped_at == T0 + timedelta(seconds=7200)


async def test_session_without_tariff_is_free(h: Harness, api: ApiClient) -> None:
    """A session whose connector has no tariff costs zero: zero amounts, no tariff, shares all 0."""
    await h.spec("CP1", 1, standard="IEC_62196_T2", format="CABLE", power_type="AC_3_PHASE", tariff_ids=[])
    tx = await running(h)
    session = await get_json(api, f"/sessions/{tx.id}")
    assert session["cost"] == {"excl_vat": "0.0000", "incl_vat": "0.0000", "currency": "EUR", "final": False}
    breakdown = await get_json(api, f"/sessions/{tx.id}/cost-breakdown")
    assert breakdown["tariff_id"] is None
    assert breakdown["total"] == money("0.0000", "0.0000")
    assert breakdown["price_distribution"] == {"session": "0", "kwh": "0", "minute": "0"}


async def test_blocking_fee_start_in_breakdown(h: Harness, api: ApiClient) -> None:
    """A TIME fee applying only after 1 h (min_duration 3600) starts counting 1 h after the start."""
    blocking = {
        "id": "B1",
        "currency": "EUR",
        "elements": [
            {"price_components": [{"type": "ENERGY", "price": 0.25, "vat": 10.0, "step_size": 1}]},
            {
                "price_components": [{"type": "TIME", "price": 6.00, "vat": 10.0, "step_size": 60}],
                "restrictions": {"min_duration": 3600},
            },
        ],
    }
    await h.add_tariff(blocking)
    await h.spec(
        "CP1", 1, standard="IEC_62196_T2", format="CABLE", power_type="AC_3_PHASE", tariff_ids=["B1"]
    )
    tx = await running(h)  # 1.5 h: 0.5 h of the 6.00/h fee = 3.00 excl., 3.30 incl.
    breakdown = await get_json(api, f"/sessions/{tx.id}/cost-breakdown")
    assert T0.isoformat() == "2024-05-01T12:00:00+00:00"
    assert breakdown["blocking_fee_starts_at"] == "2024-05-01T13:00:00.000Z"
    assert breakdown["amounts"]["time"] == money("3.0000", "3.3000")
    assert breakdown["amounts"]["energy"] == money("2.5000", "2.7500")


async def test_unknown_session(api: ApiClient) -> None:
    """An unknown session is 404 `not_found` for the breakdown and the receipt."""
    for path in ("/sessions/999/cost-breakdown", "/sessions/999/receipt"):
        body = await get_json(api, path, 404)
        assert body["error"]["code"] == "not_found"


async def test_without_bridge(h: Harness) -> None:
    """An API with the OCPI store but no running bridge prices from the store alone; without the store,
    `cost` is null and the breakdown and the receipt are 503 `ocpi_disabled`."""
    key, prefix = new_api_key()
    await h.store.add_api_key("test-admin", prefix, hash_secret(key, rounds=4), "admin")
    headers = {"Authorization": f"Bearer {key}"}
    tx = await running(h)
    with_store = create_app(h.domain, extra_routes=admin_api.ROUTES)
    admin_api.install(with_store, h.ocpi)  # a store, no bridge context
    async with TestClient(TestServer(with_store), headers=headers) as client:
        assert (await get_json(client, f"/sessions/{tx.id}"))["cost"]["incl_vat"] == "3.3500"
        breakdown = await get_json(client, f"/sessions/{tx.id}/cost-breakdown")
        assert breakdown["total"] == money("3.0000", "3.3500")
    without = create_app(h.domain, extra_routes=admin_api.ROUTES)
    async with TestClient(TestServer(without), headers=headers) as client:
        assert (await get_json(client, f"/sessions/{tx.id}"))["cost"] is None
        for path in (f"/sessions/{tx.id}/cost-breakdown", f"/sessions/{tx.id}/receipt"):
            assert (await get_json(client, path, 503))["error"]["code"] == "ocpi_disabled"


def test_shares_sum_to_exactly_one() -> None:
    """Shares are cut to 4 decimals and the missing steps go to the largest remainders: thirds sum to 1."""
    thirds = shares_of({"session": Decimal(1), "kwh": Decimal(1), "minute": Decimal(1)})
    assert thirds == {"session": Decimal("0.3334"), "kwh": Decimal("0.3333"), "minute": Decimal("0.3333")}
    assert sum(thirds.values()) == 1
    assert shares_of({"a": Decimal(0), "b": Decimal(0)}) == {"a": 0, "b": 0}
    assert shares_of({"a": Decimal("0.4"), "b": Decimal("0.5"), "c": Decimal("0.1")}) == {
        "a": Decimal("0.4"), "b": Decimal("0.5"), "c": Decimal("0.1")
    }


def test_per_minute_price_is_no_blocking_fee() -> None:
    """A TIME price from the start, or a free TIME component after a delay, is no blocking fee."""
    tariff = parse_tariff({
        "id": "T", "currency": "EUR",
        "elements": [
            {"price_components": [{"type": "TIME", "price": 1, "step_size": 1}]},
            {"price_components": [{"type": "TIME", "price": 0, "step_size": 1}],
             "restrictions": {"min_duration": 60}},
        ],
    })
    assert blocking_fee_start(tariff, T0) is None
    assert blocking_fee_start(None, T0) is None
