"""OCPI 2.2.1 locations page time over 50k published EVSEs, at the first and the last offset (issue 9).

``python -m bench.ocpi_pages`` (``--help`` for the options):

1. a SQLite database (migrated by the CSMS store) filled in bulk with ``--evses`` EVSEs: ``--evses`` /
   (``--per-location`` x ``--evses-per-station``) published locations, each with ``--per-location``
   charge points of ``--evses-per-station`` EVSEs; every EVSE has its CSMS connector row (Available, as
   after a StatusNotification), its operator ``ConnectorSpec`` and its OCPI EVSE uid (the uid a first
   listing creates), and one registered eMSP partner whose token C authenticates the requests;
2. the real CSMS (``bench.ocpp_roundtrip server``: SQLite, message log on) on that database, pinned to the
   first allowed core; this process (the client, aiohttp) pins itself to the second;
3. ``GET /ocpi/2.2.1/locations?offset=O&limit=N`` with ``Authorization: Token base64(token C)`` (N is
   ``--limit``, by default the server's ``max_page_limit`` of 100 locations), one after the other,
   ``--requests`` times at offset 0 and as many at the last offset (total - N), after one unmeasured
   request each; p50, p99 and max per offset; target p99 <= 200 ms at any offset.

Stations are not connected, so the EVSEs are UNKNOWN (the page is built the same way either way). Prints
the figures with their targets as a table and a ``RESULT {json}`` line. Loopback only; bounded in time (each
request times out after ``REQUEST_TIMEOUT`` s); the server is terminated in a ``finally``.
"""

from __future__ import annotations

import argparse
import secrets
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from bench import report
from bench.ocpp_roundtrip import (
    HOST,
    BenchError,
    ServerProcess,
    _cpus,
    _percentile,
    pin_to_cpu,
    run_loop,
    start_server,
)

NAME = "ocpi pages"
TARGET_P99_MS = 200.0
REQUEST_TIMEOUT = 60.0
CHUNK = 5000  # rows per executemany while filling the database


@dataclass(slots=True)
class OffsetTimes:
    """The measured requests at one offset."""

    offset: int
    requests: int
    locations: int  # locations in the last page
    evses: int  # EVSEs in the last page
    body_bytes: int
    p50_ms: float
    p99_ms: float
    max_ms: float


@dataclass(slots=True)
class PagesResult:
    """What one run measured."""

    evses: int
    locations: int
    limit: int
    fill_s: float
    total_header: int  # X-Total-Count the server reported
    offsets: list[OffsetTimes] = field(default_factory=list)


def _rows(args: argparse.Namespace, token: str) -> dict[str, list[dict[str, Any]]]:
    """Every row to insert, by table name."""
    from csms.domain.clock import utcnow
    from ocpi.transport import hash_token

    now = utcnow()
    per_station = args.evses_per_station
    per_location = args.per_location
    locations = args.evses // (per_location * per_station)
    rows: dict[str, list[dict[str, Any]]] = {
        "charge_points": [],
        "connectors": [],
        "ocpi_locations": [],
        "ocpi_location_charge_points": [],
        "ocpi_connector_specs": [],
        "ocpi_evse_uids": [],
    }
    for loc in range(locations):
        location_id = f"LOC{loc:06d}"
        rows["ocpi_locations"].append(
            {
                "id": location_id, "name": f"Bench site {loc}", "address": f"Benchstraat {loc}",
                "city": "Utrecht", "postal_code": "3511AA", "state": None, "country": "NLD",
                "latitude": "52.090737", "longitude": "5.121420", "time_zone": "Europe/Amsterdam",
                "country_code": "NL", "party_id": "CSM", "publish": True, "parking_type": None,
                "facilities": "[]", "opening_times": None, "operator": None, "charging_when_closed": None,
                "last_updated": now,
            }
        )  # fmt: skip
        for station in range(per_location):
            cp = f"OCPI{loc:06d}S{station:02d}"
            rows["charge_points"].append(
                {"charge_point_id": cp, "registration_status": "Accepted", "ocpp_version": "1.6",
                 "created_at": now, "updated_at": now}
            )  # fmt: skip
            rows["ocpi_location_charge_points"].append({"charge_point_id": cp, "location_id": location_id})
            for evse in range(1, per_station + 1):
                rows["connectors"].append(
                    {"charge_point_id": cp, "evse_id": evse, "connector_id": 1, "status": "Available",
                     "status_detail": "Available", "status_at": now}
                )  # fmt: skip
                rows["ocpi_connector_specs"].append(
                    {"charge_point_id": cp, "evse_id": evse, "connector_id": 1, "standard": "IEC_62196_T2",
                     "format": "SOCKET", "power_type": "AC_3_PHASE", "max_voltage": 230, "max_amperage": 32,
                     "max_electric_power": 22000, "tariff_ids": "[]", "last_updated": now}
                )  # fmt: skip
                rows["ocpi_evse_uids"].append(
                    {"uid": str(uuid.uuid4()), "charge_point_id": cp, "evse_id": evse}
                )
    rows["ocpi_partners"] = [
        {
            "name": "Bench eMSP", "country_code": "NL", "party_id": "EMS", "status": "registered",
            "role": "EMSP", "token_a_hash": None, "token_c_hash": hash_token(token), "token_b": "bench-b",
            "versions_url": None, "version": "2.2.1", "endpoints": "{}", "roles": "[]",
            "created_at": now, "updated_at": now,
        }
    ]  # fmt: skip
    return rows


async def fill_database(db: Path, args: argparse.Namespace, token: str) -> int:
    """Create and migrate SQLite file `db` and insert the locations, stations, EVSEs and partner in bulk;
    returns the number of locations."""
    import ocpi.store.tables  # noqa: F401  (declares the OCPI tables on the CSMS metadata)
    from csms.config import DatabaseConfig
    from csms.store.sql import open_store
    from csms.store.tables import Base

    rows = _rows(args, token)
    store = await open_store(DatabaseConfig(url=f"sqlite+aiosqlite:///{db}"))
    try:
        async with store.engine.begin() as conn:
            for table, values in rows.items():
                for start in range(0, len(values), CHUNK):
                    await conn.execute(Base.metadata.tables[table].insert(), values[start : start + CHUNK])
    finally:
        await store.close()
    return len(rows["ocpi_locations"])


def _http_port(server: ServerProcess) -> int:
    """The REST/OCPI port from the server's READY line (after `wait_ready`)."""
    for line in server.stdout.read_text().splitlines():
        if line.startswith("READY "):
            return int(dict(f.split("=", 1) for f in line.split()[1:])["http"])
    raise BenchError("no READY line")


async def time_pages(
    base: str, token: str, offsets: list[int], limit: int, requests: int
) -> list[OffsetTimes]:
    """`requests` timed GETs (after one untimed one) of the locations page at each offset, one at a time."""
    from ocpi.transport import encode_token

    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)
    headers = {"Authorization": encode_token(token)}
    results: list[OffsetTimes] = []
    async with aiohttp.ClientSession(headers=headers, timeout=timeout) as session:
        for offset in offsets:
            url = f"{base}/ocpi/2.2.1/locations?offset={offset}&limit={limit}"
            times: list[float] = []
            body: dict[str, Any] = {}
            size = 0
            for i in range(requests + 1):
                started = time.perf_counter()
                async with session.get(url) as response:
                    raw = await response.read()
                    if response.status != 200:
                        raise BenchError(f"GET {url}: HTTP {response.status} {raw[:200]!r}")
                elapsed = time.perf_counter() - started
                if i:
                    times.append(elapsed)
                else:
                    body, size = orjson.loads(raw), len(raw)
                    if body.get("status_code") != 1000:
                        raise BenchError(f"GET {url}: {str(body)[:200]}")
            times.sort()
            data = body.get("data") or []
            results.append(
                OffsetTimes(
                    offset=offset,
                    requests=len(times),
                    locations=len(data),
                    evses=sum(len(loc.get("evses", [])) for loc in data),
                    body_bytes=size,
                    p50_ms=_percentile(times, 0.50),
                    p99_ms=_percentile(times, 0.99),
                    max_ms=times[-1] * 1000.0,
                )
            )
            print(
                f"offset {offset}: {results[-1].locations} locations, {results[-1].evses} EVSEs,"
                f" p50 {results[-1].p50_ms:.0f} ms, p99 {results[-1].p99_ms:.0f} ms",
                flush=True,
            )
    return results


async def _total(base: str, token: str) -> int:
    """X-Total-Count of the locations list."""
    from ocpi.transport import encode_token

    headers = {"Authorization": encode_token(token)}
    async with (
        aiohttp.ClientSession(headers=headers, timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)) as s,
        s.get(f"{base}/ocpi/2.2.1/locations?offset=0&limit=1") as response,
    ):
        return int(response.headers.get("X-Total-Count", "0"))


def run(args: argparse.Namespace) -> PagesResult:
    """Fill, start the server on one core, time from the other; the server is always stopped."""
    server_cpu, load_cpu = _cpus(args.server_cpu, args.load_cpu)
    token = secrets.token_urlsafe(32)
    with tempfile.TemporaryDirectory(prefix="bench-ocpi-") as tmp:
        workdir = Path(tmp)
        db = workdir / "csms.sqlite3"
        started = time.perf_counter()
        locations = run_loop(fill_database(db, args, token), use_uvloop=False)
        fill_s = time.perf_counter() - started
        print(f"filled {args.evses} EVSEs in {locations} locations in {fill_s:.1f} s", flush=True)
        pin = ["--cpu", str(server_cpu)] if server_cpu is not None else []
        server = start_server("csms", "server", ["server", "--port", "0", "--db", str(db), *pin], workdir)
        try:
            server.wait_ready()
            base = f"http://{HOST}:{_http_port(server)}"
            pin_to_cpu(load_cpu)
            total = run_loop(_total(base, token), use_uvloop=False)
            offsets = [0, max(0, total - args.limit)]
            times = run_loop(time_pages(base, token, offsets, args.limit, args.requests), use_uvloop=False)
        finally:
            server.terminate()
    return PagesResult(args.evses, locations, args.limit, fill_s, total, times)


def figures(result: PagesResult) -> list[report.Figure]:
    """The figures with their targets."""
    n = NAME
    out = [report.info(n, "published EVSEs", result.evses, f"in {result.locations:,} locations")]
    for t in result.offsets:
        where = "first" if t.offset == 0 else "last"
        label = f"page at the {where} offset ({t.offset}, {t.locations} locations, {t.evses} EVSEs)"
        out.append(report.info(n, f"{label} p50", t.p50_ms, "ms", 1))
        out.append(report.at_most(n, f"{label} p99", t.p99_ms, "ms", TARGET_P99_MS, 1))
    return out


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.ocpi_pages", description=__doc__.split("\n")[0])
    parser.add_argument("--evses", type=int, default=50_000)
    parser.add_argument("--per-location", type=int, default=5, help="charge points per location")
    parser.add_argument("--evses-per-station", type=int, default=2)
    parser.add_argument("--limit", type=int, default=100, help="page size (the server caps it at 100)")
    parser.add_argument("--requests", type=int, default=30, help="timed requests per offset")
    report.add_cpu_options(parser, load=False)
    return parser


def _title(result: PagesResult) -> str:
    return (
        f"OCPI locations pages: {result.evses:,} EVSEs in {result.locations:,} locations,"
        f" limit {result.limit}, {result.offsets[0].requests if result.offsets else 0} requests per offset,"
        " SQLite"
    )


def main(argv: list[str] | None = None) -> int:
    return report.main(build_parser().parse_args(argv), run, _title, figures)


if __name__ == "__main__":
    sys.exit(main())
