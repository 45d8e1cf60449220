"""Issue 13's "Done when", over real processes and sockets: two CPO instances of our CSMS (DE/CPA and DE/CPB,
each with a simulated OCPP 1.6 and 2.0.1 station) and one eMSP instance (`[emsp] enabled`, DE/EMS) that
registers with both; a client application (`simulators.emsp.AgentClient`) searches, books, follows the
booking to the driver's session and its CDR (and gets each move at its signed webhook), leaves one unused,
cancels one while PENDING, runs into its monthly quota, and has its key rotated."""

from __future__ import annotations

from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from csms.webhooks.signing import verify
from simulators.emsp import AgentClient
from tests.e2e.roaming_net import (
    DEFAULT_TARIFF,
    WAIT,
    CpoSpec,
    driver_arrives,
    driver_charges,
    driver_leaves,
    start_cpo,
    start_emsp,
    tariff_total,
    until,
)
from tests.webhooks.receiver import Receiver

LAT, LON, RADIUS_KM = "52.52000", "13.40000", 25  # the point searched around
WEBHOOK_SECRET = "whsec-route-planner-0123"


def cents(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def evse_of(found: dict[str, Any], party_id: str, evse_id: str) -> tuple[str, str]:
    """(location_id, evse_uid) of the EVSE with that eMI3 id in the search answer."""
    for location in found["locations"]:
        for evse in location["evses"]:
            if location["cpo_party_id"] == party_id and evse["evse_id"] == evse_id:
                return location["location_id"], evse["evse_uid"]
    raise AssertionError(f"{party_id} {evse_id} not found in {found}")


async def test_search_book_charge_and_settle_across_two_cpos(tmp_path: Path) -> None:
    async with AsyncExitStack() as stack:
        cpa = await start_cpo(
            stack, tmp_path, CpoSpec("Alpha Charging", "DE", "CPA", lat="52.52300", lon="13.40000")
        )
        cpb = await start_cpo(
            stack, tmp_path, CpoSpec("Beta Power", "DE", "CPB", lat="52.55000", lon="13.40000")
        )
        emsp = await start_emsp(
            stack, tmp_path, "DE", "EMS",
            {"CSMS_AGENT_REQUESTS_PER_MINUTE": "100000", "CSMS_AGENT_SEARCH_MAX_AGE_SECONDS": "0",
             "CSMS_AGENT_CPO_TIMEOUT_SECONDS": "10",
             "CSMS_AGENT_ALLOW_PRIVATE_WEBHOOK_ADDRESSES": "true"},  # the client's receiver is on 127.0.0.1
        )  # fmt: skip
        receiver = Receiver(WEBHOOK_SECRET)
        await receiver.start()
        stack.push_async_callback(receiver.stop)
        # `csms emsp cpo add` gives the CPO our versions URL: this process's real port.
        emsp.process.env["CSMS_OCPI_PUBLIC_URL"] = emsp.base_url
        for cpo in (cpa, cpb):
            assert "registered with CPO" in await emsp.add_cpo(cpo)
        await emsp.add_driver_token("DRIVER1")
        key = await emsp.add_client(
            "Route planner", "--reservation-fee", "1.00", "--commission-percent", "10",
            "--webhook-url", receiver.url, "--webhook-secret", WEBHOOK_SECRET,
        )  # fmt: skip
        agent = AgentClient(emsp.base_url, key, timeout=WAIT)
        stack.push_async_callback(agent.close)

        # -- search: both CPOs, by distance, a result per CPO ------------------------------------------------
        found = await agent.search(lat=LAT, lon=LON, radius_km=RADIUS_KM)
        assert [(loc["cpo_party_id"], loc["cpo_name"]) for loc in found["locations"]] == [
            ("CPA", "Alpha Charging"),
            ("CPB", "Beta Power"),
        ]
        distances = [loc["distance_km"] for loc in found["locations"]]
        assert distances == sorted(distances) and 0.2 < distances[0] < 0.5 and 3.0 < distances[1] < 3.6
        assert [(r["cpo_party_id"], r["status"], r["locations"]) for r in found["cpo_results"]] == [
            ("CPA", "ok", 1),
            ("CPB", "ok", 1),
        ]
        assert all(e["supports_reservation"] for loc in found["locations"] for e in loc["evses"])

        # -- a booking from REQUESTED to COMPLETED with the CDR's price -----------------------------------
        station = cpa.stations[0]  # OCPP 1.6
        location_id, evse_uid = evse_of(found, "CPA", station.evse_id)
        start = (datetime.now(UTC) + timedelta(seconds=2)).replace(microsecond=0)
        booking = await agent.book(
            location_id=location_id,
            evse_uid=evse_uid,
            cpo_party_id="CPA",
            start=start,
            duration_minutes=30,
            driver_token="DRIVER1",
        )
        assert booking["status"] == "REQUESTED"  # the window begins in 2 s: RESERVE_NOW waits for it
        seen = [booking["status"]]

        async def progressed() -> dict[str, Any] | None:
            current = await agent.booking(booking["id"])
            if current["status"] != seen[-1]:
                seen.append(current["status"])
            return current if current["status"] in ("CONFIRMED", "FAILED", "REJECTED") else None

        await until(progressed, "the booking confirmed")
        # PENDING may pass between two polls; the booking's own history is the order the eMSP's log shows
        assert seen in (["REQUESTED", "PENDING", "CONFIRMED"], ["REQUESTED", "CONFIRMED"]), seen
        await driver_arrives(station, "DRIVER1")
        await agent.wait_for_status(booking["id"], {"ACTIVE"}, WAIT)
        await driver_charges(station, 5_000)
        await driver_leaves(station, meter_stop_wh=10_000)

        async def settled() -> dict[str, Any] | None:
            current = await agent.booking(booking["id"])
            return (
                current if current["status"] == "COMPLETED" and current["client_price"].get("final") else None
            )

        done = await until(settled, "the booking completed with the CDR's price")
        cpo_cost = cents(
            tariff_total(DEFAULT_TARIFF, 10_000) * Decimal("1.19")
        )  # the CDR's cost incl. 19% VAT
        price = done["client_price"]
        assert Decimal(price["cpo_cost"]) == cpo_cost and price["cdr_id"]
        assert Decimal(price["total"]) == cpo_cost + Decimal("1.00") + cents(cpo_cost / 10)

        # -- every move reached the client's webhook, signed, in order -----------------------------------
        def moves() -> list[dict[str, Any]]:
            return [r.event for r in receiver.accepted if r.event["id"] == booking["id"]]

        async def final_move() -> bool:
            return any(m["client_price"].get("final") for m in moves())

        await until(final_move, "the booking's final price at the webhook")
        statuses = [m["status"] for m in moves()]
        assert [s for i, s in enumerate(statuses) if i == 0 or statuses[i - 1] != s] == [
            "REQUESTED", "PENDING", "CONFIRMED", "ACTIVE", "COMPLETED"
        ], statuses  # fmt: skip
        for got in receiver.accepted:
            timestamp, sig = got.headers["X-Webhook-Timestamp"], got.headers["X-Webhook-Signature"]
            assert verify(WEBHOOK_SECRET, timestamp, got.body, sig)

        # -- a booking left unused ends NO_SHOW (or EXPIRED) -------------------------------------------------
        other = cpa.stations[1]  # OCPP 2.0.1
        location_id, evse_uid = evse_of(found, "CPA", other.evse_id)
        now = datetime.now(UTC).replace(microsecond=0)
        unused = await agent.book(location_id=location_id, evse_uid=evse_uid, cpo_party_id="CPA",
                                  start=now - timedelta(minutes=60) + timedelta(seconds=10),
                                  duration_minutes=60, driver_token="DRIVER1")  # fmt: skip
        ended = await agent.wait_for_status(unused["id"], {"NO_SHOW", "EXPIRED"}, WAIT)
        assert ended["session_id"] is None

        # -- a booking cancelled while PENDING costs nothing ----------------------------------------------
        slow = cpb.stations[0]
        slow.sim.config.silent.add("ReserveNow")  # the station sits on the reservation: it stays PENDING
        found = await agent.search(lat=LAT, lon=LON, radius_km=RADIUS_KM)
        location_id, evse_uid = evse_of(found, "CPB", slow.evse_id)
        pending = await agent.book(
            location_id=location_id,
            evse_uid=evse_uid,
            cpo_party_id="CPB",
            start=datetime.now(UTC),
            duration_minutes=30,
            driver_token="DRIVER1",
        )
        assert pending["status"] == "PENDING"
        cancelled = await agent.cancel(pending["id"])
        assert cancelled["status"] == "CANCELLED" and Decimal(cancelled["client_price"]["total"]) == 0

        # -- one CPO stopped: the search still answers -------------------------------------------------------
        await cpb.stop()
        found = await agent.search(lat=LAT, lon=LON, radius_km=RADIUS_KM)
        results = {r["cpo_party_id"]: r for r in found["cpo_results"]}
        assert results["CPA"]["status"] == "ok" and results["CPB"]["status"] in ("stale", "error", "timeout")
        assert results["CPB"]["error"]
        assert found["locations"][0]["cpo_party_id"] == "CPA"

        # -- rate-limit headers count this request; a used-up monthly quota is 429 -------------------------
        quota_key = await emsp.add_client("Small app", "--monthly-quota", "3")
        small = AgentClient(emsp.base_url, quota_key, timeout=WAIT)
        stack.push_async_callback(small.close)
        answers = [await small.request("GET", "/bookings") for _ in range(4)]
        assert [a.status for a in answers] == [200, 200, 200, 429]
        assert [a.rate_limit.remaining for a in answers[:3]] == [99_999, 99_998, 99_997]
        assert all(a.rate_limit.limit == 100_000 and a.rate_limit.reset for a in answers)
        assert answers[3].code == "quota_exceeded" and int(answers[3].headers["Retry-After"]) > 0

        # -- a lost key is not recoverable, only replaced -------------------------------------------------
        assert key not in (await emsp.process.cli("agent", "client", "list"))
        new_key = (await emsp.process.cli("agent", "client", "rotate", "1")).strip()
        assert new_key and new_key != key
        assert (await agent.request("GET", "/bookings")).status == 401
        assert (await agent.request("GET", "/bookings", key=new_key)).status == 200
