"""End-to-end acceptance of the OCPI 2.2.1 bridge (issue 4, "Done when"): the real CSMS on free ports with its
OCPI bridge, charge point simulators of both OCPP versions and the eMSP simulator, all over real sockets.

Operators configure locations, connector specs and tariffs through the REST API; the eMSP registers (or is
registered with), pulls every module page by page, sends commands and receives the pushes. Every OCPI object
the CSMS hands out is checked against the OCPI 2.2.1 object definitions (`tests.ocpi.schemas`).
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import pytest

from csms.app import Csms
from csms.domain.clock import isoformat_z, utcnow
from csms.domain.models import ReservationStatus, Transaction, TransactionStatus
from ocpi.commands import owner_of
from ocpi.context import OcpiContext
from ocpi.models import OutboxEntry, OutboxStatus, Partner, PartnerStatus
from ocpi.partners import issue_partner
from ocpi.registration import register_with
from ocpi.store import Pagination
from simulators.chargepoint import ChargePointSimulator, SimulatorConfig
from simulators.emsp import EmspConfig, EmspSimulator, OcpiCallError, Push, token_header
from tests.e2e.conftest import Api, e2e_config, make_api, ocpp_url
from tests.ocpi.schemas import assert_valid, assert_valid_patch
from tests.utils import MS

VERSIONS = ["1.6", "2.0.1"]
WAIT = 15_000 * MS  # background work: command results, pushes (meter updates are coalesced every ~2 s)
WAIT_BACK = 30_000 * MS  # pushes held back with exponential back-off while the partner was down
POLL = 20 * MS  # how often `eventually` re-checks a condition
EMSP_CC, EMSP_PID = "NL", "EMS"
EMSP_TOKEN_A = "emsp-token-a-for-the-cpo"

# The roaming tariff: €0.50 per session (20 % VAT) + €0.25/kWh (10 % VAT), billed per Wh.
FLAT_PRICE, FLAT_VAT = Decimal("0.50"), Decimal(20)
ENERGY_PRICE, ENERGY_VAT = Decimal("0.25"), Decimal(10)
TARIFF = {
    "currency": "EUR",
    "type": "REGULAR",
    "tariff_alt_text": [{"language": "en", "text": "0.50 EUR per session + 0.25 EUR/kWh"}],
    "elements": [
        {
            "price_components": [
                {"type": "FLAT", "price": 0.50, "vat": 20, "step_size": 1},
                {"type": "ENERGY", "price": 0.25, "vat": 10, "step_size": 1},
            ]
        }
    ],
}

T = TypeVar("T")


async def eventually(check: Callable[[], Awaitable[T | None]], timeout: float = WAIT) -> T:  # noqa: ASYNC109
    """Re-run `check` until it returns something truthy (returned), failing after `timeout` seconds."""
    async with asyncio.timeout(timeout):
        while True:
            result = await check()
            if result:
                return result
            await asyncio.sleep(POLL)


def money(value: Decimal) -> Decimal:
    """An amount as the CSMS states it: in cents, half up (the flat fee is whole cents, so rounding the sum
    equals summing the rounded parts)."""
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def number(value: Any) -> Decimal:
    """A JSON number (int or float) of an OCPI object as the exact decimal it was written as."""
    return Decimal(str(value))


def expiry(seconds: float = 3600) -> str:
    """An OCPI DateTime `seconds` from now."""
    return isoformat_z(utcnow() + timedelta(seconds=seconds))


@dataclass
class Roaming:
    """A running CSMS with its OCPI bridge, an admin REST client, the eMSP simulator and charge points."""

    csms: Csms
    api: Api
    emsp: EmspSimulator
    sims: list[ChargePointSimulator] = field(default_factory=list)

    @property
    def ctx(self) -> OcpiContext:
        """The bridge's OcpiContext."""
        return self.csms.ocpi.ctx

    # -- charge points and REST configuration ---------------------------------------------------------

    async def station(self, cp_id: str, version: str, **config: Any) -> ChargePointSimulator:
        """A connected, booted charge point simulator whose connectors reported Available."""
        sim = ChargePointSimulator(
            SimulatorConfig(charge_point_id=cp_id, url=ocpp_url(self.csms), ocpp_version=version, **config)
        )
        self.sims.append(sim)
        await sim.connect()
        assert (await sim.boot())["status"] == "Accepted"
        for connector in sim.connector_ids:
            await sim.send_status(connector, "Available")
        return sim

    async def put(self, path: str, body: dict[str, Any]) -> tuple[int, Any]:
        """PUT to the REST API as the admin; (HTTP status, JSON body)."""
        async with self.api.session.put(self.api.base + path, json=body) as resp:
            return resp.status, await resp.json()

    async def location(self, location_id: str, *charge_point_ids: str) -> dict[str, Any]:
        """Create a published location through the REST API."""
        status, body = await self.api.post(
            "/api/v1/locations",
            {
                "id": location_id,
                "name": f"Site {location_id}",
                "address": "Stationsplein 1",
                "city": "Utrecht",
                "postal_code": "3511 ED",
                "country": "NLD",
                "coordinates": {"latitude": "52.08950", "longitude": "5.11020"},
                "time_zone": "Europe/Amsterdam",
                "parking_type": "PARKING_LOT",
                "facilities": ["CAFE", "TRAIN_STATION"],
                "opening_times": {"twentyfourseven": True},
                "operator": {"name": "Open CSMS Operations"},
                "publish": True,
                "charge_point_ids": list(charge_point_ids),
            },
        )
        assert status == 201, body
        return body  # type: ignore[no-any-return]

    async def tariff(self, tariff_id: str, body: dict[str, Any] = TARIFF) -> dict[str, Any]:
        """Create a tariff through the REST API."""
        status, answer = await self.api.post("/api/v1/tariffs", {"id": tariff_id, **body})
        assert status == 201, answer
        return answer  # type: ignore[no-any-return]

    async def spec(self, cp_id: str, evse_id: int, *tariff_ids: str) -> None:
        """Set the OCPI facts of connector 1 of an EVSE (a 1.6 connector N is EVSE N) with its tariffs."""
        status, body = await self.put(
            f"/api/v1/charge-points/{cp_id}/connectors/{evse_id}/1/spec",
            {
                "standard": "IEC_62196_T2",
                "format": "SOCKET",
                "power_type": "AC_3_PHASE",
                "max_voltage": 230,
                "max_amperage": 32,
                "max_electric_power": 22000,
                "tariff_ids": list(tariff_ids),
            },
        )
        assert status == 200, body

    # -- OCPI ------------------------------------------------------------------------------------------

    async def register_emsp(self) -> Partner:
        """The eMSP registers with us using a token A the operator issued; returns the partner."""
        partner, token_a = await issue_partner(
            self.ctx, name="Simulated eMSP", country_code=EMSP_CC, party_id=EMSP_PID
        )
        await self.emsp.register(self.ctx.versions_url, token_a)
        stored = await self.ctx.store.get_partner(partner.id)
        assert stored is not None and stored.status is PartnerStatus.REGISTERED
        return stored

    async def evse_uids(self, location_id: str) -> dict[int, str]:
        """EVSE number -> OCPI EVSE uid, as the eMSP learns them by pulling the location."""
        location = await self.emsp.get_object("locations", location_id)
        assert_valid("Location", location)
        return {int(evse["evse_id"].rsplit("*", 1)[1]): evse["uid"] for evse in location["evses"]}

    async def command(self, name: str, **body: Any) -> dict[str, Any]:
        """Send a command the CSMS must answer ACCEPTED synchronously; returns the CommandResult POSTed to
        the eMSP's response_url (waiting for it)."""
        response, future = await self.emsp.send_command(name, body)
        assert response.success, (response.http_status, response.status_code, response.status_message)
        assert_valid("CommandResponse", response.data)
        assert response.data["result"] == "ACCEPTED", response.data
        async with asyncio.timeout(WAIT):
            result = await future
        assert_valid("CommandResult", result)
        return result

    async def push(self, match: Callable[[Push], bool], timeout: float = WAIT) -> Push:  # noqa: ASYNC109
        """The first push the eMSP received that satisfies `match` (waiting for it)."""
        async with asyncio.timeout(timeout):
            return (await self.emsp.wait_for_push(match))[0]

    async def outbox(self, partner: Partner) -> list[OutboxEntry]:
        """Every outbox entry of the partner, oldest first."""
        entries = await self.ctx.store.list_outbox(partner_id=partner.id, limit=10_000)
        return sorted(entries, key=lambda e: e.id)


@asynccontextmanager
async def roaming(tmp_path: Path, **ocpi: Any) -> AsyncIterator[Roaming]:
    """Start a CSMS with `[ocpi]` overrides, an admin API client and the eMSP simulator (NL/EMS, which lets a
    CPO register with token A `EMSP_TOKEN_A`); stop everything after."""
    config = e2e_config(tmp_path)
    config = replace(config, ocpi=replace(config.ocpi, **ocpi))
    async with AsyncExitStack() as stack:
        csms = await Csms.start(config)
        stack.push_async_callback(csms.stop)
        api, session = await make_api(csms)
        stack.push_async_callback(session.close)
        emsp = EmspSimulator(
            EmspConfig(country_code=EMSP_CC, party_id=EMSP_PID, token_a=EMSP_TOKEN_A, timeout=WAIT)
        )
        await emsp.start()
        stack.push_async_callback(emsp.close)
        harness = Roaming(csms, api, emsp)

        async def close_sims() -> None:
            for sim in harness.sims:
                await sim.close()

        stack.push_async_callback(close_sims)
        yield harness


def session_push(session_id: str, method: str, **fields: Any) -> Callable[[Push], bool]:
    """Matches a Session push of `session_id` with `method` whose body has `fields`."""

    def match(p: Push) -> bool:
        return (
            p.module == "sessions"
            and p.method == method
            and p.path.rstrip("/").endswith(f"/{session_id}")
            and all(p.body.get(k) == v for k, v in fields.items())
        )

    return match


def cdr_push(session_id: str) -> Callable[[Push], bool]:
    """Matches the CDR POST of `session_id`."""
    return lambda p: p.module == "cdrs" and p.method == "POST" and p.body.get("session_id") == session_id


# -- 1. registration both ways --------------------------------------------------------------------------


async def test_emsp_registers_with_us(tmp_path: Path) -> None:
    """The eMSP registers with a token A the operator issued: REGISTERED, token A is dead, token C works."""
    async with roaming(tmp_path) as r:
        partner, token_a = await issue_partner(
            r.ctx, name="Simulated eMSP", country_code=EMSP_CC, party_id=EMSP_PID
        )
        assert partner.status is PartnerStatus.PENDING
        credentials = await r.emsp.register(r.ctx.versions_url, token_a)
        assert_valid("Credentials", credentials)
        assert credentials["url"] == r.ctx.versions_url
        assert {(role["role"], role["country_code"], role["party_id"]) for role in credentials["roles"]} == {
            ("CPO", "NL", "CSM")
        }
        [stored] = await r.ctx.store.list_partners()
        assert stored.id == partner.id and stored.status is PartnerStatus.REGISTERED
        assert (stored.country_code, stored.party_id) == (EMSP_CC, EMSP_PID)
        assert stored.endpoints["sessions:RECEIVER"] == f"{r.emsp.version_url}/sessions"
        assert stored.endpoints["cdrs:RECEIVER"] == f"{r.emsp.version_url}/cdrs"
        assert stored.token_b  # what we call the eMSP with
        assert r.emsp.registered

        token_c = credentials["token"]
        locations_url = r.emsp.cpo_endpoint("locations", "SENDER")
        async with aiohttp.ClientSession() as http:
            for url in (r.ctx.versions_url, locations_url):
                async with http.get(url, headers={"Authorization": token_header(token_a)}) as resp:
                    assert resp.status == 401, url
                    assert (await resp.json())["status_code"] == 2000
                async with http.get(url, headers={"Authorization": token_header(token_c)}) as resp:
                    assert resp.status == 200, url
                    envelope = await resp.json()
                    assert_valid("Envelope", envelope)
                    assert envelope["status_code"] == 1000
            async with http.get(r.ctx.versions_url, headers={"Authorization": token_header(token_c)}) as resp:
                for version in (await resp.json())["data"]:
                    assert_valid("Version", version)
        details = await r.emsp.call("GET", r.ctx.url("2.2.1"), routing=False)
        assert details.success
        assert_valid("VersionDetails", details.data)
        # A second registration with the dead token A fails.
        again = EmspSimulator(EmspConfig(country_code="DE", party_id="XYZ", timeout=WAIT))
        async with again:
            with pytest.raises(OcpiCallError, match="401"):
                await again.register(r.ctx.versions_url, token_a)


async def test_we_register_with_the_emsp(tmp_path: Path) -> None:
    """We register with the eMSP given its versions URL and token A: both sides are registered and each can
    call the other with the token it was given, while token A is dead."""
    async with roaming(tmp_path) as r:
        partner = await register_with(r.ctx, r.emsp.versions_url, EMSP_TOKEN_A)
        assert partner.status is PartnerStatus.REGISTERED
        assert (partner.country_code, partner.party_id, partner.role) == (EMSP_CC, EMSP_PID, "EMSP")
        [stored] = await r.ctx.store.list_partners()
        assert stored.status is PartnerStatus.REGISTERED and stored.token_b == partner.token_b
        assert stored.endpoints["tokens:SENDER"] == f"{r.emsp.version_url}/tokens"
        assert r.emsp.registered
        assert r.emsp.cpo_credentials is not None
        assert_valid("Credentials", r.emsp.cpo_credentials)
        # We call the eMSP with the token it answered (its C).
        answer = await r.ctx.client.request(stored, "GET", r.emsp.versions_url, None, routing=False)
        assert answer.success
        # The eMSP calls us with the token we sent (our B).
        assert await r.emsp.pull("locations") == []
        async with aiohttp.ClientSession() as http:
            headers = {"Authorization": token_header(EMSP_TOKEN_A)}
            async with http.get(r.emsp.versions_url, headers=headers) as resp:
                assert resp.status == 401


# -- 2. a full pull with pagination ---------------------------------------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
async def test_full_pull_with_pagination(tmp_path: Path, version: str) -> None:
    """With a server-side page limit of 2 the eMSP pulls every location, tariff, session and CDR across
    several pages, and every object is a valid OCPI 2.2.1 object."""
    v = version.replace(".", "")
    async with roaming(tmp_path, max_page_limit=2) as r:
        await r.register_emsp()
        await r.emsp.put_token("PULLCARD1", whitelist="ALWAYS")
        sims = [
            await r.station(f"PULL{v}-A", version, connectors=2),
            await r.station(f"PULL{v}-B", version),
            await r.station(f"PULL{v}-C", version),
        ]
        tariff_ids = ["TAR-A", "TAR-B", "TAR-C"]
        for tariff_id in tariff_ids:
            await r.tariff(tariff_id)
        location_ids = ["LOC-A", "LOC-B", "LOC-C"]
        for location_id, sim in zip(location_ids, sims, strict=True):
            await r.location(location_id, sim.charge_point_id)
        await r.spec(f"PULL{v}-A", 1, "TAR-A")
        await r.spec(f"PULL{v}-B", 1, "TAR-B")

        # One finished session per charge point (3 sessions, 3 CDRs).
        for n, sim in enumerate(sims, start=1):
            await sim.plug_in(1)
            await sim.start_transaction(1, "PULLCARD1", meter_start_wh=0)
            await sim.send_meter_values(1, energy_wh=1000 * n)
            await sim.stop_transaction(1, meter_stop_wh=1500 * n)
            await sim.unplug(1)

        async def three_cdrs() -> bool:
            _, total = await r.ctx.store.list_cdrs(Pagination(limit=10))
            return bool(total == 3)

        await eventually(three_cdrs)

        pulled = await r.emsp.pull_all()
        assert set(pulled) == {"locations", "sessions", "cdrs", "tariffs"}
        for module in pulled:
            assert r.emsp.pages[module] == 2, module  # 3 objects, 2 per page

        assert sorted(loc["id"] for loc in pulled["locations"]) == location_ids
        for loc in pulled["locations"]:
            assert_valid("Location", loc)
            for evse in loc["evses"]:
                assert_valid("EVSE", evse)
                for connector in evse["connectors"]:
                    assert_valid("Connector", connector)
        by_id = {loc["id"]: loc for loc in pulled["locations"]}
        assert len(by_id["LOC-A"]["evses"]) == 2 and len(by_id["LOC-B"]["evses"]) == 1
        evse_a1 = next(e for e in by_id["LOC-A"]["evses"] if e["evse_id"].endswith("*1"))
        assert evse_a1["connectors"][0]["tariff_ids"] == ["TAR-A"]
        assert {"RESERVABLE", "REMOTE_START_STOP_CAPABLE", "UNLOCK_CAPABLE"} <= set(evse_a1["capabilities"])

        assert sorted(t["id"] for t in pulled["tariffs"]) == tariff_ids
        for tariff in pulled["tariffs"]:
            assert_valid("Tariff", tariff)

        assert len(pulled["sessions"]) == 3
        for session in pulled["sessions"]:
            assert_valid("Session", session)
            assert session["status"] == "COMPLETED"
            assert session["cdr_token"]["uid"] == "PULLCARD1"
            assert (session["cdr_token"]["country_code"], session["cdr_token"]["party_id"]) == (
                EMSP_CC,
                EMSP_PID,
            )
        assert sorted(s["location_id"] for s in pulled["sessions"]) == location_ids
        assert sorted(s["kwh"] for s in pulled["sessions"]) == [1.5, 3, 4.5]

        assert len(pulled["cdrs"]) == 3
        for cdr in pulled["cdrs"]:
            assert_valid("CDR", cdr)
        assert {c["session_id"] for c in pulled["cdrs"]} == {s["id"] for s in pulled["sessions"]}
        cdr_a = next(c for c in pulled["cdrs"] if c["cdr_location"]["id"] == "LOC-A")
        assert number(cdr_a["total_energy"]) == Decimal("1.5")
        assert number(cdr_a["total_cost"]["excl_vat"]) == money(FLAT_PRICE + ENERGY_PRICE * Decimal("1.5"))

        # Single objects, and what the pages say about themselves.
        uid = evse_a1["uid"]
        assert_valid("Location", await r.emsp.get_object("locations", "LOC-A"))
        assert_valid("EVSE", await r.emsp.get_object("locations", "LOC-A", uid))
        assert_valid("Connector", await r.emsp.get_object("locations", "LOC-A", uid, "1"))
        first = await r.emsp.call("GET", r.emsp.cpo_endpoint("locations", "SENDER"), params={"limit": "50"})
        assert first.success and len(first.data) == 2
        assert first.headers["X-Limit"] == "2" and first.headers["X-Total-Count"] == "3"
        assert 'rel="next"' in first.headers["Link"]


# -- 3. the roaming flow: reserve, start, meter, stop, CDR, cancel, unlock -------------------------------


@pytest.mark.parametrize("version", VERSIONS)
async def test_roaming_flow(tmp_path: Path, version: str) -> None:
    """RESERVE_NOW (and EVSE_OCCUPIED on a busy EVSE), START_SESSION by the reserved token: the reservation's
    Session `R<id>` goes on ACTIVE (OCPI 2.2.1 Sessions, "Reservation"), a PATCH with kwh, STOP_SESSION by
    that id, COMPLETED, a CDR of that session_id priced by the tariff, CANCEL_RESERVATION and
    UNLOCK_CONNECTOR, all through the eMSP simulator against a charge point of each OCPP version."""
    cp_id = f"ROAM{version.replace('.', '')}"
    async with roaming(tmp_path) as r:
        sim = await r.station(cp_id, version, connectors=2)
        await r.tariff("TAR-ROAM")
        await r.location("LOC-ROAM", cp_id)
        await r.spec(cp_id, 1, "TAR-ROAM")
        await r.spec(cp_id, 2, "TAR-ROAM")
        partner = await r.register_emsp()
        evses = await r.evse_uids("LOC-ROAM")
        assert set(evses) == {1, 2}
        [pulled_tariff] = await r.emsp.pull("tariffs")
        assert_valid("Tariff", pulled_tariff)
        assert pulled_tariff["id"] == "TAR-ROAM"
        driver = r.emsp.make_token("APPDRIVER1", type="APP_USER", whitelist="NEVER")

        # RESERVE_NOW: ReserveNow reaches the station, the result is ACCEPTED.
        result = await r.command(
            "RESERVE_NOW",
            token=driver,
            expiry_date=expiry(),
            reservation_id="EMSP-RES-1",
            location_id="LOC-ROAM",
            evse_uid=evses[1],
            authorization_reference="AUTH-RES-1",
        )
        assert result["result"] == "ACCEPTED"
        [reserve_now] = [p for a, p in sim.calls_received if a == "ReserveNow"]
        store = r.csms.services.store  # written through the batched writer: read until it is there
        reservation = await eventually(
            lambda: store.find_reservation_by_external_id(owner_of(partner), "EMSP-RES-1")
        )
        assert reservation.status is ReservationStatus.ACTIVE
        assert set(sim.reservations) == {reservation.id}
        assert sim.reservations[reservation.id].id_token == "APPDRIVER1"
        assert sim.reservations[reservation.id].connector == 1
        # The station got our own integer id, never the partner's reservation_id.
        assert reserve_now["reservationId" if version == "1.6" else "id"] == reservation.id
        reserved = await r.push(
            lambda p: (
                p.module == "locations"
                and p.path.endswith(f"/LOC-ROAM/{evses[1]}")
                and p.body.get("status") == "RESERVED"
            )
        )
        assert_valid_patch("EVSE", reserved.body)
        reservation_sessions = [s for s in await r.emsp.pull("sessions") if s["status"] == "RESERVATION"]
        assert [s["id"] for s in reservation_sessions] == [f"R{reservation.id}"]
        assert_valid("Session", reservation_sessions[0])
        # ...and pushed to the eMSP that reserved: a Session PUT with status RESERVATION.
        reservation_put = await r.push(session_push(f"R{reservation.id}", "PUT", status="RESERVATION"))
        assert_valid("Session", reservation_put.body)
        assert reservation_put.body["evse_uid"] == evses[1]
        assert reservation_put.body["cdr_token"]["uid"] == "APPDRIVER1"

        # RESERVE_NOW on an EVSE with a cable plugged in: EVSE_OCCUPIED.
        await sim.plug_in(2)
        occupied = await r.command(
            "RESERVE_NOW",
            token=r.emsp.make_token("APPDRIVER2", type="APP_USER", whitelist="NEVER"),
            expiry_date=expiry(),
            reservation_id="EMSP-RES-2",
            location_id="LOC-ROAM",
            evse_uid=evses[2],
        )
        assert occupied["result"] == "EVSE_OCCUPIED"
        assert set(sim.reservations) == {reservation.id}

        # START_SESSION by the reserved token: the transaction uses the reservation, and the reservation's
        # Session goes on ACTIVE under the same id (OCPI 2.2.1 Sessions, "Reservation").
        sim.meter_wh[1] = 1000  # the register when the transaction starts
        started = await r.command(
            "START_SESSION",
            token=driver,
            location_id="LOC-ROAM",
            evse_uid=evses[1],
            authorization_reference="AUTH-START-1",
        )
        assert started["result"] == "ACCEPTED"
        put = await r.push(
            lambda p: (
                p.module == "sessions"
                and p.method == "PUT"
                and p.body.get("evse_uid") == evses[1]
                and p.body.get("status") == "ACTIVE"
            )
        )
        session = put.body
        assert_valid("Session", session)
        session_id = session["id"]
        assert session_id == f"R{reservation.id}"
        assert session["status"] == "ACTIVE" and session["kwh"] == 0
        assert session["location_id"] == "LOC-ROAM" and session["connector_id"] == "1"
        assert session["auth_method"] == "COMMAND"
        assert session["authorization_reference"] == "AUTH-START-1"
        assert session["cdr_token"] == {
            "country_code": EMSP_CC,
            "party_id": EMSP_PID,
            "uid": "APPDRIVER1",
            "type": "APP_USER",
            "contract_id": driver["contract_id"],
        }
        assert put.path == f"/ocpi/2.2.1/sessions/NL/CSM/{session_id}"
        assert put.headers["OCPI-to-party-id"] == EMSP_PID and put.headers["OCPI-from-party-id"] == "CSM"

        async def reserved_transaction() -> Transaction | None:
            found = await store.list_active_transactions(cp_id)
            return next((t for t in found if t.reservation_id == reservation.id), None)

        tx = await eventually(reserved_transaction)

        async def reservation_used() -> bool:
            used = await store.get_reservation(reservation.id)
            return used is not None and used.status is ReservationStatus.USED

        await eventually(reservation_used)
        assert reservation.id not in sim.reservations
        # One session, not two: the pull shows it ACTIVE, and it was never PATCHed COMPLETED on the way.
        pulled = [s for s in await r.emsp.pull("sessions") if s["id"] == session_id]
        assert [s["status"] for s in pulled] == ["ACTIVE"]
        assert not any(
            p.path.rstrip("/").endswith(f"/{tx.id}") for p in r.emsp.pushes if p.module == "sessions"
        )
        assert not any(session_push(session_id, "PATCH", status="COMPLETED")(p) for p in r.emsp.pushes)

        # Meter values: a PATCH with the energy so far.
        await sim.send_meter_values(1, energy_wh=4500)
        patch = await r.push(lambda p: session_push(session_id, "PATCH")(p) and (p.body.get("kwh") or 0) > 0)
        assert_valid_patch("Session", patch.body)
        assert patch.body["kwh"] == 3.5
        assert number(patch.body["total_cost"]["excl_vat"]) == money(
            FLAT_PRICE + ENERGY_PRICE * Decimal("3.5")
        )

        # STOP_SESSION: COMPLETED, then the CDR priced by the tariff.
        await sim.send_meter_values(1, energy_wh=13_344)
        stopped = await r.command("STOP_SESSION", session_id=session_id)
        assert stopped["result"] == "ACCEPTED"
        completed = await r.push(session_push(session_id, "PATCH", status="COMPLETED"))
        assert_valid_patch("Session", completed.body)
        assert completed.body["kwh"] == 12.344 and "end_date_time" in completed.body
        cdr_post = await r.push(cdr_push(session_id))
        assert r.emsp.pushes.index(completed) < r.emsp.pushes.index(cdr_post)
        cdr = cdr_post.body
        assert_valid("CDR", cdr)
        assert r.emsp.cdrs[cdr["id"]] == cdr
        energy_kwh = Decimal(13_344 - 1000) / 1000
        assert number(cdr["total_energy"]) == energy_kwh
        expected_excl = FLAT_PRICE + ENERGY_PRICE * energy_kwh
        expected_incl = FLAT_PRICE * (1 + FLAT_VAT / 100) + ENERGY_PRICE * energy_kwh * (1 + ENERGY_VAT / 100)
        assert (number(cdr["total_cost"]["excl_vat"]), number(cdr["total_cost"]["incl_vat"])) == (
            money(expected_excl),
            money(expected_incl),
        )
        assert number(cdr["total_fixed_cost"]["excl_vat"]) == FLAT_PRICE
        assert number(cdr["total_energy_cost"]["excl_vat"]) == money(ENERGY_PRICE * energy_kwh)
        assert cdr["currency"] == "EUR" and [t["id"] for t in cdr["tariffs"]] == ["TAR-ROAM"]
        assert cdr["cdr_token"] == session["cdr_token"] and cdr["auth_method"] == "COMMAND"
        assert cdr["cdr_location"]["evse_uid"] == evses[1] and cdr["cdr_location"]["id"] == "LOC-ROAM"

        async def transaction_completed() -> bool:
            stored = await store.get_transaction(tx.id)
            return stored is not None and stored.status is TransactionStatus.COMPLETED

        await eventually(transaction_completed)

        # CANCEL_RESERVATION of another reservation, and of one that never existed.
        await sim.unplug(2)
        other = await r.command(
            "RESERVE_NOW",
            token=r.emsp.make_token("APPDRIVER3", type="APP_USER", whitelist="NEVER"),
            expiry_date=expiry(),
            reservation_id="EMSP-RES-3",
            location_id="LOC-ROAM",
            evse_uid=evses[2],
        )
        assert other["result"] == "ACCEPTED"
        assert len(sim.reservations) == 1
        cancelled = await r.command("CANCEL_RESERVATION", reservation_id="EMSP-RES-3")
        assert cancelled["result"] == "ACCEPTED"
        assert any(a == "CancelReservation" for a, _ in sim.calls_received)
        assert sim.reservations == {}

        async def reservation_cancelled() -> bool:
            gone = await store.find_reservation_by_external_id(owner_of(partner), "EMSP-RES-3")
            return gone is not None and gone.status is ReservationStatus.CANCELLED

        await eventually(reservation_cancelled)
        gone = await store.find_reservation_by_external_id(owner_of(partner), "EMSP-RES-3")
        assert gone is not None
        await r.push(session_push(f"R{gone.id}", "PUT", status="RESERVATION"))
        await r.push(session_push(f"R{gone.id}", "PATCH", status="COMPLETED"))
        unknown = await r.command("CANCEL_RESERVATION", reservation_id="EMSP-RES-NONE")
        assert unknown["result"] == "UNKNOWN_RESERVATION"

        # UNLOCK_CONNECTOR.
        unlocked = await r.command(
            "UNLOCK_CONNECTOR", location_id="LOC-ROAM", evse_uid=evses[1], connector_id="1"
        )
        assert unlocked["result"] == "ACCEPTED"
        unlock = [p for a, p in sim.calls_received if a == "UnlockConnector"]
        assert unlock == [{"connectorId": 1} if version == "1.6" else {"evseId": 1, "connectorId": 1}]
        assert not sim.violations
        assert r.emsp.rejected == []
        # Every push the eMSP received is a valid OCPI object (PUT, POST) or PATCH body.
        kinds = {"sessions": "Session", "cdrs": "CDR"}
        for p in r.emsp.pushes:
            if p.module == "locations":
                depth = len(p.path.rstrip("/").split("/")) - 7  # /ocpi/2.2.1/locations/NL/CSM/LOC[/EVSE[/C]]
                kind = ("Location", "EVSE", "Connector")[depth]
            else:
                kind = kinds[p.module]
            if p.method == "PATCH":
                assert_valid_patch(kind, p.body)
            else:
                assert_valid(kind, p.body)


@pytest.mark.parametrize("version", VERSIONS)
async def test_reservation_session_goes_on_when_the_driver_starts_at_the_station(
    tmp_path: Path, version: str
) -> None:
    """A RESERVE_NOW reservation used by a local start with the reserved token at the station: its Session
    `R<id>` is PUT RESERVATION, then ACTIVE under the same id, stopped by STOP_SESSION of that id,
    COMPLETED, and CDR'd with that session_id and the tariff's totals (OCPI 2.2.1 Sessions, "Reservation")."""
    cp_id = f"RESL{version.replace('.', '')}"
    async with roaming(tmp_path) as r:
        sim = await r.station(cp_id, version)
        await r.tariff("TAR-RESL")
        await r.location("LOC-RESL", cp_id)
        await r.spec(cp_id, 1, "TAR-RESL")
        partner = await r.register_emsp()
        evses = await r.evse_uids("LOC-RESL")
        card = r.emsp.make_token("RFIDRES1", whitelist="ALWAYS")
        await r.emsp.put_token(card)
        result = await r.command(
            "RESERVE_NOW",
            token=card,
            expiry_date=expiry(),
            reservation_id="EMSP-RESL-1",
            location_id="LOC-RESL",
            evse_uid=evses[1],
        )
        assert result["result"] == "ACCEPTED"
        store = r.csms.services.store
        reservation = await eventually(
            lambda: store.find_reservation_by_external_id(owner_of(partner), "EMSP-RESL-1")
        )
        session_id = f"R{reservation.id}"
        await r.push(session_push(session_id, "PUT", status="RESERVATION"))

        # The driver badges at the station: the station uses the reservation (reservationId).
        await sim.start_transaction(1, "RFIDRES1", meter_start_wh=2000)
        active = await r.push(session_push(session_id, "PUT", status="ACTIVE"))
        assert_valid("Session", active.body)
        assert active.body["cdr_token"]["uid"] == "RFIDRES1" and active.body["evse_uid"] == evses[1]
        [pulled] = [s for s in await r.emsp.pull("sessions") if s["cdr_token"]["uid"] == "RFIDRES1"]
        assert (pulled["id"], pulled["status"]) == (session_id, "ACTIVE")

        await sim.send_meter_values(1, energy_wh=6000)
        stopped = await r.command("STOP_SESSION", session_id=session_id)
        assert stopped["result"] == "ACCEPTED"
        completed = await r.push(session_push(session_id, "PATCH", status="COMPLETED"))
        assert_valid_patch("Session", completed.body)
        cdr = (await r.push(cdr_push(session_id))).body
        assert_valid("CDR", cdr)
        energy_kwh = Decimal(4)
        assert number(cdr["total_energy"]) == energy_kwh
        assert number(cdr["total_cost"]["excl_vat"]) == money(FLAT_PRICE + ENERGY_PRICE * energy_kwh)
        assert not any(
            p.module == "sessions" and p.body.get("status") == "COMPLETED" and p is not completed
            for p in r.emsp.pushes
        )
        assert not sim.violations and r.emsp.rejected == []


# -- 4. a partner that is down receives every push, in order, once it is back ----------------------------


@pytest.mark.parametrize("version", VERSIONS)
async def test_partner_down_receives_every_push_in_order(tmp_path: Path, version: str) -> None:
    """While the eMSP is down a session starts, advances and stops; once back it receives the Session PUT, the
    PATCHes, the COMPLETED PATCH and the CDR POST, each once and in order."""
    cp_id = f"DOWN{version.replace('.', '')}"
    async with roaming(tmp_path, push_retry_seconds=50 * MS, push_max_attempts=1000) as r:
        sim = await r.station(cp_id, version)
        await r.tariff("TAR-DOWN")
        await r.location("LOC-DOWN", cp_id)
        await r.spec(cp_id, 1, "TAR-DOWN")
        partner = await r.register_emsp()
        await r.emsp.put_token("DOWNCARD1", whitelist="ALWAYS")

        async def pending(match: Callable[[OutboxEntry], bool]) -> OutboxEntry | None:
            for entry in await r.outbox(partner):
                if entry.status is OutboxStatus.PENDING and match(entry):
                    return entry
            return None

        def of_session(entry: OutboxEntry) -> bool:
            return entry.object_key.startswith("session:")

        r.emsp.set_down(True)
        await sim.plug_in(1)
        await sim.start_transaction(1, "DOWNCARD1", meter_start_wh=0)
        put = await eventually(lambda: pending(lambda e: of_session(e) and e.method == "PUT"))
        session_key = put.object_key
        session_id = session_key.removeprefix("session:")

        # The partner is tried while down, and refuses.
        async def tried() -> OutboxEntry | None:
            entry = await pending(lambda e: e.id == put.id and e.attempts >= 1)
            return entry if entry is not None and entry.last_error else None

        assert "503" in str((await eventually(tried)).last_error)

        def meter_patch(kwh: float) -> Callable[[OutboxEntry], bool]:
            return lambda e: (
                e.object_key == session_key and e.method == "PATCH" and (e.body or {}).get("kwh") == kwh
            )

        for wh in (2000, 5000):
            await sim.send_meter_values(1, energy_wh=wh)
            await eventually(functools.partial(pending, meter_patch(wh / 1000)))
        await sim.stop_transaction(1)
        await eventually(lambda: pending(lambda e: e.module == "cdrs" and e.object_key == session_key))
        assert not [p for p in r.emsp.pushes if p.module in ("sessions", "cdrs")]

        r.emsp.set_down(False)
        await r.push(cdr_push(session_id), timeout=WAIT_BACK)

        # The eMSP has the CDR; the outbox marks its entry SENT once the answer is in.
        async def all_sent() -> list[OutboxEntry] | None:
            entries = [e for e in await r.outbox(partner) if e.object_key == session_key]
            return entries if all(e.status is OutboxStatus.SENT for e in entries) else None

        entries = await eventually(all_sent)
        received = [
            p
            for p in r.emsp.pushes
            if (p.module == "sessions" and p.path.endswith(f"/{session_id}")) or cdr_push(session_id)(p)
        ]
        assert [(p.method, p.body) for p in received] == [(e.method, e.body) for e in entries]
        methods = [(p.module, p.method, p.body.get("status")) for p in received]
        assert methods[0] == ("sessions", "PUT", "ACTIVE")
        assert methods[-2:] == [("sessions", "PATCH", "COMPLETED"), ("cdrs", "POST", None)]
        assert all(m[:2] == ("sessions", "PATCH") for m in methods[1:-1])
        kwh = [p.body["kwh"] for p in received[:-1]]
        assert kwh == sorted(kwh) and {2, 5} <= set(kwh)

        assert_valid("Session", received[0].body)
        for p in received[1:-1]:
            assert_valid_patch("Session", p.body)
        assert_valid("CDR", received[-1].body)
        final = r.emsp.sessions[f"NL/CSM/{session_id}"]
        assert final["status"] == "COMPLETED" and final["kwh"] == 5
        cdr = r.emsp.cdrs[session_id]
        assert number(cdr["total_energy"]) == 5
        assert number(cdr["total_cost"]["excl_vat"]) == money(FLAT_PRICE + ENERGY_PRICE * 5)
        assert r.emsp.rejected == []
