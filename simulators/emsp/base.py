"""The simulated eMSP's state, lifecycle and waiting (the client and server sides build on it)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import aiohttp
import structlog
from aiohttp import web

from simulators.emsp.protocol import (
    VERSION,
    EmspConfig,
    Push,
)

log = structlog.get_logger("simulators.emsp")


class EmspBase:
    """The state every part of the simulated eMSP shares (documented on `EmspSimulator`)."""

    def __init__(self, config: EmspConfig | None = None) -> None:
        self.config = config or EmspConfig()
        self.received: list[tuple[str, str, Any]] = []
        self.pushes: list[Push] = []
        self.locations: dict[str, dict[str, Any]] = {}
        self.sessions: dict[str, dict[str, Any]] = {}
        self.cdrs: dict[str, dict[str, Any]] = {}
        self.tariffs: dict[str, dict[str, Any]] = {}
        self.tokens: dict[tuple[str, str], dict[str, Any]] = {}
        self.authorizations: dict[str, str] = {}
        self.authorize_delay: float = 0.0
        self.authorize_requests: list[tuple[str, str, Any]] = []
        self.command_results: list[tuple[str, str, Any]] = []
        self.sent_commands: list[tuple[str, dict[str, Any]]] = []  # (command, body with its response_url)
        self.rejected: list[tuple[str, str, str]] = []  # pushes we refused: (method, path, why)
        self.cpo_endpoints: dict[str, str] = {}
        self.cpo_credentials: dict[str, Any] | None = None
        self.cpo_versions_url: str | None = None
        self.pages: dict[str, int] = {}
        self._cpo_token: str | None = None  # the token the CPO gave us; we call the CPO with it
        self._incoming: str | None = None  # the token we gave the CPO; it calls us with it
        self._token_a_used = False
        self._down: str | None = None  # None, "503" or "close"
        self._results: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self.url = ""

    async def close(self) -> None:
        """Stop the server and the client; pending command results are cancelled."""
        for future in self._results.values():
            if not future.done():
                future.cancel()
        if self._session is not None:
            await self._session.close()
            self._session = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def versions_url(self) -> str:
        """Our versions endpoint (what a CPO registers with)."""
        return f"{self.url}/ocpi/versions"

    @property
    def version_url(self) -> str:
        """Our 2.2.1 details endpoint; module endpoints are below it."""
        return f"{self.url}/ocpi/{VERSION}"

    @property
    def registered(self) -> bool:
        """True once a credentials handshake with a CPO completed (either direction)."""
        return self._cpo_token is not None and self._incoming is not None

    def set_down(self, down: bool, *, close: bool = False) -> None:
        """Simulate being down: every request is answered HTTP 503 (or, with `close`, its connection is
        dropped without an answer) until `set_down(False)`."""
        self._down = ("close" if close else "503") if down else None

    def our_credentials(self, token: str) -> dict[str, Any]:
        """Our Credentials object carrying `token` (the token the CPO must call us with)."""
        return {
            "token": token,
            "url": self.versions_url,
            "roles": [
                {
                    "role": "EMSP",
                    "business_details": {"name": self.config.business_name},
                    "party_id": self.config.party_id,
                    "country_code": self.config.country_code,
                }
            ],
        }

    async def wait_for_push(self, match: Callable[[Push], bool], *, count: int = 1) -> list[Push]:
        """Wait until `count` received pushes (already received ones included) satisfy `match`; wrap it
        in `asyncio.timeout(...)`.

        Returns:
            The matching pushes, in arrival order.
        """
        async with self._changed:
            await self._changed.wait_for(lambda: len([p for p in self.pushes if match(p)]) >= count)
            return [p for p in self.pushes if match(p)]

    async def _record(self, request: web.Request, body: Any) -> None:
        push = Push(request.method, request.path, body, dict(request.headers))
        async with self._changed:
            self.received.append((push.method, push.path, push.body))
            self.pushes.append(push)
            self._changed.notify_all()
