"""A webhook receiver for tests: an aiohttp server on 127.0.0.1, port 0, that checks every signature the
way an integrator would (its own HMAC, not the CSMS's `signing` module) and records what arrived."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web


@dataclass
class Received:
    """One POST as the receiver saw it."""

    headers: dict[str, str]
    body: bytes
    signature_ok: bool

    @property
    def event(self) -> dict[str, Any]:
        parsed: dict[str, Any] = orjson.loads(self.body)
        return parsed


@dataclass
class Receiver:
    """Answers `status` (200 unless a test changes it); `received` keeps every attempt, `accepted` the
    ones answered 2xx."""

    secret: str
    status: int = 200
    received: list[Received] = field(default_factory=list)
    accepted: list[Received] = field(default_factory=list)
    url: str = ""
    _runner: web.AppRunner | None = None

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        timestamp = request.headers.get("X-Webhook-Timestamp", "")
        mac = hmac.new(self.secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
        ok = hmac.compare_digest("sha256=" + mac, request.headers.get("X-Webhook-Signature", ""))
        got = Received(dict(request.headers), body, ok)
        self.received.append(got)
        if 200 <= self.status < 300:
            self.accepted.append(got)
        return web.Response(status=self.status)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/hook", self.handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        port = next(iter(server.sockets)).getsockname()[1]  # type: ignore[attr-defined]
        self.url = f"http://127.0.0.1:{port}/hook"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def types(self) -> list[str]:
        """The event types accepted, in arrival order."""
        return [r.event["type"] for r in self.accepted]
