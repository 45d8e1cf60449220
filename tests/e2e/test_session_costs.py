"""End to end: a session charged on a simulated 1.6 station under a FLAT + ENERGY tariff shows the same cost,
to the cent, as its live cost, its cost breakdown, the pricing engine, its CDR and its receipt."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar

import pytest

from csms.app import Csms
from csms.domain.clock import parse_datetime, utcnow
from csms.domain.pricing import parse_tariff, price_session
from simulators.chargepoint import ChargePointSimulator, SimulatorConfig
from tests.e2e.conftest import Api, location_body, make_api, ocpp_url
from tests.utils import MS

WAIT = 15_000 * MS
POLL = 20 * MS
TARIFF = {
    "id": "E2E",
    "currency": "EUR",
    "elements": [
        {
            "price_components": [
                {"type": "FLAT", "price": "0.50", "vat": "20", "step_size": 1},
                {"type": "ENERGY", "price": "0.25", "vat": "10", "step_size": 1},
            ]
        }
    ],
}
LOCATION = location_body("LOC-E2E", "CP-COST", name="Costs")
SPEC = {
    "standard": "IEC_62196_T2",
    "format": "SOCKET",
    "power_type": "AC_3_PHASE",
    "max_voltage": 230,
    "max_amperage": 32,
    "tariff_ids": ["E2E"],
}
T = TypeVar("T")


async def eventually(check: Callable[[], Awaitable[T | None]]) -> T:
    """Re-run `check` until it returns something truthy (returned), failing after WAIT."""
    async with asyncio.timeout(WAIT):
        while True:
            result = await check()
            if result:
                return result
            await asyncio.sleep(POLL)


@pytest.fixture
async def api(csms: Csms) -> AsyncIterator[Api]:
    """An admin REST client."""
    client, session = await make_api(csms)
    yield client
    await session.close()


def engine_total(start: str, end: datetime, energy_wh: int) -> dict[str, str]:
    """What the pricing engine says the session costs (rounded to the cent by the engine), as the API writes
    amounts (4 decimals)."""
    cost = price_session(parse_tariff(TARIFF), start=parse_datetime(start), end=end, energy_wh=energy_wh)
    four = Decimal("0.0001")
    return {
        "excl_vat": format(cost.total.excl_vat.quantize(four), "f"),
        "incl_vat": format(cost.total.incl_vat.quantize(four), "f"),
    }


async def test_live_cost_breakdown_cdr_and_receipt_agree(csms: Csms, api: Api) -> None:
    """Live cost and breakdown while charging (10 kWh: 3.00 / 3.35), then the CDR, the cost, the breakdown
    and the receipt after the stop (20 kWh: 5.50 / 6.10) all equal the engine's total to the cent."""
    assert (await api.post("/api/v1/tariffs", TARIFF))[0] == 201
    sim = ChargePointSimulator(
        SimulatorConfig(charge_point_id="CP-COST", url=ocpp_url(csms), ocpp_version="1.6")
    )
    await sim.connect()
    try:
        assert (await sim.boot())["status"] == "Accepted"
        await sim.send_status(1, "Available")
        assert (await api.post("/api/v1/locations", LOCATION))[0] == 201
        async with api.session.put(
            f"{api.base}/api/v1/charge-points/CP-COST/connectors/1/1/spec", json=SPEC
        ) as resp:
            assert resp.status == 200, await resp.text()
        await sim.start_transaction(1, "COSTCARD", meter_start_wh=1000)
        await sim.send_meter_values(1, energy_wh=11_000)

        async def live() -> dict[str, Any] | None:
            _, page = await api.get("/api/v1/sessions", charge_point_id="CP-COST")
            if not page["items"]:
                return None
            _, session = await api.get(f"/api/v1/sessions/{page['items'][0]['id']}")
            return session if session["energy_wh"] == 10_000 else None

        session = await eventually(live)
        session_id = session["id"]
        assert session["cost"] == {
            "excl_vat": "3.0000", "incl_vat": "3.3500", "currency": "EUR", "final": False
        }
        assert session["cost"] == {  # this tariff does not depend on time: any end after the start will do
            **engine_total(session["started_at"], utcnow(), 10_000),
            "currency": "EUR",
            "final": False,
        }
        status, breakdown = await api.get(f"/api/v1/sessions/{session_id}/cost-breakdown")
        assert status == 200
        assert breakdown["total"] == {"excl_vat": "3.0000", "incl_vat": "3.3500"}
        assert breakdown["amounts"]["flat"] == {"excl_vat": "0.5000", "incl_vat": "0.6000"}
        assert breakdown["amounts"]["energy"] == {"excl_vat": "2.5000", "incl_vat": "2.7500"}
        assert (breakdown["tariff_id"], breakdown["final"]) == ("E2E", False)
        status, refused = await api.get(f"/api/v1/sessions/{session_id}/receipt")
        assert (status, refused["error"]["code"]) == (409, "session_active")

        await sim.stop_transaction(1, meter_stop_wh=21_000)
        cdr = await eventually(lambda: csms.ocpi.ctx.store.get_cdr(str(session_id)))
        assert cdr.data["total_cost"] == {"excl_vat": 5.5, "incl_vat": 6.1}
        _, final = await api.get(f"/api/v1/sessions/{session_id}")
        stopped_at = parse_datetime(final["stopped_at"])
        expected = engine_total(final["started_at"], stopped_at, 20_000)
        assert expected == {"excl_vat": "5.5000", "incl_vat": "6.1000"}
        assert {k: Decimal(final["cost"][k]) for k in expected} == {
            k: Decimal(v) for k, v in expected.items()
        }
        assert final["cost"]["final"] is True
        _, breakdown = await api.get(f"/api/v1/sessions/{session_id}/cost-breakdown")
        assert {k: Decimal(v) for k, v in breakdown["total"].items()} == {
            k: Decimal(str(v)) for k, v in cdr.data["total_cost"].items()
        }
        assert breakdown["billed"] is True
        async with api.session.get(f"{api.base}/api/v1/sessions/{session_id}/receipt") as resp:
            assert resp.status == 200 and resp.content_type == "application/pdf"
            pdf = await resp.read()
        text = [line.decode("latin-1") for line in re.findall(rb"\((.*?)\) Tj", pdf)]
        assert "Total excl. VAT: 5.5000 EUR" in text
        assert "VAT: 0.6000 EUR" in text
        assert "Total incl. VAT: 6.1000 EUR" in text
        assert "Energy: 20.000 kWh" in text
    finally:
        await sim.close()
