"""A roaming network of real processes for end-to-end tests (issue 13): CPO instances of our CSMS, each a
`python -m csms run` child process on its own SQLite database with its own OCPI party, a priced location and
simulated stations (OCPP 1.6 and 2.0.1) connected over real websockets; and the driver who arrives at a
station, presents a token and charges.

    async with AsyncExitStack() as stack:
        cpa = await start_cpo(stack, tmp_path, CpoSpec("Alpha Charging", "DE", "CPA", lat="52.0", lon="5.1"))
        token_a = await cpa.add_partner("eMSP", "DE", "EMS")   # an eMSP registers with cpa.versions_url
        station = cpa.stations[0]                              # 1.6; cpa.stations[1] is 2.0.1
        await driver_arrives(station, "DRIVER1")               # plug in, Authorize, start the transaction
        await driver_leaves(station, meter_stop_wh=12_000)     # stop, unplug

Every process and session is closed by the exit stack, in reverse order. Processes log JSON lines on stderr,
kept in `CsmsProcess.node.log` for diagnosis. Nothing here sleeps for a time: every wait is for a condition,
bounded by `WAIT` (generous: the machine is shared).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp

from ocpi.locations import emi3_evse_id
from simulators.chargepoint import ChargePointSimulator, SimulatorConfig
from tests.e2e.conftest import location_body
from tests.e2e.test_multinode import Node, start_node
from tests.utils import MS

WAIT = 60_000 * MS

#: A FLAT + ENERGY tariff (EUR, excl. VAT 0.50 per session and 0.30 per kWh), what every CPO charges unless
#: its spec names another one.
DEFAULT_TARIFF: dict[str, Any] = {
    "id": "STD",
    "currency": "EUR",
    "elements": [
        {
            "price_components": [
                {"type": "FLAT", "price": "0.50", "vat": "19", "step_size": 1},
                {"type": "ENERGY", "price": "0.30", "vat": "19", "step_size": 1},
            ]
        }
    ],
}

#: What every process of the network runs with: fast batches, cheap bcrypt, pushes retried soon.
BASE_ENV = {
    "CSMS_DATABASE_BATCH_INTERVAL_MS": "20",
    "CSMS_SECURITY_BCRYPT_ROUNDS": "4",
    "CSMS_OCPI_PUSH_RETRY_SECONDS": "0.2",
    "CSMS_RATE_LIMIT_REQUESTS_PER_MINUTE": "100000",  # the operator API's limit: tests poll it
}


@dataclass(frozen=True)
class StationSpec:
    """One simulated station of a CPO: its id, OCPP version and `SimulatorConfig` overrides (e.g.
    `silent={"ReserveNow"}` for a station that never answers a reservation)."""

    charge_point_id: str
    ocpp_version: str
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CpoSpec:
    """A CPO of the network: its business name, OCPI party, the one location it publishes (id and
    coordinates as decimal text) and its stations (default: `{party_id}16` on OCPP 1.6 and `{party_id}201`
    on 2.0.1), the tariff every connector carries and extra CSMS_* settings of its process."""

    name: str
    country_code: str
    party_id: str
    lat: str
    lon: str
    location_id: str = ""  # default: LOC-{party_id}
    stations: tuple[StationSpec, ...] = ()
    tariff: dict[str, Any] = field(default_factory=lambda: dict(DEFAULT_TARIFF))
    env: dict[str, str] = field(default_factory=dict)

    def station_specs(self) -> tuple[StationSpec, ...]:
        """The stations, or the default pair (one 1.6, one 2.0.1)."""
        return self.stations or (
            StationSpec(f"{self.party_id}16", "1.6"),
            StationSpec(f"{self.party_id}201", "2.0.1"),
        )


@dataclass
class Station:
    """A connected simulated station and the EVSE / connector drivers use (1.6: connector 1; 2.0.1: EVSE 1
    with connector 1; the simulator numbers both by `connector`). `evse_id` is the eMI3 id its CPO
    publishes over OCPI for that EVSE."""

    sim: ChargePointSimulator
    charge_point_id: str
    ocpp_version: str
    evse_id: str
    connector: int = 1


@dataclass
class CsmsProcess:
    """One `csms run` child process: its home directory (config file, SQLite database), its CSMS_*
    environment, its ports (`node.http`, `node.ocpp`) and, once made, an admin API key and a REST session."""

    name: str
    home: Path
    env: dict[str, str]
    node: Node
    key: str = ""
    http: aiohttp.ClientSession | None = None

    @property
    def base_url(self) -> str:
        """Its HTTP base URL (REST under /api/v1, OCPI under /ocpi)."""
        return self.node.http

    @property
    def running(self) -> bool:
        """The process has not exited."""
        return self.node.proc.returncode is None

    async def cli(self, *args: str) -> str:
        """`csms ARGS` on this instance's database and settings; its stdout (fails the test on exit != 0)."""
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "csms", "--config", str(self.home / "empty.toml"), *args,
            env={**os.environ, **self.env}, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, err = await asyncio.wait_for(proc.communicate(), WAIT)
        assert proc.returncode == 0, f"csms {' '.join(args)}: {err.decode()}"
        return out.decode()

    async def api(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        """Call the operator REST API (`/api/v1{path}`) with the admin key; (status, JSON body or None)."""
        assert self.http is not None, "no API key made yet (start_process(..., api_key=True))"
        async with self.http.request(method, f"{self.base_url}/api/v1{path}", json=body) as resp:
            try:
                return resp.status, await resp.json(content_type=None)
            except ValueError:
                return resp.status, None

    async def stop(self) -> None:
        """SIGTERM and wait (killed after a grace period); idempotent."""
        await self.node.stop()


async def start_process(
    stack: AsyncExitStack, tmp_path: Path, name: str, env: dict[str, str], *, api_key: bool = True
) -> CsmsProcess:
    """Start `csms run` in `tmp_path/name` (own SQLite database, free ports) with BASE_ENV + `env`; with
    `api_key`, also create an admin key (`csms apikey create`) and a REST session using it. The exit stack
    stops the process (SIGTERM) and closes the session."""
    home = tmp_path / name
    full_env = {
        **BASE_ENV,
        "CSMS_DATABASE_URL": f"sqlite+aiosqlite:///{home / 'csms.db'}",
        "CSMS_OCPP_PORT": "0",
        "CSMS_HTTP_PORT": "0",
        **env,
    }
    node = await start_node(tmp_path, name, full_env)
    process = CsmsProcess(name, home, full_env, node)
    stack.push_async_callback(process.stop)
    if api_key:
        process.key = (await process.cli("apikey", "create", "--name", f"{name}-admin")).strip()
        process.http = aiohttp.ClientSession(headers={"Authorization": f"Bearer {process.key}"})
        stack.push_async_callback(process.http.close)
    return process


@dataclass
class Cpo:
    """A running CPO of the network (see `start_cpo`)."""

    spec: CpoSpec
    process: CsmsProcess
    stations: list[Station]
    location_id: str

    @property
    def versions_url(self) -> str:
        """Its OCPI versions endpoint (what an eMSP registers with, with a token A from `add_partner`)."""
        return f"{self.process.base_url}/ocpi/versions"

    def station(self, ocpp_version: str) -> Station:
        """Its (first) station speaking `ocpp_version`."""
        return next(s for s in self.stations if s.ocpp_version == ocpp_version)

    async def add_partner(self, name: str, country_code: str, party_id: str) -> str:
        """`csms ocpi partner add ... --json`: an eMSP partner of this CPO; returns its token A."""
        out = await self.process.cli(
            "ocpi", "partner", "add", "--name", name, "--country-code", country_code, "--party-id", party_id,
            "--json",
        )  # fmt: skip
        token_a: str = json.loads(out)["token_a"]
        return token_a

    async def stop(self) -> None:
        """Stop its process (SIGTERM); its stations lose their connection."""
        await self.process.stop()


async def start_cpo(stack: AsyncExitStack, tmp_path: Path, spec: CpoSpec) -> Cpo:
    """Start a CPO instance and set it up as an operator would, over its CLI and REST API:

    its process with `[ocpi] country_code / party_id / business_name` = the spec's; an admin key; the spec's
    stations registered (`csms chargepoint add`), connected as simulators (booted Accepted, every connector
    Available); the tariff (`POST /api/v1/tariffs`); the published location with the spec's coordinates and
    both stations; every connector's spec naming the tariff (so OCPI connectors carry `tariff_ids`).

    The exit stack closes the simulators and stops the process."""
    env = {
        "CSMS_OCPI_COUNTRY_CODE": spec.country_code,
        "CSMS_OCPI_PARTY_ID": spec.party_id,
        "CSMS_OCPI_BUSINESS_NAME": spec.name,
        **spec.env,
    }
    process = await start_process(stack, tmp_path, f"cpo-{spec.party_id.lower()}", env)
    station_specs = spec.station_specs()
    for station_spec in station_specs:
        await process.cli("chargepoint", "add", station_spec.charge_point_id)
    stations: list[Station] = []
    for station_spec in station_specs:
        config = SimulatorConfig(
            station_spec.charge_point_id, url=process.node.ocpp, ocpp_version=station_spec.ocpp_version,
            call_timeout=WAIT, **station_spec.options,
        )  # fmt: skip
        sim = ChargePointSimulator(config)
        stack.push_async_callback(sim.close)
        await sim.connect()
        boot = await sim.boot()
        assert boot["status"] == "Accepted", boot
        await sim.send_status(1, "Available")
        evse_id = emi3_evse_id(spec.country_code, spec.party_id, station_spec.charge_point_id, 1)
        stations.append(Station(sim, station_spec.charge_point_id, station_spec.ocpp_version, evse_id))
    status, body = await process.api("POST", "/tariffs", spec.tariff)
    assert status == 201, body
    location_id = spec.location_id or f"LOC-{spec.party_id}"
    location = location_body(
        location_id, *(s.charge_point_id for s in stations), name=f"{spec.name} {location_id}",
        coordinates={"latitude": spec.lat, "longitude": spec.lon}, parking_type="PARKING_LOT",
    )  # fmt: skip
    status, body = await process.api("POST", "/locations", location)
    assert status == 201, body
    connector_spec = {
        "standard": "IEC_62196_T2", "format": "SOCKET", "power_type": "AC_3_PHASE", "max_voltage": 230,
        "max_amperage": 32, "tariff_ids": [spec.tariff["id"]],
    }  # fmt: skip
    for station in stations:
        path = f"/charge-points/{station.charge_point_id}/connectors/1/{station.connector}/spec"
        status, body = await process.api("PUT", path, connector_spec)
        assert status == 200, body
    return Cpo(spec, process, stations, location_id)


class DriverRefused(AssertionError):
    """The station's CSMS did not accept the driver's token (`info` is its idTagInfo / idTokenInfo)."""

    def __init__(self, id_token: str, info: dict[str, Any]) -> None:
        super().__init__(f"token {id_token} refused: {info}")
        self.info = info


async def driver_arrives(
    station: Station,
    id_token: str,
    *,
    id_token_type: str = "ISO14443",
    meter_start_wh: int = 0,
) -> str:
    """The driver arrives: plugs in at the station's connector and presents `id_token` (Authorize), and
    the station starts a transaction (1.6 StartTransaction, 2.0.1 TransactionEvent Started). A reservation
    the station holds for this token (or its group) on that connector is used: the start carries its
    reservationId.

    Returns:
        The transaction id (1.6: the CSMS's; 2.0.1: the station's UUID).

    Raises:
        DriverRefused: Authorize was not answered Accepted (the cable is unplugged again first).
    """
    sim = station.sim
    await sim.plug_in(station.connector)
    info = await sim.authorize(id_token, id_token_type=id_token_type)
    if info.get("status") != "Accepted":
        await sim.unplug(station.connector)
        raise DriverRefused(id_token, info)
    return await sim.start_transaction(
        station.connector, id_token, id_token_type=id_token_type, meter_start_wh=meter_start_wh
    )


async def driver_charges(station: Station, energy_wh: int) -> None:
    """A meter sample during the transaction: the register reads `energy_wh` now."""
    await station.sim.send_meter_values(station.connector, energy_wh=energy_wh)


async def driver_leaves(station: Station, *, meter_stop_wh: int) -> None:
    """The driver ends the transaction at the station (reason Local, register `meter_stop_wh`) and unplugs."""
    await station.sim.stop_transaction(station.connector, meter_stop_wh=meter_stop_wh)
    await station.sim.unplug(station.connector)


def tariff_total(tariff: dict[str, Any], energy_wh: int) -> Decimal:
    """What a FLAT + ENERGY tariff such as DEFAULT_TARIFF charges for `energy_wh`, excl. VAT (for checks)."""
    total = Decimal(0)
    for element in tariff["elements"]:
        for component in element["price_components"]:
            if component["type"] == "FLAT":
                total += Decimal(component["price"])
            elif component["type"] == "ENERGY":
                total += Decimal(component["price"]) * Decimal(energy_wh) / 1000
    return total


async def until(check: Any, what: str) -> Any:
    """Re-run the async `check` until it returns something truthy (returned), failing after WAIT with
    `what` (a description of the condition) in the message."""
    last: Any = None
    try:
        async with asyncio.timeout(WAIT):
            while True:
                last = await check()
                if last:
                    return last
                await asyncio.sleep(50 * MS)  # pacing the polls of another process's state
    except TimeoutError:
        raise AssertionError(f"not within {WAIT:.0f} s: {what} (last: {last!r})") from None


@dataclass
class Emsp:
    """A running eMSP instance of our CSMS (`[emsp] enabled`, see `start_emsp`)."""

    country_code: str
    party_id: str
    process: CsmsProcess

    @property
    def base_url(self) -> str:
        """Its HTTP base URL: the Agent API is under /agent/v1, its eMSP OCPI server under /emsp/ocpi."""
        return self.process.base_url

    async def add_cpo(self, cpo: Cpo, name: str = "Agent eMSP") -> str:
        """Register with `cpo` as an operator would: the CPO's operator issues a token A for us (`csms ocpi
        partner add`), ours runs `csms emsp cpo add --versions-url URL --token-a TOKEN`; its stdout."""
        token_a = await cpo.add_partner(name, self.country_code, self.party_id)
        return await self.process.cli(
            "emsp", "cpo", "add", "--versions-url", cpo.versions_url, f"--token-a={token_a}"
        )

    async def add_client(self, name: str, *options: str) -> str:
        """`csms agent client add --name NAME OPTIONS...`: a client application's account; its key."""
        return (await self.process.cli("agent", "client", "add", "--name", name, *options)).strip()

    async def add_driver_token(self, uid: str) -> None:
        """`csms token add UID`: one of our drivers' tokens (the Tokens sender serves it to every CPO)."""
        await self.process.cli("token", "add", uid)


async def start_emsp(
    stack: AsyncExitStack, tmp_path: Path, country_code: str, party_id: str, env: dict[str, str] | None = None
) -> Emsp:
    """Start an eMSP instance: `csms run` with `[emsp] enabled` and the given party (CSMS_EMSP_*) plus
    `env`, and an admin key. The exit stack stops it."""
    full_env = {
        "CSMS_EMSP_ENABLED": "true",
        "CSMS_EMSP_COUNTRY_CODE": country_code,
        "CSMS_EMSP_PARTY_ID": party_id,
        **(env or {}),
    }
    process = await start_process(stack, tmp_path, f"emsp-{party_id.lower()}", full_env)
    return Emsp(country_code, party_id, process)
