"""Fixtures for API tests: services and domain on an in-memory store with a fixed clock, API keys, an HTTP
client whose every response is checked against the OpenAPI document."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from csms.api import create_app
from csms.config import Config, SecurityConfig
from csms.domain.core import Domain
from csms.domain.secrets import hash_secret, new_api_key
from csms.services import Services
from csms.store.memory import MemoryStore
from csms.store.writer import BatchedWriter
from tests.api.openapi_check import OpenApiChecker

NOW = datetime(2025, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
NOW_TEXT = "2025-01-02T03:04:05.678Z"

ApiClient = TestClient[web.Request, web.Application]
KeyFactory = Callable[[str], Awaitable[str]]


@pytest.fixture
def config() -> Config:
    """Defaults, except a cheap bcrypt cost so hashing passwords does not slow the tests."""
    return Config(security=SecurityConfig(bcrypt_rounds=4))


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
    return Domain.build(services)


@pytest.fixture
async def client(domain: Domain) -> AsyncIterator[ApiClient]:
    """An HTTP client talking to `create_app(domain)` served on a free loopback port; every response it
    receives is validated against the OpenAPI document (a mismatch fails the test)."""
    app = create_app(domain)
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
