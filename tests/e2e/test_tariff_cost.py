"""OCPP 2.0.1 TariffAndCost end to end (issue 11, item 7): the real CSMS with its OCPI bridge and charge point
simulators over real sockets. A 2.0.1 station that reports the TariffAndCost block gets CostUpdated calls
while it charges and totalCost in the answer to its Ended TransactionEvent (only then: OCPP 2.0.1
TransactionEventResponse.totalCost), to the cent of the pricing engine and of the CDR; a 2.0.1 station without
the block and a 1.6 station get nothing new."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from csms.app import Csms
from csms.domain.costs import TARIFF_COST_VARIABLES, to_minor_unit
from csms.domain.pricing import price_session
from ocpi import cdrs
from ocpi.tariffs import pricing_tariff
from simulators.chargepoint import ChargePointSimulator, SimulatorConfig
from tests.e2e.conftest import Api, StartCsms, location_body, make_api, ocpp_url
from tests.utils import MS, until

WAIT = 10_000 * MS
TARIFF_ID = "TAR-COST"
# €0.50 per session (20 % VAT) + €0.25/kWh (10 % VAT), billed per Wh: no time component, so the price
# depends on the energy only and the test can work it out by hand.
TARIFF = {
    "id": TARIFF_ID,
    "currency": "EUR",
    "type": "REGULAR",
    "elements": [
        {
            "price_components": [
                {"type": "FLAT", "price": 0.50, "vat": 20, "step_size": 1},
                {"type": "ENERGY", "price": 0.25, "vat": 10, "step_size": 1},
            ]
        }
    ],
}
# incl. VAT: 0.60 + 0.275 €/kWh. 1234 Wh: 0.60 + 0.33935 = 0.93935 → 0.94;
# 5000 Wh: 0.60 + 1.375 = 1.975 → 1.98 (half up).
BY_HAND = {0: Decimal("0.60"), 1234: Decimal("0.94"), 5000: Decimal("1.98")}


@pytest.fixture
async def site(start_csms: StartCsms) -> AsyncIterator[tuple[Csms, Api]]:
    """A CSMS (unknown id tokens accepted, a CostUpdated on every meter advance) whose charge points CP-*
    are in a location whose connectors carry TARIFF."""
    csms = await start_csms(unknown_id_tokens="Accepted", cost_update_interval=0.001)
    api, session = await make_api(csms)
    status, body = await api.post("/api/v1/tariffs", TARIFF)
    assert status == 201, body
    yield csms, api
    await session.close()


async def priced_station(
    csms: Csms, api: Api, cp_id: str, version: str, **config: Any
) -> ChargePointSimulator:
    """A booted simulator in its own location, connector 1 of EVSE 1 priced with TARIFF."""
    sim = ChargePointSimulator(
        SimulatorConfig(charge_point_id=cp_id, url=ocpp_url(csms), ocpp_version=version, **config)
    )
    await sim.connect()
    assert (await sim.boot())["status"] == "Accepted"
    status, body = await api.post(
        "/api/v1/locations",
        location_body(f"LOC-{cp_id}", cp_id, name="Costs"),
    )
    assert status == 201, body
    spec = {
        "standard": "IEC_62196_T2",
        "format": "SOCKET",
        "power_type": "AC_3_PHASE",
        "max_voltage": 230,
        "max_amperage": 32,
        "tariff_ids": [TARIFF_ID],
    }
    async with api.session.put(
        f"{api.base}/api/v1/charge-points/{cp_id}/connectors/1/1/spec", json=spec
    ) as resp:
        assert resp.status == 200, await resp.text()
    return sim


async def report_device_model(csms: Csms, api: Api, cp_id: str, *, expect_block: bool) -> None:
    """GetBaseReport through the REST API; wait until the NotifyReport stream is stored (the
    TariffCostCtrlr rows when `expect_block`, else the ChargingStation component)."""
    status, body = await api.post(f"/api/v1/charge-points/{cp_id}/report", {})
    assert status == 200 and body["command"]["status"] == "Accepted", body
    store = csms.services.store
    keys = TARIFF_COST_VARIABLES if expect_block else [("ChargingStation", "Model")]
    async with asyncio.timeout(WAIT):
        while not await store.list_device_variables_keyed([cp_id], keys):  # noqa: ASYNC110
            await asyncio.sleep(MS)  # poll: no event announces a stored report


async def engine_price(csms: Csms, energy_wh: int) -> Decimal:
    """What the pricing engine says TARIFF costs for `energy_wh`, incl. VAT, rounded to cents."""
    stored = await csms.ocpi.ctx.store.get_tariff(TARIFF_ID)
    assert stored is not None
    parsed = pricing_tariff(stored)
    start = csms.services.clock()
    cost = price_session(parsed, start=start, end=start + timedelta(hours=1), energy_wh=energy_wh)
    return to_minor_unit(cost.total.incl_vat, "EUR")


async def idle(csms: Csms) -> None:
    """Wait until no CostUpdated is being priced or sent."""
    await until(lambda: not csms.domain.costs._tasks, WAIT)


async def made_cdrs(csms: Csms, count: int) -> list[Any]:
    """The stored CDRs once there are `count` of them: a CDR is made in a background task after the station's
    Ended was answered (ocpi.cdrs.CdrWriter), so it may not exist yet when the answer arrives."""
    async with asyncio.timeout(WAIT):
        while True:
            await cdrs.settle(csms.ocpi.ctx)
            made, _ = await csms.ocpi.ctx.store.list_cdrs()
            if len(made) >= count:
                return list(made)
            await asyncio.sleep(0.01)


async def test_a_station_showing_costs_gets_total_cost_and_cost_updated(site: tuple[Csms, Api]) -> None:
    """TariffAndCost available: CostUpdated follows meter advances with the cost so far, and only the answer
    to Ended carries totalCost, the final cost equal to the CDR's total, all to the cent of the engine."""
    csms, api = site
    for energy, amount in BY_HAND.items():
        assert await engine_price(csms, energy) == amount  # the engine agrees with the hand-worked table
    sim = await priced_station(csms, api, "CP-TC", "2.0.1", tariff_cost_currency="EUR")
    await report_device_model(csms, api, "CP-TC", expect_block=True)

    def answers() -> list[tuple[str, str, Decimal]]:
        return [shown for shown in sim.costs_shown if shown[0] == "TransactionEvent"]

    tx_id = await sim.start_transaction(1, "TAG-COST", meter_start_wh=0)
    await sim.send_meter_values(1, energy_wh=1234)
    await sim.wait_until(lambda: ("CostUpdated", tx_id, BY_HAND[1234]) in sim.costs_shown, WAIT)
    assert answers() == []  # no totalCost while it charges

    await sim.stop_transaction(1, meter_stop_wh=5000)
    assert answers() == [("TransactionEvent", tx_id, BY_HAND[5000])]
    await idle(csms)
    # CostUpdated only ever carried an engine price of an energy the station reported, for this transaction
    updates = [(t, cost) for action, t, cost in sim.costs_shown if action == "CostUpdated"]
    assert updates and all(t == tx_id and cost in BY_HAND.values() for t, cost in updates)
    (cdr,) = await made_cdrs(csms, 1)
    assert to_minor_unit(Decimal(str(cdr.data["total_cost"]["incl_vat"])), "EUR") == BY_HAND[5000]
    await sim.close()


async def test_a_station_without_the_block_gets_no_cost(site: tuple[Csms, Api]) -> None:
    """TariffAndCost not reported: no totalCost in any TransactionEventResponse and no CostUpdated."""
    csms, api = site
    sim = await priced_station(csms, api, "CP-NC", "2.0.1")
    await report_device_model(csms, api, "CP-NC", expect_block=False)
    await sim.start_transaction(1, "TAG-COST", meter_start_wh=0)
    await sim.send_meter_values(1, energy_wh=1234)
    await sim.stop_transaction(1, meter_stop_wh=5000)
    await idle(csms)
    assert sim.costs_shown == []
    assert "totalCost" not in sim.responses["TransactionEvent"]
    assert [a for a, _ in sim.calls_received if a == "CostUpdated"] == []
    await sim.close()


async def test_a_16_station_gets_nothing_new(site: tuple[Csms, Api]) -> None:
    """OCPP 1.6: a priced session sends no CostUpdated and its answers are unchanged."""
    csms, api = site
    sim = await priced_station(csms, api, "CP-16", "1.6")
    await sim.start_transaction(1, "TAG-COST", meter_start_wh=0)
    await sim.send_meter_values(1, energy_wh=1234)
    stopped = await sim.stop_transaction(1, meter_stop_wh=5000)
    await idle(csms)
    assert "totalCost" not in stopped and sim.costs_shown == []
    assert [a for a, _ in sim.calls_received if a == "CostUpdated"] == []
    await sim.close()
