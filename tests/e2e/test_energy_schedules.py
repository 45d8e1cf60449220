"""Tariff- and carbon-aware schedules end to end: a 2.0.1 station's EV states its needs, the CSMS plans
against the site's forecast from a local HTTP source and sends the station a TxProfile that charges in the
cheapest (or cleanest) hours and meets the need."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from csms.app import Csms
from csms.config import EnergyConfig
from csms.domain.clock import isoformat_z
from csms.domain.secrets import hash_secret, new_api_key
from simulators.chargepoint import ChargePointSimulator, SimulatorConfig
from tests.api.openapi_check import CheckedApi
from tests.e2e.conftest import e2e_config, location_body, ocpp_url
from tests.utils import MS

WAIT = 5000 * MS
PRICES = ["0.40", "0.35", "0.10", "0.12", "0.50", "0.45"]  # EUR/kWh, hour by hour from the current hour
CARBON = [100, 500, 450, 400, 50, 60]  # gCO2/kWh
NEED_WH = 16000  # more than one hour at 11 kW: one full hour and 5 kW in the next best one


def hour0() -> datetime:
    """The start of the current hour (the fixture forecast starts there)."""
    return datetime.now(UTC).replace(minute=0, second=0, microsecond=0)


def fixture_forecast(start: datetime) -> dict[str, Any]:
    """The fixture source's JSON: six hours of prices and carbon intensity from `start`."""
    hours = [(start + timedelta(hours=i), start + timedelta(hours=i + 1)) for i in range(6)]
    return {
        "currency": "EUR",
        "prices": [
            {"start": isoformat_z(a), "end": isoformat_z(b), "price_per_kwh": p}
            for (a, b), p in zip(hours, PRICES, strict=True)
        ],
        "carbon_intensity": [
            {"start": isoformat_z(a), "end": isoformat_z(b), "g_co2_per_kwh": c}
            for (a, b), c in zip(hours, CARBON, strict=True)
        ],
    }


@pytest.fixture
async def forecast_server() -> AsyncIterator[tuple[str, datetime]]:
    """A local forecast source on 127.0.0.1: `/sites/{location_id}.json` (404 for other sites); its URL
    template and the start of its first hour."""
    start = hour0()

    async def site(request: web.Request) -> web.Response:
        if request.match_info["location_id"] != "LOC-PLAN":
            raise web.HTTPNotFound()
        return web.json_response(fixture_forecast(start))

    app = web.Application()
    app.router.add_get("/sites/{location_id}.json", site)
    runner = web.AppRunner(app)
    await runner.setup()
    tcp = web.TCPSite(runner, "127.0.0.1", 0)
    await tcp.start()
    port = tcp._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"http://127.0.0.1:{port}/sites/{{location_id}}.json", start
    await runner.cleanup()


Setup = Callable[[str], Awaitable[tuple[Csms, CheckedApi, ChargePointSimulator, datetime]]]


@pytest.fixture
async def planned_site(tmp_path: Path, forecast_server: tuple[str, datetime]) -> AsyncIterator[Setup]:
    """A CSMS with the fixture forecast source and `optimize` as given, a location LOC-PLAN with one 2.0.1
    station CP-PLAN, its forecast fetched; an admin client checked against the OpenAPI document."""
    opened: list[Any] = []

    url, start = forecast_server

    async def setup(optimize: str) -> tuple[Csms, CheckedApi, ChargePointSimulator, datetime]:
        base = e2e_config(tmp_path, unknown_id_tokens="Accepted")
        energy = EnergyConfig(forecast_url=url, optimize=optimize, refresh_minutes=600)
        csms = await Csms.start(replace(base, energy=energy))
        opened.append(csms)
        key, prefix = new_api_key()
        await csms.services.store.add_api_key("e2e", prefix, hash_secret(key, rounds=4), "admin")
        session = aiohttp.ClientSession(headers={"Authorization": f"Bearer {key}"})
        opened.append(session)
        client = CheckedApi(session, f"http://127.0.0.1:{csms.http_port}")
        sim = ChargePointSimulator(
            SimulatorConfig(charge_point_id="CP-PLAN", url=ocpp_url(csms), ocpp_version="2.0.1", strict=True)
        )
        opened.append(sim)
        await sim.connect()
        assert (await sim.boot())["status"] == "Accepted"
        status, body = await client.post("/locations", location_body("LOC-PLAN", "CP-PLAN"))
        assert status == 201, body
        assert csms.forecasts is not None
        assert await csms.forecasts.refresh() == 1  # the periodic refresh, now: the new site's forecast
        return csms, client, sim, start

    yield setup
    for item in reversed(opened):
        if isinstance(item, Csms):
            await item.stop()
        else:
            await item.close()
        if isinstance(item, CheckedApi):
            assert not item.failures


def needs(departure: datetime) -> dict[str, Any]:
    """NotifyEVChargingNeeds for EVSE 1: 16 kWh, AC three-phase 6–16 A at 230 V (11040 W, capped 11 kW)."""
    return {
        "evseId": 1,
        "chargingNeeds": {
            "requestedEnergyTransfer": "AC_three_phase",
            "departureTime": isoformat_z(departure),
            "acChargingParameters": {
                "energyAmount": NEED_WH,
                "evMinCurrent": 6,
                "evMaxCurrent": 16,
                "evMaxVoltage": 230,
            },
        },
    }


def limits_by_hour(profile: dict[str, Any], start: datetime) -> dict[int, float]:
    """The TxProfile's limit in force at the middle of each forecast hour, by hour index."""
    schedule = profile["chargingSchedule"][0]
    begin = datetime.fromisoformat(schedule["startSchedule"].replace("Z", "+00:00"))
    periods = schedule["chargingSchedulePeriod"]
    result = {}
    for hour in range(6):
        at = max(0.0, (start + timedelta(hours=hour, minutes=30) - begin).total_seconds())
        limit = [p["limit"] for p in periods if p["startPeriod"] <= at][-1]
        result[hour] = limit
    return result


@pytest.mark.parametrize(
    ("optimize", "full_hour", "partial_hour"),
    [("cost", 2, 3), ("carbon", 4, 5)],
)
async def test_the_schedule_charges_in_the_best_hours_and_meets_the_need(
    planned_site: Setup, optimize: str, full_hour: int, partial_hour: int
) -> None:
    """16 kWh by the end of the forecast: 11 kW in the cheapest (cleanest) hour, 5 kW in the next one,
    nothing elsewhere; the TxProfile the station received says so and the schedule shows the target met."""
    csms, client, sim, start = await planned_site(optimize)
    ocpp_tx = await sim.start_transaction(1, "TOKEN-PLAN")
    mark = len(sim.calls_received)
    answer = await sim.call("NotifyEVChargingNeeds", needs(start + timedelta(hours=6)))
    assert answer["status"] == "Accepted"

    request = await sim.wait_for_call("SetChargingProfile", timeout=WAIT, start=mark)
    profile = request["chargingProfile"]
    assert request["evseId"] == 1
    assert profile["chargingProfilePurpose"] == "TxProfile"
    assert profile["chargingProfileKind"] == "Absolute"
    assert profile["transactionId"] == ocpp_tx
    assert profile["chargingSchedule"][0]["chargingRateUnit"] == "W"
    limits = limits_by_hour(profile, start)
    assert limits[full_hour] == 11000
    assert limits[partial_hour] == 5000
    assert all(limits[h] == 0 for h in range(6) if h not in (full_hour, partial_hour))

    tx = (await csms.services.store.list_active_transactions("CP-PLAN"))[0]
    status, schedule = await client.get(f"/sessions/{tx.id}/schedule")
    assert status == 200, schedule
    assert schedule["target_met"] is True
    assert schedule["energy_wh"] == NEED_WH
    assert schedule["objective"] == optimize
    assert schedule["location_id"] == "LOC-PLAN"
    assert schedule["station_status"] == "Accepted"
    expected_cost = {"cost": "1.70", "carbon": "7.75"}[optimize]  # 11×0.10+5×0.12 ; 11×0.50+5×0.45
    assert schedule["cost"].rstrip("0") == expected_cost.rstrip("0")
    assert schedule["currency"] == "EUR"


async def test_an_upload_replaces_the_prices_and_plans_again(planned_site: Setup) -> None:
    """A CSV upload of new prices shows in GET energy-prices and sends the session a new TxProfile that
    follows them (now the last two hours are cheapest)."""
    _, client, sim, start = await planned_site("cost")
    await sim.start_transaction(1, "TOKEN-PLAN")
    assert (await sim.call("NotifyEVChargingNeeds", needs(start + timedelta(hours=6))))[
        "status"
    ] == "Accepted"
    await sim.wait_for_call("SetChargingProfile", timeout=WAIT)
    mark = len(sim.calls_received)
    prices = ["0.90", "0.90", "0.90", "0.90", "0.05", "0.06"]
    lines = ["start,end,price_per_kwh"] + [
        f"{isoformat_z(start + timedelta(hours=i))},{isoformat_z(start + timedelta(hours=i + 1))},{p}"
        for i, p in enumerate(prices)
    ]
    url = f"{client.base}/api/v1/locations/LOC-PLAN/energy-prices?currency=EUR"
    async with client.session.post(url, data="\n".join(lines), headers={"Content-Type": "text/csv"}) as resp:
        assert resp.status == 200, await resp.text()
        assert await resp.json() == {"location_id": "LOC-PLAN", "intervals": 6, "sessions_replanned": 1}
    request = await sim.wait_for_call("SetChargingProfile", timeout=WAIT, start=mark)
    limits = limits_by_hour(request["chargingProfile"], start)
    assert (limits[4], limits[5]) == (11000, 5000)
    status, shown = await client.get("/locations/LOC-PLAN/energy-prices")
    assert status == 200 and [i["price_per_kwh"] for i in shown["items"]] == prices
    status, carbon = await client.get("/locations/LOC-PLAN/carbon-intensity")
    assert status == 200 and [i["g_co2_per_kwh"] for i in carbon["items"]] == CARBON


async def test_needs_without_a_transaction_are_rejected(planned_site: Setup) -> None:
    """NotifyEVChargingNeeds on an EVSE without a transaction is Rejected (K15: needs belong to one)."""
    _, _, sim, start = await planned_site("cost")
    answer = await sim.call("NotifyEVChargingNeeds", needs(start + timedelta(hours=6)))
    assert answer["status"] == "Rejected"


async def test_needs_with_a_past_departure_are_rejected_and_without_energy_processing(
    planned_site: Setup,
) -> None:
    """A departure time already passed is Rejected; DC needs without energyAmount are Processing (kept, no
    schedule yet: the session's schedule says no_energy_need)."""
    csms, client, sim, start = await planned_site("cost")
    await sim.start_transaction(1, "TOKEN-PLAN")
    past = needs(datetime.now(UTC) - timedelta(minutes=5))
    assert (await sim.call("NotifyEVChargingNeeds", past))["status"] == "Rejected"
    dc = {
        "evseId": 1,
        "chargingNeeds": {
            "requestedEnergyTransfer": "DC",
            "departureTime": isoformat_z(start + timedelta(hours=6)),
            "dcChargingParameters": {"evMaxCurrent": 125, "evMaxVoltage": 400},
        },
    }
    assert (await sim.call("NotifyEVChargingNeeds", dc))["status"] == "Processing"
    tx = (await csms.services.store.list_active_transactions("CP-PLAN"))[0]
    await csms.domain.energy.close()  # the needs are recorded in the background
    status, schedule = await client.get(f"/sessions/{tx.id}/schedule")
    assert status == 200 and schedule["reason"] == "no_energy_need" and schedule["intervals"] == []
    assert schedule["needs"]["max_power_w"] == 50000
