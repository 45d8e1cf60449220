"""OCPI 2.2.1 CDRs sender (`ocpi.cdrs`): a priced, immutable CDR for every finished session."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from structlog.testing import capture_logs

from csms.app import Csms
from csms.config import OcpiConfig
from csms.domain.events import TransactionStopped
from csms.domain.models import (
    ConnectorStatus,
    IdToken,
    MeterReading,
    MeterSample,
    SignedMeterValue,
    Transaction,
    TransactionStop,
)
from csms.store.sql import SqlStore
from ocpi import cdrs
from ocpi.app import create_app
from ocpi.context import OcpiContext
from ocpi.models import (
    Cdr,
    ConnectorSpec,
    Location,
    Partner,
    PartnerStatus,
    PartnerToken,
    SessionLink,
    Tariff,
)
from ocpi.store import OcpiStore
from ocpi.store.sql import SqlOcpiStore
from ocpi.transport import encode_token, hash_token, ocpi_datetime
from simulators.chargepoint import ChargePointSimulator, SimulatorConfig
from tests.e2e.conftest import e2e_config
from tests.fakes.ocpi_memory_store import MemoryOcpiStore
from tests.ocpi.schemas import assert_valid
from tests.ocpi.senders import ROAMING_TOKEN, TOKEN_C, Harness, harness
from tests.store.conftest import T0, FakeClock

EXAMPLES = Path("/work/shared/ocpi-examples")


def example(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((EXAMPLES / name).read_text(encoding="utf-8"))
    return data


@pytest.fixture
async def h(memory_ocpi_store: MemoryOcpiStore, clock: FakeClock) -> AsyncIterator[Harness]:
    """A sender harness on the in-memory OCPI store with CP1 (online) in the published location LOC1."""
    async with harness(memory_ocpi_store, clock) as built:
        await built.add_station("CP1")
        await built.add_location("LOC1", "CP1", postal_code="9000")
        await built.status("CP1", 1, ConnectorStatus.AVAILABLE, "Available")
        yield built


async def test_stop_creates_the_priced_cdr(h: Harness) -> None:
    """A transaction stop creates the CDR (installed writer): priced by the connector's tariff (€0.50 FLAT
    @20% + €0.25/kWh @10%, 20 kWh → 5.50 / 6.10), with its location, token, tariff and totals."""
    await h.add_tariff(example("tariff_9_025kwh_start.json"))
    await h.spec(
        "CP1", 1, standard="IEC_62196_T2", format="CABLE", power_type="AC_1_PHASE", tariff_ids=["17"]
    )
    tx = await h.start("CP1", 1, id_token="TAG1", meter_start=500)
    h.advance(5400)
    await h.meter(tx, 10_500)
    h.advance(1800)
    stopped = await h.stop(tx, 20_500)
    await cdrs.settle(h.ctx)  # the writer makes the CDR in the background
    cdr = await h.ocpi.get_cdr(str(tx.id))
    assert cdr is not None and cdr.transaction_pk == tx.id
    data = cdr.data
    assert_valid("CDR", data)
    uid = (await h.ocpi.evse_uid("CP1", 1)).uid
    assert (data["country_code"], data["party_id"], data["id"], data["session_id"]) == (
        "BE",
        "CSM",
        str(tx.id),
        str(tx.id),
    )
    assert data["start_date_time"] == ocpi_datetime(T0)
    assert data["end_date_time"] == ocpi_datetime(stopped.stopped_at or T0)
    assert data["cdr_token"] == {
        "country_code": "BE",
        "party_id": "CSM",
        "uid": "TAG1",
        "type": "RFID",
        "contract_id": "TAG1",
    }
    assert data["auth_method"] == "WHITELIST" and data["currency"] == "EUR"
    assert data["cdr_location"] == {
        "id": "LOC1",
        "name": "Gent Zuid",
        "address": "F.Rooseveltlaan 3A",
        "city": "Gent",
        "postal_code": "9000",
        "country": "BEL",
        "coordinates": {"latitude": "51.047599", "longitude": "3.729944"},
        "evse_uid": uid,
        "evse_id": "BE*CSM*ECP1*1",
        "connector_id": "1",
        "connector_standard": "IEC_62196_T2",
        "connector_format": "CABLE",
        "connector_power_type": "AC_1_PHASE",
    }
    (tariff,) = data["tariffs"]
    assert (tariff["id"], tariff["country_code"], tariff["party_id"]) == ("17", "BE", "CSM")
    assert data["total_cost"] == {"excl_vat": 5.5, "incl_vat": 6.1}
    assert data["total_fixed_cost"] == {"excl_vat": 0.5, "incl_vat": 0.6}
    assert data["total_energy_cost"] == {"excl_vat": 5, "incl_vat": 5.5}
    assert "total_time_cost" not in data and "total_parking_cost" not in data
    assert data["total_energy"] == 20 and data["total_time"] == 2
    assert [p["tariff_id"] for p in data["charging_periods"]] == ["17"]
    assert cdr.total_cost_excl_vat == 5.5
    assert data["last_updated"] == ocpi_datetime(h.clock())


def charging_samples(start: datetime, every: int, hours: int) -> list[MeterSample]:
    """What a station reports while charging 20 kW in the first hour and 10 kW after: every `every` seconds
    the total energy register, the register per phase and the power (only the first counts for pricing)."""
    samples = []
    for t in range(every, hours * 3600 + 1, every):
        wh = t * 20_000 // 3600 if t <= 3600 else 20_000 + (t - 3600) * 10_000 // 3600
        at = start + timedelta(seconds=t)
        samples.append(MeterSample(at, Decimal(wh)))
        samples += [MeterSample(at, Decimal(wh // 3), phase=phase) for phase in ("L1", "L2", "L3")]
        samples.append(MeterSample(at, Decimal(20_000), measurand="Power.Active.Import", unit="W"))
    return samples


async def test_stop_is_answered_before_the_cdr_is_made(h: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    """A stop carrying many meter samples returns (the station gets its answer) before the CDR is priced
    and stored: the CdrWriter only schedules it; `settle` then finds it priced from those samples (the
    max_power example: 20 kWh under 32 kW at €0.35, 10 kWh under 16 kW at €0.20)."""
    await h.add_tariff(example("tariffrestriction_example_max_power.json"), tariff_id="P1")
    await h.spec("CP1", 1, tariff_ids=["P1"])
    tx = await h.start("CP1", 1, meter_start=0)
    samples = charging_samples(h.clock(), every=2, hours=2)  # 3600 instants, 18000 samples
    h.advance(2 * 3600)
    order: list[str] = []
    create = cdrs.create_cdr

    async def recorded(ctx: OcpiContext, ended: Transaction) -> Cdr | None:
        order.append("cdr started")
        cdr = await create(ctx, ended)
        order.append("cdr stored")
        return cdr

    monkeypatch.setattr(cdrs, "create_cdr", recorded)
    stop = TransactionStop(stopped_at=h.clock(), meter_stop_wh=30_000)
    stopped = await h.domain.transactions.stop(tx, stop, samples)
    order.append("stop answered")
    assert await h.ocpi.get_cdr(str(tx.id)) is None
    writer = cdrs.writer_of(h.ctx)
    assert writer is not None and writer.pending == 1
    await cdrs.settle(h.ctx)
    assert order == ["stop answered", "cdr started", "cdr stored"]
    assert writer.pending == 0
    cdr = await h.ocpi.get_cdr(str(stopped.id))
    assert cdr is not None
    assert_valid("CDR", cdr.data)
    assert cdr.data["total_energy_cost"] == {"excl_vat": 9, "incl_vat": 10.8}
    assert [p["start_date_time"] for p in cdr.data["charging_periods"]] == [
        ocpi_datetime(T0),
        ocpi_datetime(T0 + timedelta(hours=1)),
    ]
    assert await cdrs.ensure_cdr(h.ctx, stopped) == cdr  # what the push feeder calls: the stored one


async def test_cdr_signed_data_start_intermediate_end(h: Harness) -> None:
    """The CDR's signed_data holds every signed sample of the session in time order (Start, Intermediate,
    End; unsigned samples and other transactions' left out), with the encoding and public key of the first;
    a public key longer than OCPI's 512 characters is left out and logged."""
    key = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE"
    tx = await h.start("CP1", 1, meter_start=1000)
    other = await h.start("CP1", 2)

    async def reading(t: Transaction, wh: str, data: str | None, context: str = "Sample.Clock") -> None:
        signed = None if data is None else SignedMeterValue(data, "EDL", "ECDSA-brainpool256r1-SHA256", key)
        sample = MeterSample(h.clock(), Decimal(wh), context=context, signed_data=signed)
        await h.domain.transactions.meter_values(MeterReading(t.charge_point_id, t.evse_id, [sample]), t)

    await reading(tx, "1000", "c3RhcnQ=", "Transaction.Begin")
    await reading(other, "5", "b3RoZXI=")
    h.advance(600)
    await reading(tx, "1500", None)
    await reading(tx, "2.5", "bWlkZGxl")
    h.advance(600)
    await reading(tx, "3000", "ZW5k", "Transaction.End")
    await h.stop(tx, 3000)
    await cdrs.settle(h.ctx)
    cdr = await h.ocpi.get_cdr(str(tx.id))
    assert cdr is not None
    assert_valid("CDR", cdr.data)
    assert cdr.data["signed_data"] == {
        "encoding_method": "EDL",
        "public_key": key,
        "signed_values": [
            {"nature": "Start", "plain_data": "1000 Wh", "signed_data": "c3RhcnQ="},
            {"nature": "Intermediate", "plain_data": "2.5 Wh", "signed_data": "bWlkZGxl"},
            {"nature": "End", "plain_data": "3000 Wh", "signed_data": "ZW5k"},
        ],
    }
    long_key = SignedMeterValue("ZW5k", signing_method="x", public_key="A" * 513)
    lone_end = MeterSample(h.clock(), Decimal(3), unit="kWh", context="Transaction.End", signed_data=long_key)
    with capture_logs() as logs:
        signed_data = cdrs.signed_data_of([lone_end], "9")
    assert signed_data == {
        "encoding_method": "Unknown",  # a 1.6 station names none
        "signed_values": [{"nature": "End", "plain_data": "3 kWh", "signed_data": "ZW5k"}],
    }
    assert [(e["event"], e["cdr_id"]) for e in logs] == [("cdr_public_key_left_out", "9")]
    assert cdrs.signed_data_of([MeterSample(h.clock(), Decimal(3))], "9") is None


async def test_cdr_is_idempotent_and_immutable(h: Harness) -> None:
    """create_cdr returns the stored CDR on later calls, also when two calls race, and never rewrites it."""
    tx = await h.start("CP1", 1)
    h.advance(60)
    stopped = await h.stop(tx, 3000)
    first = await cdrs.create_cdr(h.ctx, stopped)
    h.advance(60)
    again = await cdrs.create_cdr(h.ctx, stopped)
    assert first is not None and again is not None and again.data == first.data

    other = await h.start("CP1", 1)
    h.advance(60)
    cdrs.install(h.ctx)  # a second install is the same writer: still one CDR per stop
    subscribers = h.domain.events.subscribers(TransactionStopped)
    writers = [s for s in subscribers if isinstance(getattr(s, "__self__", None), cdrs.CdrWriter)]
    assert len(writers) == 1
    h.domain.events.unsubscribe(TransactionStopped, writers[0])
    ended = await h.stop(other, 3000)
    a, b = await asyncio.gather(cdrs.create_cdr(h.ctx, ended), cdrs.create_cdr(h.ctx, ended))
    assert a is not None and b is not None and a.data == b.data


async def test_no_cdr_for_running_or_unpublished_sessions(h: Harness) -> None:
    """A running transaction has no CDR yet; one outside any published location never gets one."""
    running = await h.start("CP1", 1)
    assert await cdrs.create_cdr(h.ctx, running) is None
    await h.add_station("CP2")
    await h.add_location("HIDDEN", "CP2", publish=False)
    hidden = await h.start("CP2", 1)
    ended = await h.stop(hidden, 5000)
    assert await cdrs.create_cdr(h.ctx, ended) is None
    assert await h.ocpi.get_cdr(str(hidden.id)) is None


async def test_cdr_without_tariff_is_free_but_complete(h: Harness) -> None:
    """Without a tariff on the connector the CDR costs 0, lists no tariffs and still has its period."""
    tx = await h.start("CP1", 1, meter_start=0)
    h.advance(900)
    ended = await h.stop(tx, 2_345)
    cdr = await cdrs.create_cdr(h.ctx, ended)
    assert cdr is not None
    assert_valid("CDR", cdr.data)
    assert cdr.data["total_cost"] == {"excl_vat": 0, "incl_vat": 0} and "tariffs" not in cdr.data
    assert cdr.data["total_energy"] == 2.345 and cdr.data["total_time"] == 0.25
    assert cdr.data["charging_periods"] == [
        {
            "start_date_time": ocpi_datetime(T0),
            "dimensions": [{"type": "ENERGY", "volume": 2.345}, {"type": "TIME", "volume": 0.25}],
        }
    ]


async def test_cdr_of_a_command_session(h: Harness) -> None:
    """A session started through OCPI keeps its SessionLink's token, COMMAND and reference in the CDR."""
    tx = await h.start("CP1", 1, id_token="APP1")
    token = {"country_code": "NL", "party_id": "EMS", "uid": "APP1", "type": "APP_USER", "contract_id": "C1"}
    await h.ocpi.save_session_link(
        SessionLink(
            session_id=str(tx.id),
            partner_id=h.partner.id,
            transaction_pk=tx.id,
            auth_method="COMMAND",
            authorization_reference="REF1",
            cdr_token=token,
        )
    )
    ended = await h.stop(tx, 2000)
    await cdrs.settle(h.ctx)
    cdr = await h.ocpi.get_cdr(str(ended.id))
    assert cdr is not None
    assert cdr.data["cdr_token"] == token
    assert (cdr.data["auth_method"], cdr.data["authorization_reference"]) == ("COMMAND", "REF1")


async def test_time_of_day_tariff_in_the_location_time_zone(h: Harness) -> None:
    """tariff_14 switches price at 17:00 Brussels time: a session 16:30–17:40 local has two periods and
    costs 30 min × €1.20 + 40 min (rounded up to 45 min by the 15 min step) × €2.40."""
    await h.add_tariff(example("tariff_14_step_size.json"))
    await h.spec("CP1", 1, tariff_ids=["22"])
    h.advance(2.5 * 3600)  # T0 is 12:00 UTC = 14:00 in Brussels (CEST): now 16:30 local
    tx = await h.start("CP1", 1, meter_start=0)
    h.advance(70 * 60)
    ended = await h.stop(tx, 7_000)
    await cdrs.settle(h.ctx)
    cdr = await h.ocpi.get_cdr(str(ended.id))
    assert cdr is not None
    assert_valid("CDR", cdr.data)
    periods = cdr.data["charging_periods"]
    assert [p["start_date_time"] for p in periods] == [
        ocpi_datetime(T0 + timedelta(hours=2.5)),
        ocpi_datetime(T0 + timedelta(hours=3)),
    ]
    assert cdr.data["total_time_cost"] == {"excl_vat": 2.4, "incl_vat": 2.4}
    assert cdr.data["total_cost"] == {"excl_vat": 2.4, "incl_vat": 2.4}


async def test_list_pages_through_cdrs(ocpi_store: OcpiStore, clock: FakeClock) -> None:
    """GET cdrs pages (limit 3) through every CDR, oldest first, each a valid CDR — on every OCPI store
    backend; date_from selects by creation."""
    async with harness(ocpi_store, clock) as h:
        await h.add_station("CP1")
        await h.add_location("LOC1", "CP1")
        await h.partner_token()
        ids = []
        for _ in range(4):
            tx = await h.start("CP1", 1, id_token=ROAMING_TOKEN)
            h.advance(60)
            await h.stop(tx, 2000)
            await cdrs.settle(h.ctx)
            ids.append(str(tx.id))
        items, pages = await h.get_all("cdrs")
        assert pages == 2 and [c["id"] for c in items] == ids
        for item in items:
            assert_valid("CDR", item)
        items, _ = await h.get_all("cdrs", date_from=ocpi_datetime(T0 + timedelta(seconds=180)))
        assert [c["id"] for c in items] == ids[2:]


# -- end to end: the real CSMS, a charge point simulator over a real socket, the OCPI routes over HTTP ------


@pytest.fixture
async def e2e_csms(tmp_path: Path) -> AsyncIterator[Csms]:
    """A real CSMS (free ports, SQLite in tmp_path), as tests/e2e runs it."""
    csms = await Csms.start(e2e_config(tmp_path))
    try:
        yield csms
    finally:
        await csms.stop()


@pytest.mark.parametrize("signed", [False, True], ids=["unsigned", "signed"])
@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
async def test_end_to_end_session_and_priced_cdr(e2e_csms: Csms, version: str, signed: bool) -> None:
    """A station runs a transaction on the real CSMS; over OCPI the partner sees the EVSE CHARGING, the
    session ACTIVE with its kWh and running cost, then COMPLETED, and the CDR priced by the connector's tariff
    (€0.50 + €0.25/kWh: 20 kWh → 5.50 / 6.10); with `signed` (OCMF start and end registers: 1.6 SignedData,
    2.0.1 signedMeterValue) the CDR carries them as signed_data, without it it has none."""
    csms = e2e_csms
    assert isinstance(csms.services.store, SqlStore)
    ocpi_store = SqlOcpiStore(csms.services.store.engine)
    ctx = OcpiContext(
        domain=csms.domain,
        store=ocpi_store,
        config=OcpiConfig(country_code="BE", party_id="CSM"),
        base_url=f"http://127.0.0.1:{csms.http_port}",
    )
    cdrs.install(ctx)
    partner = await ocpi_store.add_partner(
        Partner(
            id=0,
            name="eMSP",
            country_code="NL",
            party_id="EMS",
            status=PartnerStatus.REGISTERED,
            token_c_hash=hash_token(TOKEN_C),
            token_b="b",
        )
    )
    cp = f"E2E-{version}"
    await ocpi_store.save_location(
        Location(
            id="LOC-E2E",
            name="E2E",
            address="Main street 1",
            city="Gent",
            country="BEL",
            latitude="51.047599",
            longitude="3.729944",
            time_zone="Europe/Brussels",
            country_code="BE",
            party_id="CSM",
            charge_point_ids=[cp],
        )
    )
    await ocpi_store.save_tariff(Tariff(id="17", currency="EUR", data=example("tariff_9_025kwh_start.json")))
    await ocpi_store.save_connector_spec(ConnectorSpec(cp, 1, 1, tariff_ids=["17"]))
    await csms.services.store.add_id_token(IdToken("TAG-E2E"))
    # The partner's token too: its session and CDR are the partner's (a local token's are nobody's).
    await ocpi_store.save_partner_token(
        PartnerToken("NL", "EMS", "TAG-E2E", "RFID", "NL-EMS-E2E", "eMSP", True, "ALWAYS", {}, partner.id)
    )

    root = web.Application()
    root.add_subapp("/ocpi", create_app(ctx))
    sim = ChargePointSimulator(
        SimulatorConfig(
            charge_point_id=cp,
            url=f"ws://127.0.0.1:{csms.ocpp_port}/ocpp",
            ocpp_version=version,
            signed_meter_values=signed,
        )
    )
    since = ocpi_datetime(datetime.now(UTC) - timedelta(minutes=1))
    async with TestClient(TestServer(root), headers={"Authorization": encode_token(TOKEN_C)}) as client:

        async def get(path: str, **params: str) -> Any:
            await csms.services.writer.sync()  # statuses and meter values are batched
            resp = await client.get(f"/ocpi/2.2.1/{path}", params=params)
            body = await resp.json()
            assert resp.status == 200 and body["status_code"] == 1000, body
            return body["data"]

        try:
            await sim.connect()
            await sim.boot()
            await sim.send_status(1, "Available")
            await sim.plug_in(1)
            await sim.start_transaction(1, "TAG-E2E", meter_start_wh=1_000)
            await sim.send_meter_values(1, energy_wh=6_000)

            location = await get("locations/LOC-E2E")
            assert_valid("Location", location)
            assert [e["status"] for e in location["evses"]] == ["CHARGING"]
            (session,) = await get("sessions", date_from=since)
            assert_valid("Session", session)
            assert session["status"] == "ACTIVE" and session["kwh"] == 5
            assert session["evse_uid"] == location["evses"][0]["uid"] and session["location_id"] == "LOC-E2E"
            # 0.50 / 0.60 flat + 1.25 / 1.375 (→ 1.38) energy: to the cent, the total the sum of the parts
            assert session["total_cost"] == {"excl_vat": 1.75, "incl_vat": 1.98}
            assert session["cdr_token"]["uid"] == "TAG-E2E"

            await sim.stop_transaction(1, meter_stop_wh=21_000)
            await cdrs.settle(ctx)  # made in the background once the stop was answered
            (session,) = await get("sessions", date_from=since)
            assert session["status"] == "COMPLETED" and session["kwh"] == 20
            (cdr,) = await get("cdrs")
            assert_valid("CDR", cdr)
            assert cdr["id"] == session["id"] and cdr["session_id"] == session["id"]
            assert cdr["total_cost"] == {"excl_vat": 5.5, "incl_vat": 6.1}
            assert cdr["total_energy"] == 20 and cdr["tariffs"][0]["id"] == "17"
            assert cdr["cdr_location"]["evse_id"] == f"BE*CSM*E{cp.replace('-', '').replace('.', '')}*1"
            assert session["total_cost"] == cdr["total_cost"]
            if signed:
                assert_signed_ocmf(cdr["signed_data"], cp, [(1_000, "Start"), (21_000, "End")], version)
            else:
                assert "signed_data" not in cdr
        finally:
            await sim.close()


def assert_signed_ocmf(
    signed_data: dict[str, Any], meter: str, readings: list[tuple[int, str]], version: str
) -> None:
    """`signed_data` holds the simulator's OCMF `readings` (Wh, nature) in order, the data as it sent it."""
    assert signed_data["encoding_method"] == "OCMF"
    # 2.0.1 states a public key; 1.6 SignedData cannot.
    assert ("public_key" in signed_data) is (version == "2.0.1")
    values = signed_data["signed_values"]
    assert [(v["nature"], v["plain_data"]) for v in values] == [(n, f"{wh} Wh") for wh, n in readings]
    for value, (wh, _) in zip(values, readings, strict=True):
        text = base64.b64decode(value["signed_data"]).decode()
        prefix, payload, _signature = text.split("|")
        assert prefix == "OCMF"
        (reading,) = json.loads(payload)["RD"]
        assert json.loads(payload)["GS"] == meter and reading["RV"] == wh / 1000


# -- partner isolation ---------------------------------------------------------------------------------


async def test_each_partner_pulls_only_its_own_cdrs(ocpi_store: OcpiStore, clock: FakeClock) -> None:
    """Two eMSPs (NL/EMS, DE/OTH) each page (limit 3) through only the CDRs of their own tokens' sessions,
    X-Total-Count counting only those; a local token's CDR is in neither list — on every OCPI store
    backend."""
    other_token_c = "token-c-of-the-other-emsp"
    async with harness(ocpi_store, clock) as h:
        await h.add_station("CP1")
        await h.add_location("LOC1", "CP1")
        other = await h.add_partner(other_token_c, "DE", "OTH")
        await h.partner_token("EMS1")
        await h.partner_token("OTH1", other)
        mine: list[str] = []
        theirs: list[str] = []
        for n, uid in enumerate(["EMS1", "OTH1", "LOCAL", "EMS1", "OTH1", "EMS1", "EMS1"]):
            tx = await h.start("CP1", 1, id_token=uid)
            h.advance(60)
            await h.stop(tx, 2000 + n)
            await cdrs.settle(h.ctx)
            {"EMS1": mine, "OTH1": theirs}.get(uid, []).append(str(tx.id))
        _, total = await h.ocpi.list_cdrs()
        assert total == 7
        items, pages = await h.get_all("cdrs")
        assert [c["id"] for c in items] == mine and pages == 2
        assert {c["cdr_token"]["party_id"] for c in items} == {"EMS"}
        _, body, headers = await h.get("cdrs")
        assert headers["X-Total-Count"] == "4" and len(body["data"]) == 3
        items, pages = await h.get_all("cdrs", token=other_token_c)
        assert [c["id"] for c in items] == theirs and pages == 1
        _, _, headers = await h.get_as(other_token_c, "cdrs")
        assert headers["X-Total-Count"] == "2" and "Link" not in headers
