"""Fixtures for API tests: services and domain on an in-memory store with a fixed clock, API keys, an HTTP
client whose every response is checked against the OpenAPI document."""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from csms.api import create_app
from csms.config import CertificatesConfig, Config, DatabaseConfig, EmspConfig, FilesConfig, SecurityConfig
from csms.domain.commands import Command, CommandResult, Outcome
from csms.domain.core import Domain
from csms.domain.models import ChargePoint
from csms.domain.registry import LiveConnection
from csms.domain.secrets import hash_secret, new_api_key
from csms.domain.services import Services
from csms.domain.tenancy import DEFAULT_ORG_ID
from csms.store.sql.engine import make_engine
from csms.store.writer import BatchedWriter
from ocpi import admin_api
from ocpi.admin_api import emsp_scope
from ocpi.agent.store import SqlAgentStore
from ocpi.emsp.role import EmspRole
from ocpi.emsp.store import MemoryEmspStore
from ocpi.store.agent_tables import AgentClientRow
from tests.api.openapi_check import OpenApiChecker
from tests.fakes.memory_store import MemoryStore

NOW = datetime(2025, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
NOW_TEXT = "2025-01-02T03:04:05.678Z"

ApiClient = TestClient[web.Request, web.Application]
KeyFactory = Callable[[str], Awaitable[str]]


@pytest.fixture
def config(tmp_path: Path) -> Config:
    """Defaults, except a cheap bcrypt cost so hashing passwords does not slow the tests, and the test's
    own files directory (firmware and logs) and CA files."""
    return Config(
        security=SecurityConfig(bcrypt_rounds=4),
        files=FilesConfig(dir=str(tmp_path / "files")),
        certificates=CertificatesConfig(
            ca_cert_file=str(tmp_path / "ca" / "ca.pem"), ca_key_file=str(tmp_path / "ca" / "ca.key")
        ),
    )


@pytest.fixture
async def store() -> AsyncIterator[MemoryStore]:
    """An empty in-memory store."""
    store = MemoryStore()
    yield store
    await store.close()


@pytest.fixture
async def writer(store: MemoryStore) -> AsyncIterator[BatchedWriter]:
    """A started batched writer on `store` with a long interval, so only `sync()` flushes during a test."""
    writer = BatchedWriter(store, max_items=10_000, interval=60.0)
    await writer.start()
    yield writer
    await writer.stop()


@pytest.fixture
def services(config: Config, store: MemoryStore, writer: BatchedWriter) -> Services:
    """Services on the in-memory store with the fixed clock `NOW`."""
    return Services(config=config, store=store, writer=writer, clock=lambda: NOW)


@pytest.fixture
def domain(services: Services) -> Domain:
    """The domain services on `services` (no background tasks started)."""
    return Domain(services)


@pytest.fixture
async def client(domain: Domain) -> AsyncIterator[ApiClient]:
    """An HTTP client talking to `create_app(domain)` served on a free loopback port; every response it
    receives is validated against the OpenAPI document (a mismatch fails the test)."""
    app = create_app(domain, extra_routes=admin_api.ROUTES)  # as the server serves it; no OCPI store
    failures: list[str] = []
    app.middlewares.append(OpenApiChecker.shared().middleware(failures))
    async with TestClient(TestServer(app)) as client:
        yield client
    assert not failures, "responses that do not match the OpenAPI document:\n" + "\n".join(failures)


@pytest.fixture
def make_api_key(store: MemoryStore) -> KeyFactory:
    """A factory storing a new API key with the given role and returning the key text."""

    async def make(role: str) -> str:
        key, prefix = new_api_key()
        await store.add_api_key(f"test-{role}", prefix, hash_secret(key, rounds=4), role)
        return key

    return make


@pytest.fixture
async def api_key(make_api_key: KeyFactory) -> str:
    """An admin API key."""
    return await make_api_key("admin")


@pytest.fixture
def auth(api_key: str) -> dict[str, str]:
    """Request headers authenticating with the admin `api_key`."""
    return {"Authorization": f"Bearer {api_key}"}


async def error_of(response: Any, status: int) -> dict[str, Any]:
    """Assert `response` has `status` and the JSON error shape; return its `error` object."""
    assert response.status == status, await response.text()
    assert response.content_type == "application/json"
    body = await response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    return body["error"]  # type: ignore[no-any-return]


class ScriptedStation:
    """A connected charge point seen from the domain: its registry entry answers each command from a script.

    The OCPP adapters and sockets are covered end to end (`tests/e2e`); here the API's mapping of every
    command outcome (answered, offline, timeout, CALLERROR, ...) to HTTP is what is under test.
    """

    def __init__(self, services: Services, charge_point_id: str, ocpp_version: str) -> None:
        self.charge_point_id = charge_point_id
        self.commands: list[Command] = []
        self._script: deque[CommandResult] = deque()
        self.connection = LiveConnection(charge_point_id, ocpp_version, NOW, execute=self.execute)
        self._registry = services.registry
        self._registry.register(self.connection)

    def answer(self, *results: CommandResult | str) -> None:
        """Queue answers: a `CommandResult`, or a status word meaning ANSWERED with that status."""
        for result in results:
            if isinstance(result, str):
                result = CommandResult(Outcome.ANSWERED, status=result)
            self._script.append(result)

    async def execute(self, command: Command) -> CommandResult:
        """Record `command`; answer with the next scripted result, else `Accepted`."""
        self.commands.append(command)
        if self._script:
            return self._script.popleft()
        return CommandResult(Outcome.ANSWERED, status="Accepted")

    def disconnect(self) -> None:
        """Remove the live connection (the charge point is offline from now on)."""
        self._registry.unregister(self.connection)


StationFactory = Callable[..., Awaitable[ScriptedStation]]


@pytest.fixture
def connect_station(services: Services, store: MemoryStore) -> StationFactory:
    """A factory registering a charge point (if new) and connecting a `ScriptedStation` for it."""

    async def connect(charge_point_id: str = "CP-1", ocpp_version: str = "2.0.1") -> ScriptedStation:
        if await store.get_charge_point(charge_point_id) is None:
            await store.add_charge_point(ChargePoint(charge_point_id, created_at=NOW, updated_at=NOW))
        return ScriptedStation(services, charge_point_id, ocpp_version)

    return connect


@pytest.fixture
async def role_headers(make_api_key: KeyFactory) -> dict[str, dict[str, str]]:
    """Authorization headers by role: `viewer`, `member`, `admin`."""
    return {
        role: {"Authorization": f"Bearer {await make_api_key(role)}"}
        for role in ("viewer", "member", "admin")
    }


def timeout_result() -> CommandResult:
    """What the command service returns when the station did not answer in time."""
    return CommandResult(Outcome.TIMEOUT, description="no answer within 30 s")


def call_error_result(code: str = "InternalError", description: str = "boom") -> CommandResult:
    """What the command service returns for a CALLERROR answer."""
    return CommandResult(Outcome.CALL_ERROR, error_code=code, description=description)


async def memory_agent_store() -> SqlAgentStore:
    """The Agent API's store on an in-memory SQLite database holding only its client table (all the
    `/agent-clients` routes touch); the full store runs on both backends in `tests/agent`. Dispose of
    it (`close`) after use."""
    engine = make_engine(DatabaseConfig(url="sqlite+aiosqlite:///:memory:"))
    async with engine.begin() as connection:
        await connection.run_sync(AgentClientRow.__table__.create)
    return SqlAgentStore(engine, clock=lambda: NOW)


@pytest.fixture
async def agent_store() -> AsyncIterator[SqlAgentStore]:
    """`memory_agent_store()`, disposed of after the test."""
    store = await memory_agent_store()
    yield store
    await store.close()


def emsp_role(domain: Domain) -> EmspRole:
    """An eMSP role on a memory store, its OCPI root at a fixed URL (the operator API's `/emsp/cpos` routes
    make no HTTP call)."""
    role = EmspRole(EmspConfig(enabled=True), MemoryEmspStore(), domain.services.store, None)  # type: ignore[arg-type]
    role.base_url = "https://csms.example/emsp/ocpi"
    return role


@pytest.fixture
def emsp(domain: Domain) -> EmspRole:
    """`emsp_role(domain)`."""
    return emsp_role(domain)


@pytest.fixture
async def emsp_client(
    domain: Domain, emsp: EmspRole, agent_store: SqlAgentStore
) -> AsyncIterator[ApiClient]:
    """The operator API with the eMSP role and the Agent API's store, serving the default organization (the
    tests' keys' own); every response is checked against the OpenAPI document."""
    app: web.Application = create_app(domain, extra_routes=admin_api.ROUTES)
    emsp_scope.install(app, emsp_scope.EmspAdmin(emsp, agent_store, DEFAULT_ORG_ID))
    failures: list[str] = []
    app.middlewares.append(OpenApiChecker.shared().middleware(failures))
    async with TestClient(TestServer(app)) as client:
        yield client
    assert not failures, "responses that do not match the OpenAPI document:\n" + "\n".join(failures)
