"""A tiny stand-in for the eMSP's Agent API (`/agent/v1`) on 127.0.0.1, for the `AgentClient` tests: one
key, a quota with `X-RateLimit-*` headers, bookings whose status follows a script one step per GET."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

RESET = "1798761600"  # 2027-01-01T00:00:00Z, as epoch seconds


@dataclass
class AgentStub:
    """What the stub serves and saw. `scripts[id]`: the statuses booking `id` shows, one more per GET (the
    last one stays); `requests`: (method, path, query, JSON body, Authorization header) in order."""

    key: str = "KEY-1"
    quota: int = 100
    used: int = 0
    url: str = ""
    scripts: dict[str, list[str]] = field(default_factory=dict)
    reads: dict[str, int] = field(default_factory=dict)
    requests: list[tuple[str, str, dict[str, str], Any, str | None]] = field(default_factory=list)

    def booking(self, booking_id: str) -> dict[str, Any]:
        script = self.scripts[booking_id]
        step = min(self.reads.get(booking_id, 0), len(script) - 1)
        return {
            "id": booking_id,
            "status": script[step],
            "client_price": {"total": "1.50", "currency": "EUR"},
        }


def _app(stub: AgentStub) -> web.Application:
    @web.middleware
    async def quota(request: web.Request, handler: Any) -> web.StreamResponse:
        body = await request.json() if request.can_read_body else None
        stub.requests.append(
            (request.method, request.path, dict(request.query), body, request.headers.get("Authorization"))
        )
        if request.headers.get("Authorization") != f"Bearer {stub.key}":
            return web.json_response({"error": {"code": "unauthorized", "message": "bad key"}}, status=401)
        if stub.used >= stub.quota:
            response: web.StreamResponse = web.json_response(
                {"error": {"code": "quota_exceeded", "message": "monthly quota used up"}}, status=429
            )
        else:
            stub.used += 1
            response = await handler(request)
        response.headers["X-RateLimit-Limit"] = str(stub.quota)
        response.headers["X-RateLimit-Remaining"] = str(max(stub.quota - stub.used, 0))
        response.headers["X-RateLimit-Reset"] = RESET
        return response

    async def search(request: web.Request) -> web.Response:
        return web.json_response({"locations": [{"id": "L1", "distance_km": 0.1}], "cpo_results": []})

    async def book(request: web.Request) -> web.Response:
        body = await request.json()
        if body.get("duration_minutes", 0) > 240:
            return web.json_response(
                {"error": {"code": "invalid_request", "message": "too long"}}, status=400
            )
        booking_id = f"B{len(stub.scripts) + 1}"
        stub.scripts[booking_id] = ["REQUESTED", "PENDING", "CONFIRMED"]
        return web.json_response(stub.booking(booking_id), status=201)

    async def get_booking(request: web.Request) -> web.Response:
        booking_id = request.match_info["id"]
        if booking_id not in stub.scripts:
            return web.json_response(
                {"error": {"code": "not_found", "message": "no such booking"}}, status=404
            )
        answer = stub.booking(booking_id)
        stub.reads[booking_id] = stub.reads.get(booking_id, 0) + 1
        return web.json_response(answer)

    async def list_bookings(request: web.Request) -> web.Response:
        items = [stub.booking(b) for b in stub.scripts]
        wanted = request.query.get("status")
        return web.json_response({"items": [b for b in items if wanted is None or b["status"] == wanted]})

    async def cancel(request: web.Request) -> web.Response:
        booking_id = request.match_info["id"]
        stub.scripts[booking_id] = ["CANCELLED"]
        return web.json_response({**stub.booking(booking_id), "cancellation_fee": "0.00"})

    app = web.Application(middlewares=[quota])
    app.router.add_get("/agent/v1/search", search)
    app.router.add_post("/agent/v1/bookings", book)
    app.router.add_get("/agent/v1/bookings", list_bookings)
    app.router.add_get("/agent/v1/bookings/{id}", get_booking)
    app.router.add_delete("/agent/v1/bookings/{id}", cancel)
    return app


@asynccontextmanager
async def agent_stub() -> AsyncIterator[AgentStub]:
    """Serve a stub Agent API on a free port until the block ends; `url` is its base URL."""
    stub = AgentStub()
    runner = web.AppRunner(_app(stub))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    stub.url = f"http://127.0.0.1:{port}"
    try:
        yield stub
    finally:
        await runner.cleanup()
