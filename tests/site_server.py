"""A per-site JSON server on 127.0.0.1 for the tests of the CSMS's HTTP sources (energy forecasts, solar
meters): `GET /<prefix>/{location_id}` answers what the test put in `answers`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from aiohttp import web


@asynccontextmanager
async def site_server(prefix: str) -> AsyncIterator[tuple[str, dict[str, Any]]]:
    """Serve until the block ends; yields (URL template with `{location_id}`, answers). `answers` maps a
    location id to its JSON (absent: 404; a str: that text as the body, e.g. broken JSON)."""
    answers: dict[str, Any] = {}

    async def site(request: web.Request) -> web.Response:
        answer = answers.get(request.match_info["location_id"])
        if answer is None:
            raise web.HTTPNotFound()
        if isinstance(answer, str):
            return web.Response(text=answer, content_type="application/json")
        return web.json_response(answer)

    app = web.Application()
    app.router.add_get(f"/{prefix}/{{location_id}}", site)
    runner = web.AppRunner(app)
    await runner.setup()
    tcp = web.TCPSite(runner, "127.0.0.1", 0)
    await tcp.start()
    port = tcp._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}/{prefix}/{{location_id}}", answers
    finally:
        await runner.cleanup()
