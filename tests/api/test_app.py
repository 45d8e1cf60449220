"""The root application: health check, routing errors and the catch-all error rendering."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from csms.api.errors import ApiError, error_middleware
from csms.domain.registry import LiveConnection
from csms.domain.services import Services
from tests.api.conftest import ApiClient, error_of
from tests.fakes.memory_store import MemoryStore


async def test_health_needs_no_auth_and_counts_connections(client: ApiClient, services: Services) -> None:
    """GET /health answers without a key and reports how many charge points are connected."""
    response = await client.get("/health")
    assert response.status == 200
    assert await response.json() == {"status": "ok", "connected_charge_points": 0}

    services.registry.register(LiveConnection("CP-1", "1.6", datetime(2025, 1, 1, tzinfo=UTC)))
    response = await client.get("/health")
    assert (await response.json())["connected_charge_points"] == 1


async def test_unknown_api_path_is_json_not_found(client: ApiClient, auth: dict[str, str]) -> None:
    """An unknown path under /api/v1 is a JSON `not_found` 404."""
    error = await error_of(await client.get("/api/v1/nothing-here", headers=auth), 404)
    assert error["code"] == "not_found"


async def test_wrong_method_is_json_method_not_allowed(client: ApiClient, auth: dict[str, str]) -> None:
    """A method a route does not serve is a JSON `method_not_allowed` 405 with an Allow header."""
    response = await client.delete("/api/v1/charge-points", headers=auth)
    error = await error_of(response, 405)
    assert error["code"] == "method_not_allowed"
    assert "GET" in response.headers["Allow"] and "POST" in response.headers["Allow"]


async def test_unexpected_exception_is_internal_error(
    client: ApiClient, auth: dict[str, str], store: MemoryStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A handler failing unexpectedly answers `internal_error` 500 and the server keeps serving."""

    async def broken(**kwargs: object) -> None:
        raise RuntimeError("database on fire")

    monkeypatch.setattr(store, "list_id_tokens", broken)
    error = await error_of(await client.get("/api/v1/id-tokens", headers=auth), 500)
    assert error == {"code": "internal_error", "message": "internal server error", "details": None}
    assert (await client.get("/health")).status == 200


async def test_error_middleware_renders_api_errors_and_keeps_redirects() -> None:
    """ApiError becomes the JSON error body with its headers; a 3xx raised by a handler passes through."""

    async def teapot(request: web.Request) -> web.Response:
        raise ApiError(418, "teapot", "short and stout", {"spout": True}, headers={"X-Pot": "1"})

    async def moved(request: web.Request) -> web.Response:
        raise web.HTTPFound("/elsewhere")

    app = web.Application(middlewares=[error_middleware])
    app.router.add_get("/teapot", teapot)
    app.router.add_get("/moved", moved)
    async with TestClient(TestServer(app)) as client:
        response = await client.get("/teapot")
        assert response.headers["X-Pot"] == "1"
        assert await error_of(response, 418) == {
            "code": "teapot",
            "message": "short and stout",
            "details": {"spout": True},
        }
        response = await client.get("/moved", allow_redirects=False)
        assert response.status == 302
        assert response.headers["Location"] == "/elsewhere"
