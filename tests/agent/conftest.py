"""The Agent API's fixtures: a fake CPO network (`FakeNetwork`), a migrated agent store on SQLite and
PostgreSQL, and a settable clock."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from csms.config import DatabaseConfig
from csms.store.migrate import migrate
from csms.store.sql.engine import make_engine
from ocpi.agent.store import SqlAgentStore
from ocpi.emsp.network import (
    CachedLocations,
    CdrReceived,
    CommandResponse,
    CommandResult,
    Cpo,
    CpoUnavailable,
    NetworkListener,
    SentCommand,
    SessionUpdate,
)
from tests.store.conftest import pg_engine  # noqa: F401 - the PostgreSQL engine fixture

T0 = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)

TARIFF = {
    "country_code": "DE",
    "party_id": "CPA",
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
    "last_updated": "2026-12-01T00:00:00Z",
}


def location(
    location_id: str, lat: str, lon: str, *evse_uids: str, reservable: bool = True
) -> dict[str, Any]:
    """An OCPI Location with one 22 kW Type 2 connector per EVSE, priced with TARIFF."""
    capabilities = (
        ["RESERVABLE", "REMOTE_START_STOP_CAPABLE"] if reservable else ["REMOTE_START_STOP_CAPABLE"]
    )
    return {
        "id": location_id,
        "name": f"Site {location_id}",
        "address": "Street 1",
        "city": "Town",
        "country": "DEU",
        "time_zone": "Europe/Berlin",
        "coordinates": {"latitude": lat, "longitude": lon},
        "evses": [
            {
                "uid": uid,
                "evse_id": f"DE*CPA*E{uid}",
                "status": "AVAILABLE",
                "capabilities": capabilities,
                "connectors": [
                    {
                        "id": "1",
                        "standard": "IEC_62196_T2",
                        "format": "SOCKET",
                        "power_type": "AC_3_PHASE",
                        "max_voltage": 230,
                        "max_amperage": 32,
                        "max_electric_power": 22000,
                        "tariff_ids": ["STD"],
                    }
                ],
            }
            for uid in evse_uids
        ],
    }


class Clock:
    """A clock tests move."""

    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@dataclass
class FakeCpo:
    cpo: Cpo
    locations: list[dict[str, Any]]
    tariffs: dict[str, dict[str, Any]] = field(default_factory=lambda: {"STD": TARIFF})
    fail: str | None = None  # CpoUnavailable with this message
    stale: str | None = None  # a refresh failed with this message; the cached copy is answered
    slow: asyncio.Event | None = None  # locations() waits for this
    answer: CommandResponse = CommandResponse.ACCEPTED
    hold: asyncio.Event | None = None  # send_command records the command, then waits for this
    holding: asyncio.Event = field(default_factory=asyncio.Event)  # set once a command waits for `hold`


class FakeNetwork:
    """A `CpoNetwork` of FakeCpos: commands are recorded and answered `answer`; tests push events."""

    def __init__(self, *cpos: FakeCpo) -> None:
        self.cpos_by_id = {c.cpo.id: c for c in cpos}
        self.tokens = {"DRIVER1": {"uid": "DRIVER1", "type": "RFID", "contract_id": "DE-EMS-C1"}}
        self.sent: list[tuple[int, str, dict[str, Any], str]] = []
        self.listeners: list[NetworkListener] = []

    async def cpos(self) -> list[Cpo]:
        return [c.cpo for c in self.cpos_by_id.values()]

    async def locations(self, cpo_id: int, *, max_age: timedelta) -> CachedLocations:
        fake = self.cpos_by_id[cpo_id]
        if fake.slow is not None:
            await fake.slow.wait()
        if fake.fail is not None:
            raise CpoUnavailable(cpo_id, fake.fail)
        return CachedLocations(fake.cpo, fake.locations, fake.tariffs, T0, fake.stale)

    async def token(self, uid: str) -> dict[str, Any] | None:
        return self.tokens.get(uid)

    async def send_command(self, cpo_id: int, command: str, body: dict[str, Any]) -> SentCommand:
        command_id = f"cmd-{len(self.sent) + 1}"
        self.sent.append((cpo_id, command, body, command_id))
        fake = self.cpos_by_id[cpo_id]
        if fake.hold is not None:
            fake.holding.set()
            await fake.hold.wait()
        return SentCommand(command_id, cpo_id, command, fake.answer)

    def subscribe(self, listener: NetworkListener) -> None:
        self.listeners.append(listener)

    async def result(self, command_id: str, result: str, message: str | None = None) -> None:
        cpo_id, command = next((s[0], s[1]) for s in self.sent if s[3] == command_id)
        for listener in self.listeners:
            assert listener.command_result is not None
            await listener.command_result(CommandResult(command_id, cpo_id, command, result, message))

    async def session(self, cpo_id: int, session: dict[str, Any]) -> None:
        for listener in self.listeners:
            assert listener.session is not None
            await listener.session(SessionUpdate(cpo_id, session))

    async def cdr(self, cpo_id: int, cdr: dict[str, Any]) -> None:
        for listener in self.listeners:
            assert listener.cdr is not None
            await listener.cdr(CdrReceived(cpo_id, cdr))


def two_cpos() -> FakeNetwork:
    """CPA (id 1) with a location ~1.1 km north of (52.0, 5.0) and CPB (id 2) with one ~3.3 km east."""
    cpa = Cpo(1, "Alpha Charging", "DE", "CPA", True, True, cancellation_fee="2.50")
    cpb = Cpo(2, "Beta Laden", "DE", "CPB", True, True)
    return FakeNetwork(
        FakeCpo(cpa, [location("A1", "52.0100000", "5.0000000", "A1-1", "A1-2")]),
        FakeCpo(
            cpb, [location("B1", "52.0000000", "5.0490000", "B1-1"), location("B9", "53.0", "5.0", "B9-1")]
        ),
    )


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(params=["sqlite", "postgresql"])
def agent_backend(request: pytest.FixtureRequest) -> str:
    """The SQL backend under test (PostgreSQL's engine is set up here, in a sync fixture)."""
    name: str = request.param
    if name == "postgresql":
        request.getfixturevalue("pg_engine")
    return name


@pytest.fixture
async def agent_store(
    request: pytest.FixtureRequest, agent_backend: str, tmp_path: Path, clock: Clock
) -> AsyncIterator[SqlAgentStore]:
    """A migrated agent store on each SQL backend."""
    if agent_backend == "postgresql":
        engine: AsyncEngine = request.getfixturevalue("pg_engine")
    else:
        engine = make_engine(DatabaseConfig(url=f"sqlite+aiosqlite:///{tmp_path / 'agent.db'}"))
    await migrate(engine)
    yield SqlAgentStore(engine, clock=clock)
    if agent_backend == "sqlite":
        await engine.dispose()
